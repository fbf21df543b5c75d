package mailclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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

// host is a dispatcher serving only mail-client against a fake mail-service.
type host struct {
	d      *runtime.Dispatcher
	mail   *fakeMailService
	events *runtime.EventLog
	user   ctx.User
}

func newHost(t testing.TB, backend string) *host {
	t.Helper()
	ext, ok := registry.Lookup("mail-client")
	if !ok {
		t.Fatal("mail-client did not register itself")
	}
	h := &host{mail: newFakeMailService(t), events: runtime.NewEventLog(16),
		user: ctx.User{ImperalID: "demo", TenantID: "default"}}
	h.user.ImperalID = cachetest.User(t, backend, h.user.ImperalID)
	store := cache.NewStore(cachetest.Backend(t, backend), cache.Options{})
	t.Cleanup(func() { _ = store.Close() })
	upstreams, err := httpclient.New(httpclient.Config{Services: map[string]string{"mail-service": h.mail.URL}})
	if err != nil {
		t.Fatal(err)
	}
	h.d, err = runtime.NewDispatcher(runtime.Options{
		Extensions: registry.New(ext).List(),
		Cache:      store,
		HTTP:       upstreams,
		Events:     h.events,
	})
	if err != nil {
		t.Fatal(err)
	}
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

type inboxData struct {
	Messages []json.RawMessage `json:"messages"`
	Total    int               `json:"total"`
	HasMore  bool              `json:"has_more"`
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

func TestListInbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *host) {
		res, tr := h.call(t, "list_inbox", `{"account_id":"work"}`)
		if !res.OK() || res.Summary != "20 message(s) in INBOX." {
			t.Fatalf("list_inbox = %s %q %s", res.Status, res.Summary, res.Error)
		}
		data := decode[inboxData](t, res)
		if len(data.Messages) != 20 || data.Total != mailboxSize || data.HasMore {
			t.Fatalf("data: %d messages, total %d, has_more %v", len(data.Messages), data.Total, data.HasMore)
		}
		// Messages pass through as the mail-service sent them.
		if !strings.HasPrefix(string(data.Messages[0]), `{"id":"m-0","from":"Sender 0 <sender0@example.com>","subject":"Quarterly report, part 0",`) {
			t.Fatalf("first message = %s", data.Messages[0])
		}
		if tr.CacheMisses != 1 || len(tr.Upstream) != 1 || tr.Upstream[0].Path != "/v1/inbox" {
			t.Fatalf("trace = %+v", tr)
		}
		if got := h.mail.requestID[0]; got != tr.RequestID || got == "" {
			t.Fatalf("upstream saw request id %q, call had %q", got, tr.RequestID)
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
		h.call(t, "get_unread_summary", `{}`)
		res, tr := h.call(t, "get_unread_summary", `{}`)
		if n := h.mail.count("/v1/unread"); n != 1 || tr.CacheHits != 1 {
			t.Fatalf("unread: %d requests, trace %+v; want 1 and a hit", n, tr)
		}
		if res.Summary != "9 unread message(s)." || dataJSON(t, res) != `{"unread":9,"accounts":["work"]}` {
			t.Fatalf("get_unread_summary = %q %s", res.Summary, dataJSON(t, res))
		}
	})
}

