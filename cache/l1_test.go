package cache_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

func newL1Replica(t *testing.T, addrs ...string) *l1Replica {
	t.Helper()
	rdb, err := cache.NewRedisClient(cache.RedisConfig{Addrs: addrs, Timeout: time.Second})
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

// serving waits until the replica's L1 answers reads of key (tracking is
// live and key is kept there).
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

// writers are the ways anything but this host changes an entry: each must
// be visible on the next read through the host's L1, on a single node and
// on a cluster. Redis tells the L1 (client tracking); the test waits for
// the outcome, bounded, never for a duration.
var writers = []struct {
	name string
	// change changes key through plain, a client of no host, and returns
	// the envelope key then holds (nil: none).
	change func(t *testing.T, ctx context.Context, plain redis.UniversalClient, key string) []byte
}{
	{"DEL", func(t *testing.T, ctx context.Context, plain redis.UniversalClient, key string) []byte {
		must(t, plain.Del(ctx, key).Err())
		return nil
	}},
	{"SET by another program", func(t *testing.T, ctx context.Context, plain redis.UniversalClient, key string) []byte {
		v := []byte(`{"model":"m","version":1,"data":{"by":"another program"}}`)
		must(t, plain.Set(ctx, key, v, time.Minute).Err())
		return v
	}},
	{"EXPIRE 1", func(t *testing.T, ctx context.Context, plain redis.UniversalClient, key string) []byte {
		must(t, plain.Expire(ctx, key, time.Second).Err())
		return nil // gone a second later, and the next read says so
	}},
	{"maxmemory eviction", func(t *testing.T, ctx context.Context, plain redis.UniversalClient, key string) []byte {
		forEachNode(t, ctx, plain, func(node *redis.Client) {
			used, err := node.Info(ctx, "memory").Result()
			must(t, err)
			limit := usedMemory(t, used) + 2<<20
			must(t, node.ConfigSet(ctx, "maxmemory-policy", "volatile-ttl").Err())
			must(t, node.ConfigSet(ctx, "maxmemory", strconv.FormatInt(limit, 10)).Err())
			t.Cleanup(func() { _ = node.ConfigSet(context.Background(), "maxmemory", "0").Err() })
		})
		// Keys without a TTL, in the entry's hash tag (so on its node): the
		// entry, the only key with a TTL, is the one evicted.
		tag := key[strings.Index(key, "{") : strings.Index(key, "}")+1]
		filler := bytes.Repeat([]byte("x"), 256<<10)
		for i := 0; plain.Exists(ctx, key).Val() == 1; i++ {
			if i == 200 {
				t.Fatal("the entry was never evicted")
			}
			_ = plain.Set(ctx, "filler:"+tag+":"+strconv.Itoa(i), filler, 0).Err() // OOM errors once full are fine
		}
		return nil
	}},
	{"CLIENT KILL of the tracking connection", func(t *testing.T, ctx context.Context, plain redis.UniversalClient, key string) []byte {
		forEachNode(t, ctx, plain, func(node *redis.Client) {
			must(t, node.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err())
		})
		// Changed while tracking is down: the L1 must not have kept it.
		v := []byte(`{"model":"m","version":1,"data":{"while":"tracking was down"}}`)
		must(t, plain.Set(ctx, key, v, time.Minute).Err())
		return v
	}},
	{"FLUSHALL", func(t *testing.T, ctx context.Context, plain redis.UniversalClient, key string) []byte {
		forEachNode(t, ctx, plain, func(node *redis.Client) { must(t, node.FlushAll(ctx).Err()) })
		return nil
	}},
}

// topologies start a Redis of each kind and return its addresses.
var topologies = map[string]func(t *testing.T) []string{
	"single": func(t *testing.T) []string { return []string{testredis.Start(t).Addr} },
	"cluster": func(t *testing.T) []string {
		if testing.Short() {
			t.Skip("skipping the cluster in -short mode")
		}
		return testredis.StartCluster(t).Addrs
	},
}

func TestL1FollowsEveryWriter(t *testing.T) {
	for _, name := range []string{"single", "cluster"} {
		t.Run(name, func(t *testing.T) {
			addrs := topologies[name](t)
			host := newL1Replica(t, addrs...)
			plain, err := cache.NewRedisClient(cache.RedisConfig{Addrs: addrs, Timeout: time.Second})
			must(t, err)
			t.Cleanup(func() { _ = plain.Close() })
			ctx := context.Background()
			for i, w := range writers {
				t.Run(w.name, func(t *testing.T) {
					// A user of its own per writer: on a cluster, the entries
					// spread over the masters.
					key := "extcache:{app:u" + strconv.Itoa(i) + "}:m:000000000000000" + strconv.Itoa(i)
					must(t, host.backend.SetValue(ctx, key, []byte(`{"model":"m","version":1,"data":{}}`), "decoded", time.Minute))
					host.serving(t, key)
					want := w.change(t, ctx, plain, key)
					testkit.WaitFor(t, 10*time.Second, "the next read to see the change", func() bool {
						e, ok, err := host.backend.GetValue(ctx, key)
						if err != nil {
							return false
						}
						if want == nil {
							return !ok
						}
						return ok && e.Value == nil && bytes.Equal(e.Envelope, want)
					})
					// Tracking is live again, and the L1 answers.
					must(t, host.backend.SetValue(ctx, key+"x", []byte(`{}`), "after", time.Minute))
					host.serving(t, key+"x")
				})
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// forEachNode runs f on the node, or on each master of a cluster.
func forEachNode(t *testing.T, ctx context.Context, rdb redis.UniversalClient, f func(*redis.Client)) {
	t.Helper()
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		must(t, c.ForEachMaster(ctx, func(_ context.Context, node *redis.Client) error { f(node); return nil }))
	case *redis.Client:
		f(c)
	}
}

func usedMemory(t *testing.T, info string) int64 {
	t.Helper()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			must(t, err)
			return n
		}
	}
	t.Fatal("no used_memory in INFO")
	return 0
}

// Redis tells every tracker of every write, its writer's too: the writer
// keeps the entry it wrote, since Redis holds that very envelope.
func TestL1KeepsItsOwnWrite(t *testing.T) {
	server := testredis.Start(t)
	r := newL1Replica(t, server.Addr)
	ctx := context.Background()
	const key = "extcache:{app:u}:m:0000000000000009"
	must(t, r.backend.SetValue(ctx, key, []byte(`{}`), "warm", time.Minute))
	r.serving(t, key) // tracking is live
	drain(r.invalidations)
	must(t, r.backend.SetValue(ctx, key, []byte(`{"v":2}`), "second", time.Minute))
	<-r.invalidations // Redis's word of this very write has been applied
	before := r.hits.Load()
	if e, ok, err := r.backend.GetValue(ctx, key); err != nil || !ok || e.Value != "second" || r.hits.Load() != before+1 {
		t.Fatalf("after its own write the L1 answers %+v %v %v (hits %d → %d)", e, ok, err, before, r.hits.Load())
	}
}

// A read on one replica after another replica's write returned sees the
// write, though the first still held the old entry in its L1 when the
// write began: the write waits until every replica's L1 has applied it
// (read-your-writes across replicas), on a single node and on a cluster,
// where the users' entries spread over the masters.
func TestL1ReadAfterAnotherReplicasWrite(t *testing.T) {
	for _, name := range []string{"single", "cluster"} {
		t.Run(name, func(t *testing.T) {
			addrs := topologies[name](t)
			writer, reader := newL1Replica(t, addrs...), newL1Replica(t, addrs...)
			ctx := context.Background()
			for i := range 30 {
				key := "extcache:{app:u" + strconv.Itoa(i%6) + "}:m:0000000000000042"
				envelope := []byte(`{"model":"m","version":1,"data":{"n":` + strconv.Itoa(i) + `}}`)
				must(t, writer.backend.SetValue(ctx, key, envelope, "written", time.Minute))
				e, ok, err := reader.backend.GetValue(ctx, key)
				if err != nil || !ok || !bytes.Equal(e.Envelope, envelope) {
					t.Fatalf("write %d: the other replica read %s %v %v, want %s", i, e.Envelope, ok, err, envelope)
				}
				if e.Keep != nil {
					e.Keep("read")
				}
				reader.serving(t, key) // it holds the entry when the next write begins
			}
			// And a delete.
			key := "extcache:{app:u0}:m:0000000000000042"
			must(t, writer.backend.Delete(ctx, []string{key}))
			if _, ok, err := reader.backend.GetValue(ctx, key); ok || err != nil {
				t.Fatalf("after the other replica's delete: found %v, %v", ok, err)
			}
		})
	}
}

// A replica that hears a fence request and never answers holds a write up
// only for the command timeout: the write still succeeds.
func TestL1FenceIsBoundedBySilentReplicas(t *testing.T) {
	server := testredis.Start(t)
	writer := newL1Replica(t, server.Addr)
	ctx := context.Background()
	const key = "extcache:{app:u}:m:0000000000000077"
	must(t, writer.backend.SetValue(ctx, key, []byte(`{}`), "warm", time.Minute))
	writer.serving(t, key) // tracking, and so the fence, is live

	// A subscriber of the fence channel that is no replica: counted by
	// PUBLISH, it never answers.
	silent := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { _ = silent.Close() })
	sub := silent.Subscribe(ctx, "exthost:l1:fence:v1")
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	must(t, writer.backend.SetValue(ctx, key, []byte(`{"v":2}`), "second", time.Minute))
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the write took %v: the fence is not bounded", took)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || !strings.HasPrefix(msg.Payload, "r ") {
		t.Fatalf("the silent subscriber heard %v %v, want a fence request", msg, err)
	}
}
