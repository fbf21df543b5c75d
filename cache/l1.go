package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// l1 is the Redis backend's in-process layer of decoded values. It is only
// used while its subscription to InvalidationChannel is live: entries are
// dropped when another replica announces a change, all of them when the
// subscription is lost or restored (announcements may have been missed),
// and an entry read before an announcement is never kept after it.
type l1 struct {
	entries  *otter.Cache[string, l1Entry]
	id       string
	log      *zap.Logger
	observer L1Observer

	mu      sync.Mutex    // orders fills after the drops they must not undo
	gen     atomic.Uint64 // counts drops: a fill started before one is stale
	healthy atomic.Bool   // subscribed: announcements reach us
	ps      *redis.PubSub
	stop    context.CancelFunc
	done    chan struct{}
}

type l1Entry struct {
	value    any
	envelope []byte
	ttl      time.Duration
}

func newReplicaID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newL1(rdb redis.UniversalClient, id string, opts RedisOptions) *l1 {
	entries, err := otter.New(&otter.Options[string, l1Entry]{
		MaximumSize: opts.L1Entries,
		ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[string, l1Entry]) time.Duration {
			return e.Value.ttl
		}),
	})
	if err != nil {
		panic("cache: l1: " + err.Error()) // options are built here: an error is a bug
	}
	l := &l1{entries: entries, id: id, log: opts.Logger, observer: opts.Observer,
		done: make(chan struct{})}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	if l.observer == nil {
		l.observer = NopObserver{}
	}
	ctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	l.ps = rdb.Subscribe(ctx, opts.Namespace+InvalidationChannel)
	go l.subscribe(ctx)
	return l
}

// get answers from the L1, while it is trustworthy.
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

// reset empties the L1 and sets whether it may be used.
func (l *l1) reset(healthy bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen.Add(1)
	l.healthy.Store(healthy)
	l.entries.InvalidateAll()
}

// subscribe follows InvalidationChannel until ctx ends. go-redis resubscribes
// after a lost connection; each (re)subscription starts from an empty L1.
func (l *l1) subscribe(ctx context.Context) {
	defer close(l.done)
	backoff := 50 * time.Millisecond
	for {
		msg, err := l.ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if l.healthy.Load() {
				l.log.Warn("cache L1 lost its invalidation subscription; reads go to Redis until it is back", zap.Error(err))
			}
			l.reset(false)
			select { // Redis is down: do not spin on reconnects
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				l.reset(true)
				backoff = 50 * time.Millisecond
			}
		case *redis.Message:
			sender, keys, _ := strings.Cut(m.Payload, "\n")
			if sender != l.id {
				l.drop(strings.Split(keys, "\n"))
				l.observer.L1Invalidation()
			}
		}
	}
}

func (l *l1) close() {
	if l == nil {
		return
	}
	l.stop()
	_ = l.ps.Close() // a blocked Receive does not watch its context
	<-l.done
	l.entries.StopAllGoroutines()
}
