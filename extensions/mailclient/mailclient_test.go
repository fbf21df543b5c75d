package mailclient_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/ctx"
	_ "github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/cachetest"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// host is a dispatcher serving only mail-client against the reference
// mail-service.
type host struct {
	d       *runtime.Dispatcher
	mail    *recordedMailService
	backend cache.Backend
	misses  *missCounter
	events  *runtime.EventLog
	user    ctx.User
}

func newHost(t testing.TB, backend string) *host {
	t.Helper()
	ext, ok := registry.Lookup("mail-client")
	if !ok {
		t.Fatal("mail-client did not register itself")
	}
	h := &host{mail: newMailService(t), backend: cachetest.Backend(t, backend), misses: &missCounter{},
		events: runtime.NewEventLog(16), user: ctx.User{ImperalID: cachetest.User(t, backend, "demo"), TenantID: "default"}}
	store := cache.NewStore(h.backend, cache.Options{Observer: h.misses})
	t.Cleanup(func() { _ = store.Close() })
	upstreams, err := httpclient.New(httpclient.Config{Services: map[string]string{"mail-service": h.mail.URL}})
	if err != nil {
		t.Fatal(err)
	}
	h.d, err = runtime.NewDispatcher(runtime.Options{
		Extensions: registry.New(ext).List(), Cache: store, HTTP: upstreams, Events: h.events,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.d.Close() })
	return h
}

func (h *host) call(t testing.TB, function, params string) (runtime.Result, runtime.Trace) {
	t.Helper()
	return h.d.Call(context.Background(), runtime.Request{
		AppID: "mail-client", Function: function, Params: json.RawMessage(params), User: h.user,
	})
}

func forEachBackend(t *testing.T, test func(t *testing.T, h *host)) {
	for _, backend := range cachetest.Kinds {
		t.Run(backend, func(t *testing.T) { test(t, newHost(t, backend)) })
	}
}

// missCounter counts cache misses and lets a test wait for a number of them.
type missCounter struct {
	cache.NopObserver
	mu      sync.Mutex
	misses  int
	target  int
	reached chan struct{}
}

func (m *missCounter) Lookup(_, _ string, hit bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if hit {
		return
	}
	m.misses++
	if m.reached != nil && m.misses == m.target {
		close(m.reached)
	}
}

func (m *missCounter) waitFor(n int) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.target, m.reached = m.misses+n, make(chan struct{})
	return m.reached
}

type message struct {
	ID     string `json:"id"`
	Unread bool   `json:"unread"`
	From   string `json:"from"`
}

type inboxData struct {
	Messages []json.RawMessage `json:"messages"`
	Total    int               `json:"total"`
	HasMore  bool              `json:"has_more"`
}

func (d inboxData) message(t testing.TB, i int) message {
	t.Helper()
	var m message
	if err := json.Unmarshal(d.Messages[i], &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// dataJSON returns the result's data as the client will see it.
func dataJSON(t testing.TB, r runtime.Result) string {
	t.Helper()
	raw, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		t.Fatal(err)
	}
	return string(envelope.Data)
}

func decode[T any](t testing.TB, r runtime.Result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(dataJSON(t, r)), &v); err != nil {
		t.Fatalf("data %s: %v", dataJSON(t, r), err)
	}
	return v
}

var unreadSummary = regexp.MustCompile(`^(\d+) unread message\(s\)\.$`)

// unread calls get_unread_summary and returns the count.
func (h *host) unread(t testing.TB) int {
	t.Helper()
	res, _ := h.call(t, "get_unread_summary", `{}`)
	m := unreadSummary.FindStringSubmatch(res.Summary)
	if !res.OK() || m == nil {
		t.Fatalf("get_unread_summary = %s %q %s", res.Status, res.Summary, res.Error)
	}
	var n int
	fmt.Sscan(m[1], &n)
	if want := fmt.Sprintf(`{"unread":%d,"accounts":[`, n); !strings.HasPrefix(dataJSON(t, res), want) {
		t.Fatalf("get_unread_summary data %s does not match its summary", dataJSON(t, res))
	}
	return n
}

// hashedKey is the backend key of a mail-client entry, computed here from
// the keyspace of DESIGN §5, not by the cache package.
func hashedKey(user, model, key string) string {
	sum := sha256.Sum256([]byte(key))
	return "extcache:{mail-client:" + user + "}:" + model + ":" + hex.EncodeToString(sum[:8])
}

func TestListInbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *host) {
		res, tr := h.call(t, "list_inbox", `{"account_id":"work"}`)
		if !res.OK() || res.Summary != "20 message(s) in INBOX." {
			t.Fatalf("list_inbox = %s %q %s", res.Status, res.Summary, res.Error)
		}
		data := decode[inboxData](t, res)
		if len(data.Messages) != 20 || data.Total < 100 || !data.HasMore {
			t.Fatalf("data: %d messages, total %d, has_more %v", len(data.Messages), data.Total, data.HasMore)
		}
		// Messages pass through as the mail-service sent them, "<" included.
		if first := string(data.Messages[0]); !strings.HasPrefix(first, `{"id":"m-0001","thread_id":"`) || !strings.Contains(first, " <") {
			t.Fatalf("first message = %s", first)
		}
		req := h.mail.last("/v1/inbox")
		if req.Method != http.MethodGet || req.Query != "account_id=work&folder=INBOX&page=0&user_id="+h.user.ImperalID {
			t.Fatalf("upstream request = %+v", req)
		}
		if req.RequestID != tr.RequestID || req.RequestID == "" {
			t.Fatalf("upstream saw request id %q, call had %q", req.RequestID, tr.RequestID)
		}
		// The entry sits at the keyspace's key for "inbox:work:INBOX:0".
		raw, ok, err := h.backend.Get(context.Background(), hashedKey(h.user.ImperalID, "inbox_page", "inbox:work:INBOX:0"))
		if err != nil || !ok || !bytes.HasPrefix(raw, []byte(`{"model":"inbox_page","version":1,"data":{"account_id":"work","folder":"INBOX","messages":[`)) {
			t.Fatalf("cached entry: %v %v %.80s", ok, err, raw)
		}
	})
}

func TestReadsAreCached(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *host) {
		first, _ := h.call(t, "list_inbox", `{"account_id":"work"}`)
		second, tr := h.call(t, "list_inbox", `{"account_id":"work","folder":"INBOX"}`)
		if n := h.mail.count("/v1/inbox"); n != 1 {
			t.Fatalf("the mail-service served %d inbox requests, want 1: the second call must hit", n)
		}
		if tr.CacheHits != 1 || len(tr.Upstream) != 0 {
			t.Fatalf("hit trace = %+v", tr)
		}
		if dataJSON(t, first) != dataJSON(t, second) || first.Summary != second.Summary {
			t.Fatal("a hit answers differently from the miss that filled it")
		}
		h.call(t, "list_inbox", `{"account_id":"work","folder":"archive"}`)
		if n := h.mail.count("/v1/inbox"); n != 2 {
			t.Fatalf("another folder is another key: %d requests, want 2", n)
		}
		before := h.unread(t)
		if h.unread(t) != before || h.mail.count("/v1/unread") != 1 {
			t.Fatalf("get_unread_summary: %d requests, want 1 and a hit", h.mail.count("/v1/unread"))
		}
		if _, ok, _ := h.backend.Get(context.Background(), hashedKey(h.user.ImperalID, "unread_summary", "unread:"+h.user.ImperalID)); !ok {
			t.Fatal("the unread summary is not at its keyspace key")
		}
	})
}

func TestConcurrentMissesFetchOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *host) {
		const callers = 50
		gate := make(chan struct{})
		h.mail.mu.Lock()
		h.mail.gate = gate
		h.mail.mu.Unlock()
		allMissed := h.misses.waitFor(callers)
		var wg sync.WaitGroup
		results := make([]runtime.Result, callers)
		for i := range callers {
			wg.Go(func() { results[i], _ = h.call(t, "list_inbox", `{"account_id":"work"}`) })
		}
		<-allMissed // every call has found the entry missing before the upstream answers
		close(gate)
		wg.Wait()
		if n := h.mail.count("/v1/inbox"); n != 1 {
			t.Fatalf("%d concurrent cold calls made %d upstream requests, want 1", callers, n)
		}
		for i, res := range results {
			if !res.OK() || dataJSON(t, res) != dataJSON(t, results[0]) {
				t.Fatalf("call %d = %s %s", i, res.Status, res.Error)
			}
		}
	})
}

