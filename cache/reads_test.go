package cache_test

import (
	"context"
	"testing"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/cachetest"
)

// A store that records reads lists each client's reads in order: model,
// key, hit, and the envelope's size when one was read; one that does not
// lists none.
func TestClientsListTheirReads(t *testing.T) {
	for _, name := range cachetest.Kinds {
		t.Run(name, func(t *testing.T) {
			for _, record := range []bool{true, false} {
				store := cache.NewStore(cachetest.Backend(t, name), cache.Options{RecordReads: record})
				t.Cleanup(func() { _ = store.Close() })
				models := cache.NewModels("mail")
				summary := cache.Register[inboxSummary](models, "inbox_summary")
				ctx := context.Background()
				user := cachetest.User(t, name, "u-reads")
				writer, _ := store.Client("mail", user, models)
				if _, _, err := summary.Get(ctx, writer, "k1"); err != nil {
					t.Fatal(err)
				}
				if err := summary.Set(ctx, writer, "k1", inboxSummary{Unread: 3}, 60e9); err != nil {
					t.Fatal(err)
				}
				reader, _ := store.Client("mail", user, models)
				if _, ok, err := summary.Get(ctx, reader, "k1"); err != nil || !ok {
					t.Fatalf("Get = %v %v", ok, err)
				}
				miss, hit := writer.Reads(), reader.Reads()
				if !record {
					if miss != nil || hit != nil {
						t.Fatalf("reads listed without RecordReads: %v %v", miss, hit)
					}
					continue
				}
				if len(miss) != 1 || miss[0] != (cache.Read{Model: "inbox_summary", Key: "k1"}) {
					t.Fatalf("the miss: %+v", miss)
				}
				if len(hit) != 1 || !hit[0].Hit || hit[0].Model != "inbox_summary" || hit[0].Key != "k1" {
					t.Fatalf("the hit: %+v", hit)
				}
				// Redis without the L1 sends the envelope; a value held
				// decoded in process has no size.
				if sized := hit[0].Bytes > 0; sized != (name == "redis") {
					t.Fatalf("the hit's size on %s: %d", name, hit[0].Bytes)
				}
			}
		})
	}
}
