// Package cache is the per-user, per-extension typed cache behind ctx.Cache:
// the SDK's ctx.cache contract (I-CACHE-* invariants, the versioned
// envelope, get_or_fetch) over a Redis or an in-memory backend, with
// stampede protection and fail-open reads.
//
// An extension registers its models once, at start-up, and gets typed
// handles:
//
//	var inboxPages = cache.Register[InboxPage](models, "inbox_page")
//
// A call then reads and writes through the handle in its Scope: its context
// and its Client, bound to one app and one user (a handler's *ctx.Call):
//
//	page, err := inboxPages.GetOrFetch(c, "inbox:a1:INBOX:0", time.Minute, fetch)
package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

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
	// Logger receives degraded/recovered transitions (once per incident) and
	// failed writes. Default: no logging.
	Logger *zap.Logger
	// Observer receives events for metrics. Default: none.
	Observer Observer
	// Now is the clock for the envelope's cached_at. Default time.Now.
	Now func() time.Time
}

// Store is the process-wide cache: one backend, one set of in-flight
// fetches, one degraded flag. It hands out per-call Clients.
type Store struct {
	backend      Backend
	fetchTimeout time.Duration
	log          *zap.Logger
	observer     Observer
	now          func() time.Time
	flights      singleflight.Group[string, any]
	fills        atomic.Uint64 // successful GetOrFetch writes, ever
	degraded     atomic.Bool
}

// NewStore returns a Store over backend. The Store owns backend: Close closes it.
func NewStore(backend Backend, opts Options) *Store {
	s := &Store{
		backend:      backend,
		fetchTimeout: opts.FetchTimeout,
		log:          opts.Logger,
		observer:     opts.Observer,
		now:          opts.Now,
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
	return s
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
// backend pings its server; the memory backend always answers). A failure
// marks the store degraded, a success clears it, as any operation would.
func (s *Store) Check(ctx context.Context) error {
	p, ok := s.backend.(interface{ Ping(context.Context) error })
	if !ok {
		return nil
	}
	if err := p.Ping(ctx); err != nil {
		s.failed(ctx, "ping", err)
		return fmt.Errorf("cache: %w", err)
	}
	s.backendOK()
	return nil
}

// Degraded reports whether the last backend operation failed.
func (s *Store) Degraded() bool { return s.degraded.Load() }

// Close closes the backend.
func (s *Store) Close() error { return s.backend.Close() }

// failed records a backend failure, unless it is the caller's own context
// that ended: a client going away says nothing about the backend.
func (s *Store) failed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	s.observer.BackendError(op)
	if s.degraded.CompareAndSwap(false, true) {
		s.observer.Degraded(true)
		s.log.Warn("cache backend failing; reads are misses and writes are skipped until it recovers",
			zap.String("op", op), zap.Error(err))
	}
}

func (s *Store) backendOK() {
	if s.degraded.Load() && s.degraded.CompareAndSwap(true, false) {
		s.observer.Degraded(false)
		s.log.Info("cache backend recovered")
	}
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
		hash := keyHash(key)
		for _, model := range c.models.names {
			storageKeys = append(storageKeys, c.prefix+model+":"+hash)
		}
	}
	if err := c.store.backend.Delete(ctx, storageKeys); err != nil {
		c.store.failed(ctx, "delete", err)
		return fmt.Errorf("cache: delete: %w", err)
	}
	c.store.backendOK()
	return nil
}

func (c *Client) storageKey(model, key string) string {
	return c.prefix + model + ":" + keyHash(key)
}

func (c *Client) lookup(model string, hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	c.store.observer.Lookup(c.app, model, hit)
}

// read returns the entry of model under key, whether there was one, and
// whether the backend answered (a failed read is a miss).
func read[T any](ctx context.Context, c *Client, model, key string) (v T, ok, answered bool) {
	if vb, isValueBackend := c.store.backend.(valueBackend); isValueBackend {
		stored, raw, found := vb.GetValue(c.storageKey(model, key))
		if !found {
			return v, false, true
		}
		if typed, isT := stored.(T); isT {
			return typed, true, true
		}
		v, ok = decodeEnvelope[T](raw, model)
		return v, ok, true
	}
	raw, found, err := c.store.backend.Get(ctx, c.storageKey(model, key))
	if err != nil {
		c.store.failed(ctx, "get", err)
		return v, false, false
	}
	c.store.backendOK()
	if !found {
		return v, false, true
	}
	v, ok = decodeEnvelope[T](raw, model)
	return v, ok, true
}

func set(ctx context.Context, c *Client, model, key string, v any, ttl time.Duration) error {
	raw, err := encodeEnvelope(model, v, c.store.now())
	if err != nil {
		return err
	}
	if vb, ok := c.store.backend.(valueBackend); ok {
		vb.SetValue(c.storageKey(model, key), raw, v, ttl)
		return nil
	}
	if err := c.store.backend.Set(ctx, c.storageKey(model, key), raw, ttl); err != nil {
		c.store.failed(ctx, "set", err)
		return fmt.Errorf("cache: set %s: %w", model, err)
	}
	c.store.backendOK()
	return nil
}

func getOrFetch[T any](ctx context.Context, c *Client, model, key string, ttl time.Duration,
	fetch func(context.Context) (T, error)) (T, error) {
	filled := c.store.fills.Load()
	v, ok, answered := read[T](ctx, c, model, key)
	c.lookup(model, ok)
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
			if v, ok, _ := read[T](ctx, c, model, key); ok {
				return v, nil
			}
		}
		fresh, err := runFetch(ctx, fetch)
		if err != nil {
			return nil, err
		}
		if err := set(ctx, c, model, key, fresh, ttl); err != nil {
			c.store.log.Warn("cache write failed; serving the fresh value uncached",
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
