package mailclient_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/internal/catalog"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// mailHost serves mail-client in a test host, in front of the reference
// mail-service.
type mailHost struct {
	*hosttest.Host
	mail *mailSwitch
	user string
}

func newHost(t *testing.T, backend string) *mailHost {
	t.Helper()
	h := &mailHost{mail: newMailSwitch(), user: "demo"}
	h.Host = hosttest.New(t, hosttest.Options{
		Extensions: []*runtime.Extension{mailclient.Extension()},
		Upstreams:  map[string]http.Handler{"mail-service": h.mail},
		Redis:      backend == "redis",
		User:       ctx.User{ImperalID: h.user, TenantID: "default"},
	})
	return h
}

// forEachBackend runs test on a host with the memory backend, and on one
// with Redis (and its L1).
func forEachBackend(t *testing.T, test func(t *testing.T, h *mailHost)) {
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) { test(t, newHost(t, backend)) })
	}
}

func (h *mailHost) call(function, params string) hosttest.Result {
	return h.Call("mail-client", function, json.RawMessage(params))
}

// count returns how many requests reached path of the mail-service.
func (h *mailHost) count(path string) int {
	n := 0
	for _, r := range h.Requests("mail-service") {
		if r.Path == path {
			n++
		}
	}
	return n
}

// last returns the most recent request to path of the mail-service.
func (h *mailHost) last(path string) hosttest.Request {
	reqs := h.Requests("mail-service")
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == path {
			return reqs[i]
		}
	}
	return hosttest.Request{}
}

type message struct {
	ID     string `json:"id"`
	Unread bool   `json:"unread"`
	From   string `json:"from"`
}

func messageAt(t testing.TB, d mailclient.InboxData, i int) message {
	t.Helper()
	var m message
	if err := json.Unmarshal(d.Messages[i], &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var unreadSummary = regexp.MustCompile(`^(\d+) unread message\(s\)\.$`)

// unread calls get_unread_summary and returns the count.
func (h *mailHost) unread(t testing.TB) int {
	t.Helper()
	res := h.call("get_unread_summary", `{}`)
	m := unreadSummary.FindStringSubmatch(res.Summary)
	if !res.OK() || m == nil {
		t.Fatalf("get_unread_summary = %s", res.JSON)
	}
	var n int
	fmt.Sscan(m[1], &n)
	if want := fmt.Sprintf(`{"unread":%d,"accounts":[`, n); !strings.HasPrefix(string(res.Data), want) {
		t.Fatalf("get_unread_summary data %s does not match its summary", res.Data)
	}
	return n
}

// entry returns the user's cache entry under key, failing when there is none.
func (h *mailHost) entry(t testing.TB, key string) hosttest.Entry {
	t.Helper()
	for _, e := range h.CacheEntries(h.user) {
		if e.Key == key {
			return e
		}
	}
	t.Fatalf("no cache entry %q among %v", key, h.CacheEntries(h.user))
	return hosttest.Entry{}
}

func TestListInbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		res := h.call("list_inbox", `{"account_id":"work"}`)
		if !res.OK() || res.Summary != "20 message(s) in INBOX." {
			t.Fatalf("list_inbox = %s", res.JSON)
		}
		data := hosttest.Data[mailclient.InboxData](t, res)
		if len(data.Messages) != 20 || data.Total < 100 || !data.HasMore {
			t.Fatalf("data: %d messages, total %d, has_more %v", len(data.Messages), data.Total, data.HasMore)
		}
		// Messages pass through as the mail-service sent them, "<" included.
		if first := string(data.Messages[0]); !strings.HasPrefix(first, `{"id":"m-0001","thread_id":"`) || !strings.Contains(first, " <") {
			t.Fatalf("first message = %s", first)
		}
		req := h.last("/v1/inbox")
		if req.Method != http.MethodGet || req.Query.Encode() != "account_id=work&folder=INBOX&page=0&user_id=demo" {
			t.Fatalf("upstream request = %+v", req)
		}
		if id := req.Header.Get("X-Request-ID"); id != res.Trace.RequestID || id == "" {
			t.Fatalf("upstream saw request id %q, call had %q", id, res.Trace.RequestID)
		}
		e := h.entry(t, "inbox:work:INBOX:0")
		if e.Model != "inbox_page" || e.TTL <= 50*time.Second || e.TTL > time.Minute ||
			!bytes.HasPrefix(e.Envelope, []byte(`{"model":"inbox_page","version":1,"data":{"account_id":"work","folder":"INBOX","messages":[`)) {
			t.Fatalf("cached entry: %v %.80s", e, e.Envelope)
		}
	})
}

