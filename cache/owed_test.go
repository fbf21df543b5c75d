package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/testkit"
)

// deafBackend is a backend whose deletes fail while deaf is set, as a
// Redis that went away between a write's read and its invalidation.
type deafBackend struct {
	cache.Backend
	deaf atomic.Bool
}

func (b *deafBackend) Delete(ctx context.Context, keys []string) error {
	if b.deaf.Load() {
		return errors.New("deaf")
	}
	return b.Backend.Delete(ctx, keys)
}

// An invalidation the backend failed to make is owed: reads of the entry
// are misses in this process though the backend still holds it, and it is
// made once the backend answers again.
func TestFailedInvalidationIsOwed(t *testing.T) {
	mem, err := cache.NewMemory(cache.MemoryOptions{})
	must(t, err)
	backend := &deafBackend{Backend: mem}
	store := cache.NewStore(backend, cache.Options{BreakerFailures: 100})
	t.Cleanup(func() { _ = store.Close() })
	// Another process's view of the same entries.
	other := cache.NewStore(mem, cache.Options{})
	t.Cleanup(func() { _ = other.Close() })
	models := cache.NewModels("app")
	summary := cache.Register[struct{ N int }](models, "summary")
	client, err := store.Client("app", "u", models)
	must(t, err)
	ctx := context.Background()
	must(t, summary.Set(ctx, client, "k", struct{ N int }{1}, time.Minute))

	backend.deaf.Store(true)
	if err := client.Delete(ctx, "k"); err == nil {
		t.Fatal("a failed delete reported no error")
	}
	entries, err := other.Entries(ctx, "app", "u")
	must(t, err)
	if len(entries) != 1 {
		t.Fatalf("the backend holds %d entries, want the one whose drop failed", len(entries))
	}
	if _, ok, err := summary.Get(ctx, client, "k"); ok || err != nil {
		t.Fatalf("read of an entry whose invalidation is owed = %v, %v; want a miss", ok, err)
	}
	backend.deaf.Store(false)
	testkit.WaitFor(t, 5*time.Second, "the owed invalidation to be made", func() bool {
		entries, err := other.Entries(ctx, "app", "u")
		return err == nil && len(entries) == 0
	})
}

func TestHashTag(t *testing.T) {
	cases := map[string]string{
		"imperal:rpc:reply:abc":          "imperal:rpc:reply:abc",
		"reply:{user1}:x":                "user1",
		"a{}b":                           "a{}b",
		"a{b":                            "a{b",
		"{x}{y}":                         "x",
		"extcache:{app:u}:m:00000000042": "app:u",
	}
	for key, want := range cases {
		if got := cache.HashTag(key); got != want {
			t.Errorf("HashTag(%q) = %q, want %q", key, got, want)
		}
	}
}
