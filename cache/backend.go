package cache

import (
	"context"
	"time"
)

// Backend stores envelopes by storage key. Implementations are safe for
// concurrent use; values passed to Set are not modified afterwards, and
// values returned by Get must not be modified by the caller.
type Backend interface {
	// Get returns the value under key and whether there was one.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes every key in one round trip; missing keys are no error.
	Delete(ctx context.Context, keys []string) error
	// Close releases the backend's resources.
	Close() error
}

// ValueBackend is a Backend that can keep decoded values in this process,
// next to their envelopes, so that a hit costs no decoding and, for a shared
// backend, no round trip. Such values are shared by every reader: see Model.
type ValueBackend interface {
	Backend
	// Resident returns the decoded value this process holds under key, if
	// any, reading nothing remote: a hit on it needs no circuit breaker.
	// A shared backend may first make sure the value is still current,
	// within ctx.
	Resident(ctx context.Context, key string) (value any, ok bool)
	// GetValue returns the entry under key and whether there was one.
	GetValue(ctx context.Context, key string) (Entry, bool, error)
	// SetValue stores value, with its envelope, under key for ttl.
	SetValue(ctx context.Context, key string, envelope []byte, value any, ttl time.Duration) error
}

// Entry is an entry as a ValueBackend returns it: the decoded value when
// this process holds it, else the envelope and, when the backend may keep
// the value decoded from it, Keep.
type Entry struct {
	// Value is the decoded value, or nil.
	Value any
	// Envelope is the stored envelope.
	Envelope []byte
	// Keep, when not nil, keeps the value decoded from Envelope for the
	// next reads.
	Keep func(value any)
}
