// Package cache is the per-user, per-extension typed cache behind a call's
// Cache(): the SDK's ctx.cache contract (I-CACHE-* invariants, the
// versioned envelope, get_or_fetch) over a Redis or an in-memory backend,
// with stampede protection and fail-open reads.
//
// Extensions reach it through runtime.CacheModel, whose typed handle reads
// and writes in the caller's *ctx.Call, and through the call's Client
// (Delete). The rest of this package is what the host builds that on: the
// Store with its backends, the typed primitives (Register, Model) that
// runtime.Model wraps, and inspection for harnesses.
package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"
	"resenje.org/singleflight"

	"github.com/imperalcloud/exthost/internal/panics"
)

// DefaultFetchTimeout bounds a shared GetOrFetch fetch when Options leaves it unset.
const DefaultFetchTimeout = 10 * time.Second

// Options configures a Store. The zero value is usable.
type Options struct {
	// FetchTimeout bounds a shared fetch, which outlives any single caller's
	// context. Set it to the host's call timeout. Default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Logger receives the failing/recovered transitions of the backend (once
	// per incident) and writes refused by the size cap. Default: no logging.
	Logger *zap.Logger
	// Observer receives events for metrics. Default: none.
	Observer Observer
	// Now is the clock for the envelope's cached_at. Default time.Now.
	Now func() time.Time
	// BreakerFailures is how many consecutive backend failures open the
	// circuit breaker: while it is open the backend is not asked at all
	// (reads are misses, writes are skipped) except by one probe per
	// BreakerCooldown. Default 5.
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before it lets a
	// probe through. Default 1s.
	BreakerCooldown time.Duration
	// KeyNames, when positive, makes the store remember the callers' keys of
	// up to that many key hashes, so that Entries can name them. Harnesses
	// set it; the keyspace itself holds only hashes. Default 0.
	KeyNames int
	// RecordReads makes every Client list its reads (Client.Reads), for a
	// console that shows each call's cache traffic. Default false: a read
	// costs nothing more than its count.
	RecordReads bool
}

// Store is the process-wide cache: one backend, one set of in-flight
// fetches, one circuit breaker. It hands out per-call Clients.
type Store struct {
	backend      Backend
	fetchTimeout time.Duration
	log          *zap.Logger
	observer     Observer
	now          func() time.Time
	flights      singleflight.Group[string, any]
	fills        atomic.Uint64 // successful GetOrFetch writes, ever
	breaker      *gobreaker.TwoStepCircuitBreaker[struct{}]
	keyNames     *otter.Cache[string, string] // key hash → key; nil unless Options.KeyNames
	recordReads  bool

	owed        *owed        // invalidations the backend failed to make
	trustFrom   atomic.Int64 // unix nanoseconds before which reads are misses (a recovery's grace); 0: none
	recoveryFor time.Duration
	repayer     sync.Once          // starts repay, at the first owed invalidation
	stopRepay   context.CancelFunc // nil until repay starts
	repaid      chan struct{}      // repay ended
	closeMu     sync.Mutex         // orders repay's start with Close
	closed      bool
}

// ErrBackendSkipped is returned for a write the store did not attempt
// because the circuit breaker is open.
var ErrBackendSkipped = errors.New("cache: backend skipped while its circuit breaker is open")

// errCallerGone marks an operation cut short by its caller, which says
// nothing about the backend.
var errCallerGone = errors.New("cache: caller gone")

// NewStore returns a Store over backend. The Store owns backend: Close closes it.
func NewStore(backend Backend, opts Options) *Store {
	s := &Store{
		backend:      backend,
		fetchTimeout: opts.FetchTimeout,
		log:          opts.Logger,
		observer:     opts.Observer,
		now:          opts.Now,
		recordReads:  opts.RecordReads,
	}
	if s.fetchTimeout <= 0 {
		s.fetchTimeout = DefaultFetchTimeout
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.observer == nil {
		s.observer = NopObserver{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.KeyNames > 0 {
		s.keyNames = otter.Must(&otter.Options[string, string]{MaximumSize: opts.KeyNames})
	}
	failures := uint32(max(opts.BreakerFailures, 0))
	if failures == 0 {
		failures = 5
	}
	cooldown := opts.BreakerCooldown
	if cooldown <= 0 {
		cooldown = time.Second
	}
	// After a recovery, reads wait for every process's owed invalidations:
	// each makes its own within a probe (cooldown) of the backend's return.
	s.recoveryFor = 2 * cooldown
	s.owed = newOwed()
	s.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "cache",
		MaxRequests: 1,
		Timeout:     cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsExcluded:  func(err error) bool { return errors.Is(err, errCallerGone) },
		// One incident, one warning and one recovery line: the breaker opens
		// once, however many probes fail before it closes again.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			switch {
			case from == gobreaker.StateClosed && to == gobreaker.StateOpen:
				s.observer.Degraded(true)
				s.log.Warn("cache backend failing; reads are misses and writes are skipped until it recovers",
					zap.Uint32("consecutive_failures", failures), zap.Duration("probe_every", cooldown))
			case to == gobreaker.StateClosed:
				s.trustFrom.Store(time.Now().Add(s.recoveryFor).UnixNano())
				s.owed.wake()
				s.observer.Degraded(false)
				s.log.Info("cache backend recovered; reads are misses a while longer, as invalidations owed during the outage are made",
					zap.Duration("for", s.recoveryFor))
			}
		},
	})
	return s
}

