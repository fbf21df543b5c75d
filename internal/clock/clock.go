// Package clock is a clock that harnesses move forward: the real time or a
// fixed instant, plus however far it has been advanced. The host hands its
// Now to everything that reads time for the contract (the memory backend's
// TTLs, call-token expiry, envelope and trace times), so a test crosses a
// TTL by advancing the clock instead of sleeping.
package clock

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Clock is an adjustable clock, safe for concurrent use.
type Clock struct {
	base   func() time.Time
	offset atomic.Int64 // nanoseconds advanced
}

// Real returns a clock that follows the real time until it is advanced,
// then runs that far ahead of it.
func Real() *Clock { return &Clock{base: time.Now} }

// Fixed returns a clock that stands at start until it is advanced.
func Fixed(start time.Time) *Clock { return &Clock{base: func() time.Time { return start }} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.base().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d and returns its new time. Time only
// moves forward: a negative d is an error and changes nothing.
func (c *Clock) Advance(d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, fmt.Errorf("clock: cannot go back in time (advance %s)", d)
	}
	for {
		old := c.offset.Load()
		if int64(d) > math.MaxInt64-old {
			return time.Time{}, fmt.Errorf("clock: cannot advance %s more: past the end of time", d)
		}
		if c.offset.CompareAndSwap(old, old+int64(d)) {
			return c.Now(), nil
		}
	}
}

// Func adapts a time function to otter's clock (otter.Clock). It never
// ticks: a cache on it starts no clean-up goroutine, and expired entries go
// at reads and writes rather than by a timer a test clock would have to
// drive.
type Func func() time.Time

// NowNano implements otter.Clock.
func (f Func) NowNano() int64 { return f().UnixNano() }

// Tick implements otter.Clock: it never ticks.
func (f Func) Tick(time.Duration) <-chan time.Time { return nil }
