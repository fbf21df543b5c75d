package hosttest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/internal/testredis"
	"github.com/imperalcloud/exthost/runtime"
)

func TestCallAndCallHTTPAnswerAlike(t *testing.T) {
	h := mailHost(t, hosttest.Options{})
	direct := h.Call("mail-client", "list_inbox", inbox)
	overHTTP := h.CallHTTP("mail-client", "list_inbox", inbox, hosttest.RequestID("req-42"))
	if !bytes.Equal(direct.JSON, overHTTP.JSON) || overHTTP.HTTPStatus != http.StatusOK || direct.HTTPStatus != 0 {
		t.Fatalf("in process %d %s\nover HTTP %d %s", direct.HTTPStatus, direct.JSON, overHTTP.HTTPStatus, overHTTP.JSON)
	}
	if tr := overHTTP.Trace; tr.RequestID != "req-42" || tr.CacheHits != 1 || tr.UserID != "test_user" {
		t.Fatalf("trace of the HTTP call = %+v", tr)
	}
	data := hosttest.Data[mailclient.InboxData](t, direct)
	if len(data.Messages) != 1 || data.Total != 1 {
		t.Fatalf("data = %+v", data)
	}
	if traces := h.Traces(); len(traces) != 2 || traces[0].RequestID != direct.Trace.RequestID || !traces[0].Start.Equal(hosttest.Epoch()) {
		t.Fatalf("traces = %+v", traces)
	}
}

func TestUpstreamRequestsAreKept(t *testing.T) {
	h := mailHost(t, hosttest.Options{User: ctx.User{ImperalID: "ann", TenantID: "acme"}})
	h.Call("mail-client", "list_inbox", map[string]any{"account_id": "work", "folder": "Sent"})
	res := h.Call("mail-client", "archive_message", map[string]any{"account_id": "work", "message_id": "m1"})

	reqs := h.Requests("mail-service")
	if len(reqs) != 2 {
		t.Fatalf("requests = %+v", reqs)
	}
	list, archive := reqs[0], reqs[1]
	if list.Method != http.MethodGet || list.Path != "/v1/inbox" || list.Query.Encode() != "account_id=work&folder=Sent&page=0&user_id=ann" {
		t.Fatalf("list request = %+v", list)
	}
	if archive.Method != http.MethodPost || archive.Path != "/v1/messages/archive" ||
		string(archive.Body) != `{"user_id":"ann","account_id":"work","message_ids":["m1"]}` ||
		archive.Header.Get("X-Request-ID") != res.Trace.RequestID {
		t.Fatalf("archive request = %+v %s", archive, archive.Body)
	}
	if ev := h.Events(); len(ev) != 1 || ev[0].TenantID != "acme" || ev[0].UserID != "ann" {
		t.Fatalf("events = %+v", ev)
	}
}

// Two hosts on one Redis share nothing: each has a namespace of its own.
func TestRedisHostsAreIsolated(t *testing.T) {
	a := mailHost(t, hosttest.Options{Redis: true})
	b := mailHost(t, hosttest.Options{Redis: true})
	a.Call("mail-client", "list_inbox", inbox)
	if got := a.CacheEntries("test_user"); len(got) != 1 || got[0].Key != "inbox:work:INBOX:0" || got[0].TTL <= 0 || got[0].TTL > time.Minute {
		t.Fatalf("a's entries = %v", got)
	}
	if got := b.CacheEntries(""); len(got) != 0 {
		t.Fatalf("b sees a's entries: %v", got)
	}
	if res := b.Call("mail-client", "list_inbox", inbox); res.Trace.CacheMisses != 1 {
		t.Fatalf("b hit a's entry: %+v", res.Trace)
	}
	if n := a.PurgeCache(""); n != 1 {
		t.Fatalf("a purged %d entries, want 1", n)
	}
	if res := a.Call("mail-client", "list_inbox", inbox); res.Trace.CacheMisses != 1 {
		t.Fatalf("a hit a purged entry: %+v", res.Trace)
	}
}

func TestCacheEntriesShowTheEnvelope(t *testing.T) {
	h := mailHost(t, hosttest.Options{})
	h.Call("mail-client", "get_unread_summary", nil)
	h.Call("mail-client", "list_inbox", inbox, hosttest.AsUser("bob"))
	entries := h.CacheEntries("test_user")
	if len(entries) != 1 || entries[0].Model != "unread_summary" || entries[0].Key != "unread:test_user" {
		t.Fatalf("test_user's entries = %v", entries)
	}
	want := `{"model":"unread_summary","version":1,"data":{"unread":1,"accounts":["work"],"fetched_at":"2026-01-01T00:00:00Z"},"cached_at":"2026-01-01T00:00:00Z"}`
	if string(entries[0].Envelope) != want || entries[0].Size != len(want) || entries[0].TTL != time.Minute {
		t.Fatalf("envelope = %s\nwant %s", entries[0].Envelope, want)
	}
	if all := h.CacheEntries(""); len(all) != 2 || all[0].UserID != "bob" || all[1].UserID != "test_user" {
		t.Fatalf("every user's entries = %v", all)
	}
	entries[0].Envelope[0] = '!'
	if again := h.CacheEntries("test_user"); string(again[0].Envelope) != want {
		t.Fatal("changing a listed envelope changed the cache")
	}
}

