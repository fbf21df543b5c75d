package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// maxOwed bounds the invalidations a store remembers owing; past it the
// oldest word is lost, and said so in the log.
const maxOwed = 1_000_000

// repayEvery is how often owed invalidations are tried again while the
// backend fails.
const repayEvery = 250 * time.Millisecond

// owed is the invalidations a store could not make: the backend failed
// while a write's entries were to be dropped, so they may still be there,
// older than the write, when the backend comes back (a Redis restarted
// from its append-only file, a failover). Until each is made, reads of its
// key are misses in this process, and a goroutine retries them; other
// processes are covered by the grace after a recovery (Store.distrusted).
type owed struct {
	mu    sync.Mutex
	keys  map[string]struct{}
	count atomic.Int64 // len(keys), read by every read without the lock
	kick  chan struct{}
	lost  bool // maxOwed was passed: logged once
}

func newOwed() *owed { return &owed{keys: map[string]struct{}{}, kick: make(chan struct{}, 1)} }

// add remembers keys as owed and wakes the repayer.
func (o *owed) add(log *zap.Logger, keys []string) {
	o.mu.Lock()
	for _, k := range keys {
		if len(o.keys) >= maxOwed {
			if !o.lost {
				o.lost = true
				log.Error("cache owes more invalidations than it can remember; some entries may be served stale until their TTL",
					zap.Int("owed", len(o.keys)))
			}
			break
		}
		o.keys[k] = struct{}{}
	}
	o.count.Store(int64(len(o.keys)))
	o.mu.Unlock()
	o.wake()
}

func (o *owed) wake() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// holds reports whether key's invalidation is owed.
func (o *owed) holds(key string) bool {
	if o.count.Load() == 0 {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.keys[key]
	return ok
}

// batch returns up to n owed keys.
func (o *owed) batch(n int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]string, 0, min(n, len(o.keys)))
	for k := range o.keys {
		if len(out) == n {
			break
		}
		out = append(out, k)
	}
	return out
}

// paid forgets keys, whose invalidation is made.
func (o *owed) paid(keys []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, k := range keys {
		delete(o.keys, k)
	}
	o.count.Store(int64(len(o.keys)))
	if len(o.keys) == 0 {
		o.lost = false
	}
}

// owe remembers keys as owed, starting the repayer the first time.
func (s *Store) owe(keys []string) {
	s.repayer.Do(func() {
		s.closeMu.Lock()
		defer s.closeMu.Unlock()
		if s.closed {
			return
		}
		ctx, stop := context.WithCancel(context.Background())
		s.stopRepay, s.repaid = stop, make(chan struct{})
		go s.repay(ctx)
	})
	s.owed.add(s.log, keys)
}

// repay makes the owed invalidations, through the circuit breaker, until
// ctx ends: at once when some are owed or the backend recovers, then every
// repayEvery while some remain.
func (s *Store) repay(ctx context.Context) {
	defer close(s.repaid)
	tick := time.NewTicker(repayEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.owed.kick:
		case <-tick.C:
		}
		for s.owed.count.Load() > 0 && ctx.Err() == nil {
			keys := s.owed.batch(1000)
			opCtx, cancel := context.WithTimeout(ctx, s.fetchTimeout)
			err := s.guarded(opCtx, "delete", func() error { return s.backend.Delete(opCtx, keys) })
			cancel()
			if err != nil {
				break // the next tick, or the recovery, tries again
			}
			s.owed.paid(keys)
			if s.owed.count.Load() == 0 {
				s.log.Info("cache made the invalidations it owed")
			}
		}
	}
}

// distrusted reports whether a read of key must be a miss: its
// invalidation is owed, or the backend recovered less than the grace ago,
// while every process makes the invalidations it owes.
func (s *Store) distrusted(key string) bool {
	if until := s.trustFrom.Load(); until != 0 {
		if time.Now().UnixNano() < until {
			return true
		}
		s.trustFrom.CompareAndSwap(until, 0)
	}
	return s.owed.holds(key)
}
