// Package tasks runs background tasks (DESIGN §13): work a call hands off
// so that it can answer at once. Tasks run on a bounded pool, each with its
// own deadline; they report progress, can be cancelled from any replica,
// and end in a stored, final record that any replica can read.
//
// A record is final once its task has ended: succeeded, failed, timed out,
// been cancelled or been stopped by a drain. Whoever ends a task writes
// its final record first and wins; a later write for the same task (the
// task's own result arriving after its cancellation, say) is refused, so
// a record never goes back to running or changes its outcome.
package tasks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"time"
)

// Status is a task's state.
type Status string

// The statuses of DESIGN §13.
const (
	Running   Status = "running"
	Success   Status = "success"
	Error     Status = "error"
	Cancelled Status = "cancelled"
)

// Final reports whether s is an end state.
func (s Status) Final() bool { return s != Running }

// Progress is what a task last reported: percent 0–100 and a message.
type Progress struct {
	Percent float64 `json:"percent"`
	Message string  `json:"message"`
}

// Record is what is known of a task; it is the stored form.
type Record struct {
	TaskID   string   `json:"task_id"`
	AppID    string   `json:"app_id"`
	UserID   string   `json:"user_id"`
	TenantID string   `json:"tenant_id"`
	Function string   `json:"function"`
	Name     string   `json:"name"`
	Status   Status   `json:"status"`
	Progress Progress `json:"progress"`
	// Result is the task's ActionResult JSON once it has ended; null before.
	Result    json.RawMessage `json:"result"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// Deadline is when the task is stopped if it is still running.
	Deadline time.Time `json:"deadline"`
}

// Records keeps task records. Implementations are safe for concurrent use.
type Records interface {
	// Write stores rec, keeping it for ttl, unless the stored record of
	// its task is final already: it reports whether it wrote.
	Write(ctx context.Context, rec Record, ttl time.Duration) (bool, error)
	// Read returns the record of task id, and whether there is one.
	Read(ctx context.Context, id string) (Record, bool, error)
	// Announce tells every pool sharing the records that task id was ended
	// by another than its runner, so that its runner stops it.
	Announce(ctx context.Context, id string) error
	// Listen calls ended with the id of each announced task until Close.
	Listen(ended func(id string))
	// Close stops listening.
	Close() error
}

// ErrFull is Start's answer when the pool runs as many tasks as it may.
var ErrFull = errors.New("tasks: the pool is full")

// ErrClosed is Start's answer once the pool drains or has closed.
var ErrClosed = errors.New("tasks: the pool is closed")

// newID returns a new task id: unguessable, as the id is all a caller
// needs to read a task's record (beside being its user).
func newID() string { return "task_" + rand.Text() }
