// Package jsonx is the host's JSON codec on the hot paths: the answers it
// writes, the cache envelopes it stores and reads, and the upstream bodies it
// decodes. It is goccy/go-json, chosen on measurements (docs/performance.md):
// compatible with encoding/json's types, tags and interfaces, and several
// times faster on what the host does most, copying forwarded
// json.RawMessage values and decoding envelopes. Output is never
// HTML-escaped: <, > and & stay literal, as Python's json.dumps writes them.
package jsonx

import (
	"bytes"
	"errors"

	"github.com/goccy/go-json"
)

// Marshal returns the JSON of v.
func Marshal(v any) ([]byte, error) { return json.MarshalWithOption(v, json.DisableHTMLEscape()) }

// Encoder appends JSON values to a buffer.
type Encoder struct {
	buf *bytes.Buffer
	enc *json.Encoder
}

// NewEncoder returns an encoder appending to buf.
func NewEncoder(buf *bytes.Buffer) *Encoder {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return &Encoder{buf: buf, enc: enc}
}

// Append appends the JSON of v to the buffer, with no trailing newline.
func (e *Encoder) Append(v any) error {
	if err := e.enc.Encode(v); err != nil {
		return err
	}
	e.buf.Truncate(e.buf.Len() - 1) // Encode's newline
	return nil
}

// Unmarshal decodes data into v.
func Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// UnmarshalTypeError is a JSON value of the wrong type for its Go field,
// as Unmarshal reports it.
type UnmarshalTypeError = json.UnmarshalTypeError

// Valid reports whether data is one valid JSON value.
func Valid(data []byte) bool { return json.Valid(data) }

// DecodeValue decodes data, one JSON value and nothing after it, into the
// generic form: map[string]any, []any, string, bool, nil, and json.Number
// for numbers, so that a number's text survives as it was written.
func DecodeValue(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailing
	}
	return v, nil
}

var errTrailing = errors.New("jsonx: data after the JSON value")