// guarded runs one backend operation through the circuit breaker, which
// turns consecutive failures into the degraded state. While the breaker is
// open, op is not run and ErrBackendSkipped is returned.
func (s *Store) guarded(ctx context.Context, name string, op func() error) error {
	done, err := s.breaker.Allow()
	if err != nil {
		return ErrBackendSkipped
	}
	err = op()
	switch {
	case err == nil:
		done(nil)
	case ctx.Err() != nil:
		done(errCallerGone) // a client going away says nothing about the backend
	default:
		done(err)
		s.observer.BackendError(name)
		s.log.Debug("cache backend error", zap.String("op", name), zap.Error(err))
	}
	return err
}

// Client returns the cache client of one call: bound to appID, userID and
// the extension's registered models. Every key it touches lives under that
// app and user, so no call can reach another user's entries.
func (s *Store) Client(appID, userID string, models *Models) (*Client, error) {
	switch {
	case appID == "":
		return nil, errors.New("cache: client requires an app id")
	case userID == "":
		return nil, errors.New("cache: client requires a user id")
	case models == nil:
		return nil, errors.New("cache: client requires the extension's models")
	}
	return &Client{store: s, app: appID, prefix: storagePrefix(appID, EscapeID(userID)), models: models}, nil
}

// Check asks the backend whether it answers, when it can tell (a Redis
// backend pings its server; the memory backend always answers). It goes
// through the circuit breaker like any operation: while the breaker is
// open it answers ErrBackendSkipped without asking.
func (s *Store) Check(ctx context.Context) error {
	p, ok := s.backend.(interface{ Ping(context.Context) error })
	if !ok {
		return nil
	}
	if err := s.guarded(ctx, "ping", func() error { return p.Ping(ctx) }); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// Degraded reports whether the backend is failing: its circuit breaker
// has opened (after BreakerFailures consecutive failures) and not yet closed.
func (s *Store) Degraded() bool { return s.breaker.State() != gobreaker.StateClosed }

// Close closes the backend.
func (s *Store) Close() error {
	s.closeMu.Lock()
	s.closed = true
	stop, repaid := s.stopRepay, s.repaid
	s.closeMu.Unlock()
	if stop != nil {
		stop()
		<-repaid
	}
	if s.keyNames != nil {
		s.keyNames.StopAllGoroutines()
	}
	return s.backend.Close()
}

// Client is the cache of one call, bound to one app and one user. It is safe
// for concurrent use by the call's goroutines.
type Client struct {
	store  *Store
	app    string
	prefix string
	models *Models
	hits   atomic.Int64
	misses atomic.Int64
	// reads lists the reads when the store records them.
	readsMu sync.Mutex
	reads   []Read
}

// Read is one read of a call's cache, as a console shows it.
type Read struct {
	Model string
	Key   string
	Hit   bool
	// Bytes is the size of the entry's envelope when the read fetched
	// one; zero for a miss, or a hit on a value held decoded in process.
	Bytes int
}

// Reads returns the client's reads in order, when its store records them
// (Options.RecordReads); else nil.
func (c *Client) Reads() []Read {
	c.readsMu.Lock()
	defer c.readsMu.Unlock()
	return slices.Clone(c.reads)
}

// AppID returns the app the client is bound to.
func (c *Client) AppID() string { return c.app }

// Counts returns how many reads of this client hit and missed.
func (c *Client) Counts() (hits, misses int) {
	return int(c.hits.Load()), int(c.misses.Load())
}

// Delete removes each key under every model the extension registered, in
// one backend round trip (the keys share the user's hash tag, so this holds
// on a cluster too). A missing entry is no error.
func (c *Client) Delete(ctx context.Context, keys ...string) error {
	for _, key := range keys {
		if err := ValidateKey(key); err != nil {
			return err
		}
	}
	if len(c.models.names) == 0 || len(keys) == 0 {
		return nil
	}
	storageKeys := make([]string, 0, len(keys)*len(c.models.names))
	for _, key := range keys {
		for _, model := range c.models.names {
			storageKeys = append(storageKeys, c.storageKey(model, key))
		}
	}
	del := func() error { return c.store.backend.Delete(ctx, storageKeys) }
	err := c.store.guarded(ctx, "delete", del)
	if err != nil && ctx.Err() == nil {
		err = c.store.guarded(ctx, "delete", del) // once more: a timeout under load need not be an outage
	}
	if err != nil {
		// The entries may outlive the write that dropped them: owed, and
		// made when the backend answers again.
		c.store.owe(storageKeys)
		return fmt.Errorf("cache: delete: %w (owed until the backend answers)", err)
	}
	return nil
}

// storageKey is the backend key of key under model, its name remembered
// where the harness lists keys.
func (c *Client) storageKey(model, key string) string {
	full := storageKey(c.prefix, model, key)
	if c.store.keyNames != nil {
		c.store.keyNames.Set(full[len(full)-2*keyHashBytes:], key)
	}
	return full
}

func (c *Client) lookup(model, key string, hit bool, size int) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	c.store.observer.Lookup(c.app, model, hit)
	if c.store.recordReads {
		c.readsMu.Lock()
		c.reads = append(c.reads, Read{Model: model, Key: key, Hit: hit, Bytes: size})
		c.readsMu.Unlock()
	}
}

