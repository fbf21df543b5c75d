package runtime

import (
	"context"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/ctx"
)

// Model is a typed handle on one registered cache model: the only way a
// handler reads or writes the cache, so a value of an unregistered type
// cannot be stored. Every operation is scoped to the call's app and user.
//
// Values read through a Model are shared with other calls (the memory
// backend and the in-process layer hand out the value they stored, and
// concurrent misses share one fetch): treat them as read-only. hosttest
// fails a test whose handler changes one.
type Model[T any] struct {
	m *cache.Model[T]
}

// CacheModel registers a cache model of ext under name, holding values of
// the struct type T, and returns its typed handle (the SDK's
// @ext.cache_model). It panics when name is malformed or taken, or T is not
// a struct.
func CacheModel[T any](ext *Extension, name string) *Model[T] {
	ext.mustBeOpen("cache model " + name)
	return &Model[T]{m: cache.Register[T](ext.models, name)}
}

// Name returns the model's registered name.
func (m *Model[T]) Name() string { return m.m.Name() }

// Get returns the value stored under key for the caller, and whether there
// was one. A backend failure reads as a miss; the only errors are broken
// invariants (*cache.ContractError), reported before any I/O.
func (m *Model[T]) Get(c *ctx.Call, key string) (T, bool, error) {
	return m.m.Get(c, c.Cache(), key)
}

// Set stores v under key for the caller for ttl, a whole number of seconds
// in [5s, 300s]. It returns a *cache.ContractError, before any I/O, for a
// bad key or TTL or an envelope over 64 KiB, and the backend's error if
// the write failed.
func (m *Model[T]) Set(c *ctx.Call, key string, v T, ttl time.Duration) error {
	return m.m.Set(c, c.Cache(), key, v, ttl)
}

// GetOrFetch returns the caller's cached value for key, or on a miss calls
// fetch, stores its result for ttl and returns it.
//
// Concurrent misses of the same entry share one fetch, which outlives any
// one caller: fetch receives f, the call detached from every caller's
// cancellation and bounded by the call timeout. Use f, never the handler's
// call, inside fetch (f.HTTP().Get(f, ...)). A fetch error is returned and
// nothing is cached; a failed write is logged and the fresh value still
// returned.
func (m *Model[T]) GetOrFetch(c *ctx.Call, key string, ttl time.Duration, fetch func(f *ctx.Call) (T, error)) (T, error) {
	return m.m.GetOrFetch(c, c.Cache(), key, ttl, func(detached context.Context) (T, error) {
		return fetch(c.WithContext(detached))
	})
}
