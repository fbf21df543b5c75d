package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/metrics"
	"github.com/imperalcloud/exthost/internal/server"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/runtime"
)

type greetParams struct {
	Name  string `json:"name" jsonschema:"required"`
	Times int    `json:"times"`
}

const secret = "test-secret"

// api is a server over a test extension, reachable over real HTTP.
type api struct {
	*httptest.Server
	srv     *server.Server
	logs    *observer.ObservedLogs
	started chan struct{} // a "blocks" call has started
	release chan struct{} // lets "blocks" calls finish
}

type apiOptions struct {
	tokens        bool
	sampling      server.Sampling
	maxBody       int64
	maxConcurrent int
	callTimeout   time.Duration
}

func newAPI(t *testing.T, o apiOptions) *api {
	t.Helper()
	a := &api{started: make(chan struct{}, 16), release: make(chan struct{})}
	ext, tool := testkit.NewApp("test-app", "An extension for the HTTP API tests.")
	runtime.AddFunction(tool, runtime.Function[greetParams, map[string]string]{
		Name: "greet", Description: "Greets by name.",
		Handler: func(c *ctx.Call, p greetParams) (runtime.Result, error) {
			return runtime.Success(map[string]string{"greeting": "hello " + p.Name, "user": c.UserID(), "tenant": c.User().TenantID}, "greeted"), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "fails", Description: "Fails with its own code.",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			return runtime.Fail("Note not found.").WithCode("NOTE_NOT_FOUND"), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[struct {
		Sub bool `json:"sub"`
	}, runtime.NoData]{
		Name: "fails_like_host", Description: "Fails with a code named like the host's.",
		Handler: func(_ *ctx.Call, p struct {
			Sub bool `json:"sub"`
		}) (runtime.Result, error) {
			if p.Sub {
				return runtime.Result{}, &runtime.CodedError{Code: runtime.CodeUnknownSubFunction, Message: "No such note."}
			}
			return runtime.Fail("No such notebook.").WithCode(runtime.CodeUnknownTool), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[struct {
		X float64 `json:"x"`
	}, map[string]float64]{
		Name: "echo_float", Description: "Echoes a float.",
		Handler: func(_ *ctx.Call, p struct {
			X float64 `json:"x"`
		}) (runtime.Result, error) {
			return runtime.Success(map[string]float64{"x": p.X}, "echoed"), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "panics", Description: "Panics.",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) { panic("handler bug with secret detail") },
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "blocks", Description: "Blocks until the test releases it.",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			a.started <- struct{}{}
			<-a.release
			return runtime.Success(nil, "released"), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "write", Description: "A write that refreshes the sidebar.", ActionType: runtime.Write,
		Effects: []string{"__panel__sidebar"}, Event: "test.written",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) { return runtime.Success(nil, "written"), nil },
	})
	timeout := o.callTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	m := metrics.New()
	d, err := dispatch.New(dispatch.Options{Extensions: []*runtime.Extension{ext}, CallTimeout: timeout, Observers: []dispatch.Observer{m}})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	a.logs = logs
	// One instant for every line: sampling counts per second of log time.
	clock := fixedClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	opts := server.Options{
		Dispatcher: d, Logger: zap.New(core, zap.WithClock(clock), zap.AddCaller()), SuccessSampling: o.sampling, Metrics: m,
		MaxBodyBytes: o.maxBody, MaxConcurrentCalls: o.maxConcurrent, OversizeDiscardBytes: 16 << 20,
	}
	if o.tokens {
		v, err := calltoken.NewVerifier(calltoken.Options{Secrets: []string{secret}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		opts.Tokens = v
	}
	if a.srv, err = server.New(opts); err != nil {
		t.Fatal(err)
	}
	a.Server = httptest.NewServer(a.srv.Handler())
	t.Cleanup(a.Close)
	// Before the server closes, which waits for its handlers: a call
	// answered at its deadline still runs its handler.
	t.Cleanup(func() { close(a.release) })
	return a
}

// fixedClock is a zap clock that never moves.
type fixedClock time.Time

func (c fixedClock) Now() time.Time                         { return time.Time(c) }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// answer is a decoded response.
type answer struct {
	status int
	header http.Header
	closed bool // the server closes the connection after the answer
	body   string
	result hosttest.Result
}

func (a *api) do(t *testing.T, method, path, body string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	ans := answer{status: resp.StatusCode, header: resp.Header, closed: resp.Close, body: string(raw)}
	_ = json.Unmarshal(raw, &ans.result)
	return ans
}

func (a *api) call(t *testing.T, body string, header map[string]string) answer {
	t.Helper()
	return a.do(t, http.MethodPost, "/v1/extensions/test-app/call", body, header)
}

func token(app, user, toolType string, exp int64) string {
	return calltoken.Mint(calltoken.Claims{AppID: app, UserID: user, ToolType: toolType, Iat: time.Now().Unix(),
		Exp: exp, Jti: calltoken.NewJTI()}, secret)
}

func bearer(tok string) map[string]string {
	return map[string]string{"Authorization": "ImperalCallToken " + tok}
}

// TestStatusTable covers every row of DESIGN §3's status table over HTTP.
func TestStatusTable(t *testing.T) {
	dev := newAPI(t, apiOptions{maxBody: 1024})
	tok := newAPI(t, apiOptions{tokens: true})
	later := time.Now().Add(time.Hour).Unix()
	replayed := token("test-app", "u-1", "chat_fn", later)
	tok.call(t, `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`, bearer(replayed))

	cases := []struct {
		name   string
		api    *api
		path   string
		body   string
		header map[string]string
		status int
		code   string
		retry  bool
	}{
		{"success", dev, "", `{"user_id":"u-1","function":"greet","params":{"name":"Ann"}}`, nil, 200, "", false},
		{"handler's own error", dev, "", `{"user_id":"u-1","function":"fails"}`, nil, 200, "NOTE_NOT_FOUND", false},
		// A code named like the host's is still the handler's: the call ran.
		{"handler's own UNKNOWN_TOOL", dev, "", `{"user_id":"u-1","function":"fails_like_host"}`, nil, 200, runtime.CodeUnknownTool, false},
		{"handler's own UNKNOWN_SUB_FUNCTION", dev, "", `{"user_id":"u-1","function":"fails_like_host","params":{"sub":true}}`, nil, 200, runtime.CodeUnknownSubFunction, false},
		{"lax params", dev, "", `{"user_id":"u-1","function":"greet","params":{"name":"Ann","times":"3"}}`, nil, 200, "", false},
		{"missing param", dev, "", `{"user_id":"u-1","function":"greet","params":{}}`, nil, 200, runtime.CodeValidationMissingField, false},
		{"wrong param type", dev, "", `{"user_id":"u-1","function":"greet","params":{"name":7}}`, nil, 200, runtime.CodeValidationTypeError, false},
		{"params not an object", dev, "", `{"user_id":"u-1","function":"greet","params":[1]}`, nil, 200, runtime.CodeValidationTypeError, false},
		{"handler panicked", dev, "", `{"user_id":"u-1","function":"panics"}`, nil, 200, runtime.CodeInternal, false},
		{"malformed JSON", dev, "", `{"user_id":`, nil, 400, runtime.CodeBadRequest, false},
		{"not an object", dev, "", `["user_id"]`, nil, 400, runtime.CodeBadRequest, false},
		{"trailing data", dev, "", `{"user_id":"u-1","function":"greet"} {}`, nil, 400, runtime.CodeBadRequest, false},
		{"user_id of the wrong type", dev, "", `{"user_id":5,"function":"greet"}`, nil, 400, runtime.CodeBadRequest, false},
		{"missing user_id", dev, "", `{"function":"greet"}`, nil, 400, runtime.CodeBadRequest, false},
		{"missing function", dev, "", `{"user_id":"u-1"}`, nil, 400, runtime.CodeBadRequest, false},
		{"empty body", dev, "", ``, nil, 400, runtime.CodeBadRequest, false},
		{"huge user id", dev, "", `{"user_id":"` + strings.Repeat("u", 300) + `","function":"greet"}`, nil, 400, runtime.CodeBadRequest, false},
		{"body over the limit", dev, "", `{"user_id":"u-1","function":"greet","params":{"name":"` + strings.Repeat("x", 2000) + `"}}`, nil, 413, runtime.CodePayloadTooLarge, false},
		{"unknown app", dev, "/v1/extensions/nope/call", `{"user_id":"u-1","function":"greet"}`, nil, 404, runtime.CodeUnknownTool, false},
		{"unknown function", dev, "", `{"user_id":"u-1","function":"nope"}`, nil, 404, runtime.CodeUnknownSubFunction, false},
		{"no token", tok, "", `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`, nil, 401, runtime.CodeUnauthenticated, false},
		{"wrong scheme", tok, "", `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`,
			map[string]string{"Authorization": "Bearer " + token("test-app", "u-1", "chat_fn", later)}, 401, runtime.CodeUnauthenticated, false},
		{"forged token", tok, "", `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`,
			bearer(calltoken.Mint(calltoken.Claims{AppID: "test-app", UserID: "u-1", ToolType: "chat_fn", Exp: later, Jti: calltoken.NewJTI()}, "not-the-secret")), 401, runtime.CodeUnauthenticated, false},
		{"expired token", tok, "", `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`,
			bearer(token("test-app", "u-1", "chat_fn", time.Now().Add(-time.Minute).Unix())), 401, runtime.CodeUnauthenticated, false},
		{"replayed token", tok, "", `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`, bearer(replayed), 401, runtime.CodeUnauthenticated, false},
		{"garbage token", tok, "", `{"user_id":"u-1","function":"greet"}`, bearer("abc"), 401, runtime.CodeUnauthenticated, false},
		{"oversized token", tok, "", `{"user_id":"u-1","function":"greet"}`, bearer(strings.Repeat("a", 2049)), 401, runtime.CodeUnauthenticated, false},
		{"token for another app", tok, "", `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`,
			bearer(token("other-app", "u-1", "chat_fn", later)), 403, runtime.CodePermissionDenied, false},
		{"token for another user", tok, "", `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`,
			bearer(token("test-app", "u-2", "chat_fn", later)), 403, runtime.CodePermissionDenied, false},
		{"token for another tool type", tok, "", `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`,
			bearer(token("test-app", "u-1", "panel", later)), 403, runtime.CodePermissionDenied, false},
		{"valid token", tok, "", `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`,
			bearer(token("test-app", "u-1", "chat_fn", later)), 200, "", false},
		{"auth before lookup", tok, "/v1/extensions/nope/call", `{"user_id":"u-1","function":"greet"}`, nil, 401, runtime.CodeUnauthenticated, false},
		{"unknown app with its token", tok, "/v1/extensions/nope/call", `{"user_id":"u-1","function":"greet"}`,
			bearer(token("nope", "u-1", "chat_fn", later)), 404, runtime.CodeUnknownTool, false},
		{"unknown route", dev, "/v1/nothing", `{}`, nil, 404, server.CodeNotFound, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/v1/extensions/test-app/call"
			}
			ans := tc.api.do(t, http.MethodPost, path, tc.body, tc.header)
			if ans.status != tc.status || ans.result.ErrorCode != tc.code || ans.result.Retryable != tc.retry {
				t.Fatalf("got %d %s retryable=%v (%s), want %d %q retryable=%v", ans.status, ans.result.ErrorCode,
					ans.result.Retryable, ans.body, tc.status, tc.code, tc.retry)
			}
			wantStatus := runtime.StatusSuccess
			if tc.code != "" {
				wantStatus = runtime.StatusError
				if ans.result.Error == "" {
					t.Errorf("error answer without a message: %s", ans.body)
				}
			}
			if ans.result.Status != wantStatus || ans.header.Get("Content-Type") != "application/json" {
				t.Errorf("answer %s (%s) is not an ActionResult", ans.body, ans.header.Get("Content-Type"))
			}
			if strings.Contains(ans.body, "secret detail") {
				t.Errorf("panic text reached the client: %s", ans.body)
			}
		})
	}
}

func TestDeadlineIsBackendTimeout(t *testing.T) {
	a := newAPI(t, apiOptions{callTimeout: 50 * time.Millisecond})
	ans := a.call(t, `{"user_id":"u-1","function":"blocks"}`, nil)
	if ans.status != 200 || ans.result.ErrorCode != runtime.CodeBackendTimeout || !ans.result.Retryable {
		t.Fatalf("slow call = %d %s", ans.status, ans.body)
	}
	// The answer came while the handler still runs (it runs until the test
	// ends): its connection is not for another request.
	if !ans.closed {
		t.Error("the answer does not close its connection")
	}
	if ans := a.call(t, `{"user_id":"u-1","function":"greet","params":{"name":"Ann"}}`, nil); ans.status != 200 {
		t.Fatalf("the next call = %d %s", ans.status, ans.body)
	}
}

func TestSuccessShapeIdentityAndRequestID(t *testing.T) {
	a := newAPI(t, apiOptions{})
	ans := a.call(t, `{"user_id":"u-1","tenant_id":"acme","function":"greet","params":{"name":"Ann","extra":true},"email":"a@x.io","scopes":["*"],"future_field":1}`,
		map[string]string{"X-Request-ID": "req-abc.1"})
	want := `{"status":"success","summary":"greeted","data":{"greeting":"hello Ann","tenant":"acme","user":"u-1"}}`
	if ans.status != 200 || ans.body != want {
		t.Fatalf("answer %d %s\nwant %s", ans.status, ans.body, want)
	}
	if got := ans.header.Get("X-Request-ID"); got != "req-abc.1" {
		t.Fatalf("X-Request-ID = %q, want the caller's", got)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 200), "semi;colon"} {
		ans := a.call(t, `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`, map[string]string{"X-Request-ID": bad})
		if got := ans.header.Get("X-Request-ID"); got == bad || len(got) != 16 {
			t.Errorf("X-Request-ID %q answered as %q, want a fresh id", bad, got)
		}
	}
	// The default tenant.
	if ans := a.call(t, `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`, nil); !strings.Contains(ans.body, `"tenant":"default"`) {
		t.Errorf("default tenant missing: %s", ans.body)
	}
}

func TestWriteRefreshesPanels(t *testing.T) {
	a := newAPI(t, apiOptions{})
	ans := a.call(t, `{"user_id":"u-1","function":"write"}`, nil)
	if ans.body != `{"status":"success","summary":"written","data":{},"refresh_panels":["sidebar"]}` {
		t.Fatalf("write = %s", ans.body)
	}
}

func TestOverloadAnswers429AtOnce(t *testing.T) {
	a := newAPI(t, apiOptions{maxConcurrent: 1})
	first := make(chan answer, 1)
	go func() { first <- a.call(t, `{"user_id":"u-1","function":"blocks"}`, nil) }()
	<-a.started
	ans := a.call(t, `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`, nil)
	if ans.status != 429 || ans.result.ErrorCode != runtime.CodeRateLimited || !ans.result.Retryable {
		t.Fatalf("call past the limit = %d %s", ans.status, ans.body)
	}
	batch := a.do(t, http.MethodPost, "/v1/extensions/test-app/batch", `{"user_id":"u-1","calls":[{"function":"greet","params":{"name":"a"}}]}`, nil)
	if batch.status != 429 {
		t.Fatalf("batch past the limit = %d %s", batch.status, batch.body)
	}
	a.release <- struct{}{}
	if ans := <-first; ans.status != 200 || ans.result.Summary != "released" {
		t.Fatalf("the admitted call = %d %s", ans.status, ans.body)
	}
	if ans := a.call(t, `{"user_id":"u-1","function":"greet","params":{"name":"a"}}`, nil); ans.status != 200 {
		t.Fatalf("after the slot freed: %d %s", ans.status, ans.body)
	}
}

func TestDrainRefusesNewCalls(t *testing.T) {
	a := newAPI(t, apiOptions{})
	if ans := a.do(t, http.MethodGet, "/readyz", "", nil); ans.status != 200 || ans.body != `{"status":"ok","cache":"ok"}` {
		t.Fatalf("readyz = %d %s", ans.status, ans.body)
	}
	a.srv.Drain()
	for _, path := range []string{"/v1/extensions/test-app/call", "/v1/extensions/test-app/batch"} {
		ans := a.do(t, http.MethodPost, path, `{"user_id":"u-1","function":"greet","calls":[{"function":"greet"}]}`, nil)
		if ans.status != 503 || ans.result.ErrorCode != runtime.CodeUnavailable || !ans.result.Retryable {
			t.Fatalf("%s while draining = %d %s", path, ans.status, ans.body)
		}
	}
	if ans := a.do(t, http.MethodGet, "/readyz", "", nil); ans.status != 503 || ans.result.ErrorCode != runtime.CodeUnavailable {
		t.Fatalf("readyz while draining = %d %s", ans.status, ans.body)
	}
	if ans := a.do(t, http.MethodGet, "/healthz", "", nil); ans.status != 200 || ans.body != `{"status":"ok"}` {
		t.Fatalf("healthz = %d %s", ans.status, ans.body)
	}
}

func TestBatch(t *testing.T) {
	a := newAPI(t, apiOptions{})
	ans := a.do(t, http.MethodPost, "/v1/extensions/test-app/batch", `{"user_id":"u-1","calls":[
		{"function":"greet","params":{"name":"one"}},
		{"function":"nope"},
		{"function":"fails"},
		{"function":"greet","params":{"name":"four"}}]}`, nil)
	var got struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(ans.body), &got); err != nil || ans.status != 200 || len(got.Results) != 4 {
		t.Fatalf("batch = %d %s", ans.status, ans.body)
	}
	if got.Results[0]["summary"] != "greeted" || got.Results[1]["error_code"] != runtime.CodeUnknownSubFunction ||
		got.Results[2]["error_code"] != "NOTE_NOT_FOUND" || !strings.Contains(ans.body, `"greeting":"hello four"`) {
		t.Fatalf("results out of order or wrong: %s", ans.body)
	}

	// The calls run concurrently: two blocking calls are both started
	// before either is released.
	done := make(chan answer, 1)
	go func() {
		done <- a.do(t, http.MethodPost, "/v1/extensions/test-app/batch", `{"user_id":"u-1","calls":[{"function":"blocks"},{"function":"blocks"}]}`, nil)
	}()
	<-a.started
	<-a.started
	a.release <- struct{}{}
	a.release <- struct{}{}
	if ans := <-done; ans.status != 200 || strings.Count(ans.body, "released") != 2 {
		t.Fatalf("concurrent batch = %d %s", ans.status, ans.body)
	}

	calls := make([]string, server.MaxBatchCalls+1)
	for i := range calls {
		calls[i] = `{"function":"greet","params":{"name":"x"}}`
	}
	for name, tc := range map[string]struct {
		path, body string
		status     int
		code       string
	}{
		"too many calls": {"/v1/extensions/test-app/batch", `{"user_id":"u-1","calls":[` + strings.Join(calls, ",") + `]}`, 400, runtime.CodeBadRequest},
		"no calls":       {"/v1/extensions/test-app/batch", `{"user_id":"u-1","calls":[]}`, 400, runtime.CodeBadRequest},
		"no function":    {"/v1/extensions/test-app/batch", `{"user_id":"u-1","calls":[{"params":{}}]}`, 400, runtime.CodeBadRequest},
		"no user":        {"/v1/extensions/test-app/batch", `{"calls":[{"function":"greet"}]}`, 400, runtime.CodeBadRequest},
		"unknown app":    {"/v1/extensions/nope/batch", `{"user_id":"u-1","calls":[{"function":"greet"}]}`, 404, runtime.CodeUnknownTool},
	} {
		ans := a.do(t, http.MethodPost, tc.path, tc.body, nil)
		if ans.status != tc.status || ans.result.ErrorCode != tc.code {
			t.Errorf("%s: %d %s", name, ans.status, ans.body)
		}
	}
	exactly16 := `{"user_id":"u-1","calls":[` + strings.Join(calls[:server.MaxBatchCalls], ",") + `]}`
	if ans := a.do(t, http.MethodPost, "/v1/extensions/test-app/batch", exactly16, nil); ans.status != 200 || strings.Count(ans.body, "greeted") != 16 {
		t.Fatalf("16 calls = %d %s", ans.status, ans.body)
	}
}

func TestCatalogEndpoints(t *testing.T) {
	a := newAPI(t, apiOptions{})
	cases := []struct {
		path   string
		status int
		prefix string
	}{
		{"/v1/extensions", 200, `{"extensions":[{"app_id":"test-app","version":"0.1.0","name":"test-app",`},
		{"/v1/extensions/test-app/manifest", 200, `{"manifest_schema_version":3,"sdk_version":"5.11.0","app_id":"test-app",`},
		{"/v1/extensions/nope/manifest", 404, `{"status":"error","summary":"","data":{},"error":"Tool not available.","error_code":"UNKNOWN_TOOL"}`},
		{"/v1/tools", 200, `{"tools":[{"name":"test-app__greet","app_id":"test-app","function":"greet",`},
		{"/v1/tools?format=openai", 200, `[{"type":"function","function":{"name":"test-app__greet",`},
		{"/v1/tools?format=xml", 400, `{"status":"error"`},
		{"/healthz", 200, `{"status":"ok"}`},
	}
	for _, tc := range cases {
		ans := a.do(t, http.MethodGet, tc.path, "", nil)
		if ans.status != tc.status || !strings.HasPrefix(ans.body, tc.prefix) {
			t.Errorf("GET %s = %d %s\nwant %d %s…", tc.path, ans.status, ans.body, tc.status, tc.prefix)
		}
	}
	if ans := a.do(t, http.MethodDelete, "/v1/tools", "", nil); ans.status != 405 || ans.result.ErrorCode != server.CodeMethodNotAllowed {
		t.Errorf("DELETE /v1/tools = %d %s", ans.status, ans.body)
	}
}

func TestMetricsAndCallLog(t *testing.T) {
	a := newAPI(t, apiOptions{tokens: true})
	tok := token("test-app", "u-1", "chat_fn", time.Now().Add(time.Hour).Unix())
	a.call(t, `{"user_id":"u-1","function":"greet","params":{"name":"private-value"}}`, bearer(tok))
	a.call(t, `{"user_id":"u-1","function":"greet"}`, nil) // rejected: no token

	ans := a.do(t, http.MethodGet, "/metrics", "", nil)
	for _, want := range []string{
		`exthost_calls_total{app="test-app",error_code="",function="greet",status="success"} 1`,
		`exthost_rejected_requests_total{error_code="UNAUTHENTICATED",status="401"} 1`,
		`exthost_call_duration_seconds_bucket{app="test-app",function="greet",le="+Inf"} 1`,
		`exthost_calls_in_flight 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(ans.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	lines := a.logs.FilterMessage("call").All()
	if len(lines) != 1 {
		t.Fatalf("%d call lines, want 1", len(lines))
	}
	fields := lines[0].ContextMap()
	for k, want := range map[string]any{"app": "test-app", "function": "greet", "user_id": "u-1", "status": "success",
		"error_code": "", "http_status": int64(200), "cache_hits": int64(0), "cache_misses": int64(0), "upstream_calls": int64(0)} {
		if fields[k] != want {
			t.Errorf("log field %s = %v (%T), want %v", k, fields[k], fields[k], want)
		}
	}
	if _, ok := fields["duration_ms"]; !ok || fields["request_id"] == "" {
		t.Errorf("log line lacks duration or request id: %v", fields)
	}
	for _, entry := range a.logs.All() {
		line, _ := json.Marshal(entry.ContextMap())
		if strings.Contains(string(line), tok) || strings.Contains(string(line), "private-value") || strings.Contains(string(line), secret) {
			t.Errorf("log leaks a token, a secret or parameters: %s %s", entry.Message, line)
		}
	}
}

func TestConcurrentCallsOverHTTP(t *testing.T) {
	a := newAPI(t, apiOptions{})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			name := strings.Repeat("n", i+1)
			ans := a.call(t, `{"user_id":"u-1","function":"greet","params":{"name":"`+name+`"}}`, nil)
			if !strings.Contains(ans.body, `"hello `+name+`"`) {
				t.Errorf("call %d = %s", i, ans.body)
			}
		})
	}
	wg.Wait()
}

func TestSuccessLinesAreSampledFailuresAreNot(t *testing.T) {
	a := newAPI(t, apiOptions{sampling: server.Sampling{First: 3, Thereafter: 4}})
	for range 10 {
		a.call(t, `{"user_id":"u-1","function":"greet","params":{"name":"x"}}`, nil)
		a.call(t, `{"user_id":"u-1","function":"fails"}`, nil)
	}
	var ok, failed int
	for _, line := range a.logs.FilterMessage("call").All() {
		if line.Caller.Defined {
			t.Errorf("a call line names its caller %s", line.Caller)
		}
		switch line.ContextMap()["status"] {
		case "success":
			ok++
		case "error":
			failed++
		}
	}
	// Calls 1-3, then 7 (the 4th after the first 3): 4 of 10.
	if ok != 4 || failed != 10 {
		t.Errorf("logged %d successful and %d failed calls, want 4 (sampled) and 10 (all)", ok, failed)
	}
}

// No answer quotes what the caller sent: errors name fields, invariants and
// codes (the SDK's rule I-ERR-CODE-1). Each request carries the marker
// where a careless message would repeat it.
func TestAnswersNeverEchoTheCaller(t *testing.T) {
	const m = "Zq9marker"
	a := newAPI(t, apiOptions{})
	tok := newAPI(t, apiOptions{tokens: true})
	cases := []struct {
		name         string
		api          *api
		method, path string
		body         string
		header       map[string]string
	}{
		{"unknown app", a, "POST", "/v1/extensions/" + m + "/call", `{"user_id":"u-1","function":"greet"}`, nil},
		{"unknown function", a, "POST", "/v1/extensions/test-app/call", `{"user_id":"u-1","function":"` + m + `"}`, nil},
		{"unknown app's batch", a, "POST", "/v1/extensions/" + m + "/batch", `{"user_id":"u-1","calls":[{"function":"greet"}]}`, nil},
		{"unknown function in a batch", a, "POST", "/v1/extensions/test-app/batch", `{"user_id":"u-1","calls":[{"function":"` + m + `"}]}`, nil},
		{"unknown manifest", a, "GET", "/v1/extensions/" + m + "/manifest", ``, nil},
		{"unknown route", a, "GET", "/v1/" + m, ``, nil},
		{"wrong method", a, "PUT", "/v1/extensions/test-app/call?" + m, ``, nil},
		{"bad format", a, "GET", "/v1/tools?format=" + m, ``, nil},
		{"malformed envelope", a, "POST", "/v1/extensions/test-app/call", `{"user_id":"u-1","function":"greet",` + m + `}`, nil},
		{"envelope field of the wrong type", a, "POST", "/v1/extensions/test-app/call", `{"user_id":["` + m + `"],"function":"greet"}`, nil},
		{"string for an integer", a, "POST", "/v1/extensions/test-app/call", `{"user_id":"u-1","function":"greet","params":{"name":"a","times":"` + m + `"}}`, nil},
		{"number for a string", a, "POST", "/v1/extensions/test-app/call", `{"user_id":"u-1","function":"greet","params":{"name":{"` + m + `":1}}}`, nil},
		{"unknown parameter", a, "POST", "/v1/extensions/test-app/call", `{"user_id":"u-1","function":"greet","params":{"` + m + `":1}}`, nil},
		{"params not JSON", a, "POST", "/v1/extensions/test-app/call", `{"user_id":"u-1","function":"greet","params":{"name":` + m + `}}`, nil},
		{"garbage token", tok, "POST", "/v1/extensions/test-app/call", `{"user_id":"u-1","function":"greet"}`, bearer(m + "." + m)},
		{"token for another app", tok, "POST", "/v1/extensions/test-app/call", `{"user_id":"u-1","function":"greet"}`,
			bearer(token(strings.ToLower(m), "u-1", "chat_fn", time.Now().Add(time.Minute).Unix()))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ans := tc.api.do(t, tc.method, tc.path, tc.body, tc.header)
			if ans.status < 400 && !strings.Contains(ans.body, `"status":"error"`) {
				t.Fatalf("%d %s: the request was not refused", ans.status, ans.body)
			}
			if strings.Contains(strings.ToLower(ans.body), strings.ToLower(m)) {
				t.Fatalf("the answer echoes the caller: %d %s", ans.status, ans.body)
			}
		})
	}
}

// "inf" is a float to Pydantic, and to the host; JSON cannot carry it, so a
// result holding one is answered INTERNAL, and logged and counted so.
func TestUnencodableResultIsInternal(t *testing.T) {
	a := newAPI(t, apiOptions{})
	if ans := a.call(t, `{"user_id":"u-1","function":"echo_float","params":{"x":"2.5"}}`, nil); ans.status != 200 || ans.body !=
		`{"status":"success","summary":"echoed","data":{"x":2.5}}` {
		t.Fatalf("echo_float 2.5 = %d %s", ans.status, ans.body)
	}
	ans := a.call(t, `{"user_id":"u-1","function":"echo_float","params":{"x":"inf"}}`, nil)
	if ans.status != 200 || ans.result.ErrorCode != runtime.CodeInternal || !json.Valid([]byte(ans.body)) {
		t.Fatalf("echo_float inf = %d %s", ans.status, ans.body)
	}
	// Answered, logged and counted alike.
	lines := a.logs.FilterMessage("call").All()
	if last := lines[len(lines)-1].ContextMap(); last["status"] != "error" || last["error_code"] != runtime.CodeInternal {
		t.Fatalf("call line = %v", last)
	}
}

// A client that writes its whole body before it reads the answer, as
// Python's urllib and most libraries do, sees the 413: the host reads and
// discards the rest of an oversized body after answering. 50 tries, with a
// declared length and chunked in turns.
func TestOversizedBodyIs413ForClientsThatWriteItAll(t *testing.T) {
	a := newAPI(t, apiOptions{})
	// Twelve times the default limit, and more than loopback's socket
	// buffers hold: the client's write completes only if the host reads it.
	body := bytes.Repeat([]byte("x"), 12<<20)
	for try := range 50 {
		chunked := try%2 == 1
		var req bytes.Buffer
		req.WriteString("POST /v1/extensions/test-app/call HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n")
		if chunked {
			req.WriteString("Transfer-Encoding: chunked\r\n\r\n")
			fmt.Fprintf(&req, "%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		} else {
			fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n%s", len(body), body)
		}
		status, answer, err := writeAllThenRead(a.URL, req.Bytes())
		if err != nil || status != http.StatusRequestEntityTooLarge || !strings.Contains(answer, runtime.CodePayloadTooLarge) {
			t.Fatalf("try %d (chunked %v): %d %s %v", try, chunked, status, answer, err)
		}
	}
}

// writeAllThenRead sends request whole, then reads the answer.
func writeAllThenRead(url string, request []byte) (int, string, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(request); err != nil {
		return 0, "", fmt.Errorf("writing the body: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", fmt.Errorf("reading the answer: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer), err
}
