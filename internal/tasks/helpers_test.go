package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/tasks"
)

// waitLimit bounds every wait on something the pool announces; reaching it
// is a failure, never a synchronisation.
const waitLimit = 5 * time.Second

// clock is a fake clock safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// gate holds works until opened; it opens when the test ends at the
// latest, so that no work outlives its test.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{ch: make(chan struct{})}
	t.Cleanup(g.Open)
	return g
}

func (g *gate) Open() { g.once.Do(func() { close(g.ch) }) }

// finished counts the Finished calls of one or more pools.
type finished struct {
	mu   sync.Mutex
	recs []tasks.Record
	ch   chan tasks.Record
}

func newFinished() *finished { return &finished{ch: make(chan tasks.Record, 64)} }

func (f *finished) Func(rec tasks.Record) {
	f.mu.Lock()
	f.recs = append(f.recs, rec)
	f.mu.Unlock()
	f.ch <- rec
}

// of returns the Finished calls made for task id.
func (f *finished) of(id string) []tasks.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []tasks.Record
	for _, r := range f.recs {
		if r.TaskID == id {
			out = append(out, r)
		}
	}
	return out
}

// next waits for the next Finished call.
func (f *finished) next(t *testing.T) tasks.Record {
	t.Helper()
	select {
	case rec := <-f.ch:
		return rec
	case <-time.After(waitLimit):
		t.Fatalf("Finished not called after %s", waitLimit)
		return tasks.Record{}
	}
}

// newPool returns a pool closed, and whose goroutines have returned, when
// the test ends. Create it before the gates its works wait on, so that
// they open first.
func newPool(t *testing.T, opts tasks.Options) *tasks.Pool {
	t.Helper()
	p := tasks.NewPool(opts)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := p.Wait(ctx); err != nil {
			t.Errorf("task goroutines still running after Close: %v", err)
		}
	})
	return p
}

// waitClosed waits for ch to be closed or to deliver.
func waitClosed[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("%s: not after %s", what, waitLimit)
		var zero T
		return zero
	}
}

// waitGoroutines waits for every task goroutine of p to return.
func waitGoroutines(t *testing.T, p *tasks.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("task goroutines: %v", err)
	}
}

// result is the part of an ActionResult the tests check.
type result struct {
	Status    string          `json:"status"`
	Summary   string          `json:"summary"`
	Data      json.RawMessage `json:"data"`
	Error     string          `json:"error"`
	ErrorCode string          `json:"error_code"`
	Retryable bool            `json:"retryable"`
}

func decode(t *testing.T, raw json.RawMessage) result {
	t.Helper()
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	return r
}

// get reads task id through p, failing the test when there is none.
func get(t *testing.T, p *tasks.Pool, id string) tasks.Record {
	t.Helper()
	rec, ok, err := p.Get(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("Get(%s) = ok %v, err %v", id, ok, err)
	}
	return rec
}

// checkEnded checks rec is final with status and a result of code.
func checkEnded(t *testing.T, rec tasks.Record, status tasks.Status, code string, retryable bool) {
	t.Helper()
	if rec.Status != status {
		t.Fatalf("status %q, want %q (record %+v)", rec.Status, status, rec)
	}
	r := decode(t, rec.Result)
	if r.Status != "error" || r.ErrorCode != code || r.Retryable != retryable || r.Error == "" {
		t.Fatalf("result %s, want an error result %s with retryable %v", rec.Result, code, retryable)
	}
}

// hooked wraps Records to watch, slow or drop what reaches it.
type hooked struct {
	tasks.Records
	mu     sync.Mutex
	writes []tasks.Record
	// beforeWrite runs before each write reaches the records.
	beforeWrite func(tasks.Record)
	// dropAnnounce loses announcements, as when a replica's subscription
	// is down.
	dropAnnounce bool
	// failFinal is how many final writes fail, as a record store blip does.
	failFinal int
}

func (h *hooked) Write(ctx context.Context, rec tasks.Record, ttl time.Duration) (bool, error) {
	h.mu.Lock()
	h.writes = append(h.writes, rec)
	before := h.beforeWrite
	fail := rec.Status.Final() && h.failFinal > 0
	if fail {
		h.failFinal--
	}
	h.mu.Unlock()
	if before != nil {
		before(rec)
	}
	if fail {
		return false, errors.New("record store blip")
	}
	return h.Records.Write(ctx, rec, ttl)
}

func (h *hooked) Announce(ctx context.Context, id string) error {
	if h.dropAnnounce {
		return nil
	}
	return h.Records.Announce(ctx, id)
}

func (h *hooked) writeCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.writes)
}
