package calltoken

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// TestReplayAcrossVerifiersSharedRedis: two replicas share the replay set
// through Redis, under the SDK's key and TTL.
func TestReplayAcrossVerifiersSharedRedis(t *testing.T) {
	rdbA, rdbB := testredis.Client(t), testredis.Client(t)
	clk := newFakeClock(testNow)
	var fallbacks fallbackCounter
	a := newTestVerifier(t, clk, Options{Redis: rdbA, Observer: &fallbacks})
	b := newTestVerifier(t, clk, Options{Redis: rdbB, Observer: &fallbacks})

	c := clk.claims("chat_fn", "mail", "u-123", 120)
	key := ReplayKeyPrefix + c.Jti
	t.Cleanup(func() { rdbA.Del(context.Background(), key) })
	tok := Mint(c, testSecret)

	if _, err := verify(t, a, tok, "mail", "u-123"); err != nil {
		t.Fatalf("verifier A: %v", err)
	}
	_, err := verify(t, b, tok, "mail", "u-123")
	wantReason(t, err, ReasonReplayed)

	ctx := context.Background()
	if val, err := rdbA.Get(ctx, key).Result(); err != nil || val != "1" {
		t.Fatalf("GET %s = %q, %v; want \"1\"", key, val, err)
	}
	if ttl, err := rdbA.TTL(ctx, key).Result(); err != nil || ttl <= 110*time.Second || ttl > 120*time.Second {
		t.Fatalf("TTL %s = %v, %v; want about 120s (exp - now)", key, ttl, err)
	}
	if fallbacks != 0 {
		t.Fatalf("ReplayFallback called %d times with Redis up", fallbacks)
	}
}

// TestRedisOutageFallsBackLocally: with Redis down, tokens still verify,
// replays on this verifier are still refused, each local claim is counted
// and the outage is logged once; after it, jtis claimed locally stay used.
func TestRedisOutageFallsBackLocally(t *testing.T) {
	srv := testredis.Start(t)
	rdb, err := cache.NewRedisClient(cache.RedisConfig{Addrs: []string{srv.Addr}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	core, logs := observer.New(zapcore.InfoLevel)
	clk := newFakeClock(testNow)
	var fallbacks fallbackCounter
	v := newTestVerifier(t, clk, Options{Redis: rdb, Logger: zap.New(core), Observer: &fallbacks})
	mint := func() string { return Mint(clk.claims("chat_fn", "mail", "u", 120), testSecret) }
	mustVerify := func(step, tok string) {
		t.Helper()
		if _, err := verify(t, v, tok, "mail", "u"); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	warnings := func() int { return logs.FilterLevelExact(zapcore.WarnLevel).Len() }

	mustVerify("redis up", mint())
	if fallbacks != 0 || logs.Len() != 0 {
		t.Fatalf("fallbacks %d, logs %v with Redis up", fallbacks, logs.All())
	}

	srv.Stop()
	during := mint()
	mustVerify("redis down", during)
	_, err = verify(t, v, during, "mail", "u")
	wantReason(t, err, ReasonReplayed)
	mustVerify("redis down, another token", mint())
	if fallbacks != 2 {
		t.Fatalf("ReplayFallback called %d times, want 2 (one per local claim)", fallbacks)
	}
	if n := warnings(); n != 1 {
		t.Fatalf("%d warnings during the outage, want 1: %v", n, logs.All())
	}

	srv.Restart()
	mustVerify("redis back", mint())
	if n := logs.FilterMessage("call token replay store (redis) recovered").Len(); n != 1 {
		t.Fatalf("%d recovery messages, want 1: %v", n, logs.All())
	}
	// Redis never saw this jti, but the verifier remembers it.
	_, err = verify(t, v, during, "mail", "u")
	wantReason(t, err, ReasonReplayed)
	if fallbacks != 2 || warnings() != 1 {
		t.Fatalf("after recovery: fallbacks %d, warnings %d", fallbacks, warnings())
	}
}

// fallbackCounter counts the local claims a verifier reports.
type fallbackCounter int

// ReplayFallback implements Observer.
func (c *fallbackCounter) ReplayFallback() { *c++ }
