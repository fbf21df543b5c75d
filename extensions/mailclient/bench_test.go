package mailclient_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/imperalcloud/exthost/internal/cachetest"
	"github.com/imperalcloud/exthost/runtime"
)

// BenchmarkListInbox measures one list_inbox call through the dispatcher:
// parameter validation and decoding, the call context, the cache read (and
// on a miss the upstream fetch and write), the handler, and the result
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
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			req := runtime.Request{AppID: "mail-client", Function: "list_inbox",
				Params: json.RawMessage(`{"account_id":"a` + strconv.Itoa(i) + `"}`), User: h.user, RequestID: "bench"}
			if res, _ := h.d.Call(context.Background(), req); !res.OK() {
				b.Fatalf("call: %+v", res)
			}
		}
	})
}
