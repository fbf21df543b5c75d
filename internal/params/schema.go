// Package params is the parameter engine of chat functions: it derives a
// parameter struct's JSON Schema once, at declaration, and turns the
// parameters of each call into that struct in one pass: decode the JSON
// once, convert each value as the SDK's Pydantic models do in lax mode
// ("3" for an integer, "yes" for a boolean), drop unknown keys, check the
// schema's constraints on the converted value, and bind it into the struct.
//
// The rules of the conversion are Pydantic v2's, table-tested against a
// table Pydantic itself wrote (testdata/pydantic_lax.json).
package params

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaReflector derives every parameter schema the same way: inline (no
// $ref, which strict tool-calling providers reject), objects closed to
// unknown properties, and only fields tagged `jsonschema:"required"`
// required.
var schemaReflector = &jsonschema.Reflector{
	Anonymous:                  true,
	DoNotReference:             true,
	ExpandedStruct:             true,
	RequiredFromJSONSchemaTags: true,
}

// dataReflector derives result data schemas: every field a handler does not
// mark omitempty is always present, so it is required.
var dataReflector = &jsonschema.Reflector{
	Anonymous:      true,
	DoNotReference: true,
	ExpandedStruct: true,
}

// Schema is the parameter schema of one function whose parameters are a P:
// the published JSON Schema, and the plan that decodes calls into a P.
type Schema[P any] struct {
	published json.RawMessage
	root      *node
	defaults  P
	// constraints validates what the types alone do not say (minLength,
	// enum, minimum...); nil when the schema says nothing more.
	constraints *validator.Schema
}

// New derives the schema of P, a struct, with the non-zero scalar fields
// of defaults as the values of parameters a call leaves out (and as the
// schema's "default"s). It fails on a P that is not a struct, a field of
// a type parameters cannot carry, or a non-scalar default.
func New[P any](defaults P) (*Schema[P], error) {
	t := reflect.TypeFor[P]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("parameters must be a struct type, not %s", t)
	}
	// Check the types before the reflector sees them: it panics on some.
	if _, err := planOf(t, nil, 0); err != nil {
		return nil, err
	}
	s := schemaReflector.ReflectFromType(t)
	s.Version = ""
	if err := applyDefaults(s, reflect.ValueOf(defaults)); err != nil {
		return nil, err
	}
	root, err := planOf(t, s, 0)
	if err != nil {
		return nil, err
	}
	markNullable(root, s)
	published, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("parameter schema: %w", err)
	}
	out := &Schema[P]{published: published, root: root, defaults: defaults}
	if hasConstraints(published) {
		if out.constraints, err = compile(published); err != nil {
			return nil, err
		}
		if err := check(out.constraints, root, defaultValues(reflect.ValueOf(defaults))); err != nil {
			return nil, fmt.Errorf("defaults break the schema: %s", strings.TrimPrefix(err.Error(), "Invalid value type for field: "))
		}
	}
	return out, nil
}

// JSON returns the published JSON Schema.
func (s *Schema[P]) JSON() json.RawMessage { return s.published }

// Has reports whether the parameters have a top-level field called name.
func (s *Schema[P]) Has(name string) bool { return s.root.field(name) != nil }

// DataSchema derives the JSON Schema of a result's data type, which must
// encode as a JSON object: a struct or a map, or a pointer to one.
func DataSchema(t reflect.Type) (json.RawMessage, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct && t.Kind() != reflect.Map {
		return nil, fmt.Errorf("returned data must be a JSON object, so a struct or map type, not %s", t)
	}
	s := dataReflector.ReflectFromType(t)
	s.Version = ""
	out, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("return schema: %w", err)
	}
	return out, nil
}

