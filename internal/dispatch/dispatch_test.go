package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
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
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/runtime"
)

type echoParams struct {
	Name  string   `json:"name" jsonschema:"required" jsonschema_description:"Who to greet."`
	Count int      `json:"count"`
	Loud  bool     `json:"loud"`
	Tags  []string `json:"tags"`
	Inner *struct {
		Level int `json:"level" jsonschema:"required"`
	} `json:"inner,omitempty"`
}

type echoData struct {
	Greeting string `json:"greeting"`
	Count    int    `json:"count"`
}

type pathParams struct {
	Path string `json:"path"`
}

type note struct {
	Text string `json:"text"`
}

// harness is a dispatcher over a test extension with one function per
// behaviour under test, an upstream service "svc" and captured logs and events.
type harness struct {
	d        *dispatch.Dispatcher
	logs     *observer.ObservedLogs
	events   *events.Log
	upstream *httptest.Server
	release  chan struct{} // unblocks the handler that ignores its deadline
}

// newHarness returns a harness whose calls have callTimeout as deadline.
func newHarness(t *testing.T, callTimeout time.Duration) *harness {
	t.Helper()
	h := &harness{events: events.NewLog(10), release: make(chan struct{})}
	t.Cleanup(func() { close(h.release) })
	h.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, `{"text":"from upstream"}`)
		case "/slow":
			<-r.Context().Done()
		case "/garbage":
			_, _ = io.WriteString(w, `{"text":`)
		default:
			w.WriteHeader(atoiStatus(r.URL.Path))
		}
	}))
	t.Cleanup(h.upstream.Close)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + l.Addr().String()
	_ = l.Close()

	ext, tool := testkit.NewApp("test-app", "An extension with one function per dispatch behaviour.")
	notes := runtime.CacheModel[note](ext, "note")

	runtime.AddFunction(tool, runtime.Function[echoParams, echoData]{
		Name: "echo", Description: "Greets by name.", Defaults: echoParams{Count: 3},
		Handler: func(c *ctx.Call, p echoParams) (runtime.Result, error) {
			return runtime.Success(echoData{Greeting: "hello " + p.Name, Count: p.Count}, "greeted"), nil
		},
	})
	add := func(name string, handler runtime.Handler[testkit.None]) {
		runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{Name: name, Description: "Test function " + name + ".", Handler: handler})
	}
	add("panics", func(*ctx.Call, testkit.None) (runtime.Result, error) { panic("secret internal state") })
	add("ignores_deadline", func(*ctx.Call, testkit.None) (runtime.Result, error) {
		<-h.release
		return runtime.Success(nil, "too late"), nil
	})
	add("waits_for_deadline", func(c *ctx.Call, _ testkit.None) (runtime.Result, error) {
		<-c.Done()
		return runtime.Result{}, c.Err()
	})
	add("fail_plain", func(*ctx.Call, testkit.None) (runtime.Result, error) {
		return runtime.Fail("No account specified."), nil
	})
	add("fail_coded", func(*ctx.Call, testkit.None) (runtime.Result, error) {
		return runtime.Fail("Note not found.").WithCode("NOTE_NOT_FOUND").WithRetry(), nil
	})
	add("fail_bad_code", func(*ctx.Call, testkit.None) (runtime.Result, error) {
		return runtime.Fail("x").WithCode("not-a-code"), nil
	})
	add("fail_empty", func(*ctx.Call, testkit.None) (runtime.Result, error) {
		return runtime.Result{Status: runtime.StatusError}, nil
	})
	add("plain_error", func(*ctx.Call, testkit.None) (runtime.Result, error) {
		return runtime.Result{}, errors.New("parse feed: bad date")
	})
	add("coded_error", func(*ctx.Call, testkit.None) (runtime.Result, error) {
		return runtime.Result{}, &runtime.CodedError{Code: "QUOTA_EXCEEDED", Message: "Daily quota used.", Retryable: true}
	})
	add("list_data", func(*ctx.Call, testkit.None) (runtime.Result, error) {
		return runtime.Success([]int{1, 2}, "list"), nil
	})
	add("host_code", func(*ctx.Call, testkit.None) (runtime.Result, error) {
		return runtime.Fail("Not here.").WithCode(runtime.CodeUnknownTool), nil
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, map[string]any]{
		Name: "map_data", Description: "Data of a map type that does not encode as an object.",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			var m *map[string]any // a nil *D encodes as null
			return runtime.Success(m, "nothing"), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, echoData]{
		Name: "wrong_data", Description: "A success whose data is not the declared type.",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			return runtime.Success(note{Text: "x"}, "oops"), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, map[string]any]{
		Name: "write_bad_data", Description: "A write whose data cannot be encoded.", ActionType: runtime.Write,
		Event: "note.written",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			return runtime.Success(map[string]any{"ratio": math.NaN()}, "Saved."), nil
		},
	})
	add("no_status", func(*ctx.Call, testkit.None) (runtime.Result, error) { return runtime.Result{}, nil })
	add("bad_key", func(c *ctx.Call, _ testkit.None) (runtime.Result, error) {
		_, err := notes.GetOrFetch(c, "bad key!", time.Minute, func(*ctx.Call) (note, error) { return note{}, nil })
		return runtime.Result{}, err
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, note]{Name: "cached_note", Description: "A cached read.", Handler: func(c *ctx.Call, _ testkit.None) (runtime.Result, error) {
		n, err := notes.GetOrFetch(c, "note:1", time.Minute, func(f *ctx.Call) (note, error) {
			resp, err := f.HTTP().Get(f, "http://svc/ok")
			if err != nil {
				return note{}, err
			}
			var n note
			return n, resp.JSON(&n)
		})
		if err != nil {
			return runtime.Result{}, err
		}
		return runtime.Success(n, n.Text), nil
	}})
	runtime.AddFunction(tool, runtime.Function[pathParams, note]{
		Name: "upstream", Description: "Calls the upstream path given.",
		Handler: func(c *ctx.Call, p pathParams) (runtime.Result, error) {
			resp, err := c.HTTP().Get(c, p.Path)
			if err != nil {
				return runtime.Result{}, err
			}
			if err := resp.Err(); err != nil {
				return runtime.Result{}, err
			}
			var n note
			if err := resp.JSON(&n); err != nil {
				return runtime.Result{}, err
			}
			return runtime.Success(n, "fetched"), nil
		},
	})
	writeEffects := []string{"__panel__sidebar", "update:note", "__panel__inbox"}
	runtime.AddFunction(tool, runtime.Function[testkit.None, note]{
		Name: "write", Description: "A write with panel effects and an event.", ActionType: runtime.Write,
		Effects: writeEffects, Event: "note.written",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			return runtime.Success(note{Text: "saved"}, "Saved."), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "write_refresh_none", Description: "A write that refreshes no panel.", ActionType: runtime.Write,
		Effects: writeEffects, Event: "note.written",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			return runtime.Success(nil, "Saved quietly.").WithRefreshPanels(), nil
		},
	})
	runtime.AddFunction(tool, runtime.Function[testkit.None, runtime.NoData]{
		Name: "write_fails", Description: "A write that fails.", ActionType: runtime.Write,
		Effects: writeEffects, Event: "note.written",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) { return runtime.Fail("Disk full."), nil },
	})

	http, err := httpclient.New(httpclient.Config{Services: map[string]string{"svc": h.upstream.URL, "down": down}})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	h.logs = logs
	h.d, err = dispatch.New(dispatch.Options{
		Extensions:  []*runtime.Extension{ext},
		HTTP:        http,
		Logger:      zap.New(core),
		Events:      h.events,
		CallTimeout: callTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.d.Close() })
	return h
}

