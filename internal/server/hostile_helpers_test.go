package server_test

// Helpers of the hostile-input tests and fuzz targets (hostile_test.go,
// fuzz_test.go, injection_test.go): an in-process host over a small test
// extension, and a checker of the ActionResult shape. Every name starts with
// "hx" so as not to clash with the other test files of the package.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/metrics"
	"github.com/imperalcloud/exthost/internal/server"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/runtime"
)

// hxApp is the app id of the hostile-input test extension.
const hxApp = "hx-app"

// hxParams has a field of each kind the schema and decoder handle.
type hxParams struct {
	Name  string   `json:"name" jsonschema:"required"`
	Count int      `json:"count"`
	Small int8     `json:"small"`
	Loud  bool     `json:"loud"`
	Tags  []string `json:"tags"`
	Inner *struct {
		Level int `json:"level" jsonschema:"required"`
	} `json:"inner,omitempty"`
}

// hxNewHost returns the API (as an http.Handler) over an extension with a
// function for each kind of outcome: echo (typed parameters, success), fails
// (its own code), panics, write (panel effect and event) and empty (nil data).
func hxNewHost(tb testing.TB, maxBody int64) http.Handler {
	tb.Helper()
	return hxNewHostOpts(tb, maxBody, 0)
}

// hxNewHostWithLimit is hxNewHost with a concurrency limit.
func hxNewHostWithLimit(tb testing.TB, maxConcurrent int) http.Handler {
	tb.Helper()
	return hxNewHostOpts(tb, 0, maxConcurrent)
}