// A stub that never answers ends at the call deadline, not the test's.
func TestHangingUpstreamTimesOut(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hang := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release })
	h := mailHost(t, hosttest.Options{CallTimeout: 100 * time.Millisecond, Upstreams: map[string]http.Handler{"mail-service": hang}})
	res := h.Call("mail-client", "list_inbox", inbox)
	if res.ErrorCode != runtime.CodeBackendTimeout || !res.Retryable {
		t.Fatalf("list_inbox against a hanging upstream = %s", res.JSON)
	}
}

// A stub that panics fails the call and the test, not the test binary.
func TestPanickingStubFailsTheTest(t *testing.T) {
	tb := &errorCatcher{TB: t}
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("stub bug") })
	h := hosttest.New(tb, hosttest.Options{
		Extensions: []*runtime.Extension{mailclient.Extension()},
		Upstreams:  map[string]http.Handler{"mail-service": boom},
	})
	res := h.Call("mail-client", "list_inbox", inbox)
	if res.ErrorCode != runtime.CodeBackendUnavailable || len(tb.errors()) != 1 || !strings.Contains(tb.errors()[0], "stub bug") {
		t.Fatalf("answer %s, errors %q", res.JSON, tb.errors())
	}
}

func TestLogsAreCaptured(t *testing.T) {
	ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "boom", Version: "1.0.0", ActionsExplicit: true})
	runtime.AddFunction(ext.ChatTool("tool_boom", "Fails."), runtime.Function[struct{}, runtime.NoData]{
		Name: "explode", Description: "Panics.", ActionType: runtime.Read,
		Handler: func(*ctx.Call, struct{}) (runtime.Result, error) { panic("kaboom") },
	})
	h := hosttest.New(t, hosttest.Options{Extensions: []*runtime.Extension{ext}})
	res := h.CallHTTP("boom", "explode", nil)
	if res.ErrorCode != runtime.CodeInternal || strings.Contains(string(res.JSON), "kaboom") {
		t.Fatalf("answer = %s", res.JSON)
	}
	panicked := h.Logs().FilterMessage("handler panicked").All()
	if len(panicked) != 1 || panicked[0].ContextMap()["panic"] != "kaboom" {
		t.Fatalf("panic lines = %+v", panicked)
	}
	if calls := h.Logs().FilterMessage("call").All(); len(calls) != 1 || calls[0].ContextMap()["error_code"] != runtime.CodeInternal {
		t.Fatalf("call lines = %+v", calls)
	}
}

// Answers recorded from the reference mail-service replay byte for byte,
// without it.
func TestRecordThenReplay(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mail.json")
	script := func(h *hosttest.Host) []string {
		var answers []string
		for _, call := range []struct {
			fn     string
			params map[string]any
		}{
			{"list_inbox", inbox},
			{"archive_message", map[string]any{"account_id": "work", "message_id": "m-0001"}},
			{"list_inbox", inbox},
			{"get_unread_summary", nil},
		} {
			answers = append(answers, string(h.Call("mail-client", call.fn, call.params).JSON))
		}
		return answers
	}

	var recorded []string
	t.Run("record", func(t *testing.T) {
		service := httptest.NewServer(mailservice.New(mailservice.Options{}))
		t.Cleanup(service.Close)
		h := mailHost(t, hosttest.Options{Upstreams: map[string]http.Handler{"mail-service": hosttest.Record(t, file, service.URL)}})
		recorded = script(h)
	})
	t.Run("replay", func(t *testing.T) {
		h := mailHost(t, hosttest.Options{Upstreams: map[string]http.Handler{"mail-service": hosttest.Replay(t, file)}})
		replayed := script(h)
		for i := range recorded {
			if replayed[i] != recorded[i] {
				t.Errorf("answer %d:\nreplayed %.200s\nrecorded %.200s", i, replayed[i], recorded[i])
			}
		}
		if !strings.Contains(recorded[0], `"total":`) || recorded[0] == recorded[2] {
			t.Errorf("the script did not see the archive: %.100s", recorded[2])
		}
	})
	t.Run("unrecorded request", func(t *testing.T) {
		tb := &errorCatcher{TB: t}
		h := mailHost(t, hosttest.Options{Upstreams: map[string]http.Handler{"mail-service": hosttest.Replay(tb, file)}})
		res := h.Call("mail-client", "list_inbox", map[string]any{"account_id": "personal"})
		if res.ErrorCode != runtime.CodeBackend4xx || len(tb.errors()) != 1 ||
			!strings.Contains(tb.errors()[0], "nothing recorded for GET /v1/inbox?account_id=personal") {
			t.Fatalf("answer %s, errors %q", res.JSON, tb.errors())
		}
	})
}

