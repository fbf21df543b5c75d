package params

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/buger/jsonparser"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	vkind "github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

// maxNumberLen bounds the text of a JSON number in parameters.
const maxNumberLen = 64

// Decode turns the JSON parameters of one call into a P, in one pass over
// the bytes: each value is converted with Pydantic's lax rules where it is
// read and bound into the struct, and the schema's constraints are checked
// on the converted values. Empty or null parameters are {}; properties the
// schema does not declare are dropped and returned, for the log. Fields
// the call leaves out keep their defaults. The error is an *Error.
func (s *Schema[P]) Decode(raw []byte) (P, []string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte(`{}`)
	}
	if !jsonx.Valid(raw) {
		return s.defaults, nil, invalid("params", "not valid JSON")
	}
	if raw[0] != '{' {
		return s.defaults, nil, invalid("params", "want object, got "+typeName(valueTypeOf(raw)))
	}
	p := s.defaults
	d := decoder{errs: &Error{}, keep: s.constraints != nil}
	converted := d.object(s.root, raw, reflect.ValueOf(&p).Elem(), nil)
	if !d.errs.empty() {
		d.errs.sort()
		return s.defaults, d.unknown, d.errs
	}
	if s.constraints != nil {
		if err := check(s.constraints, s.root, converted); err != nil {
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

// loc is where a value sits in the parameters, built on the stack as the
// walk descends and spelled out ("inner.tags.1") only for a message.
type loc struct {
	parent *loc
	name   string // a declared property name, or "*" for a map's key
	index  int    // an array index, when name is ""
}

func pathOf(l *loc) string {
	if l == nil {
		return "params"
	}
	var parts []string
	for ; l != nil; l = l.parent {
		if l.name != "" {
			parts = append(parts, l.name)
		} else {
			parts = append(parts, strconv.Itoa(l.index))
		}
	}
	slices.Reverse(parts)
	return strings.Join(parts, ".")
}

// anyKey stands for a key of a map in a path: the keys are the caller's.
const anyKey = "*"

// propertyName is a property name as a string, unescaped.
func propertyName(key []byte) string {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key)
	}
	name, err := jsonparser.ParseString(key)
	if err != nil {
		return string(key)
	}
	return name
}

func (d *decoder) wrong(l *loc, reason string) { d.errs.add(pathOf(l), reason) }

// slot is the last value a JSON object gave one field: as json.loads, a
// key given twice keeps its last value.
type slot struct {
	typ jsonparser.ValueType
	raw []byte
	set bool
}