func TestReadsAreCached(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		first := h.call("list_inbox", `{"account_id":"work"}`)
		second := h.call("list_inbox", `{"account_id":"work","folder":"INBOX"}`)
		if n := h.count("/v1/inbox"); n != 1 {
			t.Fatalf("the mail-service served %d inbox requests, want 1: the second call must hit", n)
		}
		if tr := second.Trace; tr.CacheHits != 1 || len(tr.Upstream) != 0 {
			t.Fatalf("hit trace = %+v", tr)
		}
		if !bytes.Equal(first.JSON, second.JSON) {
			t.Fatal("a hit answers differently from the miss that filled it")
		}
		h.call("list_inbox", `{"account_id":"work","folder":"archive"}`)
		if n := h.count("/v1/inbox"); n != 2 {
			t.Fatalf("another folder is another key: %d requests, want 2", n)
		}
		before := h.unread(t)
		if h.unread(t) != before || h.count("/v1/unread") != 1 {
			t.Fatalf("get_unread_summary: %d requests, want 1 and a hit", h.count("/v1/unread"))
		}
		if e := h.entry(t, "unread:demo"); e.Model != "unread_summary" {
			t.Fatalf("the unread summary is cached as %v", e)
		}
	})
}

// An entry lives exactly its 60 s on the host's clock.
func TestEntriesExpireAfterAMinute(t *testing.T) {
	h := newHost(t, "memory")
	h.call("list_inbox", `{"account_id":"work"}`)
	h.Advance(59 * time.Second)
	if res := h.call("list_inbox", `{"account_id":"work"}`); res.Trace.CacheHits != 1 {
		t.Fatalf("at 59 s: %+v", res.Trace)
	}
	h.Advance(time.Second)
	if res := h.call("list_inbox", `{"account_id":"work"}`); res.Trace.CacheMisses != 1 || h.count("/v1/inbox") != 2 {
		t.Fatalf("at 60 s the entry must be gone: %+v", res.Trace)
	}
}

func TestWriteInvalidatesRefreshesAndPublishes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		before := hosttest.Data[mailclient.InboxData](t, h.call("list_inbox", `{"account_id":"work"}`))
		target := messageAt(t, before, 0)
		unreadBefore := h.unread(t)

		res := h.call("archive_message", `{"account_id":"work","message_id":"`+target.ID+`"}`)
		if !res.OK() || res.Summary != "Archived 1 message(s)." || string(res.Data) != `{"archived":1,"message_id":"`+target.ID+`"}` {
			t.Fatalf("archive_message = %s", res.JSON)
		}
		if strings.Join(res.RefreshPanels, ",") != "sidebar" {
			t.Fatalf("refresh_panels = %v, want [sidebar]", res.RefreshPanels)
		}
		req := h.last("/v1/messages/archive")
		if want := `{"user_id":"demo","account_id":"work","message_ids":["` + target.ID + `"]}`; req.Method != http.MethodPost || string(req.Body) != want {
			t.Fatalf("archive request = %s %s, want POST %s", req.Method, req.Body, want)
		}
		events := h.Events()
		if len(events) != 1 || res.Trace.Event == nil || events[0].EventType != "email.archived" || events[0].UserID != "demo" ||
			string(events[0].Data) != `{"archived":1,"message_id":"`+target.ID+`"}` {
			t.Fatalf("events = %+v", events)
		}

		res = h.call("list_inbox", `{"account_id":"work"}`)
		after := hosttest.Data[mailclient.InboxData](t, res)
		if res.Trace.CacheMisses != 1 || h.count("/v1/inbox") != 2 {
			t.Fatalf("the read after a write was not fresh: trace %+v", res.Trace)
		}
		if after.Total != before.Total-1 || messageAt(t, after, 0).ID == target.ID {
			t.Fatalf("archived message still listed: total %d → %d", before.Total, after.Total)
		}
		wantUnread := unreadBefore
		if target.Unread {
			wantUnread--
		}
		if got := h.unread(t); got != wantUnread || h.count("/v1/unread") != 2 {
			t.Fatalf("unread after archiving = %d (after %d requests), want a fresh %d", got, h.count("/v1/unread"), wantUnread)
		}
	})
}

func TestMarkRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		data := hosttest.Data[mailclient.InboxData](t, h.call("list_inbox", `{"account_id":"work"}`))
		var unreadID string
		for i := range data.Messages {
			if m := messageAt(t, data, i); m.Unread {
				unreadID = m.ID
				break
			}
		}
		if unreadID == "" {
			t.Fatal("no unread message on the first page")
		}
		before := h.unread(t)
		res := h.call("mark_read", `{"account_id":"work","message_id":"`+unreadID+`"}`)
		if !res.OK() || res.Summary != "Marked 1 message(s) as read." ||
			string(res.Data) != `{"updated":1,"message_id":"`+unreadID+`","read":true}` ||
			strings.Join(res.RefreshPanels, ",") != "sidebar" {
			t.Fatalf("mark_read = %s", res.JSON)
		}
		if got := h.unread(t); got != before-1 {
			t.Fatalf("unread after mark_read = %d, want a fresh %d", got, before-1)
		}
		res = h.call("mark_read", `{"account_id":"work","message_id":"`+unreadID+`","read":false}`)
		if res.Summary != "Marked 1 message(s) as unread." {
			t.Fatalf("mark_read read=false = %q", res.Summary)
		}
		if want := `{"user_id":"demo","account_id":"work","message_ids":["` + unreadID + `"],"read":false}`; string(h.last("/v1/messages/mark_read").Body) != want {
			t.Fatalf("mark_read body = %s, want %s", h.last("/v1/messages/mark_read").Body, want)
		}
		if got := h.unread(t); got != before {
			t.Fatalf("after marking unread: %d, want %d", got, before)
		}
		if ev := h.Events(); len(ev) != 2 || ev[1].EventType != "email.marked_read" {
			t.Fatalf("events = %+v", ev)
		}
	})
}

// Models send "true" for a boolean: the SDK's Pydantic models take it, and
// so does the host (DESIGN §3).
func TestLaxParams(t *testing.T) {
	h := newHost(t, "memory")
	for _, tc := range []struct {
		read, want string
	}{{`"true"`, "read"}, {`"false"`, "unread"}, {`"YES"`, "read"}, {`0`, "unread"}, {`1.0`, "read"}} {
		res := h.call("mark_read", `{"account_id":"work","message_id":"m-0003","read":`+tc.read+`}`)
		if !res.OK() || res.Summary != "Marked 1 message(s) as "+tc.want+"." {
			t.Errorf("read=%s: %s", tc.read, res.JSON)
		}
	}
}

// The event a write publishes is the SDK's envelope, byte for byte: the
// bytes its fallback publisher built for the same archive, recorded by
// internal/events/testdata/sdk_events.py, with the host's timestamp last.
func TestArchiveEventIsTheSDKEnvelope(t *testing.T) {
	raw, err := os.ReadFile("../../internal/events/testdata/sdk_events.json")
	if err != nil {
		t.Fatal(err)
	}
	var recorded struct {
		Cases []struct {
			Name, Message string
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &recorded); err != nil {
		t.Fatal(err)
	}
	var sdk string
	for _, c := range recorded.Cases {
		if c.Name == "archive" {
			sdk = c.Message
		}
	}
	if !strings.Contains(sdk, `"source_app": "mail-client", "user_id": "demo"`) {
		t.Fatalf("the recorded archive event is not the one this test makes: %s", sdk)
	}
	h := newHost(t, "memory")
	if res := h.call("archive_message", `{"account_id":"work","message_id":"m-0001"}`); !res.OK() {
		t.Fatalf("archive = %s", res.JSON)
	}
	events := h.Events()
	if len(events) != 1 {
		t.Fatalf("%d events", len(events))
	}
	want := strings.TrimSuffix(sdk, "}") + `, "timestamp": "` + events[0].Timestamp + `"}`
	if got := string(events[0].JSON); got != want {
		t.Fatalf("event\n got %s\nwant %s", got, want)
	}
}

func TestUpstreamFailureIsAnErrorAndNotCached(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		h.mail.fail(http.StatusInternalServerError)
		for _, fn := range []string{"list_inbox", "get_unread_summary"} {
			res := h.call(fn, `{"account_id":"work"}`)
			if res.ErrorCode != runtime.CodeBackend5xx || !res.Retryable || res.Error != "mail-service failed (HTTP 500)." {
				t.Fatalf("%s during an outage = %s", fn, res.JSON)
			}
		}
		if entries := h.CacheEntries(""); len(entries) != 0 {
			t.Fatalf("failures were cached: %v", entries)
		}
		h.mail.fail(0)
		if res := h.call("list_inbox", `{"account_id":"work"}`); !res.OK() || h.count("/v1/inbox") != 2 {
			t.Fatalf("after recovery: %s with %d requests", res.Status, h.count("/v1/inbox"))
		}
		h.unread(t)
		if h.count("/v1/unread") != 2 {
			t.Fatal("the unread failure was cached")
		}

		h.mail.fail(http.StatusBadGateway)
		res := h.call("archive_message", `{"account_id":"work","message_id":"m-0001"}`)
		if res.ErrorCode != runtime.CodeBackend5xx || res.RefreshPanels != nil || len(h.Events()) != 0 {
			t.Fatalf("failed write = %s, events %v", res.JSON, h.Events())
		}
		h.mail.fail(0)
		if res := h.call("list_inbox", `{"account_id":"work"}`); res.Trace.CacheHits != 1 {
			t.Fatal("a failed write invalidated the cache")
		}
	})
}

