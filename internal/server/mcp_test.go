package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// hxMCPCall is a tools/call of the hostile-input extension's function with
// arguments, the fuzz seeds of the HTTP API translated to JSON-RPC.
func hxMCPCall(function string, arguments json.RawMessage) string {
	args := ""
	if arguments != nil {
		args = `,"arguments":` + string(arguments)
	}
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + hxApp + "__" + function + `"` + args + `}}`
}

// hxMCPSeeds are the HTTP API's fuzz seeds as tools/call requests, and
// requests that only JSON-RPC can get wrong.
func hxMCPSeeds() []string {
	var seeds []string
	for _, s := range hxFuzzSeeds {
		var env struct {
			Function string          `json:"function"`
			Params   json.RawMessage `json:"params"`
		}
		if s.batch || json.Unmarshal([]byte(s.body), &env) != nil || env.Function == "" {
			continue
		}
		seeds = append(seeds, hxMCPCall(env.Function, env.Params))
	}
	return append(seeds,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":1,"method":"no/such/method"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope__nope"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[]}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`,
		`{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`,
		`{"jsonrpc":"1.0","id":1,"method":"ping"}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`,
		`[]`,
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":null}`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
		`null`, ``, `{`, `[[[[[[[[[[]]]]]]]]]]`, "\xff\xfe",
	)
}

// hxMCPPost posts body to /mcp as a client of the 2026-07-28 protocol does.
func hxMCPPost(h http.Handler, body []byte, mutate func(*http.Request)) *http.Response {
	req := httptest.NewRequest(http.MethodPost, "/mcp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("X-User-ID", "u-1")
	if mutate != nil {
		mutate(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// hxCheckMCPAnswer checks an answer of /mcp: never a 5xx; a 200 holds
// JSON-RPC (or nothing, for a notification), and a tool result's
// structured content is an ActionResult.
func hxCheckMCPAnswer(res *http.Response) error {
	body, _ := io.ReadAll(res.Body)
	switch {
	case res.StatusCode >= 500:
		return fmt.Errorf("HTTP %d: %.200s", res.StatusCode, body)
	case res.StatusCode != http.StatusOK || len(bytes.TrimSpace(body)) == 0:
		return nil
	}
	type answer struct {
		JSONRPC string          `json:"jsonrpc"`
		Error   json.RawMessage `json:"error"`
		Result  *struct {
			StructuredContent json.RawMessage `json:"structuredContent"`
		} `json:"result"`
	}
	var answers []answer // a batch answers a list
	if err := json.Unmarshal(body, &answers); err != nil {
		answers = []answer{{}}
		if err := json.Unmarshal(body, &answers[0]); err != nil {
			return fmt.Errorf("200 with no JSON-RPC answer: %.200s", body)
		}
	}
	for _, a := range answers {
		if a.JSONRPC != "2.0" {
			return fmt.Errorf("200 with no JSON-RPC answer: %.200s", body)
		}
		if a.Result != nil && a.Result.StructuredContent != nil {
			if _, err := hxCheckResult(a.Result.StructuredContent); err != nil {
				return fmt.Errorf("structured content: %w", err)
			}
		}
	}
	return nil
}

// TestMCPHostileInput: every seed, and requests wrong at the HTTP level
// (no identity, oversized, wrong method or content type), answer an error
// or a result, never a 5xx, and the host still serves.
func TestMCPHostileInput(t *testing.T) {
	h := hxNewHost(t, 64<<10)
	for _, seed := range hxMCPSeeds() {
		if err := hxCheckMCPAnswer(hxMCPPost(h, []byte(seed), nil)); err != nil {
			t.Errorf("POST /mcp %.120q: %v", seed, err)
		}
	}
	ping := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	for _, tc := range []struct {
		name   string
		body   []byte
		mutate func(*http.Request)
		status int
	}{
		{"no X-User-ID", ping, func(r *http.Request) { r.Header.Del("X-User-ID") }, http.StatusBadRequest},
		{"oversized", []byte(hxMCPCall("echo", json.RawMessage(`{"name":"`+strings.Repeat("a", 70<<10)+`"}`))), nil, http.StatusRequestEntityTooLarge},
		{"GET in stateless mode", nil, func(r *http.Request) { r.Method = http.MethodGet }, http.StatusMethodNotAllowed},
		{"text/plain", ping, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, http.StatusUnsupportedMediaType},
		{"accepts no JSON", ping, func(r *http.Request) { r.Header.Set("Accept", "text/html") }, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := hxMCPPost(h, tc.body, tc.mutate)
			if res.StatusCode != tc.status {
				body, _ := io.ReadAll(res.Body)
				t.Errorf("HTTP %d %.200s, want %d", res.StatusCode, body, tc.status)
			}
		})
	}
	if res := hxMCPPost(h, ping, nil); res.StatusCode != http.StatusOK {
		t.Errorf("ping after the hostile requests: HTTP %d", res.StatusCode)
	}
}

// FuzzMCPBody posts arbitrary bytes to /mcp: whatever the body, the answer
// is never a 5xx, a tool result carries an ActionResult, and the host
// still answers.
func FuzzMCPBody(f *testing.F) {
	for _, seed := range hxMCPSeeds() {
		f.Add([]byte(seed))
	}
	h := hxNewHost(f, 64<<10)
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := hxCheckMCPAnswer(hxMCPPost(h, body, nil)); err != nil {
			t.Fatalf("POST /mcp %q: %v", body, err)
		}
		ping := hxMCPPost(h, []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`), nil)
		if ping.StatusCode != http.StatusOK {
			t.Fatalf("ping after %q: HTTP %d", body, ping.StatusCode)
		}
	})
}