// read returns the entry of model under key, whether there was one, and
// whether the backend answered (a failed read is a miss), and the size of
// the envelope it read, if it read one.
func read[T any](ctx context.Context, c *Client, model, key string) (v T, ok, answered bool, size int) {
	skey := c.storageKey(model, key)
	if c.store.distrusted(skey) {
		return v, false, true, 0
	}
	var raw []byte
	var keep func(any)
	var found bool
	if vb, isValueBackend := c.store.backend.(ValueBackend); isValueBackend {
		if value, held := vb.Resident(ctx, skey); held {
			if typed, isT := value.(T); isT {
				return typed, true, true, 0
			}
		}
		var e Entry
		if err := c.store.guarded(ctx, "get", func() (err error) {
			e, found, err = vb.GetValue(ctx, skey)
			return err
		}); err != nil {
			return v, false, false, 0
		}
		if typed, isT := e.Value.(T); found && isT {
			return typed, true, true, len(e.Envelope)
		}
		raw, keep = e.Envelope, e.Keep
	} else if err := c.store.guarded(ctx, "get", func() (err error) {
		raw, found, err = c.store.backend.Get(ctx, skey)
		return err
	}); err != nil {
		return v, false, false, 0
	}
	if !found {
		return v, false, true, 0
	}
	if v, ok = decodeEnvelope[T](raw, model); ok && keep != nil {
		keep(v)
	}
	return v, ok, true, len(raw)
}

// set stores v under key. A backend that keeps values is handed v decoded
// from the very envelope it stores, not v itself: its raw JSON values are
// then slices of that one envelope (see decodeEnvelope), and a hit serves
// what a read of the envelope would.
func set[T any](ctx context.Context, c *Client, model, key string, v T, ttl time.Duration) error {
	raw, err := encodeEnvelope(model, v, c.store.now())
	if err != nil {
		return err
	}
	skey := c.storageKey(model, key)
	write := func() error { return c.store.backend.Set(ctx, skey, raw, ttl) }
	if vb, ok := c.store.backend.(ValueBackend); ok {
		held := any(v)
		if decoded, ok := decodeEnvelope[T](raw, model); ok {
			held = decoded
		}
		write = func() error { return vb.SetValue(ctx, skey, raw, held, ttl) }
	}
	if err := c.store.guarded(ctx, "set", write); err != nil {
		return fmt.Errorf("cache: set %s: %w", model, err)
	}
	return nil
}

func getOrFetch[T any](ctx context.Context, c *Client, model, key string, ttl time.Duration,
	fetch func(context.Context) (T, error)) (T, error) {
	filled := c.store.fills.Load()
	v, ok, answered, size := read[T](ctx, c, model, key)
	c.lookup(model, key, ok, size)
	if ok {
		return v, nil
	}

	var led atomic.Bool
	shared, _, err := c.store.flights.Do(ctx, c.storageKey(model, key), func(ctx context.Context) (any, error) {
		led.Store(true)
		ctx, cancel := context.WithTimeout(ctx, c.store.fetchTimeout)
		defer cancel()
		// A fetch may have stored this entry between our read and our
		// flight (its flight had ended, so we could not join it): read
		// again rather than fetch twice. A lone miss, or a backend that just
		// failed, skips this read.
		if answered && c.store.fills.Load() != filled {
			if v, ok, _, _ := read[T](ctx, c, model, key); ok {
				return v, nil
			}
		}
		fresh, err := runFetch(ctx, fetch)
		if err != nil {
			return nil, err
		}
		if err := set(ctx, c, model, key, fresh, ttl); err != nil {
			// A value over the size cap is the extension's to fix: say so each
			// time. A failing backend was already reported, once.
			level := zap.DebugLevel
			if errors.Is(err, ErrContractViolation) {
				level = zap.WarnLevel
			}
			c.store.log.Log(level, "cache write failed; serving the fresh value uncached",
				zap.String("app", c.app), zap.String("model", model), zap.Error(err))
		} else {
			c.store.fills.Add(1)
		}
		return fresh, nil
	})
	if !led.Load() {
		c.store.observer.Collapsed(c.app, model)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return shared.(T), nil
}

func runFetch[T any](ctx context.Context, fetch func(context.Context) (T, error)) (v T, err error) {
	defer panics.Recover(&err)
	return fetch(ctx)
}
