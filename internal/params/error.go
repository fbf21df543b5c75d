package params

import (
	"slices"
	"strings"
)

// The validation codes of the ActionResult, as the SDK names them.
const (
	CodeMissingField = "VALIDATION_MISSING_FIELD"
	CodeTypeError    = "VALIDATION_TYPE_ERROR"
)

// Error reports call parameters that do not fit the function's declared
// parameters. Its texts name fields and what was wrong with them, never
// the values the caller sent.
type Error struct {
	// Missing lists the required fields the call left out.
	Missing []string
	// Fields lists the fields with a value of the wrong type or shape
	// ("params" for the parameters as a whole), sorted.
	Fields []string
	// Reasons says what is wrong with each of Fields, in the same order.
	Reasons []string
}

// Error implements error, in the SDK's words: every missing field, then
// every wrong one, as Pydantic reports them all.
func (e *Error) Error() string {
	var msgs []string
	if len(e.Missing) > 0 {
		msgs = append(msgs, "A required field is missing: "+strings.Join(e.Missing, ", "))
	}
	if len(e.Fields) > 0 {
		parts := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			parts[i] = f + " (" + e.Reasons[i] + ")"
		}
		msgs = append(msgs, "Invalid value type for field: "+strings.Join(parts, ", "))
	}
	return strings.Join(msgs, ". ")
}

// Code returns the error's ActionResult code: VALIDATION_MISSING_FIELD
// when fields are missing, VALIDATION_TYPE_ERROR otherwise.
func (e *Error) Code() string {
	if len(e.Missing) > 0 {
		return CodeMissingField
	}
	return CodeTypeError
}

// Data is the error result's data: the missing fields and the wrong ones,
// each key present when it has any.
func (e *Error) Data() map[string]any {
	data := make(map[string]any, 2)
	if len(e.Missing) > 0 {
		data["missing_fields"] = e.Missing
	}
	if len(e.Fields) > 0 {
		data["fields"] = e.Fields
	}
	return data
}

func (e *Error) add(field, reason string) {
	e.Fields = append(e.Fields, field)
	e.Reasons = append(e.Reasons, reason)
}

func (e *Error) empty() bool { return len(e.Missing) == 0 && len(e.Fields) == 0 }

// sort orders the missing fields and the wrong ones (with their reasons)
// by name, so that the same call always reads the same.
func (e *Error) sort() {
	slices.Sort(e.Missing)
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

func invalid(field, reason string) *Error {
	e := &Error{}
	e.add(field, reason)
	return e
}
