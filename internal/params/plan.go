package params

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/invopop/jsonschema"
)

// kind is what a node of the plan accepts and binds.
type kind uint8

const (
	kindString kind = iota
	kindBool
	kindInt
	kindUint
	kindFloat
	kindSlice
	kindMap
	kindStruct
	kindPointer
	kindAny // an interface field: any JSON value, as decoded
	kindRaw // a json.RawMessage field: any JSON value, as JSON
)

// maxDepth bounds the nesting of parameter types, which also refuses
// recursive ones.
const maxDepth = 8

// node is the plan of one Go type of the parameters: what JSON it accepts,
// how the value converts, and where it goes.
type node struct {
	kind   kind
	typ    reflect.Type
	elem   *node    // of a slice, map or pointer
	fields []*field // of a struct, in declaration order
}

// field is one property of a struct node.
type field struct {
	name     string
	index    []int // in the struct, through embedded structs
	required bool
	node     *node
}

func (n *node) field(name string) *field {
	if i := n.index([]byte(name)); i >= 0 {
		return n.fields[i]
	}
	return nil
}

// index is the position of the field a JSON key names, or -1. A key with
// escapes is compared unescaped.
func (n *node) index(key []byte) int {
	if bytes.IndexByte(key, '\\') >= 0 {
		key = []byte(propertyName(key))
	}
	for i, f := range n.fields {
		if f.name == string(key) {
			return i
		}
	}
	return -1
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// planOf builds the plan of t, whose derived schema is s (for the required
// fields of structs).
func planOf(t reflect.Type, s *jsonschema.Schema, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("parameter type %s nests deeper than %d levels", t, maxDepth)
	}
	n := &node{typ: t}
	switch {
	case t == rawMessageType:
		n.kind = kindRaw
		return n, nil
	case t.Kind() == reflect.Interface && t.NumMethod() == 0:
		n.kind = kindAny
		return n, nil
	}
	var err error
	switch t.Kind() {
	case reflect.String:
		n.kind = kindString
	case reflect.Bool:
		n.kind = kindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n.kind = kindInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n.kind = kindUint
	case reflect.Float32, reflect.Float64:
		n.kind = kindFloat
	case reflect.Slice:
		n.kind = kindSlice
		n.elem, err = planOf(t.Elem(), items(s), depth+1)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("parameter type %s: map keys must be strings", t)
		}
		n.kind = kindMap
		n.elem, err = planOf(t.Elem(), values(s), depth+1)
	case reflect.Pointer:
		n.kind = kindPointer
		n.elem, err = planOf(t.Elem(), s, depth+1)
	case reflect.Struct:
		n.kind = kindStruct
		err = n.addFields(t, nil, s, depth)
	default:
		return nil, fmt.Errorf("parameter type %s cannot come from JSON", t)
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

// addFields adds the JSON properties of struct t, found at index in the
// outer struct; fields of embedded structs without a JSON name are the
// outer struct's own, as encoding/json reads them.
func (n *node) addFields(t reflect.Type, index []int, s *jsonschema.Schema, depth int) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		at := append(slices.Clone(index), i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && jsonName(f) == f.Name && !hasName(tag) {
			if err := n.addFields(f.Type, at, s, depth); err != nil {
				return err
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name := jsonName(f)
		var prop *jsonschema.Schema
		if s != nil && s.Properties != nil {
			prop, _ = s.Properties.Get(name)
		}
		child, err := planOf(f.Type, prop, depth+1)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		if n.field(name) != nil {
			return fmt.Errorf("field %s: property %q is declared twice", f.Name, name)
		}
		n.fields = append(n.fields, &field{
			name: name, index: at, node: child,
			required: s != nil && slices.Contains(s.Required, name),
		})
	}
	return nil
}

func hasName(tag string) bool { return tag != "" && tag[0] != ',' }

func items(s *jsonschema.Schema) *jsonschema.Schema {
	if s == nil {
		return nil
	}
	return s.Items
}

func values(s *jsonschema.Schema) *jsonschema.Schema {
	if s == nil {
		return nil
	}
	return s.AdditionalProperties
}
