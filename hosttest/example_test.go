package hosttest_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/runtime"
)

// mailService is a canned mail-service: one inbox page, one archive.
func mailService() http.Handler {
	return hosttest.JSON(map[string]any{
		"GET /v1/inbox": map[string]any{
			"messages": []map[string]any{{"id": "m1", "from": "ann@example.com", "unread": true}},
			"total":    1, "has_more": false,
		},
		"GET /v1/unread":              map[string]any{"unread": 1, "accounts": []string{"work"}},
		"POST /v1/messages/archive":   map[string]any{"archived": 1},
		"POST /v1/messages/mark_read": map[string]any{"updated": 1},
	})
}

func mailHost(t hosttest.TB, opts hosttest.Options) *hosttest.Host {
	opts.Extensions = []*runtime.Extension{mailclient.Extension()}
	if opts.Upstreams == nil {
		opts.Upstreams = map[string]http.Handler{"mail-service": mailService()}
	}
	return hosttest.New(t, opts)
}

var inbox = map[string]any{"account_id": "work"}

// The second read of the inbox is a cache hit: the mail-service is asked
// once.
func Example_cacheHit() {
	t := hosttest.NewStandalone()
	defer t.Done()
	h := mailHost(t, hosttest.Options{})

	first := h.Call("mail-client", "list_inbox", inbox)
	second := h.Call("mail-client", "list_inbox", inbox)

	fmt.Println(first.Summary, "/", second.Summary)
	fmt.Println("cache misses, hits:", first.Trace.CacheMisses, second.Trace.CacheHits)
	fmt.Println("inbox requests:", len(h.Requests("mail-service")))
	for _, e := range h.CacheEntries(hosttest.DefaultUser().ImperalID) {
		fmt.Println(e)
	}
	// Output:
	// 1 message(s) in INBOX. / 1 message(s) in INBOX.
	// cache misses, hits: 1 1
	// inbox requests: 1
	// mail-client/test_user/inbox_page/inbox:work:INBOX:0 (1m0s, 242 bytes)
}

// A write invalidates what it changed: the next read is fresh, the result
// asks the sidebar to refresh, and the declared event is published.
func Example_writeInvalidates() {
	t := hosttest.NewStandalone()
	defer t.Done()
	h := mailHost(t, hosttest.Options{})

	h.Call("mail-client", "list_inbox", inbox)
	archived := h.Call("mail-client", "archive_message", map[string]any{"account_id": "work", "message_id": "m1"})
	fresh := h.Call("mail-client", "list_inbox", inbox)

	fmt.Println(archived.Summary, archived.RefreshPanels)
	for _, ev := range h.Events() {
		fmt.Println("event:", ev.EventType, string(ev.Data))
	}
	fmt.Println("fresh read: cache misses", fresh.Trace.CacheMisses, "upstream", fresh.Trace.Upstream[0].Path)
	// Output:
	// Archived 1 message(s). [sidebar]
	// event: email.archived {"archived":1,"message_id":"m1"}
	// fresh read: cache misses 1 upstream /v1/inbox
}

// The host's clock moves when the test says: an entry cached for 60 s is
// still there 59 s later and gone at 61 s, without sleeping.
func Example_ttlExpiry() {
	t := hosttest.NewStandalone()
	defer t.Done()
	h := mailHost(t, hosttest.Options{})

	h.Call("mail-client", "list_inbox", inbox)
	h.Advance(59 * time.Second)
	fmt.Println("after 59s, hits:", h.Call("mail-client", "list_inbox", inbox).Trace.CacheHits)
	h.Advance(2 * time.Second)
	fmt.Println("after 61s, misses:", h.Call("mail-client", "list_inbox", inbox).Trace.CacheMisses)
	fmt.Println("inbox requests:", len(h.Requests("mail-service")))
	// Output:
	// after 59s, hits: 1
	// after 61s, misses: 1
	// inbox requests: 2
}

// An upstream failure is a retryable error result, and nothing is cached:
// the next call asks the upstream again.
func Example_upstreamFailure() {
	t := hosttest.NewStandalone()
	defer t.Done()
	failing := hosttest.JSON(map[string]any{
		"GET /v1/inbox": hosttest.Reply{Status: http.StatusServiceUnavailable, Body: map[string]any{"error": "down"}},
	})
	h := mailHost(t, hosttest.Options{Upstreams: map[string]http.Handler{"mail-service": failing}})

	res := h.Call("mail-client", "list_inbox", inbox)
	fmt.Println(res.Status, res.ErrorCode, "retryable:", res.Retryable)
	fmt.Println("cached entries:", len(h.CacheEntries("")))
	h.Call("mail-client", "list_inbox", inbox)
	fmt.Println("inbox requests:", len(h.Requests("mail-service")))
	// Output:
	// error BACKEND_5XX retryable: true
	// cached entries: 0
	// inbox requests: 2
}

// With call tokens on, CallHTTP mints a token for each call; a token is
// good once, and only for its app and user.
func Example_callToken() {
	t := hosttest.NewStandalone()
	defer t.Done()
	h := mailHost(t, hosttest.Options{CallTokens: true})

	fmt.Println(h.CallHTTP("mail-client", "list_inbox", inbox).HTTPStatus)

	token := h.Token("mail-client", "test_user", time.Minute)
	once := h.CallHTTP("mail-client", "list_inbox", inbox, hosttest.WithToken(token))
	again := h.CallHTTP("mail-client", "list_inbox", inbox, hosttest.WithToken(token))
	fmt.Println(once.HTTPStatus, again.HTTPStatus, again.ErrorCode, again.Error)

	other := h.Token("mail-client", "someone_else", time.Minute)
	denied := h.CallHTTP("mail-client", "list_inbox", inbox, hosttest.WithToken(other))
	fmt.Println(denied.HTTPStatus, denied.ErrorCode, denied.Error)

	expiring := h.Token("mail-client", "test_user", time.Minute)
	h.Advance(time.Minute)
	expired := h.CallHTTP("mail-client", "list_inbox", inbox, hosttest.WithToken(expiring))
	fmt.Println(expired.HTTPStatus, expired.ErrorCode, expired.Error)
	// Output:
	// 200
	// 200 401 UNAUTHENTICATED call token replayed
	// 403 PERMISSION_DENIED user_id mismatch
	// 401 UNAUTHENTICATED call token expired
}
