package params

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
	vkind "github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

// maxNumberLen bounds the text of a JSON number in parameters.
const maxNumberLen = 64

// Decode turns the JSON parameters of one call into a P, in one pass:
// decode, convert each value with Pydantic's lax rules, check the schema's
// constraints, bind. Empty or null parameters are {}; properties the
// schema does not declare are dropped and returned, for the log. Fields
// the call leaves out keep their defaults. The error is an *Error.
func (s *Schema[P]) Decode(raw []byte) (P, []string, error) {
	p := s.defaults
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte(`{}`)
	}
	doc, err := jsonx.DecodeValue(raw)
	if err != nil {
		return s.defaults, nil, invalid("params", "not valid JSON")
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return s.defaults, nil, invalid("params", "want object, got "+jsonType(doc))
	}
	d := decoder{errs: &Error{}, keep: s.constraints != nil}
	converted := d.object(s.root, obj, reflect.ValueOf(&p).Elem(), nil)
	if !d.errs.empty() {
		d.errs.sort()
		return s.defaults, d.unknown, d.errs
	}
	if s.constraints != nil {
		if err := check(s.constraints, converted); err != nil {
			return s.defaults, d.unknown, err
		}
	}
	return p, d.unknown, nil
}

// decoder is the state of one Decode.
type decoder struct {
	errs    *Error
	unknown []string
	// keep makes the walk return the converted values, for the constraint
	// check; without constraints nothing is built.
	keep bool
}

func pathOf(path []string) string {
	if len(path) == 0 {
		return "params"
	}
	return strings.Join(path, ".")
}

func (d *decoder) wrong(path []string, reason string) { d.errs.add(pathOf(path), reason) }

// object converts and binds the properties of a struct node.
func (d *decoder) object(n *node, obj map[string]any, dst reflect.Value, path []string) any {
	var converted map[string]any
	if d.keep {
		converted = make(map[string]any, len(obj))
	}
	for key, value := range obj {
		f := n.field(key)
		if f == nil {
			d.unknown = append(d.unknown, pathOf(append(path, key)))
			continue
		}
		v := d.value(f.node, value, fieldOf(dst, f.index), append(path, key))
		if converted != nil && v != nil {
			converted[key] = v
		}
	}
	for _, f := range n.fields {
		if _, present := obj[f.name]; !present && f.required {
			d.errs.Missing = append(d.errs.Missing, pathOf(append(path, f.name)))
		}
	}
	if converted == nil {
		return nil
	}
	return converted
}

// fieldOf is dst.FieldByIndex, allocating nothing: embedded structs are
// never pointers in a plan.
func fieldOf(dst reflect.Value, index []int) reflect.Value {
	for _, i := range index {
		dst = dst.Field(i)
	}
	return dst
}

// value converts v for node n, binds it into dst and returns the converted
// value (when the decoder keeps them).
func (d *decoder) value(n *node, v any, dst reflect.Value, path []string) any {
	if v == nil {
		if n.kind == kindPointer || n.kind == kindAny || n.kind == kindRaw {
			dst.SetZero()
			if n.kind == kindRaw {
				dst.SetBytes([]byte("null"))
			}
			return nil
		}
		d.wrong(path, "want "+n.want()+", got null")
		return nil
	}
	switch n.kind {
	case kindString:
		s, ok := v.(string)
		if !ok {
			d.wrong(path, "want string, got "+jsonType(v))
			return nil
		}
		dst.SetString(s)
		return s
	case kindBool:
		b, reason := toBool(v)
		if reason != "" {
			d.wrong(path, reason)
			return nil
		}
		dst.SetBool(b)
		return b
	case kindInt, kindUint:
		i, reason := toInt(v)
		switch {
		case reason != "":
			d.wrong(path, reason)
			return nil
		case n.kind == kindUint && (i < 0 || dst.OverflowUint(uint64(i))):
			d.wrong(path, "number out of range")
			return nil
		case n.kind == kindUint:
			dst.SetUint(uint64(i))
		case dst.OverflowInt(i):
			d.wrong(path, "number out of range")
			return nil
		default:
			dst.SetInt(i)
		}
		return i
	case kindFloat:
		f, reason := toFloat(v)
		if reason == "" && dst.OverflowFloat(f) && !math.IsInf(f, 0) {
			reason = "number out of range"
		}
		if reason != "" {
			d.wrong(path, reason)
			return nil
		}
		dst.SetFloat(f)
		return f
	case kindSlice:
		list, ok := v.([]any)
		if !ok {
			d.wrong(path, "want array, got "+jsonType(v))
			return nil
		}
		out := reflect.MakeSlice(n.typ, len(list), len(list))
		var converted []any
		if d.keep {
			converted = make([]any, len(list))
		}
		for i, item := range list {
			c := d.value(n.elem, item, out.Index(i), append(path, strconv.Itoa(i)))
			if converted != nil {
				converted[i] = c
			}
		}
		dst.Set(out)
		if converted == nil {
			return nil
		}
		return converted
	case kindMap:
		obj, ok := v.(map[string]any)
		if !ok {
			d.wrong(path, "want object, got "+jsonType(v))
			return nil
		}
		out := reflect.MakeMapWithSize(n.typ, len(obj))
		var converted map[string]any
		if d.keep {
			converted = make(map[string]any, len(obj))
		}
		elem := reflect.New(n.typ.Elem()).Elem()
		for key, item := range obj {
			elem.SetZero()
			c := d.value(n.elem, item, elem, append(path, key))
			out.SetMapIndex(reflect.ValueOf(key).Convert(n.typ.Key()), elem)
			if converted != nil && c != nil {
				converted[key] = c
			}
		}
		dst.Set(out)
		if converted == nil {
			return nil
		}
		return converted
	case kindStruct:
		obj, ok := v.(map[string]any)
		if !ok {
			d.wrong(path, "want object, got "+jsonType(v))
			return nil
		}
		return d.object(n, obj, dst, path)
	case kindPointer:
		target := reflect.New(n.typ.Elem())
		c := d.value(n.elem, v, target.Elem(), path)
		dst.Set(target)
		return c
	case kindAny:
		dst.Set(reflect.ValueOf(v))
		return v
	case kindRaw:
		out, err := json.Marshal(v)
		if err != nil {
			d.wrong(path, "not valid JSON")
			return nil
		}
		dst.SetBytes(out)
		return v
	}
	d.wrong(path, "unsupported")
	return nil
}