func TestUserIDsOutsideTheKeyCharsetCanStillWrite(t *testing.T) {
	h := newHost(t, "memory")
	// Not a valid cache key: unread:{user_id} is never cached for this user.
	as := hosttest.AsUser("alice.smith@example.com")
	if res := h.Call("mail-client", "archive_message", map[string]any{"account_id": "work", "message_id": "m-0002"}, as); !res.OK() || res.Summary != "Archived 1 message(s)." {
		t.Fatalf("archive = %s", res.JSON)
	}
	if res := h.Call("mail-client", "list_inbox", map[string]any{"account_id": "work"}, as); !res.OK() {
		t.Fatalf("list_inbox = %s", res.JSON)
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
		{"missing required", "archive_message", `{"folder":"INBOX"}`, runtime.CodeValidationMissingField, "account_id, message_id"},
		{"nothing to mark", "mark_read", `{"account_id":"work"}`, runtime.CodeValidationMissingField, "Provide message_id, message_ids or query."},
		{"empty message id", "mark_read", `{"account_id":"work","message_id":""}`, runtime.CodeValidationTypeError, "message_id"},
		{"not a boolean", "mark_read", `{"account_id":"work","message_id":"m-1","read":"2"}`, runtime.CodeValidationTypeError, "read"},
		{"a number for a string", "mark_read", `{"account_id":3,"message_id":"m-1"}`, runtime.CodeValidationTypeError, "account_id"},
		{"a list for a string", "list_inbox", `{"account_id":["work"]}`, runtime.CodeValidationTypeError, "account_id"},
		{"unknown function", "send_email", `{}`, runtime.CodeUnknownSubFunction, "Sub-function not available."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := h.call(tc.fn, tc.params)
			if res.ErrorCode != tc.code || !strings.Contains(res.Error, tc.message) {
				t.Fatalf("%s(%s) = %s %q, want %s containing %q", tc.fn, tc.params, res.ErrorCode, res.Error, tc.code, tc.message)
			}
			for _, input := range []string{"work/../x", "Sent Items", "a*", "send_email"} {
				if strings.Contains(string(res.JSON), input) {
					t.Errorf("the answer echoes the caller's %q: %s", input, res.JSON)
				}
			}
		})
	}
	if reqs := h.Requests("mail-service"); len(reqs) != 0 {
		t.Errorf("bad input reached the mail-service %d times: %+v", len(reqs), reqs)
	}
}

// Golden files of what the platform reads: the manifest and the catalog.
func TestGoldenManifestAndCatalog(t *testing.T) {
	ext, _ := registry.Lookup("mail-client")
	tools := catalog.NewCatalog([]*runtime.Extension{ext})
	mcpTools, err := catalog.MCPTools([]*runtime.Extension{ext})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{
		"tools.mcp.json":    map[string]any{"tools": mcpTools},
		"manifest.json":     catalog.NewManifest(ext),
		"tools.json":        tools,
		"tools.openai.json": tools.OpenAITools(),
		"extensions.json":   map[string]any{"extensions": []catalog.ExtensionSummary{catalog.Summarize(ext)}},
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
