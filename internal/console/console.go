// Package console is the dev console: a web page, served by the dev
// server, where an extension developer sees the extensions and their
// functions, calls any of them as any user through a form generated from
// its parameter schema, and sees what each call did (its ActionResult,
// panel refreshes, event, cache reads, upstream requests, store
// operations), with a history of recent calls, a live tail and replay.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary (no
// CDN, no build step); it calls the host's own API for catalogs and calls,
// and this package's /console/api/ for what only the console needs: the
// recorded calls, their live tail with the notifications (server-sent
// events) and a user's cache entries.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/runtime"
)

//go:embed assets
var assets embed.FS

// DefaultCalls is how many recent calls a console keeps.
const DefaultCalls = 200

// Options configures a Console.
type Options struct {
	// Cache is the host's cache store, whose entries the console lists and
	// drops. Its clients should record their reads
	// (cache.Options.RecordReads) for the traces to show them.
	Cache *cache.Store
	// Apps are the app ids served, whose entries are listed.
	Apps []string
	// Calls is how many recent calls are kept. Default DefaultCalls.
	Calls int
}

// Console records calls and serves the page and its API.
type Console struct {
	store *cache.Store
	apps  []string
	limit int

	mu    sync.Mutex
	calls []Call // oldest first, at most limit
	seq   int64
	subs  map[chan event]struct{}

	closed    chan struct{} // closed by Close: every live tail ends
	closeOnce sync.Once
}

// codeNotFound is the host's error code for a path it does not serve.
const codeNotFound = "NOT_FOUND"

// heartbeat is how often an idle live tail sends a comment line, so that
// proxies and browsers keep the stream open and a page that went away is
// noticed.
const heartbeat = 15 * time.Second

// event is one server-sent event of the live tail: a call or a
// notification.
type event struct {
	name string
	data []byte
}

// New returns a console for opts.
func New(opts Options) *Console {
	if opts.Calls <= 0 {
		opts.Calls = DefaultCalls
	}
	return &Console{store: opts.Cache, apps: slices.Clone(opts.Apps), limit: opts.Calls, subs: make(map[chan event]struct{}),
		closed: make(chan struct{})}
}

// Close ends every live tail, so that a page left open does not hold a
// server's graceful shutdown (register it with http.Server.RegisterOnShutdown).
// The console still records calls and serves its page; closing twice does
// nothing.
func (c *Console) Close() { c.closeOnce.Do(func() { close(c.closed) }) }

// Call is one recorded call, as the page shows it.
type Call struct {
	Seq          int64           `json:"seq"`
	RequestID    string          `json:"request_id"`
	AppID        string          `json:"app_id"`
	Function     string          `json:"function"`
	UserID       string          `json:"user_id"`
	Status       runtime.Status  `json:"status"`
	ErrorCode    string          `json:"error_code,omitempty"`
	StartedAt    string          `json:"started_at"`
	DurationMS   float64         `json:"duration_ms"`
	Params       json.RawMessage `json:"params"`
	Answer       json.RawMessage `json:"answer"`
	CacheReads   []CacheRead     `json:"cache_reads"`
	CacheHits    int             `json:"cache_hits"`
	CacheMisses  int             `json:"cache_misses"`
	Upstream     []Upstream      `json:"upstream"`
	Store        []StoreOp       `json:"store"`
	Event        json.RawMessage `json:"event,omitempty"`
	RefreshPanel []string        `json:"refresh_panels"`
	Overran      bool            `json:"overran,omitempty"`
}

// CacheRead is one cache read of a call.
type CacheRead struct {
	Model string `json:"model"`
	Key   string `json:"key"`
	Hit   bool   `json:"hit"`
	Bytes int    `json:"bytes,omitempty"`
}