func TestWriteInvalidatesRefreshesAndPublishes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *host) {
		res, _ := h.call(t, "list_inbox", `{"account_id":"work"}`)
		before := decode[inboxData](t, res)
		target := before.message(t, 0)
		unreadBefore := h.unread(t)

		res, tr := h.call(t, "archive_message", `{"account_id":"work","message_id":"`+target.ID+`"}`)
		if !res.OK() || res.Summary != "Archived 1 message(s)." ||
			dataJSON(t, res) != `{"archived":1,"message_id":"`+target.ID+`"}` {
			t.Fatalf("archive_message = %s %q %s %s", res.Status, res.Summary, dataJSON(t, res), res.Error)
		}
		if strings.Join(res.RefreshPanels, ",") != "sidebar" {
			t.Fatalf("refresh_panels = %v, want [sidebar]", res.RefreshPanels)
		}
		req := h.mail.last("/v1/messages/archive")
		if want := `{"user_id":"` + h.user.ImperalID + `","account_id":"work","message_ids":["` + target.ID + `"]}`; req.Method != http.MethodPost || req.Body != want {
			t.Fatalf("archive request = %s %s, want POST %s", req.Method, req.Body, want)
		}
		events := h.events.Events()
		if len(events) != 1 || tr.Event == nil || events[0].EventType != "email.archived" || events[0].UserID != h.user.ImperalID ||
			string(events[0].Data) != `{"archived":1,"message_id":"`+target.ID+`"}` {
			t.Fatalf("events = %+v", events)
		}

		res, tr = h.call(t, "list_inbox", `{"account_id":"work"}`)
		after := decode[inboxData](t, res)
		if tr.CacheMisses != 1 || h.mail.count("/v1/inbox") != 2 {
			t.Fatalf("the read after a write was not fresh: trace %+v", tr)
		}
		if after.Total != before.Total-1 || after.message(t, 0).ID == target.ID {
			t.Fatalf("archived message still listed: total %d → %d", before.Total, after.Total)
		}
		wantUnread := unreadBefore
		if target.Unread {
			wantUnread--
		}
		if got := h.unread(t); got != wantUnread || h.mail.count("/v1/unread") != 2 {
			t.Fatalf("unread after archiving = %d (after %d requests), want a fresh %d", got, h.mail.count("/v1/unread"), wantUnread)
		}
	})
}

func TestMarkRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *host) {
		res, _ := h.call(t, "list_inbox", `{"account_id":"work"}`)
		data := decode[inboxData](t, res)
		var unreadID string
		for i := range data.Messages {
			if m := data.message(t, i); m.Unread {
				unreadID = m.ID
				break
			}
		}
		if unreadID == "" {
			t.Fatal("no unread message on the first page")
		}
		before := h.unread(t)
		res, _ = h.call(t, "mark_read", `{"account_id":"work","message_id":"`+unreadID+`"}`)
		if !res.OK() || res.Summary != "Marked 1 message(s) as read." ||
			dataJSON(t, res) != `{"updated":1,"message_id":"`+unreadID+`","read":true}` ||
			strings.Join(res.RefreshPanels, ",") != "sidebar" {
			t.Fatalf("mark_read = %q %s %v", res.Summary, dataJSON(t, res), res.RefreshPanels)
		}
		if got := h.unread(t); got != before-1 {
			t.Fatalf("unread after mark_read = %d, want a fresh %d", got, before-1)
		}
		res, _ = h.call(t, "mark_read", `{"account_id":"work","message_id":"`+unreadID+`","read":false}`)
		if res.Summary != "Marked 1 message(s) as unread." {
			t.Fatalf("mark_read read=false = %q", res.Summary)
		}
		if want := `{"user_id":"` + h.user.ImperalID + `","account_id":"work","message_ids":["` + unreadID + `"],"read":false}`; h.mail.last("/v1/messages/mark_read").Body != want {
			t.Fatalf("mark_read body = %s, want %s", h.mail.last("/v1/messages/mark_read").Body, want)
		}
		if got := h.unread(t); got != before {
			t.Fatalf("after marking unread: %d, want %d", got, before)
		}
		if ev := h.events.Events(); len(ev) != 2 || ev[1].EventType != "email.marked_read" {
			t.Fatalf("events = %+v", ev)
		}
	})
}