func atoiStatus(path string) int {
	var code int
	for _, r := range strings.TrimPrefix(path, "/") {
		code = code*10 + int(r-'0')
	}
	return code
}

var alice = ctx.User{ImperalID: "imp_u_alice", Email: "alice@example.com", TenantID: "default", Role: "user"}

func (h *harness) call(fn, params string) (runtime.Result, dispatch.Trace) {
	_, res, tr := h.d.Call(context.Background(), dispatch.Request{
		AppID: "test-app", Function: fn, Params: json.RawMessage(params), User: alice, RequestID: "req-1",
	}, nil)
	return res, tr
}

// dataJSON returns the result's data as the client will see it.
func dataJSON(r runtime.Result) string {
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	raw, err := r.MarshalJSON()
	if err != nil {
		return "encode error: " + err.Error()
	}
	_ = json.Unmarshal(raw, &envelope)
	return string(envelope.Data)
}

// TestDispatchErrors covers every row of the status table (DESIGN §3) that
// the runtime owns: each comes back as an error result with its code.
func TestDispatchErrors(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	// The cases about deadlines run with a short one, the others with room
	// to spare on a loaded machine.
	short := newHarness(t, 100*time.Millisecond)
	useShort := map[string]bool{"deadline exceeded": true, "upstream timeout": true}
	cases := []struct {
		name, app, fn, params string
		code                  string
		retryable             bool
		message               string // substring of the error
		data                  string // exact data JSON, when checked
	}{
		{"unknown app", "nope", "echo", `{}`, runtime.CodeUnknownTool, false, "Tool not available.", `{}`},
		{"unknown function", "test-app", "nope", `{}`, runtime.CodeUnknownSubFunction, false, "Sub-function not available.", `{}`},
		{"missing required field", "test-app", "echo", `{"count":1}`, runtime.CodeValidationMissingField, false,
			"A required field is missing: name", `{"missing_fields":["name"]}`},
		{"missing nested field", "test-app", "echo", `{"name":"a","inner":{}}`, runtime.CodeValidationMissingField, false,
			"missing: inner.level", `{"missing_fields":["inner.level"]}`},
		{"wrong type", "test-app", "echo", `{"name":"a","count":"three"}`, runtime.CodeValidationTypeError, false,
			"Invalid value type for field: count (want integer, got a string that is not an integer)", `{"fields":["count"]}`},
		{"every wrong field is named", "test-app", "echo", `{"name":1,"count":"three"}`, runtime.CodeValidationTypeError, false,
			"Invalid value type for field: ", `{"fields":["count","name"]}`},
		{"wrong element type", "test-app", "echo", `{"name":"a","tags":["x",2]}`, runtime.CodeValidationTypeError, false,
			"field: tags.1", `{"fields":["tags.1"]}`},
		{"fraction for integer", "test-app", "echo", `{"name":"a","count":1.5}`, runtime.CodeValidationTypeError, false, "count", ""},
		{"integer overflow", "test-app", "echo", `{"name":"a","count":1e30}`, runtime.CodeValidationTypeError, false, "count", ""},
		{"params not an object", "test-app", "echo", `"just a string"`, runtime.CodeValidationTypeError, false,
			"field: params (want object, got string)", `{"fields":["params"]}`},
		{"params not JSON", "test-app", "echo", `{"name":`, runtime.CodeValidationTypeError, false, "params", ""},
		{"handler panicked", "test-app", "panics", `{}`, runtime.CodeInternal, false, "An internal error occurred.", `{}`},
		{"deadline exceeded", "test-app", "ignores_deadline", `{}`, runtime.CodeBackendTimeout, true, "did not finish in time", `{}`},
		{"upstream timeout", "test-app", "upstream", `{"path":"http://svc/slow"}`, runtime.CodeBackendTimeout, true, "", ""},
		{"upstream 5xx", "test-app", "upstream", `{"path":"http://svc/503"}`, runtime.CodeBackend5xx, true, "svc failed (HTTP 503)", ""},
		{"upstream 500", "test-app", "upstream", `{"path":"http://svc/500"}`, runtime.CodeBackend5xx, true, "HTTP 500", ""},
		{"upstream 4xx", "test-app", "upstream", `{"path":"http://svc/404"}`, runtime.CodeBackend4xx, false, "svc rejected the request (HTTP 404)", ""},
		{"upstream unreachable", "test-app", "upstream", `{"path":"http://down/x"}`, runtime.CodeBackendUnavailable, true, "down is unreachable", ""},
		{"upstream malformed", "test-app", "upstream", `{"path":"http://svc/garbage"}`, runtime.CodeBackendBadResponse, false, "malformed", ""},
		{"egress refused", "test-app", "upstream", `{"path":"http://evil.example.com/x"}`, runtime.CodeUnstructured, false, "The function failed.", `{}`},
		{"upstream redirect", "test-app", "upstream", `{"path":"http://svc/302"}`, runtime.CodeBackendBadResponse, false, "unexpected HTTP 302", ""},
		{"cache contract violation", "test-app", "bad_key", `{}`, runtime.CodeCacheContractViolation, false, "I-CACHE-KEY-SAFETY", ""},
		{"handler error without code", "test-app", "fail_plain", `{}`, runtime.CodeUnstructured, false, "No account specified.", `{}`},
		{"handler error with its code", "test-app", "fail_coded", `{}`, "NOTE_NOT_FOUND", true, "Note not found.", `{}`},
		{"malformed handler code", "test-app", "fail_bad_code", `{}`, runtime.CodeUnstructured, false, "x", ""},
		{"empty error message", "test-app", "fail_empty", `{}`, runtime.CodeUnstructured, false, "The call failed.", ""},
		{"returned plain error", "test-app", "plain_error", `{}`, runtime.CodeUnstructured, false, "The function failed.", `{}`},
		{"returned coded error", "test-app", "coded_error", `{}`, "QUOTA_EXCEEDED", true, "Daily quota used.", ""},
		{"data not the declared type", "test-app", "list_data", `{}`, runtime.CodeInternal, false, "An internal error occurred.", `{}`},
		{"data of another type", "test-app", "wrong_data", `{}`, runtime.CodeInternal, false, "An internal error occurred.", `{}`},
		{"data a nil *D", "test-app", "map_data", `{}`, runtime.CodeInternal, false, "An internal error occurred.", `{}`},
		{"handler's own host-like code", "test-app", "host_code", `{}`, runtime.CodeUnknownTool, false, "Not here.", `{}`},
		{"result without status", "test-app", "no_status", `{}`, runtime.CodeInternal, false, "internal", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := h.d
			if useShort[tc.name] {
				d = short.d
			}
			_, res, tr := d.Call(context.Background(), dispatch.Request{
				AppID: tc.app, Function: tc.fn, Params: json.RawMessage(tc.params), User: alice,
			}, nil)
			var unknown *dispatch.LookupError
			if isLookup := strings.HasPrefix(tc.name, "unknown "); errors.As(tr.Err, &unknown) != isLookup {
				t.Errorf("Trace.Err = %v: a lookup failure is typed, and only a lookup failure", tr.Err)
			}
			if res.Status != runtime.StatusError || res.ErrorCode != tc.code || res.Retryable != tc.retryable {
				t.Fatalf("got status %s code %s retryable %v (%q), want error %s retryable %v",
					res.Status, res.ErrorCode, res.Retryable, res.Error, tc.code, tc.retryable)
			}
			if !strings.Contains(res.Error, tc.message) {
				t.Errorf("error %q does not contain %q", res.Error, tc.message)
			}
			if tc.data != "" && dataJSON(res) != tc.data {
				t.Errorf("data = %s, want %s", dataJSON(res), tc.data)
			}
			if res.RefreshPanels != nil {
				t.Errorf("an error result carries refresh_panels %v", res.RefreshPanels)
			}
			if tr.Status != runtime.StatusError || tr.ErrorCode != tc.code || tr.RequestID == "" {
				t.Errorf("trace = %+v", tr)
			}
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("result does not encode: %v", err)
			}
		})
	}
}

