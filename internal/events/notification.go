package events

import (
	"encoding/json"
	"fmt"

	"github.com/imperalcloud/exthost/internal/pyjson"
	"github.com/imperalcloud/exthost/internal/recent"
)

// NotifyChannelPrefix starts the channel of a tenant's notifications.
const NotifyChannelPrefix = "imperal:notify:"

// Notification is the envelope of ctx notify (DESIGN §13), fields in the
// envelope's key order.
type Notification struct {
	UserID    string `json:"user_id"`
	TenantID  string `json:"tenant_id"`
	SourceApp string `json:"source_app"`
	Message   string `json:"message"`
	// Data is a JSON object.
	Data json.RawMessage `json:"data"`
	// Timestamp is RFC 3339 UTC.
	Timestamp string `json:"timestamp"`
}

// Encode returns the envelope as the event envelope is written: Python's
// json.dumps with its defaults.
func (n Notification) Encode() ([]byte, error) {
	out := make([]byte, 0, 160+len(n.Message)+len(n.Data))
	for _, kv := range [...]struct{ key, value string }{
		{`{"user_id": `, n.UserID}, {`, "tenant_id": `, n.TenantID},
		{`, "source_app": `, n.SourceApp}, {`, "message": `, n.Message},
	} {
		out = pyjson.AppendString(append(out, kv.key...), kv.value)
	}
	out = append(out, `, "data": `...)
	data := n.Data
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	out, err := pyjson.AppendJSON(out, data)
	if err != nil {
		return nil, fmt.Errorf("events: notification data: %w", err)
	}
	out = pyjson.AppendString(append(out, `, "timestamp": `...), n.Timestamp)
	return append(out, '}'), nil
}

// Notifier delivers notifications. Notify must not block; its failures
// are its own.
type Notifier interface {
	Notify(n Notification)
}

// Notifiers fans a notification out to each notifier in order.
type Notifiers []Notifier

// Notify implements Notifier.
func (ns Notifiers) Notify(n Notification) {
	for _, x := range ns {
		x.Notify(n)
	}
}

// NotificationLog keeps the most recent notifications in memory, for
// in-process subscribers and the harness.
type NotificationLog struct{ ring *recent.Ring[Notification] }

// NewNotificationLog returns a log that keeps the last limit notifications.
func NewNotificationLog(limit int) *NotificationLog {
	return &NotificationLog{ring: recent.New[Notification](limit)}
}

// Notify implements Notifier.
func (l *NotificationLog) Notify(n Notification) { l.ring.Add(n) }

// Last returns up to n kept notifications, newest first; n <= 0 means all.
func (l *NotificationLog) Last(n int) []Notification { return l.ring.Newest(n) }
