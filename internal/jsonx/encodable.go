package jsonx

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// Encodable reports, as an error naming the field, whether values of type t
// can fail to encode because of their type: a channel, a function, a
// complex number or an unsafe pointer anywhere in it (unless a marshaler
// takes over), or a map whose keys cannot be JSON keys. Declarations check
// their types with it at start-up, so the failure is not left for the
// first call.
func Encodable(t reflect.Type) error {
	return encodable(t, nil, map[reflect.Type]bool{})
}

func encodable(t reflect.Type, path []string, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		where := "the value"
		if len(path) > 0 {
			where = "field " + strings.Join(path, ".")
		}
		return fmt.Errorf("%s is a %s, which JSON cannot carry", where, t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return encodable(t.Elem(), path, seen)
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !t.Key().Implements(textMarshalerType) {
				return fmt.Errorf("field %s is a map with %s keys, which JSON cannot carry", strings.Join(path, "."), t.Key())
			}
		}
		return encodable(t.Elem(), path, seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous || f.Tag.Get("json") == "-" {
				continue
			}
			if err := encodable(f.Type, append(path, f.Name), seen); err != nil {
				return err
			}
		}
	}
	return nil
}
