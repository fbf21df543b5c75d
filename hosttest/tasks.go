package hosttest

import (
	"context"
	"encoding/json"
	"time"

	"github.com/imperalcloud/exthost/internal/events"
)

// Task is a background task as GET /v1/tasks/{id} shows it.
type Task struct {
	TaskID   string
	Function string
	// Status is running, success, error or cancelled.
	Status string
	// Percent and Message are its last progress report.
	Percent float64
	Message string
	// Result is its ActionResult once it has ended; its JSON is nil before.
	Result Result
}

// Task returns the record of task id, failing the test when there is none.
func (h *Host) Task(id string) Task {
	h.t.Helper()
	rec, ok, err := h.host.Dispatcher().Tasks().Get(context.Background(), id)
	if err != nil || !ok {
		h.t.Fatalf("hosttest: task %s: found %v, %v", id, ok, err)
	}
	t := Task{TaskID: rec.TaskID, Function: rec.Function, Status: string(rec.Status),
		Percent: rec.Progress.Percent, Message: rec.Progress.Message}
	if rec.Status.Final() {
		t.Result = h.decode(rec.Result)
	}
	return t
}

// WaitTask waits until task id has ended, for up to a minute, and returns
// its record.
func (h *Host) WaitTask(id string) Task {
	h.t.Helper()
	select {
	case <-h.host.Dispatcher().Tasks().Done(id):
	case <-time.After(time.Minute):
		h.t.Fatalf("hosttest: task %s still running after a minute", id)
	}
	return h.Task(id)
}

// CancelTask cancels task id and returns its record.
func (h *Host) CancelTask(id string) Task {
	h.t.Helper()
	if _, ok, err := h.host.Dispatcher().Tasks().Cancel(context.Background(), id); err != nil || !ok {
		h.t.Fatalf("hosttest: cancel task %s: found %v, %v", id, ok, err)
	}
	return h.Task(id)
}

// Notification is a notification a call sent.
type Notification struct {
	UserID, TenantID, SourceApp, Message string
	Data                                 json.RawMessage
	Timestamp                            string
	// JSON is the envelope exactly as it goes to Redis.
	JSON json.RawMessage
}

// Notifications returns the notifications the host sent, oldest first
// (the last 256).
func (h *Host) Notifications() []Notification {
	sent := h.harness.Notifications(0)
	out := make([]Notification, len(sent))
	for i, n := range sent {
		out[len(sent)-1-i] = notificationOf(n)
	}
	return out
}

func notificationOf(n events.Notification) Notification {
	raw, _ := n.Encode()
	return Notification{UserID: n.UserID, TenantID: n.TenantID, SourceApp: n.SourceApp, Message: n.Message,
		Data: n.Data, Timestamp: n.Timestamp, JSON: raw}
}
