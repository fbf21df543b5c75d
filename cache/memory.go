package cache

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/imperalcloud/exthost/internal/clock"
	"github.com/maypok86/otter/v2"
)

// DefaultMaxEntries bounds the memory backend when MemoryOptions leaves it unset.
const DefaultMaxEntries = 100_000

// MemoryOptions configures the in-memory backend.
type MemoryOptions struct {
	// MaxEntries bounds the number of entries; past it the least valuable
	// are evicted (W-TinyLFU). Default DefaultMaxEntries.
	MaxEntries int
	// Now is the clock that expires entries. Default: the real clock, with a
	// background clean-up each second. A custom clock expires entries exactly
	// when it passes their deadline, which lets tests advance time instead of
	// sleeping.
	Now func() time.Time
}

// Memory is the in-process backend: bounded, TTL-exact (an entry is gone the
// moment its TTL has passed, whatever the clean-up schedule) and
// read-your-writes. It is the dev server's default; it is not shared between
// processes. It is built on otter, a W-TinyLFU cache with per-entry expiry.
//
// Next to each envelope it keeps the value decoded from it, so a hit through
// a Model costs no decoding.
type Memory struct {
	entries *otter.Cache[string, memoryEntry]
}

type memoryEntry struct {
	envelope []byte
	ttl      time.Duration
	value    any      // the value the envelope holds, when stored with it: read with no indirection
	decoded  *decoded // else the value once first read
}

// held returns the entry's decoded value, if known.
func (e memoryEntry) held() (any, bool) {
	if e.value != nil {
		return e.value, true
	}
	if e.decoded != nil {
		if v := e.decoded.value.Load(); v != nil {
			return *v, true
		}
	}
	return nil, false
}

// decoded holds the decoded value of an entry stored as bytes alone,
// filled when it is first read, without rewriting (and so re-timing) the
// entry.
type decoded struct{ value atomic.Pointer[any] }

// NewMemory returns a memory backend.
func NewMemory(opts MemoryOptions) (*Memory, error) {
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("cache: memory max entries must be positive, got %d", opts.MaxEntries)
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	o := &otter.Options[string, memoryEntry]{
		MaximumSize: opts.MaxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, memoryEntry]) time.Duration {
			return e.Value.ttl
		}),
	}
	if opts.Now != nil {
		o.Clock = clock.Func(opts.Now)
	}
	entries, err := otter.New(o)
	if err != nil {
		return nil, fmt.Errorf("cache: memory backend: %w", err)
	}
	return &Memory{entries: entries}, nil
}

// Get implements Backend.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	e, ok := m.entries.GetIfPresent(key)
	return e.envelope, ok, nil
}

// Set implements Backend.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.entries.Set(key, memoryEntry{envelope: value, ttl: ttl, decoded: &decoded{}})
	return nil
}

// Resident implements ValueBackend.
func (m *Memory) Resident(_ context.Context, key string) (any, bool) {
	e, ok := m.entries.GetIfPresent(key)
	if !ok {
		return nil, false
	}
	return e.held()
}

// GetValue implements ValueBackend. An entry stored as bytes only is
// decoded once: Keep attaches the decoded value to it.
func (m *Memory) GetValue(_ context.Context, key string) (Entry, bool, error) {
	e, ok := m.entries.GetIfPresent(key)
	if !ok {
		return Entry{}, false, nil
	}
	if v, ok := e.held(); ok {
		return Entry{Value: v, Envelope: e.envelope}, true, nil
	}
	return Entry{Envelope: e.envelope, Keep: func(v any) { e.decoded.value.Store(&v) }}, true, nil
}

// SetValue implements ValueBackend.
func (m *Memory) SetValue(_ context.Context, key string, envelope []byte, value any, ttl time.Duration) error {
	e := memoryEntry{envelope: envelope, ttl: ttl, value: value}
	if value == nil {
		e.decoded = &decoded{}
	}
	m.entries.Set(key, e)
	return nil
}

// Delete implements Backend.
func (m *Memory) Delete(_ context.Context, keys []string) error {
	for _, k := range keys {
		m.entries.Invalidate(k)
	}
	return nil
}

// Len returns the number of live entries, approximately.
func (m *Memory) Len() int { return m.entries.EstimatedSize() }

// CleanUp runs pending maintenance (evictions, expiry) now rather than on
// the next write or clean-up tick.
func (m *Memory) CleanUp() { m.entries.CleanUp() }

// Close stops the clean-up goroutine and drops every entry.
func (m *Memory) Close() error {
	m.entries.StopAllGoroutines()
	m.entries.InvalidateAll()
	return nil
}

// Scan implements Scanner.
func (m *Memory) Scan(_ context.Context, prefix string) ([]Stored, error) {
	var found []Stored
	for key := range m.entries.Keys() {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		// Quietly: looking must not make an entry more valuable to keep.
		if e, ok := m.entries.GetEntryQuietly(key); ok && !e.HasExpired() {
			st := Stored{StorageKey: key, TTL: e.ExpiresAfter(), Envelope: e.Value.envelope}
			st.Value, _ = e.Value.held()
			found = append(found, st)
		}
	}
	return found, nil
}
