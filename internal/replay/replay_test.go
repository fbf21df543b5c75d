package replay_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/imperalcloud/exthost/internal/replay"
	"github.com/imperalcloud/exthost/internal/testredis"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSet(t *testing.T, opts replay.Options) *replay.Set {
	t.Helper()
	s, err := replay.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Two sets on one Redis share the claims, under the prefix and for the TTL.
func TestClaimsAreSharedThroughRedis(t *testing.T) {
	rdb := testredis.Client(t)
	prefix := "replay-test:" + testredis.UniqueID(t) + ":"
	a, b := newSet(t, replay.Options{Redis: rdb, Prefix: prefix}), newSet(t, replay.Options{Redis: rdb, Prefix: prefix})
	ctx := context.Background()
	t.Cleanup(func() { rdb.Del(ctx, prefix+"id-1") })
	if !a.Claim(ctx, "id-1", time.Minute) {
		t.Fatal("a fresh id was refused")
	}
	if b.Claim(ctx, "id-1", time.Minute) || a.Claim(ctx, "id-1", time.Minute) {
		t.Fatal("an id claimed twice")
	}
	if ttl := rdb.TTL(ctx, prefix+"id-1").Val(); ttl <= 50*time.Second || ttl > time.Minute {
		t.Fatalf("TTL %s, want a minute", ttl)
	}
	if !b.Claim(ctx, "id-2", 0) { // under a second is a second
		t.Fatal("id-2 refused")
	}
	rdb.Del(ctx, prefix+"id-2")
}

// While Redis fails, claims are made in process, counted, and still single
// use; an id claimed so is refused after Redis is back too.
func TestOutageFallsBackInProcess(t *testing.T) {
	srv := testredis.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	fallbacks := 0
	s := newSet(t, replay.Options{Redis: rdb, Prefix: "p:", Fallback: func() { fallbacks++ }})
	ctx := context.Background()

	srv.Stop()
	if !s.Claim(ctx, "during", time.Minute) || fallbacks != 1 {
		t.Fatalf("claim during the outage refused, or not counted (%d)", fallbacks)
	}
	if s.Claim(ctx, "during", time.Minute) {
		t.Fatal("replayed during the outage")
	}
	srv.Restart()
	_ = rdb.Ping(ctx).Err() // a connection of before the restart may fail once
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis after the restart: %v", err)
	}
	if s.Claim(ctx, "during", time.Minute) {
		t.Fatal("an id claimed during the outage was taken again after it")
	}
	if !s.Claim(ctx, "after", time.Minute) || s.Claim(ctx, "after", time.Minute) {
		t.Fatal("claims after the outage are not single use")
	}
}

// Without Redis the set is the process's own.
func TestInProcessOnly(t *testing.T) {
	s := newSet(t, replay.Options{})
	ctx := context.Background()
	if !s.Claim(ctx, "x", time.Second) || s.Claim(ctx, "x", time.Second) {
		t.Fatal("not single use")
	}
}

// An id claimed for an owner is granted again to that owner (a retry of
// the call that claimed it) and to nobody else, in Redis and in process;
// an id claimed for no owner is granted once.
func TestClaimForOwner(t *testing.T) {
	rdb := testredis.Client(t)
	prefix := "replay-test:" + testredis.UniqueID(t) + ":"
	ctx := context.Background()
	sets := map[string]func() *replay.Set{
		"redis":      func() *replay.Set { return newSet(t, replay.Options{Redis: rdb, Prefix: prefix}) },
		"in process": func() *replay.Set { return newSet(t, replay.Options{}) },
	}
	steps := []struct {
		id, owner string
		want      bool
	}{
		{"owned", "r-1", true},
		{"owned", "r-1", true}, // its retry
		{"owned", "r-2", false},
		{"owned", "", false},
		{"plain", "", true},
		{"plain", "", false},
		{"plain", "r-1", false},
	}
	for name, newOne := range sets {
		t.Run(name, func(t *testing.T) {
			s := newOne()
			for i, st := range steps {
				if got := s.ClaimFor(ctx, name+st.id, st.owner, time.Minute); got != st.want {
					t.Fatalf("step %d: ClaimFor(%s, %q) = %v, want %v", i, st.id, st.owner, got, st.want)
				}
			}
		})
	}
	t.Cleanup(func() { rdb.Del(ctx, prefix+"redisowned", prefix+"redisplain") })
}
