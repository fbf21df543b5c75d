package cache

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// maxOwed bounds the invalidations a store remembers owing; past it new
// ones are not remembered, and the log says so.
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
	mu sync.Mutex
	// keys maps each owed key to the generation of its last failure, so
	// that a repayment made before a later failure does not forget it.
	keys  map[string]uint64
	gen   uint64
	count atomic.Int64 // len(keys), read by every read without the lock
	kick  chan struct{}
	lost  bool // maxOwed was passed: logged once
}

func newOwed() *owed { return &owed{keys: map[string]uint64{}, kick: make(chan struct{}, 1)} }

// add remembers keys as owed and wakes the repayer.
func (o *owed) add(log *zap.Logger, keys []string) {
	o.mu.Lock()
	o.gen++
	for _, k := range keys {
		if _, ok := o.keys[k]; !ok && len(o.keys) >= maxOwed {
			if !o.lost {
				o.lost = true
				log.Error("cache owes more invalidations than it can remember; some entries may be served stale until their TTL",
					zap.Int("owed", len(o.keys)))
			}
			break
		}
		o.keys[k] = o.gen
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

// batch returns up to n owed keys that share one hash tag (a cluster
// deletes keys of one slot at a time), and the generation they were taken
// at.
func (o *owed) batch(n int) ([]string, uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	var tag string
	for k := range o.keys {
		if len(out) == n {
			break
		}
		if out == nil {
			tag = HashTag(k)
		} else if HashTag(k) != tag {
			continue
		}
		out = append(out, k)
	}
	return out, o.gen
}

// HashTag is the part of key a Redis Cluster hashes: between the first
// "{" and the "}" after it, when not empty; else the whole key. Keys with
// one hash tag share a slot.
func HashTag(key string) string {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if end := strings.IndexByte(key[open+1:], '}'); end > 0 {
			return key[open+1 : open+1+end]
		}
	}
	return key
}

// paid forgets keys, whose invalidation was made after generation gen:
// a key that failed again since stays owed.
func (o *owed) paid(keys []string, gen uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, k := range keys {
		if o.keys[k] <= gen {
			delete(o.keys, k)
		}
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
			keys, gen := s.owed.batch(1000)
			opCtx, cancel := context.WithTimeout(ctx, s.fetchTimeout)
			err := s.guarded(opCtx, "delete", func() error { return s.backend.Delete(opCtx, keys) })
			cancel()
			if err != nil {
				break // the next tick, or the recovery, tries again
			}
			s.owed.paid(keys, gen)
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
