package main

import (
	"context"
	"fmt"
	"time"
)

// grace is how long after a fault ends its effects may still show: a call
// begun during the fault finishing, a retry's backoff, a dead worker's
// stream calls claimed (rpc.claim_idle) and answered.
const grace = claimIdle + callTimeout + 4*time.Second

// fault is one scripted fault: at, for its length, then lifted.
type fault struct {
	name   string
	at     time.Duration // from the start of the load
	length time.Duration
	inject func(*system) error // begins the fault
	lift   func(*system) error // ends it; nil when inject ends it itself
	// began and ended are when it actually began and ended, from the
	// start of the load (a restart takes its time).
	began, ended time.Duration
}

// window reports whether t, from the start of the load, is within the
// fault or its grace.
func (f *fault) window(t time.Duration) bool {
	return f.ended > 0 && t >= f.began && t <= f.ended+grace
}

// overlaps reports whether an attempt from began to ended overlapped the
// fault or its grace.
func (f *fault) overlaps(began, ended time.Duration) bool {
	return f.ended > 0 && ended >= f.began && began <= f.ended+grace
}

// faultScript spreads the faults over a load of length d: each at its
// share of the run, with calm between them and at both ends.
func faultScript(d time.Duration) []*fault {
	at := func(share float64) time.Duration { return time.Duration(share * float64(d)) }
	outage := min(max(d/40, 3*time.Second), 10*time.Second)
	return []*fault{
		{name: "Redis restarted", at: at(0.12), length: outage, inject: func(s *system) error {
			return restart(s.redis, outage)
		}},
		{name: "PostgreSQL restarted", at: at(0.28), length: outage, inject: func(s *system) error {
			return restart(s.pg, outage)
		}},
		{name: "mail-service 5% 5xx, 1% past the timeout", at: at(0.44), length: max(d/10, 10*time.Second),
			inject: func(s *system) error { return s.setMailFaults(0.05, 0.01) },
			lift:   func(s *system) error { return s.setMailFaults(0, 0) }},
		{name: "replica b killed (SIGKILL) and restarted", at: at(0.62), length: outage, inject: func(s *system) error {
			s.killReplica(s.replicas[1])
			time.Sleep(outage) // the outage itself
			return s.startReplica(s.replicas[1])
		}},
		{name: "replica a killed mid stream calls (SIGKILL) and restarted", at: at(0.78), length: outage, inject: func(s *system) error {
			if err := s.waitRPCInFlight(s.replicas[0], 5*time.Second); err != nil {
				fmt.Println("soak:", err, "- killing it anyway")
			}
			s.killReplica(s.replicas[0])
			time.Sleep(outage)
			return s.startReplica(s.replicas[0])
		}},
	}
}

// playFaults injects each fault at its time until ctx ends, recording when
// each began and ended.
func playFaults(ctx context.Context, s *system, rec *recorder, script []*fault) error {
	for _, f := range script {
		wait := time.Until(rec.start.Add(f.at))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		f.began = time.Since(rec.start)
		fmt.Printf("soak: %6.1fs %s\n", f.began.Seconds(), f.name)
		if err := f.inject(s); err != nil {
			return fmt.Errorf("fault %q: %w", f.name, err)
		}
		if f.lift != nil {
			select {
			case <-ctx.Done():
			case <-time.After(f.length):
			}
			if err := f.lift(s); err != nil {
				return fmt.Errorf("fault %q: lifting: %w", f.name, err)
			}
		}
		f.ended = time.Since(rec.start)
		fmt.Printf("soak: %6.1fs %s: over\n", f.ended.Seconds(), f.name)
	}
	return nil
}

// waitRPCInFlight waits until replica r runs at least one stream call, so
// that killing it kills a worker mid-call.
func (s *system) waitRPCInFlight(r *replica, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if n, err := s.metric(r, "exthost_rpc_in_flight"); err == nil && n > 0 {
			return nil
		}
		time.Sleep(10 * time.Millisecond) // polling a gauge of another process
	}
	return fmt.Errorf("replica %s ran no stream call within %s", r.name, within)
}
