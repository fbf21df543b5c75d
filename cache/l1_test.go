package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// l1Replica is one host's view of a Redis: its own client and L1.
type l1Replica struct {
	backend       *cache.Redis
	hits          atomic.Int64
	invalidations chan struct{}
}

func newL1Replica(t *testing.T, addr string) *l1Replica {
	t.Helper()
	rdb, err := cache.NewRedisClient(cache.RedisConfig{Addrs: []string{addr}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := &l1Replica{invalidations: make(chan struct{}, 64)}
	r.backend = cache.NewRedis(rdb, cache.RedisOptions{Timeout: 200 * time.Millisecond, L1Entries: 100, Observer: r})
	t.Cleanup(func() { _ = r.backend.Close() })
	return r
}

// L1Hit implements cache.L1Observer.
func (r *l1Replica) L1Hit() { r.hits.Add(1) }

// L1Invalidation implements cache.L1Observer.
func (r *l1Replica) L1Invalidation() {
	select {
	case r.invalidations <- struct{}{}:
	default:
	}
}

// serving waits until the replica's L1 answers reads of key (its
// subscription is live and key is kept there).
func (r *l1Replica) serving(t *testing.T, key string) {
	t.Helper()
	ctx := context.Background()
	testkit.WaitFor(t, 5*time.Second, "the L1 to answer reads of "+key, func() bool {
		before := r.hits.Load()
		e, ok, err := r.backend.GetValue(ctx, key)
		if err == nil && ok && e.Keep != nil {
			e.Keep("decoded")
		}
		return r.hits.Load() > before
	})
}

func TestL1AnswersHitsAndHonoursAnnouncements(t *testing.T) {
	server := testredis.Start(t)
	a, b := newL1Replica(t, server.Addr), newL1Replica(t, server.Addr)
	ctx := context.Background()
	const key = "extcache:{app:u}:m:0000000000000001"

	if err := a.backend.SetValue(ctx, key, []byte(`{"model":"m","version":1,"data":{}}`), "decoded", time.Minute); err != nil {
		t.Fatal(err)
	}
	b.serving(t, key)
	before := b.hits.Load()
	for range 10 {
		if e, ok, err := b.backend.GetValue(ctx, key); err != nil || !ok || e.Value != "decoded" {
			t.Fatalf("GetValue = %+v %v %v", e, ok, err)
		}
	}
	if n := b.hits.Load() - before; n != 10 {
		t.Fatalf("%d of 10 reads answered in process", n)
	}

	// A rewrites: B drops the old value when the announcement arrives.
	drain(b.invalidations)
	if err := a.backend.SetValue(ctx, key, []byte(`{"model":"m","version":1,"data":{"v":2}}`), "second", time.Minute); err != nil {
		t.Fatal(err)
	}
	<-b.invalidations
	if e, ok, _ := b.backend.GetValue(ctx, key); !ok || e.Value == "decoded" {
		t.Fatalf("B serves the value A replaced: %+v", e)
	}

	// A deletes: B drops its copy when the announcement arrives.
	b.serving(t, key)
	drain(b.invalidations)
	if err := a.backend.Delete(ctx, []string{key}); err != nil {
		t.Fatal(err)
	}
	<-b.invalidations
	if _, ok, err := b.backend.GetValue(ctx, key); ok || err != nil {
		t.Fatalf("B still serves the entry A deleted: %v %v", ok, err)
	}
}

// drain empties a signal channel, so that the next receive is a new signal.
func drain(c chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func TestL1IsNotUsedWithoutItsSubscription(t *testing.T) {
	server := testredis.Start(t)
	r := newL1Replica(t, server.Addr)
	ctx := context.Background()
	const key = "extcache:{app:u}:m:0000000000000002"
	if err := r.backend.SetValue(ctx, key, []byte(`{}`), "kept", time.Minute); err != nil {
		t.Fatal(err)
	}
	r.serving(t, key)

	server.Stop() // announcements could now be missed: the L1 must not answer
	testkit.WaitFor(t, 5*time.Second, "the L1 to stop answering", func() bool {
		e, ok, _ := r.backend.GetValue(ctx, key)
		return !ok || e.Value != "kept"
	})
	server.Restart() // an empty Redis: write the entry again
	testkit.WaitFor(t, 5*time.Second, "Redis to take writes again", func() bool {
		return r.backend.SetValue(ctx, key, []byte(`{}`), "again", time.Minute) == nil
	})
	r.serving(t, key) // subscribed again, and the L1 answers once more
}
