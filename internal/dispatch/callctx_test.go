package dispatch

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

type ctxKey struct{}

func newCallContext(parent context.Context, timeout time.Duration) *callContext {
	c := &callContext{}
	c.init(parent, time.Now().Add(timeout))
	return c
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// The call context behaves as the context.WithDeadline it stands for,
// whether or not anything has asked for its Done channel.
func TestCallContextEndsLikeACancelledDeadline(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	cases := []struct {
		name        string
		materialize bool // ask for Done before the event
		event       func(c *callContext, cancelParent context.CancelFunc)
		want        error
	}{
		{"ended", false, func(c *callContext, _ context.CancelFunc) { c.end() }, context.Canceled},
		{"ended, Done asked before", true, func(c *callContext, _ context.CancelFunc) { c.end() }, context.Canceled},
		{"watchdog saw the deadline", false, func(c *callContext, _ context.CancelFunc) { c.expire() }, context.DeadlineExceeded},
		{"parent cancelled", false, func(_ *callContext, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"parent cancelled, Done asked before", true, func(_ *callContext, cancel context.CancelFunc) { cancel() }, context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, cancel := context.WithCancel(parent)
			defer cancel()
			c := newCallContext(p, time.Hour)
			if c.Err() != nil {
				t.Fatalf("Err = %v before anything happened", c.Err())
			}
			if tc.materialize && closed(c.Done()) {
				t.Fatal("Done closed before anything happened")
			}
			tc.event(c, cancel)
			if err := c.Err(); !errors.Is(err, tc.want) {
				t.Fatalf("Err = %v, want %v", err, tc.want)
			}
			if tc.want != context.DeadlineExceeded && !closed(c.Done()) {
				t.Fatal("Done is not closed")
			}
			if c.Value(ctxKey{}) != "v" {
				t.Fatal("the parent's values are lost")
			}
		})
	}
}

// A context derived from the call's is cancelled when the call ends,
// through the registration context.WithCancel makes, not a goroutine.
func TestCallContextCancelsWhatDerivesFromIt(t *testing.T) {
	c := newCallContext(context.Background(), time.Hour)
	before := runtime.NumGoroutine()
	child, cancel := context.WithCancel(c)
	defer cancel()
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("deriving a context started %d goroutine(s)", n-before)
	}
	c.end()
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the derived context is not cancelled")
	}
	if !errors.Is(child.Err(), context.Canceled) {
		t.Fatalf("derived Err = %v", child.Err())
	}
}

// The deadline is the earlier of the parent's and the call's own.
func TestCallContextDeadlineIsTheEarlier(t *testing.T) {
	soon := time.Now().Add(time.Minute)
	p, cancel := context.WithDeadline(context.Background(), soon)
	defer cancel()
	if d, ok := newCallContext(p, time.Hour).Deadline(); !ok || !d.Equal(soon) {
		t.Fatalf("Deadline = %v %v, want the parent's %v", d, ok, soon)
	}
	if d, _ := newCallContext(p, time.Second).Deadline(); !d.Before(soon) {
		t.Fatalf("Deadline = %v, want the call's own, before %v", d, soon)
	}
}

// Done asked for after the call ended is already closed.
func TestCallContextDoneAfterTheEnd(t *testing.T) {
	c := newCallContext(context.Background(), time.Hour)
	c.end()
	if !closed(c.Done()) {
		t.Fatal("Done after the end is open")
	}
}