func TestWriteInvalidatesRefreshesAndPublishes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *host) {
		h.call(t, "list_inbox", `{"account_id":"work"}`)
		h.call(t, "get_unread_summary", `{}`)

		res, tr := h.call(t, "archive_message", `{"account_id":"work","message_id":"m-0"}`)
		if !res.OK() || res.Summary != "Archived 1 message(s)." ||
			dataJSON(t, res) != `{"archived":1,"message_id":"m-0"}` {
			t.Fatalf("archive_message = %s %q %s %s", res.Status, res.Summary, dataJSON(t, res), res.Error)
		}
		if strings.Join(res.RefreshPanels, ",") != "sidebar" {
			t.Fatalf("refresh_panels = %v, want [sidebar]", res.RefreshPanels)
		}
		if want := `{"user_id":"` + h.user.ImperalID + `","account_id":"work","message_ids":["m-0"]}`; h.mail.bodies[0] != want {
			t.Fatalf("archive body = %s, want %s", h.mail.bodies[0], want)
		}
		events := h.events.Events()
		if len(events) != 1 || tr.Event == nil || events[0].EventType != "email.archived" || events[0].UserID != h.user.ImperalID ||
			string(events[0].Data) != `{"archived":1,"message_id":"m-0"}` {
			t.Fatalf("events = %+v", events)
		}

		res, tr = h.call(t, "list_inbox", `{"account_id":"work"}`)
		data := decode[inboxData](t, res)
		if tr.CacheMisses != 1 || h.mail.count("/v1/inbox") != 2 {
			t.Fatalf("the read after a write was not fresh: trace %+v", tr)
		}
		if data.Total != mailboxSize-1 || strings.Contains(string(data.Messages[0]), `"m-0"`) {
			t.Fatalf("archived message still listed: total %d, first %s", data.Total, data.Messages[0])
		}

		res, _ = h.call(t, "get_unread_summary", `{}`)
		if h.mail.count("/v1/unread") != 2 || res.Summary != "8 unread message(s)." {
			t.Fatalf("unread after archiving an unread message = %q after %d requests", res.Summary, h.mail.count("/v1/unread"))
		}
	})
}

func TestMarkRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *host) {
		h.call(t, "get_unread_summary", `{}`)
		res, _ := h.call(t, "mark_read", `{"account_id":"work","message_id":"m-3"}`)
		if !res.OK() || res.Summary != "Marked 1 message(s) as read." ||
			dataJSON(t, res) != `{"updated":1,"message_id":"m-3","read":true}` ||
			strings.Join(res.RefreshPanels, ",") != "sidebar" {
			t.Fatalf("mark_read = %q %s %v", res.Summary, dataJSON(t, res), res.RefreshPanels)
		}
		if res, _ := h.call(t, "get_unread_summary", `{}`); res.Summary != "8 unread message(s)." {
			t.Fatalf("after mark_read: %q, want a fresh count of 8", res.Summary)
		}
		res, _ = h.call(t, "mark_read", `{"account_id":"work","message_id":"m-1","read":false}`)
		if res.Summary != "Marked 1 message(s) as unread." {
			t.Fatalf("mark_read read=false = %q", res.Summary)
		}
		if want := `{"user_id":"` + h.user.ImperalID + `","account_id":"work","message_ids":["m-1"],"read":false}`; h.mail.bodies[1] != want {
			t.Fatalf("mark_read body = %s, want %s", h.mail.bodies[1], want)
		}
		if res, _ := h.call(t, "get_unread_summary", `{}`); res.Summary != "9 unread message(s)." {
			t.Fatalf("after marking unread: %q", res.Summary)
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
		if res, _ := h.call(t, "get_unread_summary", `{}`); !res.OK() || h.mail.count("/v1/unread") != 2 {
			t.Fatalf("unread after recovery: %s", res.Status)
		}

		h.mail.fail(http.StatusBadGateway)
		res, _ = h.call(t, "archive_message", `{"account_id":"work","message_id":"m-0"}`)
		if res.ErrorCode != runtime.CodeBackend5xx || res.RefreshPanels != nil || len(h.events.Events()) != 0 {
			t.Fatalf("failed write = %+v, events %v", res, h.events.Events())
		}
		h.mail.fail(0)
		if _, tr := h.call(t, "list_inbox", `{"account_id":"work"}`); tr.CacheHits != 1 {
			t.Fatal("a failed write invalidated the cache")
		}
	})
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
	for path, n := range h.mail.requests {
		t.Errorf("bad input reached the mail-service: %s ×%d", path, n)
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
