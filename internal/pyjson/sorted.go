package pyjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// AppendSorted re-renders the JSON value raw as
// json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")) writes
// it: the canonical form the SDK hashes into a document's etag. Keys are
// sorted by code point (byte order of their UTF-8, the same thing), and a
// key given twice keeps its last value, as json.loads does.
func AppendSorted(dst, raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("pyjson: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("pyjson: data after the value")
	}
	return appendSortedValue(dst, v)
}

func appendSortedValue(dst []byte, v any) ([]byte, error) {
	var err error
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(AppendString(dst, k), ':')
			if dst, err = appendSortedValue(dst, v[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendSortedValue(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case string:
		return AppendString(dst, v), nil
	case json.Number:
		return appendNumber(dst, v.String())
	case bool:
		return strconv.AppendBool(dst, v), nil
	case nil:
		return append(dst, "null"...), nil
	}
	return nil, fmt.Errorf("pyjson: unexpected value %T", v)
}