func TestPanicIsLoggedWithStackButNotReturned(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	res, _ := h.call("panics", `{}`)
	body, _ := json.Marshal(res)
	if strings.Contains(string(body), "secret internal state") {
		t.Fatalf("panic text reached the client: %s", body)
	}
	entries := h.logs.FilterMessage("handler panicked").All()
	if len(entries) != 1 {
		t.Fatalf("logged %d panic entries, want 1", len(entries))
	}
	fields := entries[0].ContextMap()
	if fields["panic"] != "secret internal state" || !strings.Contains(fields["stack"].(string), "dispatch_test.go") ||
		fields["request_id"] != "req-1" || fields["function"] != "panics" {
		t.Fatalf("panic log fields = %v", fields)
	}
}

func TestSuccessAndDefaults(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	res, tr := h.call("echo", `{"name":"Ann","unknown_field":true}`)
	if !res.OK() || res.Summary != "greeted" || dataJSON(res) != `{"greeting":"hello Ann","count":3}` {
		t.Fatalf("echo = %+v %s", res, dataJSON(res))
	}
	if res.RefreshPanels != nil {
		t.Errorf("a read without panel effects refreshes %v", res.RefreshPanels)
	}
	if tr.Status != runtime.StatusSuccess || tr.Function != "echo" || tr.UserID != "imp_u_alice" || tr.Event != nil {
		t.Errorf("trace = %+v", tr)
	}
	if h.logs.FilterMessage("ignoring unknown parameters").Len() != 1 {
		t.Error("unknown parameter not logged at debug level")
	}
	// Names match exactly: an unknown "COUNT" is dropped, not read as count.
	if res, _ := h.call("echo", `{"name":"Cy","COUNT":9,"Name":"x"}`); dataJSON(res) != `{"greeting":"hello Cy","count":3}` {
		t.Errorf("a key differing only in case was decoded: %s", dataJSON(res))
	}
	// Explicit values beat defaults; null and empty params mean {}.
	if res, _ := h.call("echo", `{"name":"Bo","count":0}`); dataJSON(res) != `{"greeting":"hello Bo","count":0}` {
		t.Errorf("explicit zero lost: %s", dataJSON(res))
	}
	for _, params := range []string{``, `null`, ` `} {
		if res, _ := h.call("fail_plain", params); res.ErrorCode != runtime.CodeUnstructured {
			t.Errorf("params %q: %+v", params, res)
		}
	}
}