func hxNewHostOpts(tb testing.TB, maxBody int64, maxConcurrent int) http.Handler {
	tb.Helper()
	ext, tool := testkit.NewApp(hxApp, "An extension for the hostile-input tests.")
	runtime.AddFunction(tool, runtime.Function[hxParams, map[string]any]{
		Name: "echo", Description: "Echoes its parameters.",
		Handler: func(c *ctx.Call, p hxParams) (runtime.Result, error) {
			return runtime.Success(map[string]any{"params": p, "user": c.UserID(), "tenant": c.User().TenantID}, "echoed "+p.Name), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "fails", Description: "Fails with its own code.",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			return runtime.Fail("Nothing here.").WithCode("HX_NOT_FOUND"), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "panics", Description: "Panics.",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) { panic("hx handler bug") },
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "write", Description: "A write that refreshes the sidebar.", ActionType: runtime.Write,
		Effects: []string{"__panel__sidebar"}, Event: "hx.written",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) { return runtime.Success(nil, "written"), nil },
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "empty", Description: "Succeeds with no data.",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) { return runtime.Success(nil, ""), nil },
	})
	d, err := dispatch.New(dispatch.Options{Extensions: []*runtime.Extension{ext}, CallTimeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Cache().Close() })
	srv, err := server.New(server.Options{
		Dispatcher: d, Logger: zap.NewNop(), Metrics: metrics.New(), MaxBodyBytes: maxBody,
		MaxConcurrentCalls: maxConcurrent, MCP: &server.MCPOptions{Stateless: true, JSONResponse: true},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return srv.Handler()
}

var hxCodePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{2,63}$`)

// hxResultKeys are an ActionResult's keys in the order the SDK writes them.
var hxResultKeys = []string{"status", "summary", "data", "error", "error_code", "retryable", "ui", "refresh_panels"}

// hxCheckAnswer checks one answer of the call or batch endpoint: never a
// 5xx, a JSON content type, a valid UTF-8 JSON body shaped as an
// ActionResult (an error one when the status is not 2xx), or as
// {"results": [ActionResult, ...]} for a batch answered 200.
func hxCheckAnswer(status int, header http.Header, body []byte, batch bool) error {
	if status >= 500 || status < 200 {
		return fmt.Errorf("HTTP status %d", status)
	}
	if ct := header.Get("Content-Type"); ct != "application/json" && ct != "application/json; charset=UTF-8" {
		return fmt.Errorf("Content-Type %q", ct)
	}
	if !utf8.Valid(body) {
		return errors.New("body is not valid UTF-8")
	}
	if !json.Valid(body) {
		return errors.New("body is not valid JSON")
	}
	if batch && status == http.StatusOK {
		var env map[string]json.RawMessage
		if err := json.Unmarshal(body, &env); err != nil {
			return fmt.Errorf("batch answer: %v", err)
		}
		var results []json.RawMessage
		if err := json.Unmarshal(env["results"], &results); err != nil || len(env) != 1 {
			return fmt.Errorf("batch answer is not {\"results\":[...]}: %v", err)
		}
		if len(results) == 0 || len(results) > server.MaxBatchCalls {
			return fmt.Errorf("batch answer has %d results", len(results))
		}
		for i, r := range results {
			if _, err := hxCheckResult(r); err != nil {
				return fmt.Errorf("results[%d]: %v", i, err)
			}
		}
		return nil
	}
	st, err := hxCheckResult(body)
	if err != nil {
		return err
	}
	if status != http.StatusOK && st != "error" {
		return fmt.Errorf("HTTP %d with status %q", status, st)
	}
	return nil
}

// hxCheckResult checks one ActionResult: known keys, each once, in the SDK's
// order; status success or error; summary a string; data an object; error
// and a well-formed error_code on an error, no error on a success; retryable
// only true; refresh_panels a list of strings. It returns the status.
func hxCheckResult(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", fmt.Errorf("not a JSON object: %.80s", raw)
	}
	fields := map[string]json.RawMessage{}
	next := 0 // index in hxResultKeys the next key may be at or after
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		key := tok.(string)
		pos := -1
		for i := next; i < len(hxResultKeys); i++ {
			if hxResultKeys[i] == key {
				pos = i
				break
			}
		}
		if pos < 0 {
			return "", fmt.Errorf("unexpected, repeated or misplaced key %q in %.200s", key, raw)
		}
		next = pos + 1
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", err
		}
		fields[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return "", err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", errors.New("data after the result")
	}
	var st, summary string
	if err := json.Unmarshal(fields["status"], &st); err != nil || (st != "success" && st != "error") {
		return "", fmt.Errorf("status %s", fields["status"])
	}
	if err := json.Unmarshal(fields["summary"], &summary); err != nil || fields["summary"] == nil {
		return "", fmt.Errorf("summary %s", fields["summary"])
	}
	if d := fields["data"]; len(d) == 0 || d[0] != '{' {
		return "", fmt.Errorf("data %s is not an object", d)
	}
	var msg, code string
	if raw, ok := fields["error"]; ok {
		if err := json.Unmarshal(raw, &msg); err != nil {
			return "", fmt.Errorf("error %s is not a string", raw)
		}
	}
	if raw, ok := fields["error_code"]; ok {
		if err := json.Unmarshal(raw, &code); err != nil || !hxCodePattern.MatchString(code) {
			return "", fmt.Errorf("error_code %s", raw)
		}
	}
	switch st {
	case "error":
		if _, ok := fields["error"]; !ok || msg == "" || code == "" {
			return "", fmt.Errorf("error result without error or error_code: %.200s", raw)
		}
	case "success":
		if _, ok := fields["error"]; ok {
			return "", fmt.Errorf("success result with an error: %.200s", raw)
		}
	}
	if r, ok := fields["retryable"]; ok && string(r) != "true" {
		return "", fmt.Errorf("retryable %s", r)
	}
	if r, ok := fields["refresh_panels"]; ok {
		var panels []string
		if err := json.Unmarshal(r, &panels); err != nil || panels == nil {
			return "", fmt.Errorf("refresh_panels %s", r)
		}
	}
	return st, nil
}

// hxHealthy reports an error unless /healthz answers 200 {"status":"ok"}.
func hxHealthy(do func(*http.Request) (int, []byte, error), base string) error {
	req, err := http.NewRequest(http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return err
	}
	status, body, err := do(req)
	if err != nil {
		return fmt.Errorf("/healthz: %v", err)
	}
	if status != http.StatusOK || string(body) != `{"status":"ok"}` {
		return fmt.Errorf("/healthz = %d %s", status, body)
	}
	return nil
}
