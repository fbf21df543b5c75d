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

// valueBackend is implemented by a backend in this process that can keep
// the decoded value next to its envelope, so that a hit costs no decoding.
// Such values are shared by every reader: see Model.
type valueBackend interface {
	// GetValue returns the value stored under key, its envelope, and
	// whether there was one. value is nil when the entry was stored as
	// bytes only.
	GetValue(key string) (value any, envelope []byte, ok bool)
	// SetValue stores value and its envelope under key for ttl.
	SetValue(key string, envelope []byte, value any, ttl time.Duration)
}
