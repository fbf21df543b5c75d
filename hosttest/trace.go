package hosttest

import (
	"context"
	"encoding/json"
	"time"

	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// Trace is what the host did during one call.
type Trace struct {
	RequestID string
	AppID     string
	Function  string
	UserID    string
	Status    runtime.Status
	ErrorCode string
	// Start is when the call began, on the host's clock.
	Start       time.Time
	Duration    time.Duration
	CacheHits   int
	CacheMisses int
	// Upstream lists the call's upstream requests in the order they ended.
	Upstream []httpclient.Exchange
	// Store lists the call's document store operations in the order they
	// ended.
	Store []store.Op
	// RefreshPanels are the panels the result asks to refresh (nil: all).
	RefreshPanels []string
	// Event is the event the call published, if any.
	Event *Event
}

// Event is an event the host published: the SDK's envelope.
type Event struct {
	EventType string
	// Data is the call's result data.
	Data      json.RawMessage
	SourceApp string
	UserID    string
	TenantID  string
	// Timestamp is RFC 3339 UTC.
	Timestamp string
	// JSON is the envelope exactly as it goes to Redis: the bytes the SDK's
	// fallback publisher writes, with the timestamp last.
	JSON json.RawMessage
}

func traceOf(tr dispatch.Trace) Trace {
	out := Trace{
		RequestID: tr.RequestID, AppID: tr.AppID, Function: tr.Function, UserID: tr.UserID,
		Status: tr.Status, ErrorCode: tr.ErrorCode, Start: tr.Start, Duration: tr.Duration,
		CacheHits: tr.CacheHits, CacheMisses: tr.CacheMisses, Upstream: tr.Upstream, Store: tr.Store, RefreshPanels: tr.RefreshPanels,
	}
	if tr.Event != nil {
		ev := eventOf(*tr.Event)
		out.Event = &ev
	}
	return out
}

func eventOf(ev events.Event) Event {
	raw, _ := ev.Encode() // the data was encoded by the dispatcher: it re-renders
	return Event{EventType: ev.EventType, Data: ev.Data, SourceApp: ev.SourceApp, UserID: ev.UserID,
		TenantID: ev.TenantID, Timestamp: ev.Timestamp, JSON: raw}
}

// checkShared fails the test when the call just made changed a value it
// read from the cache: such values are shared by every call that hits.
func (h *Host) checkShared(app string) {
	h.t.Helper()
	changed, err := h.host.Dispatcher().Cache().Changed(context.Background(), app)
	if err != nil {
		return // a backend that cannot list entries keeps no shared values
	}
	for _, e := range changed {
		// Once reported, an entry stays changed: blame only the first call.
		if !h.firstReport(e.StorageKey + "\x00" + string(e.Envelope)) {
			continue
		}
		h.t.Errorf("hosttest: a call of %s changed the cached %s entry of %s it read (key %s): values read from the cache are shared by every call; copy before changing",
			app, e.Model, e.UserID, e.Key)
	}
}

// firstReport reports whether the changed entry id is reported for the
// first time.
func (h *Host) firstReport(id string) bool {
	h.reportedMu.Lock()
	defer h.reportedMu.Unlock()
	if h.reported[id] {
		return false
	}
	if h.reported == nil {
		h.reported = make(map[string]bool)
	}
	h.reported[id] = true
	return true
}
