// Package cachetest gives tests the cache backends the product ships: every
// behaviour that touches the cache is tested on each of Kinds.
package cachetest

import (
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// Kinds names the backends: the in-process memory backend, and the shared
// Redis at REDIS_URL without and with the in-process L1.
var Kinds = []string{"memory", "redis", "redis-l1"}

// Backend returns a new backend of kind. A Redis backend is a client of the
// shared Redis (see testredis for what happens when it is missing).
func Backend(t testing.TB, kind string) cache.Backend {
	t.Helper()
	switch kind {
	case "memory":
		mem, err := cache.NewMemory(cache.MemoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return mem
	case "redis":
		return cache.NewRedis(testredis.Client(t), cache.RedisOptions{Timeout: time.Second})
	case "redis-l1":
		return cache.NewRedis(testredis.Client(t), cache.RedisOptions{Timeout: time.Second, L1Entries: 1000})
	}
	t.Fatalf("cachetest: unknown backend %q", kind)
	return nil
}

// User returns name on the memory backend, which is new for every test, and
// a user id no other test uses on the shared Redis, which outlives them.
func User(t testing.TB, kind, name string) string {
	if kind != "memory" {
		return testredis.UniqueID(t)
	}
	return name
}
