package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/internal/testpg"
	"github.com/imperalcloud/exthost/store"
)

// PostgreSQL stops in the middle of a write load and comes back: while it
// is gone operations fail with ErrUnavailable (never an empty answer that
// looks real), every write acknowledged before, during or after is there,
// and operations succeed again once it is back.
func TestPostgresOutageLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private PostgreSQL")
	}
	server := testpg.StartServer(t)
	pg, err := store.OpenPostgres(context.Background(), store.PostgresOptions{URL: server.URL, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	f := newFixture(t, pg, store.Options{Timeout: time.Second})
	c := f.client("mail-client", "ann")
	ctx := context.Background()

	var (
		mu           sync.Mutex
		acknowledged []string
		unavailable  atomic.Int64
		other        atomic.Value
		next         atomic.Int64
		stop         = make(chan struct{})
		wg           sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("doc-%06d", next.Add(1))
				_, err := f.accounts.CreateWithID(ctx, c, id, account{Email: id})
				switch {
				case err == nil:
					mu.Lock()
					acknowledged = append(acknowledged, id)
					mu.Unlock()
				case errors.Is(err, store.ErrUnavailable):
					unavailable.Add(1)
				default:
					other.Store(err.Error())
				}
			}
		})
	}
	acked := func() int { mu.Lock(); defer mu.Unlock(); return len(acknowledged) }
	testkit.WaitFor(t, 10*time.Second, "writes before the outage", func() bool { return acked() >= 50 })
	server.Stop()
	testkit.WaitFor(t, 10*time.Second, "writes failing during the outage", func() bool { return unavailable.Load() >= 10 })
	// A read during the outage is an error, not "no such document".
	if _, _, err := f.accounts.Get(ctx, c, "doc-000001"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get during the outage = %v, want ErrUnavailable", err)
	}
	if _, err := f.accounts.Query(ctx, c, store.Query{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Query during the outage = %v, want ErrUnavailable", err)
	}
	during := acked()
	server.Start()
	testkit.WaitFor(t, 30*time.Second, "writes succeeding after the outage", func() bool { return acked() >= during+50 })
	close(stop)
	wg.Wait()
	if e := other.Load(); e != nil {
		t.Fatalf("a write failed otherwise than unavailable: %v", e)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range acknowledged {
		if _, ok, err := f.accounts.Get(ctx, c, id); err != nil || !ok {
			t.Fatalf("acknowledged %s is gone (%v, %v)", id, ok, err)
		}
	}
	n, err := f.accounts.Count(ctx, c, nil)
	if err != nil || n < len(acknowledged) {
		t.Fatalf("Count = %d, %v; %d were acknowledged", n, err, len(acknowledged))
	}
	t.Logf("%d writes acknowledged, %d failed unavailable, %d stored", len(acknowledged), unavailable.Load(), n)
}
