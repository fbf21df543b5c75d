package host_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

// send makes one request of the harness API and decodes the answer into a
// map; it returns the status too.
func send(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]any
	if err := json.Unmarshal(raw, &answer); err != nil {
		t.Fatalf("%s %s: %v\n%s", method, url, err, raw)
	}
	return resp.StatusCode, answer
}

func harnessHost(t *testing.T) *hosttest.Host {
	canned := hosttest.JSON(map[string]any{
		"GET /v1/inbox":             map[string]any{"messages": []any{}, "total": 0, "has_more": false},
		"POST /v1/messages/archive": map[string]any{"archived": 1},
	})
	return hosttest.New(t, hosttest.Options{
		Extensions: []*runtime.Extension{mailclient.Extension()},
		Upstreams:  map[string]http.Handler{"mail-service": canned},
	})
}

func TestHarnessClock(t *testing.T) {
	h := harnessHost(t)
	clock := h.URL() + "/v1/harness/clock"
	if status, got := send(t, http.MethodGet, clock, ""); status != 200 || got["now"] != "2026-01-01T00:00:00Z" {
		t.Fatalf("GET clock = %d %v", status, got)
	}
	h.CallHTTP("mail-client", "list_inbox", map[string]any{"account_id": "work"})
	if status, got := send(t, http.MethodPost, clock, `{"advance": "61s"}`); status != 200 || got["now"] != "2026-01-01T00:01:01Z" {
		t.Fatalf("advance 61s = %d %v", status, got)
	}
	if res := h.CallHTTP("mail-client", "list_inbox", map[string]any{"account_id": "work"}); res.Trace.CacheMisses != 1 {
		t.Fatalf("the 60 s entry survived 61 s on the harness clock: %+v", res.Trace)
	}
	for _, body := range []string{`{"advance": "soon"}`, `{"advance": "-1s"}`, `{"advance": 61}`, `{"advance": "1s", "by": "x"}`,
		`not json`, ``} {
		status, got := send(t, http.MethodPost, clock, body)
		if status != 400 || got["error_code"] != runtime.CodeBadRequest {
			t.Errorf("advance with %q = %d %v, want 400 BAD_REQUEST", body, status, got)
		}
	}
	if _, got := send(t, http.MethodGet, clock, ""); got["now"] != "2026-01-01T00:01:01Z" {
		t.Fatalf("refused advances moved the clock to %v", got["now"])
	}
	// The longest duration fits once; a second would wrap the clock round.
	if status, _ := send(t, http.MethodPost, clock, `{"advance": "2562047h"}`); status != 200 {
		t.Fatalf("advance 2562047h = %d", status)
	}
	if status, got := send(t, http.MethodPost, clock, `{"advance": "2562047h"}`); status != 400 || got["error_code"] != runtime.CodeBadRequest {
		t.Fatalf("advance past the end of time = %d %v, want 400", status, got)
	}
}

func TestHarnessCallsAndEvents(t *testing.T) {
	h := harnessHost(t)
	h.CallHTTP("mail-client", "list_inbox", map[string]any{"account_id": "work"}, hosttest.RequestID("first"))
	h.CallHTTP("mail-client", "list_inbox", map[string]any{"account_id": "work"}, hosttest.RequestID("second"))
	h.CallHTTP("mail-client", "archive_message", map[string]any{"account_id": "work", "message_id": "m1"}, hosttest.RequestID("third"))
	h.CallHTTP("mail-client", "list_inbox", map[string]any{}, hosttest.RequestID("fourth"))

	status, got := send(t, http.MethodGet, h.URL()+"/v1/harness/calls?limit=3", "")
	calls, _ := got["calls"].([]any)
	if status != 200 || len(calls) != 3 {
		t.Fatalf("calls = %d %v", status, got)
	}
	var ids []string
	for _, c := range calls {
		ids = append(ids, c.(map[string]any)["request_id"].(string))
	}
	if !slices.Equal(ids, []string{"fourth", "third", "second"}) {
		t.Fatalf("calls, newest first = %v", ids)
	}
	archive := calls[1].(map[string]any)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range archive {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"app_id", "cache", "duration_ms", "error_code", "function", "request_id", "started_at", "status", "store", "upstream", "user_id"}
	if !slices.Equal(keys, want) {
		t.Fatalf("trace keys = %v, want %v", keys, want)
	}
	upstream := archive["upstream"].([]any)[0].(map[string]any)
	if archive["function"] != "archive_message" || archive["status"] != "success" || archive["app_id"] != "mail-client" ||
		upstream["service"] != "mail-service" || upstream["method"] != "POST" || upstream["path"] != "/v1/messages/archive" ||
		upstream["status"] != 200.0 {
		t.Fatalf("archive trace = %v", archive)
	}
	if hit := calls[2].(map[string]any)["cache"].(map[string]any); hit["hits"] != 1.0 || hit["misses"] != 0.0 {
		t.Fatalf("second call's cache = %v", hit)
	}
	if failed := calls[0].(map[string]any); failed["status"] != "error" || failed["error_code"] != runtime.CodeUnstructured {
		t.Fatalf("failed call = %v", failed)
	}

	status, got = send(t, http.MethodGet, h.URL()+"/v1/harness/events", "")
	events, _ := got["events"].([]any)
	if status != 200 || len(events) != 1 || events[0].(map[string]any)["event_type"] != "email.archived" {
		t.Fatalf("events = %d %v", status, got)
	}
	for _, path := range []string{"/v1/harness/calls?limit=0", "/v1/harness/calls?limit=x", "/v1/harness/events?limit=-2"} {
		if status, got := send(t, http.MethodGet, h.URL()+path, ""); status != 400 || got["error_code"] != runtime.CodeBadRequest {
			t.Errorf("GET %s = %d %v, want 400", path, status, got)
		}
	}
}