// applyDefaults publishes the non-zero fields of defaults as the schema's
// "default" values, so the schema and the decoder agree by construction.
func applyDefaults(s *jsonschema.Schema, defaults reflect.Value) error {
	t := defaults.Type()
	for i := range t.NumField() {
		field, value := t.Field(i), defaults.Field(i)
		if !field.IsExported() || value.IsZero() {
			continue
		}
		switch value.Kind() {
		case reflect.Bool, reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		default:
			return fmt.Errorf("field %s: defaults may only set scalar fields, not %s", field.Name, value.Kind())
		}
		if prop, ok := s.Properties.Get(jsonName(field)); ok {
			prop.Default = value.Interface()
		}
	}
	return nil
}

// typeKeywords are the schema keywords the plan enforces itself; any other
// one in a parameter schema is a constraint for the validator.
var typeKeywords = []string{"type", "properties", "required", "additionalProperties", "items",
	"description", "title", "default", "examples", "$comment", "patternProperties"}

// hasConstraints reports whether a published schema holds any keyword the
// plan does not enforce, at any depth.
func hasConstraints(published []byte) bool {
	var doc any
	if json.Unmarshal(published, &doc) != nil {
		return true
	}
	var walk func(schema any) bool
	walk = func(schema any) bool {
		obj, ok := schema.(map[string]any)
		if !ok {
			return false
		}
		for key, value := range obj {
			switch key {
			case "properties", "patternProperties":
				if props, ok := value.(map[string]any); ok {
					for _, sub := range props {
						if walk(sub) {
							return true
						}
					}
				}
			case "items", "additionalProperties":
				if walk(value) {
					return true
				}
			default:
				if !slices.Contains(typeKeywords, key) {
					return true
				}
			}
		}
		return false
	}
	return walk(doc)
}

func compile(published []byte) (*validator.Schema, error) {
	doc, err := validator.UnmarshalJSON(bytes.NewReader(published))
	if err != nil {
		return nil, fmt.Errorf("parameter schema: %w", err)
	}
	c := validator.NewCompiler()
	c.DefaultDraft(validator.Draft2020)
	if err := c.AddResource("params.json", doc); err != nil {
		return nil, fmt.Errorf("parameter schema: %w", err)
	}
	compiled, err := c.Compile("params.json")
	if err != nil {
		return nil, fmt.Errorf("parameter schema: %w", err)
	}
	return compiled, nil
}

// jsonName is a struct field's name in JSON, as encoding/json reads its tag.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// markNullable publishes the pointer fields, which take null as Pydantic's
// Optional fields do, as nullable: "type": [<type>, "null"].
func markNullable(n *node, s *jsonschema.Schema) {
	if s == nil {
		return
	}
	for n.kind == kindPointer {
		n = n.elem
	}
	switch n.kind {
	case kindStruct:
		for _, f := range n.fields {
			if s.Properties == nil {
				return
			}
			prop, ok := s.Properties.Get(f.name)
			if !ok || prop == nil {
				continue
			}
			if f.node.kind == kindPointer && prop.Type != "" {
				if prop.Extras == nil {
					prop.Extras = map[string]any{}
				}
				prop.Extras["type"] = []string{prop.Type, "null"}
				prop.Type = ""
			}
			markNullable(f.node, prop)
		}
	case kindSlice:
		markNullable(n.elem, s.Items)
	case kindMap:
		markNullable(n.elem, s.AdditionalProperties)
	}
}

// defaultValues are the non-zero scalar defaults as the walk converts
// values, keyed by property name, for the constraint check.
func defaultValues(defaults reflect.Value) map[string]any {
	out := map[string]any{}
	t := defaults.Type()
	for i := range t.NumField() {
		field, value := t.Field(i), defaults.Field(i)
		if !field.IsExported() || value.IsZero() {
			continue
		}
		switch value.Kind() {
		case reflect.String:
			out[jsonName(field)] = value.String()
		case reflect.Bool:
			out[jsonName(field)] = value.Bool()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			out[jsonName(field)] = value.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			out[jsonName(field)] = int64(value.Uint())
		case reflect.Float32, reflect.Float64:
			out[jsonName(field)] = value.Float()
		}
	}
	return out
}
