package cache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/panics"
)

func TestStampedeRunsTheFetcherOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		const callers = 100
		var fetches atomic.Int32
		release := make(chan struct{})
		fetch := func(context.Context) (inboxSummary, error) {
			fetches.Add(1)
			<-release
			return inboxSummary{Unread: 5, LatestSubject: "once"}, nil
		}
		allMissed := f.observer.missesReached(callers)
		results := make([]inboxSummary, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				results[i], errs[i] = f.summary.GetOrFetch(context.Background(), f.client, "cold", time.Minute, fetch)
			})
		}
		<-allMissed // every caller has read the cold key before the fetch may finish
		close(release)
		wg.Wait()
		if n := fetches.Load(); n != 1 {
			t.Fatalf("fetcher ran %d times for %d concurrent misses, want 1", n, callers)
		}
		for i := range callers {
			if errs[i] != nil || results[i].LatestSubject != "once" {
				t.Fatalf("caller %d got %+v, %v", i, results[i], errs[i])
			}
		}
		if _, _, collapsed, _ := f.observer.counts(); collapsed == 0 {
			t.Error("no collapsed fetch was counted")
		}
	})
}

func TestCancelledWaiterDoesNotCancelOthers(t *testing.T) {
	f := newFixture(t, "memory")
	started, release := make(chan struct{}), make(chan struct{})
	fetchCtxErr := make(chan error, 1)
	fetch := func(ctx context.Context) (inboxSummary, error) {
		close(started)
		<-release
		fetchCtxErr <- ctx.Err()
		return inboxSummary{Unread: 1}, nil
	}
	leader := make(chan error, 1)
	go func() {
		_, err := f.summary.GetOrFetch(context.Background(), f.client, "k", time.Minute, fetch)
		leader <- err
	}()
	<-started

	waiterCtx, cancel := context.WithCancel(context.Background())
	waiter := make(chan error, 1)
	secondMiss := f.observer.missesReached(2)
	go func() {
		_, err := f.summary.GetOrFetch(waiterCtx, f.client, "k", time.Minute, func(context.Context) (inboxSummary, error) {
			t.Error("the waiter ran its own fetch")
			return inboxSummary{}, nil
		})
		waiter <- err
	}()
	<-secondMiss
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter got %v, want context.Canceled", err)
	}
	close(release)
	if err := <-leader; err != nil {
		t.Fatalf("leader failed after a waiter left: %v", err)
	}
	if err := <-fetchCtxErr; err != nil {
		t.Fatalf("the shared fetch saw %v after one waiter left", err)
	}
}

// The first caller, whose miss started the fetch, leaves while a second
// caller waits: the second still gets the value. The test runs in a
// synctest bubble, so "the second caller is waiting" is a fact, not a hope.
func TestLeaderLeavingDoesNotFailTheWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, "memory")
		release := make(chan struct{})
		fetchCtxErr := make(chan error, 1)
		leaderCtx, cancelLeader := context.WithCancel(context.Background())
		leader := make(chan error, 1)
		go func() {
			_, err := f.summary.GetOrFetch(leaderCtx, f.client, "k", time.Minute, func(ctx context.Context) (inboxSummary, error) {
				<-release
				fetchCtxErr <- ctx.Err()
				return inboxSummary{Unread: 3}, nil
			})
			leader <- err
		}()
		synctest.Wait() // the fetch is running
		waiter := make(chan inboxSummary, 1)
		go func() {
			v, err := f.summary.GetOrFetch(context.Background(), f.client, "k", time.Minute, func(context.Context) (inboxSummary, error) {
				t.Error("the waiter ran its own fetch")
				return inboxSummary{}, nil
			})
			if err != nil {
				t.Errorf("waiter: %v", err)
			}
			waiter <- v
		}()
		synctest.Wait() // the waiter is waiting for the shared fetch
		cancelLeader()
		if err := <-leader; !errors.Is(err, context.Canceled) {
			t.Fatalf("leader got %v, want context.Canceled", err)
		}
		close(release)
		if v := <-waiter; v.Unread != 3 {
			t.Fatalf("waiter got %+v, want the shared fetch's value", v)
		}
		if err := <-fetchCtxErr; err != nil {
			t.Fatalf("the shared fetch was cancelled with its first caller: %v", err)
		}
	})
}

func TestFetchIsCancelledWhenEveryCallerHasGone(t *testing.T) {
	f := newFixture(t, "memory")
	fetchCancelled := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := f.summary.GetOrFetch(ctx, f.client, "k", time.Minute, func(fctx context.Context) (inboxSummary, error) {
			close(started)
			<-fctx.Done()
			close(fetchCancelled)
			return inboxSummary{}, fctx.Err()
		})
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("caller got %v, want context.Canceled", err)
	}
	<-fetchCancelled // would hang (and time the test out) if the fetch outlived its last caller
}

func TestFetchIsBoundedByTheFetchTimeout(t *testing.T) {
	mem, _ := cache.NewMemory(cache.MemoryOptions{})
	store := cache.NewStore(mem, cache.Options{FetchTimeout: 20 * time.Millisecond})
	defer store.Close()
	models := cache.NewModels("mail")
	summary := cache.Register[inboxSummary](models, "inbox_summary")
	client, _ := store.Client("mail", "u", models)
	// The caller's own context has no deadline: only the fetch timeout ends the fetch.
	_, err := summary.GetOrFetch(context.Background(), client, "k", time.Minute, func(ctx context.Context) (inboxSummary, error) {
		<-ctx.Done()
		return inboxSummary{}, ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetOrFetch = %v, want the fetch timeout's DeadlineExceeded", err)
	}
}

func TestPanickingFetcherFailsItsCallersNotTheProcess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		_, err := f.summary.GetOrFetch(context.Background(), f.client, "k", time.Minute, func(context.Context) (inboxSummary, error) {
			panic("fetcher bug")
		})
		var p *panics.Error
		if !errors.As(err, &p) || p.Value != "fetcher bug" || len(p.Stack) == 0 {
			t.Fatalf("GetOrFetch = %v, want a *panics.Error with the value and stack", err)
		}
		got, err := f.summary.GetOrFetch(context.Background(), f.client, "k", time.Minute, func(context.Context) (inboxSummary, error) {
			return inboxSummary{Unread: 2}, nil
		})
		if err != nil || got.Unread != 2 {
			t.Fatalf("the next fetch = %+v, %v; a panic must not be cached", got, err)
		}
	})
}
