package jsonx_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

type page struct {
	Messages []json.RawMessage `json:"messages"`
	One      json.RawMessage   `json:"one"`
	Total    int               `json:"total"`
	HasMore  bool              `json:"has_more"`
	Folder   string            `json:"folder"`
	Tags     []string          `json:"tags,omitempty"`
	Extra    json.RawMessage   `json:"extra,omitempty"`
	Nested   struct {
		A int `json:"a"`
	} `json:"nested"`
	Count8   int8 `json:"count8"`
	NoTag    float64
	private  int
	Excluded string `json:"-"`
}

type notPlain struct {
	Raw json.RawMessage `json:"raw"`
	N   int             `json:"n,string"` // an option AppendData leaves to the encoder
}

// AppendData writes what Marshal writes, for data whose raw values are
// valid compact JSON.
func TestAppendDataIsMarshal(t *testing.T) {
	for _, v := range []any{
		page{Messages: []json.RawMessage{json.RawMessage(`{"id":"m1","subject":"<hi> & bye"}`), json.RawMessage(`[1,2]`)},
			One: json.RawMessage(`"x"`), Total: 139, HasMore: true, Folder: "IN<BOX>&", Count8: -3, NoTag: 2.5, private: 1},
		page{Messages: []json.RawMessage{}, Tags: []string{"a"}, Extra: json.RawMessage(`{"k":null}`)},
		page{},
		&page{Total: 1},
		notPlain{Raw: json.RawMessage(`{}`), N: 7},
		map[string]any{"a": json.RawMessage(`1`)},
		struct{}{},
	} {
		want, err := jsonx.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := jsonx.NewEncoder(&buf).AppendData(v); err != nil {
			t.Fatal(err)
		}
		if buf.String() != string(want) {
			t.Errorf("AppendData(%T)\n got %s\nwant %s", v, buf.Bytes(), want)
		}
	}
}