func TestHarnessCachePurge(t *testing.T) {
	h := harnessHost(t)
	h.CallHTTP("mail-client", "list_inbox", map[string]any{"account_id": "work"})
	h.CallHTTP("mail-client", "list_inbox", map[string]any{"account_id": "work"}, hosttest.AsUser("bob"))
	h.CallHTTP("mail-client", "list_inbox", map[string]any{"account_id": "home"}, hosttest.AsUser("bob"))

	purge := h.URL() + "/v1/harness/cache"
	if status, got := send(t, http.MethodDelete, purge+"?user_id=bob", ""); status != 200 || got["removed"] != 2.0 {
		t.Fatalf("purge bob = %d %v", status, got)
	}
	if left := h.CacheEntries(""); len(left) != 1 || left[0].Key != "inbox:work:INBOX:0" {
		t.Fatalf("left after purging bob: %v", left)
	}
	if status, got := send(t, http.MethodDelete, purge+"?user_id=", ""); status != 400 || got["error_code"] != runtime.CodeBadRequest {
		t.Fatalf("purge with an empty user_id = %d %v, want 400: it must not mean every user", status, got)
	}
	if _, got := send(t, http.MethodDelete, purge, ""); got["removed"] != 1.0 {
		t.Fatalf("purge all = %v", got)
	}
	if _, got := send(t, http.MethodDelete, purge, ""); got["removed"] != 0.0 {
		t.Fatalf("purge of an empty cache = %v", got)
	}
}

func TestHarnessIsOffByDefault(t *testing.T) {
	h, err := host.New(config.Default(), host.Options{Extensions: registry.List(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	if status, got := send(t, http.MethodPost, srv.URL+"/v1/harness/clock", `{"advance":"1h"}`); status != 404 || got["error_code"] != "NOT_FOUND" {
		t.Fatalf("harness clock without the harness = %d %v", status, got)
	}
	if h.Harness() != nil {
		t.Fatal("a host without harness.enabled has a harness")
	}
}

func TestHarnessListensOnlyOnLoopback(t *testing.T) {
	cfg := config.Default()
	cfg.Auth = config.Auth{Mode: config.AuthCallToken, Secrets: []string{"s"}}
	cfg.Harness.Enabled = true
	h, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := h.Run(context.Background(), l); err == nil || !strings.Contains(err.Error(), "harness") {
		t.Fatalf("Run on %s with the harness on = %v, want a refusal", l.Addr(), err)
	}
}

// The harness seeds, lists and clears a user's store documents, which the
// extension's calls then see.
func TestHarnessStore(t *testing.T) {
	for _, backend := range []string{"memory", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			h := hosttest.New(t, hosttest.Options{
				Extensions: []*runtime.Extension{mailclient.Extension()},
				Upstreams:  map[string]http.Handler{"mail-service": hosttest.JSON(nil)},
				Postgres:   backend == "postgres",
			})
			storeURL := h.URL() + "/v1/harness/store"
			status, doc := send(t, http.MethodPost, storeURL,
				`{"app":"mail-client","user_id":"ann","collection":"mail_accounts","id":"work","data":{"email":"ann@x.io","provider":"imap","active":true}}`)
			if status != 200 || doc["id"] != "work" || len(doc["etag"].(string)) != 64 {
				t.Fatalf("seed = %d %v", status, doc)
			}
			res := h.Call("mail-client", "list_accounts", map[string]any{}, hosttest.AsUser("ann"))
			if !res.OK() || !strings.Contains(string(res.Data), `"account_id":"work"`) {
				t.Fatalf("list_accounts after the seed = %s", res.JSON)
			}
			if m := get(t, h.URL()+"/metrics"); !strings.Contains(m, `exthost_store_operations_total{app="mail-client",collection="mail_accounts",op="query",outcome="ok"} 1`) {
				t.Errorf("the store operation is not in the metrics")
			}
			if status, got := send(t, http.MethodGet, storeURL+"?user_id=ann", ""); status != 200 || len(got["documents"].([]any)) != 1 {
				t.Fatalf("list = %d %v", status, got)
			}
			for name, body := range map[string]string{
				"undeclared collection": `{"app":"mail-client","user_id":"ann","collection":"nope","id":"x","data":{}}`,
				"data not an object":    `{"app":"mail-client","user_id":"ann","collection":"mail_accounts","id":"x","data":[1]}`,
				"missing id":            `{"app":"mail-client","user_id":"ann","collection":"mail_accounts","data":{}}`,
				"data of another type":  `{"app":"mail-client","user_id":"ann","collection":"mail_accounts","id":"x","data":{"email":5}}`,
				"unknown app":           `{"app":"nope","user_id":"ann","collection":"mail_accounts","id":"x","data":{}}`,
			} {
				if status, got := send(t, http.MethodPost, storeURL, body); status != 400 || got["error_code"] != "BAD_REQUEST" {
					t.Errorf("%s: %d %v", name, status, got)
				}
			}
			if status, got := send(t, http.MethodDelete, storeURL+"?user_id=ann", ""); status != 200 || got["removed"] != 1.0 {
				t.Fatalf("clear = %d %v", status, got)
			}
			if status, got := send(t, http.MethodGet, storeURL+"?user_id=ann", ""); status != 200 || len(got["documents"].([]any)) != 0 {
				t.Fatalf("list after clear = %d %v", status, got)
			}
			if status, _ := send(t, http.MethodGet, storeURL, ""); status != 400 {
				t.Fatalf("list without user_id = %d", status)
			}
		})
	}
}