// Upstream is one upstream request of a call.
type Upstream struct {
	Service    string  `json:"service"`
	Method     string  `json:"method"`
	URL        string  `json:"url"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
}

// StoreOp is one store operation of a call.
type StoreOp struct {
	Op         string  `json:"op"`
	Collection string  `json:"collection"`
	Outcome    string  `json:"outcome"`
	DurationMS float64 `json:"duration_ms"`
}

// Call records a finished call (a dispatch.Observer). It copies what the
// trace only lends.
func (c *Console) Call(tr dispatch.Trace) {
	rec := Call{
		RequestID: tr.RequestID, AppID: tr.AppID, Function: tr.Function, UserID: tr.UserID,
		Status: tr.Status, ErrorCode: tr.ErrorCode, StartedAt: tr.Start.UTC().Format(time.RFC3339Nano),
		DurationMS: ms(tr.Duration), Params: compactObject(tr.Params), Answer: bytes.Clone(tr.Answer),
		CacheHits: tr.CacheHits, CacheMisses: tr.CacheMisses, RefreshPanel: slices.Clone(tr.RefreshPanels),
		Overran: tr.Overran, CacheReads: []CacheRead{}, Upstream: []Upstream{}, Store: []StoreOp{},
	}
	for _, r := range tr.CacheReads {
		rec.CacheReads = append(rec.CacheReads, CacheRead{Model: r.Model, Key: r.Key, Hit: r.Hit, Bytes: r.Bytes})
	}
	for _, ex := range tr.Upstream {
		u := Upstream{Service: ex.Service, Method: ex.Method, URL: "http://" + ex.Service + ex.Path, Status: ex.Status,
			DurationMS: ms(ex.Duration)}
		if ex.Err != nil {
			u.Error = ex.Err.Error()
		}
		rec.Upstream = append(rec.Upstream, u)
	}
	for _, op := range tr.Store {
		rec.Store = append(rec.Store, StoreOp{Op: op.Op, Collection: op.Collection, Outcome: op.Outcome, DurationMS: ms(op.Duration)})
	}
	if tr.Event != nil {
		rec.Event, _ = json.Marshal(tr.Event)
	}
	if !json.Valid(rec.Answer) {
		rec.Answer = json.RawMessage("null")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	rec.Seq = c.seq
	if len(c.calls) == c.limit {
		c.calls = slices.Delete(c.calls, 0, 1)
	}
	c.calls = append(c.calls, rec)
	if len(c.subs) > 0 {
		data, _ := json.Marshal(rec)
		c.broadcast(event{"call", data})
	}
}

// Notify shows a notification as the page's toast (an events.Notifier).
func (c *Console) Notify(n events.Notification) {
	data, _ := json.Marshal(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.broadcast(event{"notification", data})
}

// broadcast sends e to every page's tail; c.mu is held.
func (c *Console) broadcast(e event) {
	for sub := range c.subs {
		select {
		case sub <- e:
		default: // a slow page misses a line of its tail, never the host
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// compactObject is params as the page replays them: compact JSON, {} for
// none.
func compactObject(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if len(bytes.TrimSpace(raw)) == 0 || json.Compact(&buf, raw) != nil || buf.String() == "null" {
		return json.RawMessage("{}")
	}
	return buf.Bytes()
}

// Filter selects recorded calls; an empty field matches every call.
type Filter struct {
	Function, UserID, RequestID string
	Status                      runtime.Status
}

func (f Filter) match(c Call) bool {
	return (f.Function == "" || c.Function == f.Function) && (f.UserID == "" || c.UserID == f.UserID) &&
		(f.RequestID == "" || c.RequestID == f.RequestID) && (f.Status == "" || c.Status == f.Status)
}

// Calls returns the recorded calls that f selects, newest first.
func (c *Console) Calls(f Filter) []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []Call{}
	for i := len(c.calls) - 1; i >= 0; i-- {
		if f.match(c.calls[i]) {
			out = append(out, c.calls[i])
		}
	}
	return out
}

// subscribe returns a channel of the events from now on, and the
// function that ends the subscription.
func (c *Console) subscribe() (<-chan event, func()) {
	ch := make(chan event, 64)
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}
}

// Handler serves the page at / and its API under /console/api/. Anything
// else under /console/ is a JSON 404.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /console/assets/{file}", http.StripPrefix("/console/assets/", noIndex(files)))
	mux.HandleFunc("GET /console/api/calls", c.listCalls)
	mux.HandleFunc("GET /console/api/calls/stream", c.streamCalls)
	mux.HandleFunc("GET /console/api/cache", c.listCache)
	mux.HandleFunc("DELETE /console/api/cache", c.deleteCache)
	mux.HandleFunc("/console/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody(codeNotFound, "The console has no such page."))
	})
	return mux
}

// noIndex serves the page's files by name, never the page itself under
// another path (the file server answers index.html for a directory and
// redirects "/index.html" to it).
func noIndex(files http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name := r.URL.Path; name == "" || name == "index.html" || strings.Contains(name, "/") {
			writeJSON(w, http.StatusNotFound, errorBody(codeNotFound, "The console has no such page."))
			return
		}
		files.ServeHTTP(w, r)
	})
}

func (c *Console) listCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	writeJSON(w, http.StatusOK, map[string]any{"calls": c.Calls(Filter{
		Function: q.Get("function"), UserID: q.Get("user_id"), RequestID: q.Get("request_id"),
		Status: runtime.Status(q.Get("status")),
	})})
}

// streamCalls is the live tail: each recorded call as a server-sent event
// "call", and each notification as "notification", until the page goes
// away or the console closes. The stream outlives the server's write
// timeout, which bounds a call's answer, not a tail.
func (c *Console) streamCalls(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return
	}
	tail, stop := c.subscribe()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	line := []byte(": tail\n\n")
	for {
		if _, err := w.Write(line); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-c.closed:
			return
		case <-ping.C:
			line = []byte(": ping\n\n")
		case e := <-tail:
			line = []byte("event: " + e.name + "\ndata: " + string(e.data) + "\n\n")
		}
	}
}

// entryJSON is a cache entry as the page lists it.
type entryJSON struct {
	AppID      string  `json:"app_id"`
	Model      string  `json:"model"`
	Key        string  `json:"key"`
	StorageKey string  `json:"storage_key"`
	TTLSeconds float64 `json:"ttl_seconds"`
	Bytes      int     `json:"bytes"`
}

func (c *Console) listCache(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user_id")
	if user == "" {
		writeJSON(w, http.StatusBadRequest, errorBody(runtime.CodeBadRequest, "user_id is required."))
		return
	}
	out := []entryJSON{}
	for _, app := range c.apps {
		entries, err := c.store.Entries(r.Context(), app, user)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody(runtime.CodeUnavailable, "The cache cannot list its entries."))
			return
		}
		for _, e := range entries {
			out = append(out, entryJSON{AppID: e.AppID, Model: e.Model, Key: e.Key, StorageKey: e.StorageKey,
				TTLSeconds: e.TTL.Round(time.Second).Seconds(), Bytes: len(e.Envelope)})
		}
	}
	slices.SortFunc(out, func(a, b entryJSON) int { return strings.Compare(a.StorageKey, b.StorageKey) })
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
}

func (c *Console) deleteCache(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user, app, key := q.Get("user_id"), q.Get("app_id"), q.Get("storage_key")
	if !slices.Contains(c.apps, app) {
		writeJSON(w, http.StatusBadRequest, errorBody(runtime.CodeBadRequest, "app_id is not an app this host serves."))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := c.store.DeleteEntry(ctx, app, user, key); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody(runtime.CodeBadRequest, "storage_key is not an entry of that user."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": 1})
}

// errorBody is the ActionResult-shaped error every non-2xx answer of the
// host carries.
func errorBody(code, message string) map[string]any {
	return map[string]any{"status": "error", "summary": "", "data": map[string]any{}, "error": message, "error_code": code}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
