package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"
	"github.com/maypok86/otter/v2"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

// ValidationError reports call parameters that do not fit the function's
// schema. Its code is VALIDATION_MISSING_FIELD when fields are missing and
// VALIDATION_TYPE_ERROR otherwise.
type ValidationError struct {
	// Missing lists the required fields the call left out.
	Missing []string
	// Fields lists the fields with a value of the wrong type or shape
	// ("params" for the parameters as a whole).
	Fields []string
	// Reasons says what is wrong with each of Fields, in the same order.
	Reasons []string
}

// Error implements error, in the SDK's words.
func (e *ValidationError) Error() string {
	if len(e.Missing) > 0 {
		return "A required field is missing: " + strings.Join(e.Missing, ", ")
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f + " (" + e.Reasons[i] + ")"
	}
	return "Invalid value type for field: " + strings.Join(parts, ", ")
}

// sortFields orders Fields (and their Reasons) by name: the validator
// visits properties in no fixed order.
func (e *ValidationError) sortFields() {
	order := make([]int, len(e.Fields))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(e.Fields[a], e.Fields[b]) })
	fields, reasons := make([]string, len(order)), make([]string, len(order))
	for i, j := range order {
		fields[i], reasons[i] = e.Fields[j], e.Reasons[j]
	}
	e.Fields, e.Reasons = fields, reasons
}

func (e *ValidationError) addField(field, reason string) {
	e.Fields = append(e.Fields, field)
	e.Reasons = append(e.Reasons, reason)
}

// Code returns the error's ActionResult code.
func (e *ValidationError) Code() string {
	if len(e.Missing) > 0 {
		return CodeValidationMissingField
	}
	return CodeValidationTypeError
}

// schemaReflector derives every schema the same way: inline (no $ref, which
// strict tool-calling providers reject), objects closed to unknown
// properties, and only fields tagged `jsonschema:"required"` required.
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

var englishPrinter = message.NewPrinter(language.English)

// paramsSchema is a function's parameter schema: the published JSON and
// the compiled validator of the same document.
type paramsSchema struct {
	published json.RawMessage
	compiled  *validator.Schema
	// valid remembers parameters that passed as they were: validation is
	// a pure function of the raw bytes, and the orchestrator sends the same
	// parameters again and again.
	valid *otter.Cache[string, struct{}]
}

// validParamsMemo bounds each function's memo of valid parameters.
const validParamsMemo = 4096

// maxMemoParams is the longest parameters the memo keeps.
const maxMemoParams = 1024

func newParamsSchema(t reflect.Type, defaults any) (*paramsSchema, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("parameters must be a struct type, not %s", t)
	}
	s := schemaReflector.ReflectFromType(t)
	s.Version = ""
	if err := applyDefaults(s, reflect.ValueOf(defaults)); err != nil {
		return nil, err
	}
	published, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("parameter schema: %w", err)
	}
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
	valid, err := otter.New(&otter.Options[string, struct{}]{MaximumSize: validParamsMemo})
	if err != nil {
		return nil, fmt.Errorf("parameter memo: %w", err)
	}
	return &paramsSchema{published: published, compiled: compiled, valid: valid}, nil
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
		name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
		if name == "" {
			name = field.Name
		}
		if prop, ok := s.Properties.Get(name); ok {
			prop.Default = value.Interface()
		}
	}
	return nil
}

