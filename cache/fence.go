package cache

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"
)

// errLatePong fails the waits of a PING whose PONG did not come back in
// time: the tracking connection is in doubt.
var errLatePong = errors.New("cache: l1: tracking connection did not answer in time")

// fence is how an L1 hit learns that a tracker has applied every
// invalidation Redis sent before the hit began: a PING on the tracking
// connection, whose PONG Redis sends after every invalidation it queued for
// that connection before the PING, and which follow reads only after
// applying them.
//
// One PING is in flight at a time, and the hits that arrive meanwhile share
// the next one: the first of them to arrive when none is in flight writes
// it, and follow, reading a PONG, answers its round and writes the next
// round's PING at once. A hit so costs one wait on a channel that many share,
// and no goroutine of the fence's own sits between Redis and the hits. A
// timer, re-armed for each PING, fails a round whose PONG is late.
type fence struct {
	send    func(payload string) error // writes PING payload on the tracking connection
	late    func()                     // a PONG was late: the connection is replaced
	timeout time.Duration

	mu       sync.Mutex
	closed   bool
	seq      uint64    // counts the PINGs sent
	payload  string    // of the PING in flight: its seq
	out      *round    // the waits the PING in flight answers; nil when none is in flight
	next     *round    // the waits for the PING after it; nil when none waits
	deadline time.Time // by when out's PONG is due
	timer    *time.Timer
}

// round is the waits one PING answers: err is set before done closes.
type round struct {
	done  chan struct{}
	err   error
	waits int // how many share it, under the fence's lock
}

// end answers every wait of r with err.
func (r *round) end(err error) {
	if r != nil {
		r.err = err
		close(r.done)
	}
}

// newFence returns a fence that writes its PINGs with send, and calls late
// when a PONG has not come back within timeout.
func newFence(send func(payload string) error, late func(), timeout time.Duration) *fence {
	f := &fence{send: send, late: late, timeout: timeout}
	f.timer = time.AfterFunc(time.Hour, f.expire)
	f.timer.Stop()
	return f
}

// wait returns once every invalidation sent before it was called has been
// applied, or with why that is not known. It does not watch ctx beyond its
// start: the round's PING has a deadline of its own, and watching the
// call's context would make every hit build one.
func (f *fence) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return errNotTracked
	}
	if f.next == nil {
		f.next = &round{done: make(chan struct{})}
	}
	r := f.next
	r.waits++
	payload := f.launch()
	f.mu.Unlock()
	f.write(payload)
	<-r.done
	return r.err
}

// launch makes the next round the one in flight when none is, and returns
// the payload of its PING, for the caller to write once f.mu is released;
// "" when there is nothing to send. f.mu is held.
func (f *fence) launch() string {
	if f.out != nil || f.next == nil {
		return ""
	}
	f.out, f.next = f.next, nil
	f.seq++
	f.payload = strconv.FormatUint(f.seq, 10)
	f.deadline = time.Now().Add(f.timeout)
	f.timer.Reset(f.timeout)
	return f.payload
}

// write sends the PING launch prepared; a PING that cannot be written
// fails its round at once.
func (f *fence) write(payload string) {
	if payload == "" {
		return
	}
	if err := f.send(payload); err != nil {
		f.fail(payload, err)
	}
}

// pong answers the round whose PING carried payload: follow read its PONG
// after every invalidation before it. A PONG of an earlier PING, one
// that was late, proves nothing for the waits of a later one.
func (f *fence) pong(payload string) {
	f.mu.Lock()
	if f.out == nil || payload != f.payload {
		f.mu.Unlock()
		return
	}
	r := f.out
	f.out = nil
	f.timer.Stop()
	next := f.launch()
	f.mu.Unlock()
	r.end(nil)
	f.write(next)
}

// fail ends the round in flight and the one waiting behind it with err:
// the connection is lost or in doubt. With a payload, only if the PING in
// flight carried it (it was not answered meanwhile).
func (f *fence) fail(payload string, err error) {
	f.mu.Lock()
	if payload != "" && (f.out == nil || payload != f.payload) {
		f.mu.Unlock()
		return
	}
	out, next := f.out, f.next
	f.out, f.next = nil, nil
	f.timer.Stop()
	f.mu.Unlock()
	out.end(err)
	next.end(err)
}

// expire is the timer's: the PONG in flight is late, unless the timer
// fired for a PING already answered.
func (f *fence) expire() {
	f.mu.Lock()
	late := f.out != nil && !time.Now().Before(f.deadline)
	payload := f.payload
	f.mu.Unlock()
	if late {
		f.fail(payload, errLatePong)
		f.late()
	}
}

// close fails every wait, now and later.
func (f *fence) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.fail("", errNotTracked)
}
