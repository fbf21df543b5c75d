package runtime

import (
	"context"
	"encoding/json"

	"github.com/imperalcloud/exthost/internal/recent"
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
// subscribers, tests and the harness. The zero value keeps nothing; use
// NewEventLog.
type EventLog struct{ ring *recent.Ring[Event] }

// NewEventLog returns a log that keeps the last limit events.
func NewEventLog(limit int) *EventLog { return &EventLog{ring: recent.New[Event](limit)} }

// Publish implements Publisher.
func (l *EventLog) Publish(_ context.Context, ev Event) {
	if l.ring != nil {
		l.ring.Add(ev)
	}
}

// Events returns the kept events, oldest first.
func (l *EventLog) Events() []Event {
	if l.ring == nil {
		return nil
	}
	return l.ring.Oldest()
}

// Last returns up to n kept events, newest first; n <= 0 means all.
func (l *EventLog) Last(n int) []Event {
	if l.ring == nil {
		return nil
	}
	return l.ring.Newest(n)
}

// Clear forgets the kept events.
func (l *EventLog) Clear() {
	if l.ring != nil {
		l.ring.Clear()
	}
}