// object converts and binds the properties of a struct node from the JSON
// object raw.
func (d *decoder) object(n *node, raw []byte, dst reflect.Value, at *loc) any {
	var small [8]slot
	slots := small[:]
	if len(n.fields) > len(small) {
		slots = make([]slot, len(n.fields))
	}
	err := jsonparser.ObjectEach(raw, func(key, value []byte, typ jsonparser.ValueType, _ int) error {
		if i := n.index(key); i >= 0 {
			slots[i] = slot{typ: typ, raw: value, set: true}
		} else {
			d.unknown = append(d.unknown, pathOf(&loc{parent: at, name: propertyName(key)}))
		}
		return nil
	})
	if err != nil {
		d.wrong(at, "not valid JSON")
		return nil
	}
	var converted map[string]any
	if d.keep {
		converted = make(map[string]any, len(n.fields))
	}
	for i, f := range n.fields {
		if !slots[i].set {
			if f.required {
				d.errs.Missing = append(d.errs.Missing, pathOf(&loc{parent: at, name: f.name}))
			}
			continue
		}
		v := d.value(f.node, slots[i].typ, slots[i].raw, fieldOf(dst, f.index), &loc{parent: at, name: f.name})
		if converted != nil && v != nil {
			converted[f.name] = v
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

// value converts the JSON value raw, of type typ, for node n, binds it into
// dst and returns the converted value (when the decoder keeps them). For a
// string, raw is its text between the quotes, still escaped.
func (d *decoder) value(n *node, typ jsonparser.ValueType, raw []byte, dst reflect.Value, at *loc) any {
	if typ == jsonparser.Null {
		switch n.kind {
		case kindPointer, kindAny:
			dst.SetZero()
		case kindRaw:
			dst.SetBytes([]byte("null"))
		default:
			d.wrong(at, "want "+n.want()+", got null")
		}
		return nil
	}
	switch n.kind {
	case kindString:
		if typ != jsonparser.String {
			d.wrong(at, "want string, got "+typeName(typ))
			return nil
		}
		s, err := jsonparser.ParseString(raw)
		if err != nil {
			d.wrong(at, "not a valid string")
			return nil
		}
		dst.SetString(s)
		return s
	case kindBool:
		b, reason := toBool(typ, raw)
		if reason != "" {
			d.wrong(at, reason)
			return nil
		}
		dst.SetBool(b)
		return b
	case kindInt, kindUint:
		i, reason := toInt(typ, raw)
		switch {
		case reason != "":
			d.wrong(at, reason)
			return nil
		case n.kind == kindUint && (i < 0 || dst.OverflowUint(uint64(i))):
			d.wrong(at, "number out of range")
			return nil
		case n.kind == kindUint:
			dst.SetUint(uint64(i))
		case dst.OverflowInt(i):
			d.wrong(at, "number out of range")
			return nil
		default:
			dst.SetInt(i)
		}
		return i
	case kindFloat:
		f, reason := toFloat(typ, raw)
		if reason == "" && dst.OverflowFloat(f) && !math.IsInf(f, 0) {
			reason = "number out of range"
		}
		if reason != "" {
			d.wrong(at, reason)
			return nil
		}
		dst.SetFloat(f)
		return f
	case kindSlice:
		if typ != jsonparser.Array {
			d.wrong(at, "want array, got "+typeName(typ))
			return nil
		}
		return d.array(n, raw, dst, at)
	case kindMap:
		if typ != jsonparser.Object {
			d.wrong(at, "want object, got "+typeName(typ))
			return nil
		}
		return d.mapping(n, raw, dst, at)
	case kindStruct:
		if typ != jsonparser.Object {
			d.wrong(at, "want object, got "+typeName(typ))
			return nil
		}
		return d.object(n, raw, dst, at)
	case kindPointer:
		target := reflect.New(n.typ.Elem())
		c := d.value(n.elem, typ, raw, target.Elem(), at)
		dst.Set(target)
		return c
	case kindAny, kindRaw:
		doc := raw
		if typ == jsonparser.String {
			doc = append(append([]byte{'"'}, raw...), '"')
		}
		if n.kind == kindRaw {
			dst.SetBytes(bytes.Clone(doc))
			return nil
		}
		v, err := jsonx.DecodeValue(doc)
		if err != nil {
			d.wrong(at, "not valid JSON")
			return nil
		}
		dst.Set(reflect.ValueOf(&v).Elem())
		return nil // constraints on free-form values are not checked
	}
	d.wrong(at, "unsupported")
	return nil
}

// array converts and binds the elements of a slice node.
func (d *decoder) array(n *node, raw []byte, dst reflect.Value, at *loc) any {
	count := 0
	_, err := jsonparser.ArrayEach(raw, func([]byte, jsonparser.ValueType, int, error) { count++ })
	if err != nil {
		d.wrong(at, "not valid JSON")
		return nil
	}
	out := reflect.MakeSlice(n.typ, count, count)
	var converted []any
	if d.keep {
		converted = make([]any, count)
	}
	i := 0
	_, _ = jsonparser.ArrayEach(raw, func(value []byte, typ jsonparser.ValueType, _ int, _ error) {
		c := d.value(n.elem, typ, value, out.Index(i), &loc{parent: at, index: i})
		if converted != nil {
			converted[i] = c
		}
		i++
	})
	dst.Set(out)
	if converted == nil {
		return nil
	}
	return converted
}

// mapping converts and binds the entries of a map node.
func (d *decoder) mapping(n *node, raw []byte, dst reflect.Value, at *loc) any {
	out := reflect.MakeMap(n.typ)
	var converted map[string]any
	if d.keep {
		converted = make(map[string]any)
	}
	elem := reflect.New(n.typ.Elem()).Elem()
	err := jsonparser.ObjectEach(raw, func(key, value []byte, typ jsonparser.ValueType, _ int) error {
		elem.SetZero()
		name := propertyName(key)
		// Messages name the map, never the caller's key: "labels.*".
		c := d.value(n.elem, typ, value, elem, &loc{parent: at, name: anyKey})
		out.SetMapIndex(reflect.ValueOf(name).Convert(n.typ.Key()), elem)
		if converted != nil && c != nil {
			converted[name] = c
		}
		return nil
	})
	if err != nil {
		d.wrong(at, "not valid JSON")
		return nil
	}
	dst.Set(out)
	if converted == nil {
		return nil
	}
	return converted
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

// typeName names a JSON type, never the value itself.
func typeName(t jsonparser.ValueType) string {
	switch t {
	case jsonparser.Null:
		return "null"
	case jsonparser.Boolean:
		return "boolean"
	case jsonparser.Number:
		return "number"
	case jsonparser.String:
		return "string"
	case jsonparser.Array:
		return "array"
	case jsonparser.Object:
		return "object"
	}
	return "value"
}

// valueTypeOf is the type of the valid JSON value raw, from its first byte.
func valueTypeOf(raw []byte) jsonparser.ValueType {
	switch raw[0] {
	case '"':
		return jsonparser.String
	case '{':
		return jsonparser.Object
	case '[':
		return jsonparser.Array
	case 't', 'f':
		return jsonparser.Boolean
	case 'n':
		return jsonparser.Null
	}
	return jsonparser.Number
}

// toBool converts as Pydantic's lax bool: true/false, the numbers 1 and 0,
// and the strings 1 0 t f y n on off yes no true false in any (ASCII) case,
// untrimmed.
func toBool(typ jsonparser.ValueType, raw []byte) (bool, string) {
	const notOne = "want boolean, got a string that is not a boolean"
	switch typ {
	case jsonparser.Boolean:
		return raw[0] == 't', ""
	case jsonparser.Number:
		f, ok := number(raw)
		switch {
		case ok && f == 1:
			return true, ""
		case ok && f == 0:
			return false, ""
		}
		return false, "want boolean, got a number other than 0 or 1"
	case jsonparser.String:
		s, err := jsonparser.ParseString(raw)
		if err != nil || !ascii(s) {
			return false, notOne
		}
		switch strings.ToLower(s) {
		case "1", "t", "y", "on", "yes", "true":
			return true, ""
		case "0", "f", "n", "off", "no", "false":
			return false, ""
		}
		return false, notOne
	}
	return false, "want boolean, got " + typeName(typ)
}

// ascii reports whether s is ASCII only: Pydantic compares ASCII letters,
// where strings.ToLower would also fold the Kelvin sign into "k".
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// toInt converts as Pydantic's lax int: whole numbers, floats with no
// fraction within the int64 range, booleans, and strings holding an
// integer (spaces around, a sign, single underscores between digits and a
// fraction of zeros allowed).
func toInt(typ jsonparser.ValueType, raw []byte) (int64, string) {
	switch typ {
	case jsonparser.Boolean:
		if raw[0] == 't' {
			return 1, ""
		}
		return 0, ""
	case jsonparser.Number:
		if len(raw) > maxNumberLen {
			return 0, "number out of range"
		}
		if !bytes.ContainsAny(raw, ".eE") {
			i, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return 0, "number out of range"
			}
			return i, ""
		}
		f, _ := strconv.ParseFloat(string(raw), 64)
		return wholeFloat(f)
	case jsonparser.String:
		s, err := jsonparser.ParseString(raw)
		if err == nil {
			if i, ok := parseIntString(strings.TrimSpace(s)); ok {
				return i, ""
			}
		}
		return 0, "want integer, got a string that is not an integer"
	}
	return 0, "want integer, got " + typeName(typ)
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
func toFloat(typ jsonparser.ValueType, raw []byte) (float64, string) {
	const notOne = "want number, got a string that is not a number"
	switch typ {
	case jsonparser.Boolean:
		if raw[0] == 't' {
			return 1, ""
		}
		return 0, ""
	case jsonparser.Number:
		if len(raw) > maxNumberLen {
			return 0, "number out of range"
		}
		f, _ := strconv.ParseFloat(string(raw), 64) // out of range is ±Inf, as in Python
		return f, ""
	case jsonparser.String:
		s, err := jsonparser.ParseString(raw)
		if err != nil {
			return 0, notOne
		}
		if f, ok := parseFloatString(strings.TrimSpace(s)); ok {
			return f, ""
		}
		// Pydantic's second try, on the untrimmed text: underscores between digits.
		if underscoredFloat(s) {
			if f, ok := parseFloatString(strings.ReplaceAll(s, "_", "")); ok {
				return f, ""
			}
		}
		return 0, notOne
	}
	return 0, "want number, got " + typeName(typ)
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
func number(raw []byte) (float64, bool) {
	if len(raw) > maxNumberLen {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
}

// check runs the schema's constraints on the converted parameters. The
// plan has already enforced types, required and unknown properties, so
// the validator's word counts only on the rest.
func check(constraints *validator.Schema, root *node, converted any) (out *Error) {
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
		out.add(root.pathOf(e.InstanceLocation), constraintReason(e.ErrorKind))
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

// pathOf names a validator's instance location as the walk does: field
// names and indexes, and "*" for the keys of a map, which are the caller's.
func (n *node) pathOf(location []string) string {
	if len(location) == 0 {
		return "params"
	}
	parts := make([]string, 0, len(location))
	for _, seg := range location {
		for n != nil && n.kind == kindPointer {
			n = n.elem
		}
		switch {
		case n == nil:
			parts = append(parts, "*")
		case n.kind == kindStruct:
			f := n.field(seg)
			if f == nil {
				parts = append(parts, "*")
				n = nil
				continue
			}
			parts, n = append(parts, f.name), f.node
		case n.kind == kindSlice:
			parts, n = append(parts, seg), n.elem
		case n.kind == kindMap:
			parts, n = append(parts, "*"), n.elem
		default:
			parts, n = append(parts, "*"), nil
		}
	}
	return strings.Join(parts, ".")
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
