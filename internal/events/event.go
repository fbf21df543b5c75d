// Package events is the host's event plumbing: the SDK's event envelope,
// encoded byte for byte as the SDK's fallback publisher encodes it, the
// in-process log, and the publisher that sends events beyond the process,
// to Redis on the SDK's channel imperal:events:<tenant_id>.
package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/imperalcloud/exthost/internal/pyjson"
	"github.com/imperalcloud/exthost/internal/recent"
)

// Event is the envelope published after a successful call of a function
// that declares an event (DESIGN §3), fields in the envelope's key order.
type Event struct {
	EventType string `json:"event_type"`
	// Data is the call's result data, a JSON object.
	Data json.RawMessage `json:"data"`
	// SourceApp is the app id of the extension that published it.
	SourceApp string `json:"source_app"`
	UserID    string `json:"user_id"`
	TenantID  string `json:"tenant_id"`
	// Timestamp is RFC 3339 UTC, the host's addition to the SDK's envelope.
	Timestamp string `json:"timestamp"`
}

// Encode returns the envelope as the SDK's publish_event_fallback writes
// it, Python's json.dumps with its defaults (", " and ": " separators,
// non-ASCII escaped), with the timestamp as its last key.
func (e Event) Encode() ([]byte, error) {
	out := make([]byte, 0, 128+len(e.Data))
	out = append(out, `{"event_type": `...)
	out = pyjson.AppendString(out, e.EventType)
	out = append(out, `, "data": `...)
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	out, err := pyjson.AppendJSON(out, data)
	if err != nil {
		return nil, fmt.Errorf("events: data: %w", err)
	}
	for _, kv := range [...]struct{ key, value string }{
		{`, "source_app": `, e.SourceApp}, {`, "user_id": `, e.UserID},
		{`, "tenant_id": `, e.TenantID}, {`, "timestamp": `, e.Timestamp},
	} {
		out = pyjson.AppendString(append(out, kv.key...), kv.value)
	}
	return append(out, '}'), nil
}

// Publisher delivers events. Publish is called on the request path after the
// call has succeeded: it must not block, and its failures are its own (log
// them); they never fail the call.
type Publisher interface {
	Publish(ctx context.Context, ev Event)
}

// Publishers fans an event out to each publisher in order.
type Publishers []Publisher

// Publish implements Publisher.
func (ps Publishers) Publish(ctx context.Context, ev Event) {
	for _, p := range ps {
		p.Publish(ctx, ev)
	}
}

// Log keeps the most recent events in memory, for in-process subscribers,
// tests and the harness.
type Log struct{ ring *recent.Ring[Event] }

// NewLog returns a log that keeps the last limit events.
func NewLog(limit int) *Log { return &Log{ring: recent.New[Event](limit)} }

// Publish implements Publisher.
func (l *Log) Publish(_ context.Context, ev Event) { l.ring.Add(ev) }

// Events returns the kept events, oldest first.
func (l *Log) Events() []Event { return l.ring.Oldest() }

// Last returns up to n kept events, newest first; n <= 0 means all.
func (l *Log) Last(n int) []Event { return l.ring.Newest(n) }

// Clear forgets the kept events.
func (l *Log) Clear() { l.ring.Clear() }
