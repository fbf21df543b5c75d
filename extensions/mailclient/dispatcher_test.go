package mailclient_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/cachetest"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/runtime"
)

// bareHost is mail-client on a bare dispatcher, in front of the reference
// mail-service over loopback HTTP. The benchmarks measure it: it has none
// of a test host's bookkeeping (traces, key names). And the stampede test
// needs what only it gives: the cache's miss events, as they happen.
type bareHost struct {
	d       *dispatch.Dispatcher
	mail    *mailSwitch
	backend cache.Backend
	misses  *missCounter
	user    ctx.User
}

func newBareHost(t testing.TB, backend string) *bareHost {
	t.Helper()
	h := &bareHost{mail: newMailSwitch(), backend: cachetest.Backend(t, backend), misses: &missCounter{},
		user: ctx.User{ImperalID: cachetest.User(t, backend, "demo"), TenantID: "default"}}
	service := httptest.NewServer(h.mail)
	t.Cleanup(service.Close)
	store := cache.NewStore(h.backend, cache.Options{Observer: h.misses})
	t.Cleanup(func() { _ = store.Close() })
	upstreams, err := httpclient.New(httpclient.Config{Services: map[string]string{"mail-service": service.URL}})
	if err != nil {
		t.Fatal(err)
	}
	h.d, err = dispatch.New(dispatch.Options{
		Extensions: []*runtime.Extension{mailclient.Extension()}, Cache: store, HTTP: upstreams,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.d.Close() })
	return h
}

func (h *bareHost) listInbox() dispatch.Request {
	return dispatch.Request{AppID: "mail-client", Function: "list_inbox",
		Params: json.RawMessage(`{"account_id":"work"}`), User: h.user, RequestID: "bench"}
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

func TestConcurrentMissesFetchOnce(t *testing.T) {
	for _, backend := range cachetest.Kinds {
		t.Run(backend, func(t *testing.T) {
			h := newBareHost(t, backend)
			const callers = 50
			gate := h.mail.hold()
			allMissed := h.misses.waitFor(callers)
			var wg sync.WaitGroup
			results := make([]runtime.Result, callers)
			for i := range callers {
				wg.Go(func() { _, results[i], _ = h.d.Call(context.Background(), h.listInbox(), nil) })
			}
			<-allMissed // every call has found the entry missing before the upstream answers
			close(gate)
			wg.Wait()
			if n := h.mail.reference.Requests()["/v1/inbox"]; n != 1 {
				t.Fatalf("%d concurrent cold calls made %d upstream requests, want 1", callers, n)
			}
			want, _ := results[0].MarshalJSON()
			for i, res := range results {
				if got, _ := res.MarshalJSON(); !res.OK() || string(got) != string(want) {
					t.Fatalf("call %d = %s", i, got)
				}
			}
		})
	}
}

// BenchmarkListInbox measures one list_inbox call through the dispatcher:
// the parameters' one pass, the call value, the cache read (and on a miss
// the upstream fetch from the reference mail-service over loopback HTTP,
// and the write), the handler, and the answer's JSON, into a reused buffer
// ("encoded": into a new one each call).
// Figures are in docs/performance.md.
func BenchmarkListInbox(b *testing.B) {
	for _, backend := range cachetest.Kinds {
		b.Run("hit/"+backend, func(b *testing.B) {
			h := newBareHost(b, backend)
			req := h.listInbox()
			if _, res, _ := h.d.Call(context.Background(), req, nil); !res.OK() {
				b.Fatalf("warm-up call: %+v", res)
			}
			var answer []byte // reused, as the server reuses its pooled buffers
			b.ReportAllocs()
			for b.Loop() {
				var res runtime.Result
				if answer, res, _ = h.d.Call(context.Background(), req, answer[:0]); !res.OK() {
					b.Fatalf("call: %+v", res)
				}
			}
		})
	}
	// With a new answer buffer per call, as a caller that keeps no pool.
	b.Run("hit/memory/encoded", func(b *testing.B) {
		h := newBareHost(b, "memory")
		req := h.listInbox()
		h.d.Call(context.Background(), req, nil)
		b.ReportAllocs()
		for b.Loop() {
			if answer, _, _ := h.d.Call(context.Background(), req, nil); len(answer) == 0 {
				b.Fatal("no answer")
			}
		}
	})
	b.Run("miss/memory", func(b *testing.B) {
		h := newBareHost(b, "memory")
		req := h.listInbox()
		entry := []string{cache.StorageKey("mail-client", h.user.ImperalID, "inbox_page", "inbox:work:INBOX:0")}
		b.ReportAllocs()
		for b.Loop() {
			// Dropping the entry costs the memory backend well under a microsecond.
			if err := h.backend.Delete(context.Background(), entry); err != nil {
				b.Fatal(err)
			}
			if _, res, tr := h.d.Call(context.Background(), req, nil); !res.OK() || tr.CacheMisses != 1 {
				b.Fatalf("call: %+v %+v", res, tr)
			}
		}
	})
}