// want names the JSON a node accepts, for messages.
func (n *node) want() string {
	switch n.kind {
	case kindString:
		return "string"
	case kindBool:
		return "boolean"
	case kindInt, kindUint:
		return "integer"
	case kindFloat:
		return "number"
	case kindSlice:
		return "array"
	case kindMap, kindStruct:
		return "object"
	}
	return "value"
}

// jsonType names the JSON type of a decoded value, never the value itself.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "value"
}

// toBool converts as Pydantic's lax bool: true/false, the numbers 1 and 0,
// and the strings 1 0 t f y n on off yes no true false in any (ASCII) case,
// untrimmed.
func toBool(v any) (bool, string) {
	switch v := v.(type) {
	case bool:
		return v, ""
	case json.Number:
		f, ok := number(v)
		switch {
		case ok && f == 1:
			return true, ""
		case ok && f == 0:
			return false, ""
		}
		return false, "want boolean, got a number other than 0 or 1"
	case string:
		switch strings.ToLower(v) {
		case "1", "t", "y", "on", "yes", "true":
			return true, asciiOnly(v)
		case "0", "f", "n", "off", "no", "false":
			return false, asciiOnly(v)
		}
		return false, "want boolean, got a string that is not a boolean"
	}
	return false, "want boolean, got " + jsonType(v)
}

// asciiOnly refuses what strings.ToLower matched only through Unicode case
// folding (the Kelvin sign for "k", say): Pydantic compares ASCII letters.
func asciiOnly(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "want boolean, got a string that is not a boolean"
		}
	}
	return ""
}

// toInt converts as Pydantic's lax int: whole numbers, floats with no
// fraction within the int64 range, booleans, and strings holding an
// integer (spaces around, a sign, single underscores between digits and a
// fraction of zeros allowed).
func toInt(v any) (int64, string) {
	switch v := v.(type) {
	case bool:
		if v {
			return 1, ""
		}
		return 0, ""
	case json.Number:
		s := v.String()
		if len(s) > maxNumberLen {
			return 0, "number out of range"
		}
		if !strings.ContainsAny(s, ".eE") {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, "number out of range"
			}
			return i, ""
		}
		f, _ := strconv.ParseFloat(s, 64)
		return wholeFloat(f)
	case string:
		if i, ok := parseIntString(strings.TrimSpace(v)); ok {
			return i, ""
		}
		return 0, "want integer, got a string that is not an integer"
	}
	return 0, "want integer, got " + jsonType(v)
}

// wholeFloat is f as an int64 when it has no fraction and fits.
func wholeFloat(f float64) (int64, string) {
	switch {
	case math.IsInf(f, 0) || math.IsNaN(f):
		return 0, "want integer, got a number that is not finite"
	case f != math.Trunc(f):
		return 0, "want integer, got a number with a fraction"
	case f < -(1<<63) || f >= 1<<63:
		return 0, "number out of range"
	}
	return int64(f), ""
}

