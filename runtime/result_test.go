package runtime_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/runtime"
)

// Golden ActionResult JSON: the SDK's to_dict() key order and omission rules
// (sdk-contract.md §3, §12 cases 24-27).
func TestResultJSON(t *testing.T) {
	cases := []struct {
		name   string
		result runtime.Result
		want   string
	}{
		{"success", runtime.Success(map[string]int{"a": 1}, "done"),
			`{"status":"success","summary":"done","data":{"a":1}}`},
		{"error with code and retry", runtime.Fail("boom").WithRetry().WithCode("NOTE_NOT_FOUND"),
			`{"status":"error","summary":"","data":{},"error":"boom","error_code":"NOTE_NOT_FOUND","retryable":true}`},
		{"plain error omits code and retryable", runtime.Fail("boom"),
			`{"status":"error","summary":"","data":{},"error":"boom"}`},
		{"refresh nothing is []", runtime.Success(nil, "s").WithRefreshPanels(),
			`{"status":"success","summary":"s","data":{},"refresh_panels":[]}`},
		{"refresh all omits the key", runtime.Success(nil, "s"),
			`{"status":"success","summary":"s","data":{}}`},
		{"refresh panels", runtime.Success(nil, "s").WithRefreshPanels("sidebar", "inbox"),
			`{"status":"success","summary":"s","data":{},"refresh_panels":["sidebar","inbox"]}`},
		{"ui after retryable, before refresh_panels", runtime.Fail("x").WithRetry().WithUI(map[string]any{"type": "Text"}).WithRefreshPanels("p"),
			`{"status":"error","summary":"","data":{},"error":"x","retryable":true,"ui":{"type":"Text"},"refresh_panels":["p"]}`},
		{"nil map data is {}", runtime.Success(map[string]any(nil), ""),
			`{"status":"success","summary":"","data":{}}`},
		{"typed data keeps field order", runtime.Success(struct {
			Z int    `json:"z"`
			A string `json:"a"`
		}{1, "x"}, "ok"), `{"status":"success","summary":"ok","data":{"z":1,"a":"x"}}`},
		{"raw data passes through", runtime.Success(json.RawMessage(`{"messages":[{"id":"m1"}]}`), "1 message(s) in INBOX."),
			`{"status":"success","summary":"1 message(s) in INBOX.","data":{"messages":[{"id":"m1"}]}}`},
		{"no HTML escaping, UTF-8 kept", runtime.Success(map[string]string{"s": "<a & b> é"}, "Ünïcode"),
			`{"status":"success","summary":"Ünïcode","data":{"s":"<a & b> é"}}`},
		{"empty error message still emitted", runtime.Result{Status: runtime.StatusError},
			`{"status":"error","summary":"","data":{},"error":""}`},
		{"a success carries no error", runtime.Result{Status: runtime.StatusSuccess, Error: "stale"},
			`{"status":"success","summary":"","data":{}}`},
		{"nil pointers are unset", runtime.Success((*struct{ A int })(nil), "").WithUI((*struct{ T string })(nil)),
			`{"status":"success","summary":"","data":{}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// MarshalJSON itself: json.Marshal would re-escape <, > and &.
			got, err := tc.result.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestWithRefreshPanelsDoesNotAlias(t *testing.T) {
	panels := []string{"a", "b"}
	r := runtime.Success(nil, "").WithRefreshPanels(panels...)
	panels[0] = "changed"
	if r.RefreshPanels[0] != "a" {
		t.Fatal("the result shares the caller's slice")
	}
}

func TestValidCode(t *testing.T) {
	for code, want := range map[string]bool{
		"NOTE_NOT_FOUND": true, "ABC": true, "A" + strings.Repeat("B", 63): true,
		"AB": false, "abc": false, "1AB": false, "A-B-C": false, "A" + strings.Repeat("B", 64): false,
	} {
		if got := runtime.ValidCode(code); got != want {
			t.Errorf("ValidCode(%q) = %v, want %v", code, got, want)
		}
	}
}

func TestResultDataMustBeAnObject(t *testing.T) {
	for _, data := range []any{[]int{1}, "text", 3, json.RawMessage(`[1]`)} {
		if _, err := runtime.Success(data, "").MarshalJSON(); err == nil {
			t.Errorf("data %#v encoded, want an error: data is always an object", data)
		}
	}
}
