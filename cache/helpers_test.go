package cache_test

import (
	"sync"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/cachetest"
	"github.com/imperalcloud/exthost/internal/testkit"
)

// inboxSummary is the SDK test suite's model: {unread: int = 0, latest_subject: str = ""}.
type inboxSummary struct {
	Unread        int    `json:"unread"`
	LatestSubject string `json:"latest_subject"`
}

// fixedNow is the clock of every fixture, so envelopes are predictable.
var fixedNow = time.Date(2026, 11, 26, 17, 22, 13, 643308000, time.UTC)

// fixture is the SDK suite's set-up (app "mail", model "inbox_summary") on
// one backend, with the backend's operations recorded.
type fixture struct {
	backend  string
	raw      cache.Backend // the backend itself, unrecorded
	spy      *testkit.Recorder
	observer *countingObserver
	store    *cache.Store
	models   *cache.Models
	summary  *cache.Model[inboxSummary]
	client   *cache.Client
	user     string
}

// newClient returns a client of the fixture's store for another user.
func (f *fixture) newClient(t *testing.T, user string) *cache.Client {
	t.Helper()
	c, err := f.store.Client("mail", user, f.models)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// forEachBackend runs test against the memory backend and the shared Redis.
func forEachBackend(t *testing.T, test func(t *testing.T, f *fixture)) {
	t.Helper()
	for _, name := range cachetest.Kinds {
		t.Run(name, func(t *testing.T) {
			test(t, newFixture(t, name))
		})
	}
}

func newFixture(t *testing.T, backend string) *fixture {
	t.Helper()
	f := &fixture{
		backend:  backend,
		raw:      cachetest.Backend(t, backend),
		observer: newCountingObserver(),
		user:     cachetest.User(t, backend, "u-123"),
	}
	spied, recorder := testkit.Record(f.raw) // keeps the decoded-value path, which production uses
	f.spy = recorder
	f.store = cache.NewStore(spied, cache.Options{Observer: f.observer, Now: func() time.Time { return fixedNow }})
	t.Cleanup(func() { _ = f.store.Close() })
	f.models = cache.NewModels("mail")
	f.summary = cache.Register[inboxSummary](f.models, "inbox_summary")
	f.client = f.newClient(t, f.user)
	return f
}

// countingObserver counts cache events and lets a test wait for misses.
type countingObserver struct {
	cache.NopObserver
	mu        sync.Mutex
	hits      int
	misses    int
	collapsed int
	errors    int
	degraded  []bool
	waiters   []missWaiter
}

type missWaiter struct {
	n    int
	done chan struct{}
}

func newCountingObserver() *countingObserver { return &countingObserver{} }

func (o *countingObserver) Lookup(_, _ string, hit bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if hit {
		o.hits++
		return
	}
	o.misses++
	kept := o.waiters[:0]
	for _, w := range o.waiters {
		if o.misses >= w.n {
			close(w.done)
			continue
		}
		kept = append(kept, w)
	}
	o.waiters = kept
}

func (o *countingObserver) BackendError(string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errors++
}

func (o *countingObserver) Degraded(d bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.degraded = append(o.degraded, d)
}

func (o *countingObserver) Collapsed(string, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.collapsed++
}

// misses returns a channel closed once n misses have been counted.
func (o *countingObserver) missesReached(n int) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	done := make(chan struct{})
	if o.misses >= n {
		close(done)
		return done
	}
	o.waiters = append(o.waiters, missWaiter{n: n, done: done})
	return done
}

func (o *countingObserver) counts() (hits, misses, collapsed, errors int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits, o.misses, o.collapsed, o.errors
}
