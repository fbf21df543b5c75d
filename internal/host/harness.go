package host

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/clock"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/recent"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// harnessCalls is how many call traces the harness keeps.
const harnessCalls = 256

// harnessKeyNames is how many cache keys the harness can name in its
// listings (the keyspace holds only their hashes).
const harnessKeyNames = 10_000

// Harness is the test surface of a host with the harness mode on: its
// clock, its recent call traces and events, and its cache. The server's
// /v1/harness/ endpoints and the hosttest package both drive it.
type Harness struct {
	clock  *clock.Clock
	calls  traceRing
	events *events.Log
	notes  *events.NotificationLog
	store  *cache.Store
	docs   *store.Store
	exts   []*runtime.Extension
	apps   []string
}

// traceRing keeps the traces of the last calls: it observes the dispatcher.
type traceRing struct{ *recent.Ring[dispatch.Trace] }

// Call implements dispatch.Observer.
func (r traceRing) Call(tr dispatch.Trace) { r.Add(tr) }

func newHarness(c *clock.Clock, entries *cache.Store, docs *store.Store, log *events.Log, notes *events.NotificationLog, exts []*runtime.Extension) *Harness {
	h := &Harness{clock: c, calls: traceRing{recent.New[dispatch.Trace](harnessCalls)}, events: log, notes: notes,
		store: entries, docs: docs, exts: exts}
	for _, ext := range exts {
		h.apps = append(h.apps, ext.AppID())
	}
	return h
}

// Now returns the host's time.
func (h *Harness) Now() time.Time { return h.clock.Now() }

// Advance moves the host's clock forward by d: cache TTLs of the memory
// backend and call-token expiry follow it. Redis keeps its own time.
func (h *Harness) Advance(d time.Duration) (time.Time, error) { return h.clock.Advance(d) }

// Calls returns up to limit recent call traces, newest first; limit <= 0
// means every kept one.
func (h *Harness) Calls(limit int) []dispatch.Trace { return h.calls.Newest(limit) }

// Events returns up to limit recent events, newest first; limit <= 0 means
// every kept one.
func (h *Harness) Events(limit int) []events.Event { return h.events.Last(limit) }

// Notifications returns up to limit recent notifications, newest first;
// limit <= 0 means every kept one.
func (h *Harness) Notifications(limit int) []events.Notification { return h.notes.Last(limit) }

// Entries lists the cache entries of userID (every user when empty) in
// every served extension.
func (h *Harness) Entries(ctx context.Context, userID string) ([]cache.EntryInfo, error) {
	var all []cache.EntryInfo
	for _, app := range h.apps {
		entries, err := h.store.Entries(ctx, app, userID)
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		all = append(all, entries...)
	}
	return all, nil
}

// PurgeCache drops the cache entries of userID (every user when empty) in
// every served extension, and returns how many it dropped.
func (h *Harness) PurgeCache(ctx context.Context, userID string) (int, error) {
	removed := 0
	for _, app := range h.apps {
		n, err := h.store.Purge(ctx, app, userID)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("host: %w", err)
		}
	}
	return removed, nil
}

// Documents lists the store documents of userID in every served
// extension's collections.
func (h *Harness) Documents(ctx context.Context, userID string) ([]store.Stored, error) {
	var all []store.Stored
	for _, ext := range h.exts {
		docs, err := h.docs.List(ctx, ext.AppID(), userID, ext.Collections().Names())
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		all = append(all, docs...)
	}
	return all, nil
}

// SeedDocument writes a store document of app's userID, as a test
// prepares it; the collection must be one app declares.
func (h *Harness) SeedDocument(ctx context.Context, app, userID, collection, id string, data json.RawMessage) (store.Stored, error) {
	for _, ext := range h.exts {
		if ext.AppID() != app {
			continue
		}
		if err := ext.Collections().Check(collection, data); err != nil {
			return store.Stored{}, fmt.Errorf("host: %w", err)
		}
		return h.docs.Seed(ctx, app, userID, collection, id, data)
	}
	return store.Stored{}, fmt.Errorf("host: %w: no extension %q", store.ErrInvalid, app)
}

// ClearStore removes the store documents of userID in every served
// extension and returns how many it removed.
func (h *Harness) ClearStore(ctx context.Context, userID string) (int, error) {
	removed := 0
	for _, app := range h.apps {
		n, err := h.docs.Clear(ctx, app, userID)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("host: %w", err)
		}
	}
	return removed, nil
}
