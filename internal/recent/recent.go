// Package recent keeps the last items of a stream in a fixed-size ring, for
// the event log and the harness's call traces.
package recent

import "sync"

// Ring keeps the last items added to it. It is safe for concurrent use.
// The zero value keeps nothing; use New.
type Ring[T any] struct {
	mu    sync.Mutex
	items []T // a ring once full: next is the oldest
	next  int
	limit int
}

// New returns a ring that keeps the last limit items.
func New[T any](limit int) *Ring[T] { return &Ring[T]{limit: max(limit, 0)} }

// Add keeps v, forgetting the oldest item when the ring is full.
func (r *Ring[T]) Add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.limit == 0:
	case len(r.items) < r.limit:
		r.items = append(r.items, v)
	default:
		r.items[r.next] = v
		r.next = (r.next + 1) % r.limit
	}
}

// Oldest returns every kept item, oldest first.
func (r *Ring[T]) Oldest() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]T, 0, len(r.items))
	out = append(out, r.items[r.next:]...)
	return append(out, r.items[:r.next]...)
}

// Newest returns up to n kept items, newest first; n <= 0 means all.
func (r *Ring[T]) Newest(n int) []T {
	all := r.Oldest()
	if n <= 0 || n > len(all) {
		n = len(all)
	}
	out := make([]T, n)
	for i := range out {
		out[i] = all[len(all)-1-i]
	}
	return out
}

// Clear forgets every item.
func (r *Ring[T]) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items, r.next = nil, 0
}
