package runtime

import (
	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/store"
)

// Collection is a typed handle on one declared store collection (the
// SDK's ctx.store, typed): the only way a handler reaches its documents,
// every operation scoped to the call's app and user. Failures are
// *store.ConflictError (STORE_CONFLICT), *store.LimitError (STORE_LIMIT)
// and store.ErrUnavailable (STORE_UNAVAILABLE, retryable): return them and
// the call fails with their code.
type Collection[T any] struct {
	c *store.Collection[T]
}

// StoreCollection declares a store collection of ext under name, holding
// documents of the struct type T, and returns its typed handle. It panics
// when name is malformed (^[a-z][a-z0-9_]{0,63}$) or taken, or T is not a
// struct.
func StoreCollection[T any](ext *Extension, name string) *Collection[T] {
	ext.mustBeOpen("store collection " + name)
	return &Collection[T]{c: store.Register[T](ext.docs, name)}
}

// Name returns the collection's name.
func (c *Collection[T]) Name() string { return c.c.Name() }

// Create stores v as a new document with a generated id.
func (c *Collection[T]) Create(f *ctx.Call, v T) (store.Document[T], error) {
	return c.c.Create(f, f.Store(), v)
}

// CreateWithID stores v as a new document called id; an existing id is a
// conflict.
func (c *Collection[T]) CreateWithID(f *ctx.Call, id string, v T) (store.Document[T], error) {
	return c.c.CreateWithID(f, f.Store(), id, v)
}

// Get returns the caller's document id, and whether there is one.
func (c *Collection[T]) Get(f *ctx.Call, id string) (store.Document[T], bool, error) {
	return c.c.Get(f, f.Store(), id)
}

// Update replaces (or creates) the document id; with ifMatch, only when the
// stored etag is ifMatch, else it is a conflict and nothing is written.
func (c *Collection[T]) Update(f *ctx.Call, id string, v T, ifMatch string) (store.Document[T], error) {
	return c.c.Update(f, f.Store(), id, v, ifMatch)
}

// Delete removes the document id and reports whether it existed.
func (c *Collection[T]) Delete(f *ctx.Call, id string) (bool, error) {
	return c.c.Delete(f, f.Store(), id)
}

// Query returns a page of the caller's documents that q selects.
func (c *Collection[T]) Query(f *ctx.Call, q store.Query) (store.Page[T], error) {
	return c.c.Query(f, f.Store(), q)
}

// Count returns how many of the caller's documents match where.
func (c *Collection[T]) Count(f *ctx.Call, where map[string]any) (int, error) {
	return c.c.Count(f, f.Store(), where)
}
