package mailclient_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/imperalcloud/exthost/internal/cachetest"
	"github.com/imperalcloud/exthost/runtime"
)

// BenchmarkListInbox measures one list_inbox call through the dispatcher:
// parameter validation and decoding, the call context, the cache read (and
// on a miss the upstream fetch from the reference mail-service over
// loopback HTTP, and the write), the handler, and the result
// checked for the wire. "encoded" adds the ActionResult's JSON encoding.
// Figures are in docs/performance.md.
func BenchmarkListInbox(b *testing.B) {
	for _, backend := range cachetest.Kinds {
		b.Run("hit/"+backend, func(b *testing.B) {
			h := newHost(b, backend)
			req := runtime.Request{AppID: "mail-client", Function: "list_inbox",
				Params: json.RawMessage(`{"account_id":"work"}`), User: h.user, RequestID: "bench"}
			if res, _ := h.d.Call(context.Background(), req); !res.OK() {
				b.Fatalf("warm-up call: %+v", res)
			}
			b.ReportAllocs()
			for b.Loop() {
				if res, _ := h.d.Call(context.Background(), req); !res.OK() {
					b.Fatalf("call: %+v", res)
				}
			}
		})
	}
	b.Run("hit/memory/encoded", func(b *testing.B) {
		h := newHost(b, "memory")
		req := runtime.Request{AppID: "mail-client", Function: "list_inbox",
			Params: json.RawMessage(`{"account_id":"work"}`), User: h.user, RequestID: "bench"}
		h.d.Call(context.Background(), req)
		b.ReportAllocs()
		for b.Loop() {
			res, _ := h.d.Call(context.Background(), req)
			if _, err := res.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("miss/memory", func(b *testing.B) {
		h := newHost(b, "memory")
		req := runtime.Request{AppID: "mail-client", Function: "list_inbox",
			Params: json.RawMessage(`{"account_id":"work"}`), User: h.user, RequestID: "bench"}
		entry := []string{hashedKey(h.user.ImperalID, "inbox_page", "inbox:work:INBOX:0")}
		b.ReportAllocs()
		for b.Loop() {
			// Dropping the entry costs the memory backend well under a microsecond.
			if err := h.backend.Delete(context.Background(), entry); err != nil {
				b.Fatal(err)
			}
			if res, tr := h.d.Call(context.Background(), req); !res.OK() || tr.CacheMisses != 1 {
				b.Fatalf("call: %+v %+v", res, tr)
			}
		}
	})
}