func dataSchema(t reflect.Type) (json.RawMessage, error) {
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

// validate checks raw parameters against the schema and returns the
// parameters to decode. Unknown properties are not an error (the SDK's
// models ignore them); they are removed, so that the decoder, which matches
// names without regard to case, cannot read "ACCOUNT_ID" as account_id, and
// are returned for the log.
func (p *paramsSchema) validate(raw []byte) (params []byte, unknown []string, _ *ValidationError) {
	if _, ok := p.valid.GetIfPresent(string(raw)); ok {
		return raw, nil, nil
	}
	params, unknown, verr := p.check(raw)
	if verr == nil && len(unknown) == 0 && len(raw) <= maxMemoParams {
		p.valid.Set(string(raw), struct{}{})
	}
	return params, unknown, verr
}

// check is validate without the memo.
func (p *paramsSchema) check(raw []byte) (params []byte, unknown []string, _ *ValidationError) {
	inst, err := validator.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		out := &ValidationError{}
		out.addField("params", "not valid JSON")
		return nil, nil, out
	}
	if out := checkNumbers(inst, nil); out != nil {
		return nil, nil, out
	}
	err = p.compiled.Validate(inst)
	var verr *validator.ValidationError
	if !errors.As(err, &verr) {
		return raw, nil, nil
	}
	out := &ValidationError{}
	var strip [][]string
	walkLeaves(verr, func(e *validator.ValidationError) {
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, name := range k.Missing {
				out.Missing = append(out.Missing, fieldPath(e.InstanceLocation, name))
			}
		case *kind.AdditionalProperties:
			for _, name := range k.Properties {
				unknown = append(unknown, fieldPath(e.InstanceLocation, name))
				strip = append(strip, append(slices.Clone(e.InstanceLocation), name))
			}
		case *kind.Type:
			out.addField(fieldPath(e.InstanceLocation), "want "+strings.Join(k.Want, " or ")+", got "+k.Got)
		default:
			out.addField(fieldPath(e.InstanceLocation), e.ErrorKind.LocalizedString(englishPrinter))
		}
	})
	if len(out.Missing) > 0 || len(out.Fields) > 0 {
		out.sortFields()
		return nil, unknown, out
	}
	for _, path := range strip {
		deleteKey(inst, path)
	}
	if params, err = json.Marshal(inst); err != nil {
		out.addField("params", err.Error())
		return nil, unknown, out
	}
	return params, unknown, nil
}

// maxNumberLen bounds the text of a JSON number in parameters.
const maxNumberLen = 64

// checkNumbers refuses numbers no parameter can hold before the validator
// sees them: it decides whether a number is an integer with exact
// arithmetic, which for 1e999999 computes 5^999999, so a few such bytes
// would cost seconds of CPU.
func checkNumbers(v any, path []string) *ValidationError {
	switch v := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(v.String(), 64)
		if len(v) > maxNumberLen || err != nil || math.IsInf(f, 0) {
			out := &ValidationError{}
			out.addField(fieldPath(path), "number out of range")
			return out
		}
	case map[string]any:
		for k, child := range v {
			if out := checkNumbers(child, append(path, k)); out != nil {
				return out
			}
		}
	case []any:
		for i, child := range v {
			if out := checkNumbers(child, append(path, strconv.Itoa(i))); out != nil {
				return out
			}
		}
	}
	return nil
}

// deleteKey removes the property at path (object keys and array indexes)
// from a decoded JSON document.
func deleteKey(doc any, path []string) {
	for _, seg := range path[:len(path)-1] {
		switch node := doc.(type) {
		case map[string]any:
			doc = node[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) {
				return
			}
			doc = node[i]
		default:
			return
		}
	}
	if obj, ok := doc.(map[string]any); ok {
		delete(obj, path[len(path)-1])
	}
}

func walkLeaves(e *validator.ValidationError, visit func(*validator.ValidationError)) {
	if len(e.Causes) == 0 {
		visit(e)
		return
	}
	for _, c := range e.Causes {
		walkLeaves(c, visit)
	}
}

func fieldPath(location []string, name ...string) string {
	path := strings.Join(append(append([]string(nil), location...), name...), ".")
	if path == "" {
		return "params"
	}
	return path
}

// decodeError turns a decoding failure the schema let through (an integer
// that overflows its Go field, say) into a type error naming the field.
func decodeError(err error) *ValidationError {
	out := &ValidationError{}
	var typeErr *jsonx.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		out.addField(typeErr.Field, "want "+typeErr.Type.String()+", got "+typeErr.Value)
	} else {
		out.addField("params", err.Error())
	}
	return out
}