// TestRepeatedParamsAnswerAlike: a second identical call is answered
// exactly as the first, whether the parameters were valid, carried unknown
// names or were refused, and nothing keeps the caller's buffer.
func TestRepeatedParamsAnswerAlike(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	for _, params := range []string{
		`{"name":"Ann"}`,
		`{"name":"Ann","unknown_field":true}`,
		`{"count":1}`,
		`{"name":"a","count":"three"}`,
	} {
		first, _ := h.call("echo", params)
		buf := []byte(params)
		_, second, _ := h.d.Call(context.Background(), dispatch.Request{
			AppID: "test-app", Function: "echo", Params: buf, User: alice, RequestID: "req-1",
		}, nil)
		clear(buf) // the caller may reuse its buffer: nothing may keep it
		third, _ := h.call("echo", params)
		for i, r := range []runtime.Result{second, third} {
			if r.Status != first.Status || r.ErrorCode != first.ErrorCode || dataJSON(r) != dataJSON(first) {
				t.Errorf("params %s call %d = %s %s %s, first = %s %s %s", params, i+2,
					r.Status, r.ErrorCode, dataJSON(r), first.Status, first.ErrorCode, dataJSON(first))
			}
		}
	}
	if n := h.logs.FilterMessage("ignoring unknown parameters").Len(); n != 3 {
		t.Errorf("unknown parameters logged %d times, want once per call (3)", n)
	}
}

