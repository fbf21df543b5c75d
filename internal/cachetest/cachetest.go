// Package cachetest gives tests the cache backends the product ships: every
// behaviour that touches the cache is tested on each of Kinds.
package cachetest

import (
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// Kinds names the backends: the in-process memory backend and the shared
// Redis at REDIS_URL.
var Kinds = []string{"memory", "redis"}

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
		return cache.NewRedis(testredis.Client(t), time.Second)
	}
	t.Fatalf("cachetest: unknown backend %q", kind)
	return nil
}

// User returns name on the memory backend, which is new for every test, and
// a user id no other test uses on the shared Redis, which outlives them.
func User(t testing.TB, kind, name string) string {
	if kind == "redis" {
		return testredis.UniqueID(t)
	}
	return name
}
