package runtime

import (
	"context"
	"encoding/json"
	"sync"
)

// Event is the SDK's event envelope, published after a successful call of a
// function that declares an event.
type Event struct {
	EventType string `json:"event_type"`
	// Timestamp is RFC 3339 UTC.
	Timestamp string `json:"timestamp"`
	UserID    string `json:"user_id"`
	TenantID  string `json:"tenant_id"`
	// Data is the call's result data.
	Data json.RawMessage `json:"data"`
}

// Publisher delivers events. Publish is called on the request path after the
// call has succeeded: it must not block, and its failures are its own (log
// them); they never fail the call.
type Publisher interface {
	Publish(ctx context.Context, ev Event)
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, ev Event)

// Publish implements Publisher.
func (f PublisherFunc) Publish(ctx context.Context, ev Event) { f(ctx, ev) }

// Publishers fans an event out to each publisher in order.
type Publishers []Publisher

// Publish implements Publisher.
func (ps Publishers) Publish(ctx context.Context, ev Event) {
	for _, p := range ps {
		p.Publish(ctx, ev)
	}
}

// EventLog keeps the most recent events in memory, for in-process
// subscribers and tests. The zero value keeps nothing; use NewEventLog.
type EventLog struct {
	mu     sync.Mutex
	events []Event
	limit  int
}

// NewEventLog returns a log that keeps the last limit events.
func NewEventLog(limit int) *EventLog { return &EventLog{limit: limit} }

// Publish implements Publisher.
func (l *EventLog) Publish(_ context.Context, ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit <= 0 {
		return
	}
	if len(l.events) == l.limit {
		l.events = append(l.events[:0], l.events[1:]...)
	}
	l.events = append(l.events, ev)
}

// Events returns the kept events, oldest first.
func (l *EventLog) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}