func TestPanelEffectsAndEvents(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	res, tr := h.call("write", `{}`)
	if !res.OK() || strings.Join(res.RefreshPanels, ",") != "sidebar,inbox" {
		t.Fatalf("write: status %s refresh_panels %v, want [sidebar inbox]", res.Status, res.RefreshPanels)
	}
	published := h.events.Events()
	if len(published) != 1 || tr.Event == nil {
		t.Fatalf("published %d events, trace event %v; want 1", len(published), tr.Event)
	}
	ev := published[0]
	if ev.EventType != "note.written" || ev.SourceApp != "test-app" || ev.UserID != "imp_u_alice" || ev.TenantID != "default" ||
		string(ev.Data) != `{"text":"saved"}` {
		t.Fatalf("event = %+v", ev)
	}
	if _, err := time.Parse(time.RFC3339Nano, ev.Timestamp); err != nil {
		t.Fatalf("event timestamp %q: %v", ev.Timestamp, err)
	}
	raw, _ := ev.Encode()
	if want := `{"event_type": "note.written", "data": {"text": "saved"}, "source_app": "test-app", "user_id": "imp_u_alice", "tenant_id": "default", "timestamp": "` +
		ev.Timestamp + `"}`; string(raw) != want {
		t.Fatalf("event envelope = %s, want %s", raw, want)
	}

	res, _ = h.call("write_refresh_none", `{}`)
	if res.RefreshPanels == nil || len(res.RefreshPanels) != 0 {
		t.Fatalf("explicit empty refresh_panels became %#v", res.RefreshPanels)
	}

	res, _ = h.call("write_fails", `{}`)
	if res.OK() || res.RefreshPanels != nil || len(h.events.Events()) != 2 {
		t.Fatalf("failed write: refresh %v, events %d; want none added", res.RefreshPanels, len(h.events.Events()))
	}
}

