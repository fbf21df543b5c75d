package dispatch

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// callContext is the context of one call: its parent's values and
// cancellation, and the call's deadline. It is built for the common call,
// a cache hit that never waits on anything: until something asks for its
// Done channel it is a struct and a deadline, not a context registered
// with its parent and a timer. The first Done makes the real one, a
// context.WithDeadline of the parent, and everything after delegates to it.
//
// Until then Err reports what Done would have: the parent's error, the
// deadline once the call's watchdog has seen it pass, and Canceled once
// the call has ended, as the cancel of a WithDeadline context would.
type callContext struct {
	parent   context.Context
	deadline time.Time
	expired  atomic.Bool // the watchdog saw the deadline pass
	over     atomic.Bool // the call has ended

	mu     sync.Mutex
	real   atomic.Pointer[context.Context]
	cancel context.CancelFunc
}

func (c *callContext) init(parent context.Context, deadline time.Time) {
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.parent, c.deadline = parent, deadline
}

// Deadline implements context.Context.
func (c *callContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Done implements context.Context.
func (c *callContext) Done() <-chan struct{} { return c.materialize().Done() }

// Err implements context.Context.
func (c *callContext) Err() error {
	if real := c.real.Load(); real != nil {
		return (*real).Err()
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	switch {
	case c.expired.Load():
		return context.DeadlineExceeded
	case c.over.Load():
		return context.Canceled
	}
	return nil
}

// Value implements context.Context. Once the real context exists it
// answers, so that contexts derived from this one find its cancellation
// (context.WithCancel registers with it instead of starting a goroutine).
func (c *callContext) Value(key any) any {
	if real := c.real.Load(); real != nil {
		return (*real).Value(key)
	}
	return c.parent.Value(key)
}

// materialize returns the real context, making it on first use: cancelled
// at once when the call has already ended.
func (c *callContext) materialize() context.Context {
	if real := c.real.Load(); real != nil {
		return *real
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if real := c.real.Load(); real != nil {
		return *real
	}
	real, cancel := context.WithDeadline(c.parent, c.deadline)
	if c.over.Load() {
		cancel()
	}
	c.cancel = cancel
	c.real.Store(&real)
	return real
}

// expire records that the deadline has passed.
func (c *callContext) expire() { c.expired.Store(true) }

// end cancels the context: the call is over, and whatever its handler
// left running should stop.
func (c *callContext) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.over.Store(true)
	if c.cancel != nil {
		c.cancel()
	}
}
