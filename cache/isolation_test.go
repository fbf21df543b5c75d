package cache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/cachetest"
)

// TestIsolationProperty: over many random pairs of users and keys, on each
// backend and across two stores sharing one backend (two replicas), a user
// reads back only what that user wrote. User ids include the ones escaping
// must keep apart ("a}", "a%7D", "a:b" and "a", "b"…).
func TestIsolationProperty(t *testing.T) {
	tricky := []string{"a", "a}", "a%7D", "a%257D", "a:b", "a:", ":b", "{a}", "a*", "a b", "a\nb", "ü", "%C3%BC", "imp_u_1", "imp_u_10"}
	for _, kind := range cachetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			backend := cachetest.Backend(t, kind)
			// Two stores over one backend: two replicas of the host. They share
			// the backend, so only the first closes it.
			replicaA := cache.NewStore(backend, cache.Options{})
			replicaB := cache.NewStore(backend, cache.Options{})
			t.Cleanup(func() { _ = replicaA.Close() })
			models := cache.NewModels("app")
			m := cache.Register[inboxSummary](models, "m")
			run := cachetest.User(t, kind, "run") // namespaces this run on the shared Redis
			rng := rand.New(rand.NewPCG(1, 2))
			ctx := context.Background()
			user := func() string {
				if rng.IntN(2) == 0 {
					return run + tricky[rng.IntN(len(tricky))]
				}
				return fmt.Sprintf("%su%d", run, rng.IntN(20))
			}
			for i := range 300 {
				writer, reader := user(), user()
				key := fmt.Sprintf("k:%d", rng.IntN(5))
				stores := []*cache.Store{replicaA, replicaB}
				w, _ := stores[rng.IntN(2)].Client("app", writer, models)
				r, _ := stores[rng.IntN(2)].Client("app", reader, models)
				want := inboxSummary{Unread: i, LatestSubject: writer}
				if err := m.Set(ctx, w, key, want, time.Minute); err != nil {
					t.Fatal(err)
				}
				got, ok, err := m.Get(ctx, r, key)
				if err != nil {
					t.Fatal(err)
				}
				if writer == reader && (!ok || got != want) {
					t.Fatalf("%q did not read back its own write: %+v %v", writer, got, ok)
				}
				if writer != reader && ok && got.LatestSubject != reader {
					t.Fatalf("%q read %q's entry under %s", reader, got.LatestSubject, key)
				}
			}
		})
	}
}