func TestUnencodableEventDataPublishesNothing(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	res, tr := h.call("write_bad_data", `{}`)
	if res.ErrorCode != runtime.CodeInternal || tr.Event != nil || len(h.events.Events()) != 0 {
		t.Fatalf("write with NaN data = %+v, event %v; want INTERNAL and no event", res, h.events.Events())
	}
	if h.logs.FilterMessage("handler result data does not encode").Len() != 1 {
		t.Fatal("the encoding failure was not logged")
	}
}

func TestUnclassifiedErrorsAreLoggedNotShown(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	res, _ := h.call("plain_error", `{}`)
	if body, _ := res.MarshalJSON(); strings.Contains(string(body), "bad date") {
		t.Fatalf("error text reached the answer: %s", body)
	}
	entries := h.logs.FilterMessage("handler failed").All()
	if len(entries) != 1 || entries[0].ContextMap()["error"] != "parse feed: bad date" {
		t.Fatalf("log = %v, want the error's text there", entries)
	}
}

func TestTraceCountsCacheAndUpstream(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	res, tr := h.call("cached_note", `{}`)
	if !res.OK() || res.Summary != "from upstream" {
		t.Fatalf("first call: %+v", res)
	}
	if tr.CacheHits != 0 || tr.CacheMisses != 1 || len(tr.Upstream) != 1 || tr.Upstream[0].Service != "svc" ||
		tr.Upstream[0].Path != "/ok" || tr.Upstream[0].Status != 200 {
		t.Fatalf("miss trace = %+v", tr)
	}
	_, tr = h.call("cached_note", `{}`)
	if tr.CacheHits != 1 || tr.CacheMisses != 0 || len(tr.Upstream) != 0 {
		t.Fatalf("hit trace = %+v", tr)
	}
	// Another user misses: entries are per user.
	_, _, tr = h.d.Call(context.Background(), dispatch.Request{AppID: "test-app", Function: "cached_note",
		User: ctx.User{ImperalID: "imp_u_bob", TenantID: "default"}}, nil)
	if tr.CacheMisses != 1 {
		t.Fatalf("bob's first call hit alice's entry: %+v", tr)
	}
}

func TestCallRequiresAUser(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	_, res, _ := h.d.Call(context.Background(), dispatch.Request{AppID: "test-app", Function: "echo", Params: json.RawMessage(`{"name":"a"}`)}, nil)
	if res.ErrorCode != runtime.CodeBadRequest {
		t.Fatalf("call without user = %+v", res)
	}
}

func TestConcurrentCallsAreIndependent(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			name := strings.Repeat("x", i+1)
			res, _ := h.call("echo", `{"name":"`+name+`"}`)
			if want := `{"greeting":"hello ` + name + `","count":3}`; dataJSON(res) != want {
				t.Errorf("call %d: %s, want %s", i, dataJSON(res), want)
			}
		})
	}
	wg.Wait()
}

func TestWrongDataIsLoggedAsABrokenDeclaration(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	h.call("wrong_data", `{}`)
	entries := h.logs.FilterMessage("handler broke its declaration").All()
	if len(entries) != 1 || !strings.Contains(entries[0].ContextMap()["error"].(string), "declared dispatch_test.echoData") {
		t.Fatalf("log = %v", entries)
	}
}

func TestNewDispatcherRejectsDuplicateExtensions(t *testing.T) {
	ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "dup"})
	if d, err := dispatch.New(dispatch.Options{Extensions: []*runtime.Extension{ext, ext}}); err == nil {
		_ = d.Close()
		t.Fatal("the same extension was served twice")
	}
}