// parseIntString parses [+-]digits, with single underscores between
// digits, optionally followed by "." and zeros.
func parseIntString(s string) (int64, bool) {
	if whole, frac, found := strings.Cut(s, "."); found {
		if frac == "" || strings.Trim(frac, "0") != "" {
			return 0, false
		}
		s = whole
	}
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || !underscoredDigits(digits) {
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	return i, err == nil
}

// underscoredDigits reports whether s is ASCII digits with single
// underscores between them.
func underscoredDigits(s string) bool {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '_' {
			return false
		}
	}
	return true
}

// toFloat converts as Pydantic's lax float: numbers (out of range is
// infinite), booleans, and numeric strings, including inf and nan.
func toFloat(v any) (float64, string) {
	switch v := v.(type) {
	case bool:
		if v {
			return 1, ""
		}
		return 0, ""
	case json.Number:
		if len(v) > maxNumberLen {
			return 0, "number out of range"
		}
		f, _ := strconv.ParseFloat(v.String(), 64) // out of range is ±Inf, as in Python
		return f, ""
	case string:
		if f, ok := parseFloatString(strings.TrimSpace(v)); ok {
			return f, ""
		}
		// Pydantic's second try, on the untrimmed text: underscores between digits.
		if underscoredFloat(v) {
			if f, ok := parseFloatString(strings.ReplaceAll(v, "_", "")); ok {
				return f, ""
			}
		}
		return 0, "want number, got a string that is not a number"
	}
	return 0, "want number, got " + jsonType(v)
}

func underscoredFloat(s string) bool {
	return strings.Contains(s, "_") && s[0] != '_' && s[len(s)-1] != '_' && !strings.Contains(s, "__")
}

// parseFloatString parses a decimal float as Rust does: [+-] then digits
// with an optional fraction (either side of the point may be empty, not
// both) and exponent, or inf, infinity or nan in any case.
func parseFloatString(s string) (float64, bool) {
	body := s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if s[0] == '-' {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	mantissa, exponent, hasExp := strings.Cut(strings.ToLower(body), "e")
	whole, frac, _ := strings.Cut(mantissa, ".")
	if whole == "" && frac == "" || !digitsOnly(whole) || !digitsOnly(frac) {
		return 0, false
	}
	if hasExp {
		exponent = strings.TrimPrefix(strings.TrimPrefix(exponent, "+"), "-")
		if exponent == "" || !digitsOnly(exponent) {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// number is a JSON number's value, when it is a finite float64.
func number(n json.Number) (float64, bool) {
	if len(n) > maxNumberLen {
		return 0, false
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	return f, err == nil
}

// check runs the schema's constraints on the converted parameters. The
// plan has already enforced types, required and unknown properties, so
// the validator's word counts only on the rest.
func check(constraints *validator.Schema, converted any) (out *Error) {
	if converted == nil {
		converted = map[string]any{}
	}
	defer func() {
		if recover() != nil { // a value the validator cannot compare, such as NaN
			out = invalid("params", "a number is not finite")
		}
	}()
	var verr *validator.ValidationError
	if err := constraints.Validate(converted); !errors.As(err, &verr) {
		return nil
	}
	out = &Error{}
	walkLeaves(verr, func(e *validator.ValidationError) {
		switch e.ErrorKind.(type) {
		case *vkind.Required, *vkind.Type, *vkind.AdditionalProperties, *vkind.Group, *vkind.Schema, *vkind.Reference:
			return
		}
		out.add(pathOf(e.InstanceLocation), constraintReason(e.ErrorKind))
	})
	if out.empty() {
		return nil
	}
	out.sort()
	return out
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

// constraintReason names the constraint a value broke, in terms of the
// schema, never of the value (the validator's own messages quote it).
func constraintReason(k validator.ErrorKind) string {
	switch k := k.(type) {
	case *vkind.MinLength:
		return "shorter than " + strconv.Itoa(k.Want) + " character(s)"
	case *vkind.MaxLength:
		return "longer than " + strconv.Itoa(k.Want) + " character(s)"
	case *vkind.Pattern:
		return "does not match the pattern " + k.Want
	case *vkind.Enum, *vkind.Const:
		return "not one of the allowed values"
	case *vkind.MinItems:
		return "fewer than " + strconv.Itoa(k.Want) + " item(s)"
	case *vkind.MaxItems:
		return "more than " + strconv.Itoa(k.Want) + " item(s)"
	case *vkind.Minimum:
		return "below the minimum " + k.Want.RatString()
	case *vkind.Maximum:
		return "above the maximum " + k.Want.RatString()
	}
	if path := k.KeywordPath(); len(path) > 0 {
		return "fails " + path[len(path)-1]
	}
	return "fails the schema"
}
