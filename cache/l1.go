package cache

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// l1 is the Redis backend's in-process layer of decoded values. It is only
// used while Redis's client tracking of the cache's keys is live on every
// master (see tracking): an entry is dropped when Redis says it changed,
// all of them when tracking is lost or restored (invalidations may have
// been missed), and an entry read before an invalidation is never kept
// after it.
type l1 struct {
	entries  *otter.Cache[string, l1Entry]
	log      *zap.Logger
	observer L1Observer
	tracking *tracking

	mu      sync.Mutex    // orders fills after the drops they must not undo
	gen     atomic.Uint64 // counts drops: a fill started before one is stale
	healthy atomic.Bool   // tracked: every change of a key reaches us
}

type l1Entry struct {
	value    any
	envelope []byte
	ttl      time.Duration
}

// newL1 returns an L1 for the cache's keys, tracked on rdb.
func newL1(rdb redis.UniversalClient, opts RedisOptions) *l1 {
	entries, err := otter.New(&otter.Options[string, l1Entry]{
		MaximumSize: opts.L1Entries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, l1Entry]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		panic("cache: l1: " + err.Error()) // options are built here: an error is a bug
	}
	l := &l1{entries: entries, log: opts.Logger, observer: opts.Observer}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	if l.observer == nil {
		l.observer = NopObserver{}
	}
	l.tracking = newTracking(rdb, l, opts.Namespace, opts.Timeout, l.log)
	return l
}

// get answers from the L1 while it is trustworthy. It is never older
// than another replica's acknowledged write: that write waited for this
// L1 to apply it (see fence).
func (l *l1) get(key string) (Entry, bool) {
	if !l.healthy.Load() {
		return Entry{}, false
	}
	e, ok := l.entries.GetIfPresent(key)
	if !ok {
		return Entry{}, false
	}
	l.observer.L1Hit()
	return Entry{Value: e.value, Envelope: e.envelope}, true
}

// fenceAfter returns once every other replica's L1 has applied the
// writes of key made so far (see fence).
func (l *l1) fenceAfter(ctx context.Context, key string) {
	if l != nil {
		l.tracking.fence.after(ctx, key)
	}
}

// generation is taken before a read or write of Redis; fill keeps the
// result only if nothing was dropped since.
func (l *l1) generation() uint64 {
	if l == nil {
		return 0
	}
	return l.gen.Load()
}

// fill keeps value for ttl, unless a drop happened since gen or the
// subscription is down.
func (l *l1) fill(key string, envelope []byte, value any, ttl time.Duration, gen uint64) {
	if l == nil || ttl <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.healthy.Load() && l.gen.Load() == gen {
		l.entries.Set(key, l1Entry{value: value, envelope: envelope, ttl: ttl})
	}
}

// put keeps the value this replica is writing, while tracking is live; a
// read's fill started before it is stale.
func (l *l1) put(key string, envelope []byte, value any, ttl time.Duration) {
	if l == nil || ttl <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen.Add(1)
	if l.healthy.Load() {
		l.entries.Set(key, l1Entry{value: value, envelope: envelope, ttl: ttl})
	}
}

// drop removes keys, and makes every fill started before it stale.
func (l *l1) drop(keys []string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen.Add(1)
	for _, k := range keys {
		l.entries.Invalidate(k)
	}
}

// invalidate applies Redis's word that keys changed. Fills started before
// it are stale, as after a drop. An entry the L1 holds is kept only when
// Redis holds the very envelope it was made from: the change was this
// replica's own write of it (Redis tells every tracker of every write,
// its writer's too), and dropping it would send the next read to Redis for
// nothing. Anything else, or a failed check, drops it. An entry set
// while the check ran (this replica's own later write, or a read that
// began after this word arrived) is newer than the change and is kept: a
// change after it has a word of its own, still to come.
func (l *l1) invalidate(ctx context.Context, rdb redis.UniversalClient, timeout time.Duration, keys []string) {
	l.mu.Lock()
	l.gen.Add(1)
	var held []string
	var checked [][]byte // the envelope each held entry had
	for _, k := range keys {
		if e, ok := l.entries.GetEntryQuietly(k); ok {
			held = append(held, k)
			checked = append(checked, e.Value.envelope)
		}
	}
	l.mu.Unlock()
	if len(held) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	gets := make([]*redis.StringCmd, len(held))
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range held {
			gets[i] = p.Get(ctx, k)
		}
		return nil
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, k := range held {
		e, ok := l.entries.GetEntryQuietly(k)
		if !ok || !bytes.Equal(e.Value.envelope, checked[i]) {
			continue
		}
		current, getErr := gets[i].Bytes()
		if err != nil && getErr == nil {
			getErr = err
		}
		if getErr != nil || !bytes.Equal(current, e.Value.envelope) {
			l.entries.Invalidate(k)
		}
	}
}

// reset empties the L1 and sets whether it may be used, as healthy says
// under the L1's lock: two trackers changing state at once must not leave
// the L1 healthy on the word of one that looked before the other fell.
func (l *l1) reset(healthy func() bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen.Add(1)
	l.healthy.Store(healthy())
	l.entries.InvalidateAll()
}

func (l *l1) close() {
	if l == nil {
		return
	}
	l.tracking.close()
	l.entries.StopAllGoroutines()
}
