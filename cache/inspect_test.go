package cache_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// inspectBackends are fresh backends of each kind; the Redis ones live in a
// namespace of the test's own, so a listing of every user is exact.
func inspectBackends(t *testing.T) map[string]func() cache.Backend {
	t.Helper()
	ns := testredis.UniqueID(t) + ":"
	return map[string]func() cache.Backend{
		"memory": func() cache.Backend {
			m, err := cache.NewMemory(cache.MemoryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return m
		},
		"redis": func() cache.Backend {
			return cache.NewRedis(testredis.Client(t), cache.RedisOptions{Namespace: ns})
		},
		"redis-l1": func() cache.Backend {
			return cache.NewRedis(testredis.Client(t), cache.RedisOptions{Namespace: ns, L1Entries: 100})
		},
	}
}

func TestEntriesAndPurge(t *testing.T) {
	users := []string{"ann", "b{o}b*", "a%7D", "ü"}
	for kind, newBackend := range inspectBackends(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			backend := newBackend()
			store := cache.NewStore(backend, cache.Options{KeyNames: 100, Now: func() time.Time { return fixedNow }})
			t.Cleanup(func() { _ = store.Close() })
			models := cache.NewModels("inspect")
			pages := cache.Register[inboxSummary](models, "inbox_page")
			counts := cache.Register[inboxSummary](models, "unread_summary")
			for _, user := range users {
				c, err := store.Client("inspect", user, models)
				if err != nil {
					t.Fatal(err)
				}
				if err := pages.Set(ctx, c, "inbox:work:INBOX:0", inboxSummary{Unread: 1}, time.Minute); err != nil {
					t.Fatal(err)
				}
				if err := counts.Set(ctx, c, "unread", inboxSummary{Unread: 2}, 30*time.Second); err != nil {
					t.Fatal(err)
				}
			}

			for _, user := range users {
				entries, err := store.Entries(ctx, "inspect", user)
				if err != nil || len(entries) != 2 {
					t.Fatalf("Entries(%q) = %v, %v", user, entries, err)
				}
				for _, e := range entries {
					wantKey, wantTTL := "inbox:work:INBOX:0", time.Minute
					if e.Model == "unread_summary" {
						wantKey, wantTTL = "unread", 30*time.Second
					}
					if e.UserID != user || e.AppID != "inspect" || e.Key != wantKey || e.TTL <= wantTTL-5*time.Second || e.TTL > wantTTL ||
						!strings.HasPrefix(string(e.Envelope), `{"model":"`+e.Model+`","version":1,"data":{`) ||
						e.StorageKey != cache.StorageKey("inspect", user, e.Model, wantKey) {
						t.Errorf("entry of %q = %+v (%s)", user, e, e.Envelope)
					}
				}
			}
			all, err := store.Entries(ctx, "inspect", "")
			if err != nil || len(all) != 2*len(users) {
				t.Fatalf("Entries of every user = %d, %v", len(all), err)
			}
			// A store that did not see the keys (another replica) names them
			// by hash only. It shares the backend: only the first closes it.
			blind := cache.NewStore(backend, cache.Options{})
			if seen, _ := blind.Entries(ctx, "inspect", "ann"); len(seen) != 2 || seen[0].Key != "" || len(seen[0].KeyHash) != 16 {
				t.Fatalf("entries through another store = %+v", seen)
			}

			if n, err := store.Purge(ctx, "inspect", "ann"); n != 2 || err != nil {
				t.Fatalf("Purge(ann) = %d, %v", n, err)
			}
			c, _ := store.Client("inspect", "ann", models)
			if _, ok, _ := pages.Get(ctx, c, "inbox:work:INBOX:0"); ok {
				t.Fatal("a purged entry still reads")
			}
			if n, err := store.Purge(ctx, "inspect", ""); n != 2*len(users)-2 || err != nil {
				t.Fatalf("Purge of every user = %d, %v", n, err)
			}
			if left, _ := store.Entries(ctx, "inspect", ""); len(left) != 0 {
				t.Fatalf("left after purging everyone: %v", left)
			}
		})
	}
}

// Backends in different namespaces of one Redis never meet.
func TestRedisNamespacesAreApart(t *testing.T) {
	ctx := context.Background()
	a := cache.NewRedis(testredis.Client(t), cache.RedisOptions{Namespace: testredis.UniqueID(t) + ":", L1Entries: 10})
	b := cache.NewRedis(testredis.Client(t), cache.RedisOptions{Namespace: testredis.UniqueID(t) + ":", L1Entries: 10})
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	key := cache.StorageKey("app", "u", "m", "k")
	if err := a.Set(ctx, key, []byte(`{}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Get(ctx, key); ok || err != nil {
		t.Fatalf("another namespace read the entry: %v %v", ok, err)
	}
	if _, ok, err := a.Get(ctx, key); !ok || err != nil {
		t.Fatalf("the writer's namespace lost the entry: %v %v", ok, err)
	}
	if found, _ := b.Scan(ctx, "extcache:"); len(found) != 0 {
		t.Fatalf("another namespace lists %v", found)
	}
	if err := a.Delete(ctx, []string{key}); err != nil {
		t.Fatal(err)
	}
	if found, _ := a.Scan(ctx, "extcache:"); len(found) != 0 {
		t.Fatalf("deleted entry still listed: %v", found)
	}
}
