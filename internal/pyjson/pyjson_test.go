package pyjson_test

import (
	"testing"

	"github.com/imperalcloud/exthost/internal/pyjson"
)

// Python's json.dumps escapes, as the SDK writes call-token payloads and
// events (internal/events has the SDK's own bytes for whole envelopes).
func TestAppendStringEscapesAsPython(t *testing.T) {
	cases := map[string]string{
		"<>&/'":          `"<>&/'"`,
		"\"\\\b\f\n\r\t": `"\"\\\b\f\n\r\t"`,
		"\x00\x1f\x7f":   `"\u0000\u001f\u007f"`,
		"é☃":             `"\u00e9\u2603"`,
		"😀":              `"\ud83d\ude00"`,
		"a\xffb":         `"a\ufffdb"`,
	}
	for in, want := range cases {
		if got := string(pyjson.AppendString(nil, in)); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}
