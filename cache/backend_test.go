package cache_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/internal/testredis"
)

func TestRedisKeyspaceIsHashTagged(t *testing.T) {
	rdb := testredis.Client(t)
	store := cache.NewStore(cache.NewRedis(rdb, cache.RedisOptions{Timeout: time.Second}), cache.Options{})
	models := cache.NewModels("mail-client")
	pages := cache.Register[inboxSummary](models, "inbox_page")
	user := testredis.UniqueID(t)
	client, _ := store.Client("mail-client", user, models)
	ctx := context.Background()
	if err := pages.Set(ctx, client, "inbox:a1:INBOX:0", inboxSummary{Unread: 1}, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("extcache:{mail-client:%s}:inbox_page:%s", user, "fbca64087b18aa0d")
	if want := cache.StorageKey("mail-client", user, "inbox_page", "inbox:a1:INBOX:0"); key != want {
		t.Fatalf("test key %s differs from StorageKey %s", key, want)
	}
	ttl, err := rdb.TTL(ctx, key).Result()
	if err != nil || ttl <= 50*time.Second || ttl > 60*time.Second {
		t.Fatalf("TTL(%s) = %v, %v; want the entry stored with a 60 s expiry", key, ttl, err)
	}
	raw, _ := rdb.Get(ctx, key).Result()
	if !strings.HasPrefix(raw, `{"model":"inbox_page","version":1,"data":{"unread":1,`) {
		t.Fatalf("stored value %s is not the envelope", raw)
	}
	// Cluster slot: the hash tag makes every entry of the user share one slot.
	other := cache.StorageKey("mail-client", user, "unread_summary", "unread:x")
	slotA, _ := rdb.ClusterKeySlot(ctx, key).Result()
	slotB, _ := rdb.ClusterKeySlot(ctx, other).Result()
	if slotA != slotB {
		t.Fatalf("slots %d and %d differ: entries of one user must share the hash tag's slot", slotA, slotB)
	}
}

func TestRedisOutageDegradesReadsToMisses(t *testing.T) {
	server := testredis.Start(t)
	rdb, err := cache.NewRedisClient(cache.RedisConfig{Addrs: []string{server.Addr}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	obs := newCountingObserver()
	store := cache.NewStore(cache.NewRedis(rdb, cache.RedisOptions{Timeout: 200 * time.Millisecond}), cache.Options{Logger: zap.New(core), Observer: obs})
	t.Cleanup(func() { _ = store.Close() })
	models := cache.NewModels("mail")
	summary := cache.Register[inboxSummary](models, "inbox_summary")
	client, _ := store.Client("mail", "u-1", models)
	fetches := 0
	fetch := func(context.Context) (inboxSummary, error) {
		fetches++
		return inboxSummary{Unread: fetches}, nil
	}

	ctx := context.Background()
	if _, err := summary.GetOrFetch(ctx, client, "k", time.Minute, fetch); err != nil {
		t.Fatal(err)
	}
	if got, _ := summary.GetOrFetch(ctx, client, "k", time.Minute, fetch); got.Unread != 1 || fetches != 1 {
		t.Fatalf("before the outage: %+v after %d fetches, want a hit", got, fetches)
	}

	server.Stop()
	for i := range 5 {
		// A deadline far below go-redis's defaults: a dead Redis must cost a
		// call milliseconds, not retries and seconds.
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		got, err := summary.GetOrFetch(callCtx, client, "k", time.Minute, fetch)
		cancel()
		if err != nil || got.Unread != 2+i {
			t.Fatalf("during the outage, call %d: %+v, %v; want a fresh fetch served uncached", i, got, err)
		}
		if _, ok, err := summary.Get(ctx, client, "k"); ok || err != nil {
			t.Fatalf("during the outage Get = %v, %v; want a miss, not an error", ok, err)
		}
	}
	if !store.Degraded() {
		t.Fatal("store not marked degraded during the outage")
	}
	// The circuit breaker is open: further calls do not ask Redis at all.
	_, _, _, errorsBefore := obs.counts()
	for range 20 {
		if _, err := summary.GetOrFetch(ctx, client, "k", time.Minute, fetch); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, errorsAfter := obs.counts(); errorsAfter != errorsBefore {
		t.Fatalf("%d more backend errors with the breaker open, want 0: Redis was still asked", errorsAfter-errorsBefore)
	}
	if n := logs.FilterMessageSnippet("cache backend failing").Len(); n != 1 {
		t.Fatalf("logged the outage %d times, want once per incident", n)
	}

	server.Restart()
	// Both go-redis (for dials) and the store's circuit breaker probe a dead
	// backend about once a second: wait for a probe to find it back.
	testkit.WaitFor(t, 5*time.Second, "the store to reach Redis again", func() bool { return store.Check(ctx) == nil })
	if _, err := summary.GetOrFetch(ctx, client, "k", time.Minute, fetch); err != nil {
		t.Fatal(err)
	}
	// Hits again once the recovery's grace is over (two cooldowns, while
	// every replica makes the invalidations it owes).
	testkit.WaitFor(t, 5*time.Second, "hits again after the recovery", func() bool {
		before := fetches
		_, err := summary.GetOrFetch(ctx, client, "k", time.Minute, fetch)
		return err == nil && fetches == before
	})
	if store.Degraded() {
		t.Fatal("store still degraded after Redis came back")
	}
	if logs.FilterMessageSnippet("cache backend recovered").Len() != 1 {
		t.Fatal("recovery not logged once")
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.degraded) != 2 || !obs.degraded[0] || obs.degraded[1] || obs.errors == 0 {
		t.Fatalf("observer saw degraded=%v errors=%d, want [true false] and errors", obs.degraded, obs.errors)
	}
}

// fakeClock is a test clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemoryTTLIsExact(t *testing.T) {
	clock := &fakeClock{now: fixedNow}
	mem, err := cache.NewMemory(cache.MemoryOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	store := cache.NewStore(mem, cache.Options{Now: clock.Now})
	models := cache.NewModels("mail")
	summary := cache.Register[inboxSummary](models, "inbox_summary")
	client, _ := store.Client("mail", "u", models)
	ctx := context.Background()
	if err := summary.Set(ctx, client, "k", inboxSummary{Unread: 1}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := summary.Get(ctx, client, "k"); !ok {
		t.Fatal("read-your-writes: the entry is not visible right after Set")
	}
	clock.Advance(5*time.Second - time.Nanosecond)
	if _, ok, _ := summary.Get(ctx, client, "k"); !ok {
		t.Fatal("entry expired before its TTL")
	}
	clock.Advance(time.Nanosecond)
	if _, ok, _ := summary.Get(ctx, client, "k"); ok {
		t.Fatal("entry still served at its TTL")
	}
	// A rewrite restarts the TTL.
	_ = summary.Set(ctx, client, "k", inboxSummary{Unread: 2}, 10*time.Second)
	clock.Advance(9 * time.Second)
	if got, ok, _ := summary.Get(ctx, client, "k"); !ok || got.Unread != 2 {
		t.Fatalf("rewritten entry = %+v, %v; want the new value within its new TTL", got, ok)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	mem, err := cache.NewMemory(cache.MemoryOptions{MaxEntries: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	ctx := context.Background()
	for i := range 5000 {
		_ = mem.Set(ctx, fmt.Sprint("k", i), []byte("v"), time.Minute)
	}
	mem.CleanUp()
	if n := mem.Len(); n > 100 {
		t.Fatalf("memory backend holds %d entries, bound is 100", n)
	}
	if _, err := cache.NewMemory(cache.MemoryOptions{MaxEntries: -1}); err == nil {
		t.Fatal("a negative bound was accepted")
	}
}