func TestUpstreamFailureIsAnErrorAndNotCached(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *host) {
		h.mail.fail(http.StatusInternalServerError)
		for _, fn := range []string{"list_inbox", "get_unread_summary"} {
			res, _ := h.call(t, fn, `{"account_id":"work"}`)
			if res.ErrorCode != runtime.CodeBackend5xx || !res.Retryable || res.Error != "mail-service failed (HTTP 500)." {
				t.Fatalf("%s during an outage = %+v", fn, res)
			}
		}
		h.mail.fail(0)
		res, _ := h.call(t, "list_inbox", `{"account_id":"work"}`)
		if !res.OK() || h.mail.count("/v1/inbox") != 2 {
			t.Fatalf("after recovery: %s with %d requests; the failure must not have been cached", res.Status, h.mail.count("/v1/inbox"))
		}
		h.unread(t)
		if h.mail.count("/v1/unread") != 2 {
			t.Fatal("the unread failure was cached")
		}

		h.mail.fail(http.StatusBadGateway)
		res, _ = h.call(t, "archive_message", `{"account_id":"work","message_id":"m-0001"}`)
		if res.ErrorCode != runtime.CodeBackend5xx || res.RefreshPanels != nil || len(h.events.Events()) != 0 {
			t.Fatalf("failed write = %+v, events %v", res, h.events.Events())
		}
		h.mail.fail(0)
		if _, tr := h.call(t, "list_inbox", `{"account_id":"work"}`); tr.CacheHits != 1 {
			t.Fatal("a failed write invalidated the cache")
		}
	})
}

func TestUserIDsOutsideTheKeyCharsetCanStillWrite(t *testing.T) {
	h := newHost(t, "memory")
	h.user.ImperalID = "alice.smith@example.com" // not a valid cache key: unread:{user_id} is never cached
	res, _ := h.call(t, "archive_message", `{"account_id":"work","message_id":"m-0002"}`)
	if !res.OK() || res.Summary != "Archived 1 message(s)." {
		t.Fatalf("archive for %s = %+v", h.user.ImperalID, res)
	}
	if res, _ := h.call(t, "list_inbox", `{"account_id":"work"}`); !res.OK() {
		t.Fatalf("list_inbox for %s = %+v", h.user.ImperalID, res)
	}
}

func TestBadInput(t *testing.T) {
	h := newHost(t, "memory")
	cases := []struct {
		name, fn, params string
		code, message    string
	}{
		{"no account", "list_inbox", `{}`, runtime.CodeUnstructured, "No account specified."},
		{"empty account", "archive_message", `{"account_id":"","message_id":"m-1"}`, runtime.CodeUnstructured, "No account specified."},
		{"account breaks the key", "list_inbox", `{"account_id":"work/../x"}`, runtime.CodeCacheContractViolation, "I-CACHE-KEY-SAFETY"},
		{"folder breaks the key", "list_inbox", `{"account_id":"work","folder":"Sent Items"}`, runtime.CodeCacheContractViolation, "forbidden characters"},
		{"write with a key-breaking folder", "archive_message", `{"account_id":"work","message_id":"m-1","folder":"a*"}`, runtime.CodeCacheContractViolation, "forbidden"},
		{"missing required", "archive_message", `{"folder":"INBOX"}`, runtime.CodeValidationMissingField, "account_id, message_id"},
		{"empty message id", "mark_read", `{"account_id":"work","message_id":""}`, runtime.CodeValidationTypeError, "message_id"},
		{"wrong type", "mark_read", `{"account_id":"work","message_id":"m-1","read":"yes"}`, runtime.CodeValidationTypeError, "read"},
		{"unknown function", "send_email", `{}`, runtime.CodeUnknownSubFunction, "send_email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := h.call(t, tc.fn, tc.params)
			if res.ErrorCode != tc.code || !strings.Contains(res.Error, tc.message) {
				t.Fatalf("%s(%s) = %s %q, want %s containing %q", tc.fn, tc.params, res.ErrorCode, res.Error, tc.code, tc.message)
			}
		})
	}
	if n := len(h.mail.requests); n != 0 {
		t.Errorf("bad input reached the mail-service %d times: %+v", n, h.mail.requests)
	}
}

// Golden files of what the platform reads: the manifest and the catalog.
func TestGoldenManifestAndCatalog(t *testing.T) {
	ext, _ := registry.Lookup("mail-client")
	catalog := runtime.NewCatalog([]*runtime.Extension{ext})
	for name, v := range map[string]any{
		"manifest.json":     runtime.NewManifest(ext),
		"tools.json":        catalog,
		"tools.openai.json": catalog.OpenAITools(),
		"extensions.json":   map[string]any{"extensions": []runtime.ExtensionSummary{runtime.Summarize(ext)}},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s changed; if that is intended, run go test ./extensions/mailclient -update\n got:\n%s", path, buf.Bytes())
			}
		})
	}
}