// tagList is a cached value with a slice a careless handler could change.
type tagList struct {
	Tags []string `json:"tags"`
}

// A handler that changes a value it read from the cache changes what every
// other call reads: the test host fails the test that does it.
func TestChangingACachedValueFailsTheTest(t *testing.T) {
	ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "tags", Version: "1.0.0", ActionsExplicit: true})
	tags := runtime.CacheModel[tagList](ext, "tag_list")
	tool := ext.ChatTool("tool_tags_chat", "Tags.")
	read := func(upper bool) runtime.Handler[struct{}] {
		return func(c *ctx.Call, _ struct{}) (runtime.Result, error) {
			list, err := tags.GetOrFetch(c, "tags", time.Minute, func(*ctx.Call) (tagList, error) {
				return tagList{Tags: []string{"work", "home"}}, nil
			})
			if err != nil {
				return runtime.Result{}, err
			}
			if upper {
				list.Tags[0] = strings.ToUpper(list.Tags[0]) // the bug: list.Tags is shared
			}
			return runtime.Success(list, "tags"), nil
		}
	}
	runtime.AddFunction(tool, runtime.Function[struct{}, tagList]{Name: "tags", Handler: read(false)})
	runtime.AddFunction(tool, runtime.Function[struct{}, tagList]{Name: "shout_tags", Handler: read(true)})

	for _, redis := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "redis"}[redis], func(t *testing.T) {
			tb := &errorCatcher{TB: t}
			h := hosttest.New(tb, hosttest.Options{Extensions: []*runtime.Extension{ext}, Redis: redis})
			user := hosttest.AsUser(testredis.UniqueID(t))
			h.Call("tags", "tags", nil, user)
			h.Call("tags", "tags", nil, user) // a hit that changes nothing
			if errs := tb.errors(); len(errs) != 0 {
				t.Fatalf("reads reported %q", errs)
			}
			// With Redis, Redis's invalidation of the host's own write may
			// take the entry out of the L1 before a read: the value is then
			// the reader's own, and changing it harms nobody. Call until a
			// call gets the shared one (the L1 keeps it once refilled).
			for i := 0; i < 50 && len(tb.errors()) == 0; i++ {
				h.Call("tags", "shout_tags", nil, user)
			}
			h.Call("tags", "tags", nil, user) // innocent: not blamed again
			if errs := tb.errors(); len(errs) != 1 || !strings.Contains(errs[0], "changed the cached tag_list entry of") ||
				!strings.Contains(errs[0], "key tags") {
				t.Fatalf("errors = %q", errs)
			}
		})
	}
}

// errorCatcher keeps the errors reported to it instead of failing the test.
type errorCatcher struct {
	hosttest.TB
	mu   sync.Mutex
	errs []string
}

func (c *errorCatcher) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (c *errorCatcher) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errs
}

func TestStandaloneReportsFailures(t *testing.T) {
	s := hosttest.NewStandalone()
	cleaned := false
	s.Cleanup(func() { cleaned = true })
	s.Errorf("first %d", 1)
	got := catch(s.Done)
	if !cleaned || got != "first 1" || !s.Failed() {
		t.Fatalf("Done after an error: cleaned %t, panic %q", cleaned, got)
	}
	if got := catch(func() { s.Fatalf("stop %s", "now") }); got != "stop now" {
		t.Fatalf("Fatalf panicked with %q", got)
	}
}

func catch(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprintf("%v", r)
		}
	}()
	f()
	return ""
}

func TestCanned(t *testing.T) {
	stub := hosttest.JSON(map[string]any{
		"GET /raw":     json.RawMessage(`{"a" : 1}`),
		"POST /teapot": hosttest.Reply{Status: http.StatusTeapot, Body: []int{1}},
	})
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/raw", 200, `{"a" : 1}`},
		{http.MethodPost, "/teapot", 418, `[1]`},
		{http.MethodGet, "/missing", 404, "404 page not found\n"},
	} {
		rec := httptest.NewRecorder()
		stub.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Body.String() != tc.body {
			t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.body)
		}
	}
}
