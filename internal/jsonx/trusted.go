package jsonx

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// AppendData appends the JSON of v, as Append does, except that in a
// struct of plain fields its json.RawMessage and []json.RawMessage fields
// are written as they are, without being checked again: the host's result
// data forwards raw values it decoded from an upstream answer or read from
// the cache, which were checked when they were decoded, and checking the
// same bytes on every hit was a tenth of a hit's CPU. A raw value must be
// valid JSON; an empty one is written as null.
func (e *Encoder) AppendData(v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return e.Append(v)
	}
	p := planFor(rv.Type())
	if p == nil {
		return e.Append(v)
	}
	e.buf.WriteByte('{')
	first := true
	for _, f := range p.fields {
		fv := rv.Field(f.index)
		if f.omitEmpty && fv.IsZero() || f.omitEmpty && (fv.Kind() == reflect.Slice) && fv.Len() == 0 {
			continue
		}
		if !first {
			e.buf.WriteByte(',')
		}
		first = false
		e.buf.WriteString(f.key)
		switch f.kind {
		case fieldRaw:
			writeRaw(e, fv.Bytes())
		case fieldRawSlice:
			if fv.IsNil() {
				e.buf.WriteString("null")
				continue
			}
			size := 2 + fv.Len()
			for i := range fv.Len() {
				size += fv.Index(i).Len()
			}
			e.buf.Grow(size) // once, not once per value
			e.buf.WriteByte('[')
			for i := range fv.Len() {
				if i > 0 {
					e.buf.WriteByte(',')
				}
				writeRaw(e, fv.Index(i).Bytes())
			}
			e.buf.WriteByte(']')
		case fieldInt:
			e.buf.Write(strconv.AppendInt(e.buf.AvailableBuffer(), fv.Int(), 10))
		case fieldBool:
			e.buf.Write(strconv.AppendBool(e.buf.AvailableBuffer(), fv.Bool()))
		default:
			if err := e.Append(fv.Interface()); err != nil {
				return err
			}
		}
	}
	e.buf.WriteByte('}')
	return nil
}

func writeRaw(e *Encoder, raw []byte) {
	if len(raw) == 0 {
		e.buf.WriteString("null")
		return
	}
	e.buf.Write(raw)
}

type fieldKind uint8

const (
	fieldOther fieldKind = iota
	fieldRaw
	fieldRawSlice
	fieldInt
	fieldBool
)

// dataPlan is how AppendData writes one struct type.
type dataPlan struct {
	fields []dataField
}

type dataField struct {
	key       string // `"name":`
	index     int
	kind      fieldKind
	omitEmpty bool
}

var (
	plans          sync.Map // reflect.Type → *dataPlan, nil when the type is not plain
	rawMessageType = reflect.TypeFor[json.RawMessage]()
)

// planFor returns the plan of struct type t, or nil when t is not plain:
// some field is embedded, has a tag option other than omitempty, or a
// marshaler of its own, or no field is raw (nothing to gain).
func planFor(t reflect.Type) *dataPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*dataPlan)
	}
	p := buildPlan(t)
	plans.Store(t, p)
	return p
}

func buildPlan(t reflect.Type) *dataPlan {
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		return nil
	}
	p := &dataPlan{}
	raw := false
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts != "" && opts != "omitempty" {
			return nil
		}
		if name == "" {
			name = f.Name
		}
		key, err := Marshal(name)
		if err != nil {
			return nil
		}
		df := dataField{key: string(key) + ":", index: i, omitEmpty: opts == "omitempty"}
		switch {
		case f.Type == rawMessageType:
			df.kind, raw = fieldRaw, true
		case f.Type.Kind() == reflect.Slice && f.Type.Elem() == rawMessageType:
			df.kind, raw = fieldRawSlice, true
		case f.Type.Implements(marshalerType) || reflect.PointerTo(f.Type).Implements(marshalerType) ||
			f.Type.Implements(textMarshalerType) || reflect.PointerTo(f.Type).Implements(textMarshalerType):
			df.kind = fieldOther
		case f.Type.Kind() >= reflect.Int && f.Type.Kind() <= reflect.Int64:
			df.kind = fieldInt
		case f.Type.Kind() == reflect.Bool:
			df.kind = fieldBool
		}
		p.fields = append(p.fields, df)
	}
	if !raw {
		return nil
	}
	return p
}
