package tasks

import (
	"context"
	"sync"
	"time"
)

// MemoryOptions configures a Memory.
type MemoryOptions struct {
	// Now is the clock of expiries. Default time.Now.
	Now func() time.Time
}

// Memory keeps records in this process: the embedded default, for one
// replica.
type Memory struct {
	mu      sync.Mutex
	now     func() time.Time
	records map[string]memoryRecord
	writes  int
	ended   []func(string)
}

type memoryRecord struct {
	rec     Record
	expires time.Time
}

// NewMemory returns an empty Memory.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{now: opts.Now, records: make(map[string]memoryRecord)}
}

// Write implements Records.
func (m *Memory) Write(_ context.Context, rec Record, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if old, ok := m.records[rec.TaskID]; ok && now.Before(old.expires) && old.rec.Status.Final() {
		return false, nil
	}
	m.records[rec.TaskID] = memoryRecord{rec: rec, expires: now.Add(ttl)}
	if m.writes++; m.writes%1024 == 0 {
		for id, r := range m.records {
			if !now.Before(r.expires) {
				delete(m.records, id)
			}
		}
	}
	return true, nil
}

// Read implements Records.
func (m *Memory) Read(_ context.Context, id string) (Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[id]
	if !ok || !m.now().Before(r.expires) {
		return Record{}, false, nil
	}
	return r.rec, true, nil
}

// Announce implements Records: the pools listening on m hear it at once.
func (m *Memory) Announce(_ context.Context, id string) error {
	m.mu.Lock()
	listeners := m.ended
	m.mu.Unlock()
	for _, ended := range listeners {
		ended(id)
	}
	return nil
}

// Listen implements Records.
func (m *Memory) Listen(ended func(id string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ended = append(m.ended[:len(m.ended):len(m.ended)], ended)
}

// Close implements Records.
func (m *Memory) Close() error { return nil }
