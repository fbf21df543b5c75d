// Package pyjson writes JSON byte for byte as Python's json.dumps does with
// its defaults (ensure_ascii), for the bytes other programs compare with
// what the SDK writes: call-token payloads and event envelopes.
package pyjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendJSON re-renders the JSON value raw as json.dumps writes what
// json.loads makes of it: ", " and ": " separators, key order kept,
// strings as AppendString, integers as written and floats as Python's repr
// writes them.
func AppendJSON(dst, raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dst, err := appendValue(dst, dec)
	if err != nil {
		return nil, fmt.Errorf("pyjson: %w", err)
	}
	return dst, nil
}

func appendValue(dst []byte, dec *json.Decoder) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		open, end := byte(tok), byte('}')
		if open == '[' {
			end = ']'
		}
		dst = append(dst, open)
		for first := true; dec.More(); first = false {
			if !first {
				dst = append(dst, ", "...)
			}
			if open == '{' {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				dst = append(AppendString(dst, key.(string)), ": "...)
			}
			if dst, err = appendValue(dst, dec); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return append(dst, end), nil
	case string:
		return AppendString(dst, tok), nil
	case json.Number:
		return appendNumber(dst, tok.String())
	case bool:
		return strconv.AppendBool(dst, tok), nil
	case nil:
		return append(dst, "null"...), nil
	}
	return nil, fmt.Errorf("unexpected token %T", tok)
}

// appendNumber writes a number as Python does after json.loads: an
// integer literal stays as written (but "-0" is 0); any other is a float,
// written as repr.
func appendNumber(dst []byte, lit string) ([]byte, error) {
	if !strings.ContainsAny(lit, ".eE") {
		if strings.TrimLeft(lit, "-0") == "" {
			return append(dst, '0'), nil
		}
		return append(dst, lit...), nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number out of range")
	}
	return AppendFloat(dst, f), nil
}

// AppendFloat writes f as Python's float repr: the shortest digits that
// round-trip, positional for decimal exponents in [-4, 16) (with ".0" when
// whole), else d.ddde±XX with at least two exponent digits.
func AppendFloat(dst []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	sci := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mantissa, exp, _ := strings.Cut(sci, "e")
	e, _ := strconv.Atoi(exp)
	if e < -4 || e >= 16 {
		dst = append(dst, mantissa...)
		dst = append(dst, 'e')
		if e < 0 {
			dst, e = append(dst, '-'), -e
		} else {
			dst = append(dst, '+')
		}
		if e < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(e), 10)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	if !bytes.ContainsAny(dst[start:], ".") {
		dst = append(dst, ".0"...)
	}
	return dst
}

// AppendString writes s as a JSON string as json.dumps does with
// ensure_ascii: printable ASCII as is (< > & / too, but " and \), the short
// escapes \n \r \t \b \f, and every other character as \uXXXX in
// lower-case hex, surrogate pairs above U+FFFF. Invalid UTF-8 is U+FFFD.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	escape := func(dst []byte, r rune) []byte {
		return append(dst, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r == '\b':
			dst = append(dst, `\b`...)
		case r == '\f':
			dst = append(dst, `\f`...)
		case r >= 0x20 && r < 0x7f:
			dst = append(dst, byte(r))
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			dst = escape(escape(dst, hi), lo)
		case r == utf8.RuneError:
			dst = escape(dst, 0xfffd)
		default:
			dst = escape(dst, r)
		}
	}
	return append(dst, '"')
}
