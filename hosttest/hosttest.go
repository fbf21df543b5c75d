// Package hosttest runs an extension host inside a Go test: the same host
// `host serve` assembles, with the chosen extensions, its upstream services
// stubbed by logical name, a clock the test moves, and everything that
// happened open to inspection. Tests of extensions and of the chat
// orchestrator use it to drive the host deterministically, without a mail
// backend and without sleeping for TTLs.
//
//	h := hosttest.New(t, hosttest.Options{
//		Extensions: []*runtime.Extension{mailclient.Extension()},
//		Upstreams:  map[string]http.Handler{"mail-service": hosttest.JSON(routes)},
//	})
//	res := h.Call("mail-client", "list_inbox", map[string]any{"account_id": "work"})
//
// Calls go to the dispatcher directly (Call) or over the real HTTP API
// (CallHTTP, or any client pointed at URL). The host keeps the traces of
// its calls, the events it published, the requests each upstream received
// and its logs; Advance moves its clock. Every host is stopped when its
// test ends.
package hosttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/clock"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/internal/testpg"
	"github.com/imperalcloud/exthost/internal/testredis"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// TB is what a host needs of its test. *testing.T, *testing.B and
// *testing.F are TBs.
type TB interface {
	Helper()
	Name() string
	Cleanup(func())
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Fail()
	FailNow()
	Failed() bool
}

// Epoch is where a host's clock stands until the test advances it, unless
// Options.Start says otherwise: 2026-01-01T00:00:00Z, the time of the
// Python SDK's MockContext.
func Epoch() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// DefaultUser is the caller of every call that names no other, as the
// Python SDK's MockContext: test_user, test@test.com, role user, scopes
// ["*"], tenant default.
func DefaultUser() ctx.User {
	return ctx.User{ImperalID: "test_user", Email: "test@test.com", TenantID: "default", Role: "user", Scopes: []string{"*"}}
}

// Options configures a test host. Only Extensions is required.
type Options struct {
	// Extensions are the extensions to serve, in an isolated registry:
	// what else the test binary links in is not served.
	Extensions []*runtime.Extension
	// Upstreams stub the upstream services by logical name: a request of
	// an extension to http://<name>/<path> is served by the handler, in
	// process. See JSON for canned answers, and Record and Replay for
	// answers recorded from a real service.
	Upstreams map[string]http.Handler
	// Redis puts the cache in the Redis at REDIS_URL, under a namespace of
	// this host's own, instead of in memory. Without Redis the test fails
	// under CI=true and is skipped elsewhere. Redis expires entries on its
	// own clock: Advance does not reach them.
	Redis bool
	// Postgres puts the document store in a schema of its own in the
	// PostgreSQL at POSTGRES_URL, dropped when the test ends, instead of in
	// memory. Without PostgreSQL the test fails under CI=true and is
	// skipped elsewhere.
	Postgres bool
	// CallTokens turns on call_token authentication: CallHTTP mints a
	// token for each call, and Token mints them for other clients.
	// Without it the host trusts the identity in the request (dev mode).
	CallTokens bool
	// User is the caller of calls that name none. Default DefaultUser().
	User ctx.User
	// Start is where the host's clock stands until advanced. Default Epoch().
	Start time.Time
	// CallTimeout is every call's deadline. Default 10s.
	CallTimeout time.Duration
	// MaxTasks bounds the background tasks running at once. Default 64.
	MaxTasks int
	// TaskTimeout is the deadline of background tasks (of long-running
	// functions too). Default 180s, and 1800s for long-running ones.
	TaskTimeout time.Duration
	// NotificationsPerMinute and NotificationBurst set each user's
	// notification rate. Default 30 a minute, 10 at once.
	NotificationsPerMinute float64
	NotificationBurst      int
	// MCPStateless serves /mcp with no sessions, and MCPJSONResponse
	// answers its requests with JSON instead of event streams (config
	// mcp.stateless and mcp.json_response).
	MCPStateless, MCPJSONResponse bool
}

// Host is an extension host running for one test.
type Host struct {
	t         TB
	host      *host.Host
	harness   *host.Harness
	clock     *clock.Clock
	upstreams *upstreams
	logs      *observer.ObservedLogs
	user      ctx.User
	secret    string // signs call tokens; empty in dev mode
	redis     bool

	serveOnce sync.Once
	server    *httptest.Server

	reportedMu sync.Mutex
	reported   map[string]bool // changed cache entries already reported
}

// New starts a host for t, stopped when t ends. It fails t when the options
// cannot make a host.
func New(t TB, opts Options) *Host {
	t.Helper()
	if len(opts.Extensions) == 0 {
		t.Fatalf("hosttest: Options.Extensions names no extension to serve")
	}
	h := &Host{t: t, user: opts.User, upstreams: newUpstreams(t, maps.Clone(opts.Upstreams)), redis: opts.Redis}
	if h.user.ImperalID == "" {
		h.user = DefaultUser()
	}
	start := opts.Start
	if start.IsZero() {
		start = Epoch()
	}
	h.clock = clock.Fixed(start)

	cfg := config.Default()
	cfg.Harness.Enabled = true
	cfg.Console.Enabled = false // the harness has the traces; no page looks here
	cfg.Log.Level, cfg.Log.SampleSuccess = "debug", config.Sampling{}
	if opts.CallTimeout > 0 {
		cfg.Limits.CallTimeout = opts.CallTimeout
	}
	if opts.MaxTasks > 0 {
		cfg.Tasks.MaxRunning = opts.MaxTasks
	}
	if opts.TaskTimeout > 0 {
		cfg.Tasks.Timeout, cfg.Tasks.LongTimeout = opts.TaskTimeout, opts.TaskTimeout
	}
	if opts.NotificationsPerMinute > 0 {
		cfg.Notifications.PerMinute = opts.NotificationsPerMinute
	}
	cfg.MCP.Stateless, cfg.MCP.JSONResponse = opts.MCPStateless, opts.MCPJSONResponse
	if opts.NotificationBurst > 0 {
		cfg.Notifications.Burst = opts.NotificationBurst
	}
	cfg.Services = make(map[string]string, len(opts.Upstreams))
	for name := range opts.Upstreams {
		cfg.Services[name] = "http://" + name
	}
	var namespace string
	if opts.Postgres {
		cfg.Store.Backend, cfg.Store.Postgres.URL = config.StorePostgres, testpg.Schema(t)
	}
	if opts.Redis {
		testredis.Client(t) // fails or skips the test when there is no Redis
		cfg.Cache.Backend, cfg.Cache.Redis.URL = config.BackendRedis, testredis.URL()
		namespace = "hosttest:" + testredis.UniqueID(t) + ":"
	}
	if opts.CallTokens {
		cfg.Auth.Mode = config.AuthCallToken
		h.secret = calltoken.NewJTI()
		cfg.Auth.Secrets = []string{h.secret}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("hosttest: %v", err)
	}

	core, logs := observer.New(zapcore.DebugLevel)
	h.logs = logs
	logger := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t, zaptest.Level(zapcore.InfoLevel)).Core()))
	var err error
	h.host, err = host.New(cfg, host.Options{
		Extensions: opts.Extensions, Logger: logger, Clock: h.clock, Transport: h.upstreams, Namespace: namespace,
		Version: "hosttest",
	})
	if err != nil {
		t.Fatalf("hosttest: %v", err)
	}
	h.harness = h.host.Harness()
	t.Cleanup(h.stop)
	return h
}

func (h *Host) stop() {
	if h.server != nil {
		h.server.Close()
	}
	if h.redis {
		// A Redis-backed host leaves nothing behind in the shared Redis.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = h.harness.PurgeCache(ctx, "")
	}
	h.host.Close()
}

// URL returns the base URL of the host's HTTP API, for clients in any
// language: POST URL()+"/v1/extensions/mail-client/call". The harness
// endpoints (/v1/harness/) are served too. The listener starts on first use.
func (h *Host) URL() string {
	h.serveOnce.Do(func() { h.server = httptest.NewServer(h.host.Handler()) })
	return h.server.URL
}

// Now returns the time on the host's clock.
func (h *Host) Now() time.Time { return h.clock.Now() }

// Advance moves the host's clock forward by d and returns the new time:
// entries of the memory backend expire and call tokens run out as if d had
// passed.
func (h *Host) Advance(d time.Duration) time.Time {
	h.t.Helper()
	now, err := h.clock.Advance(d)
	if err != nil {
		h.t.Fatalf("hosttest: %v", err)
	}
	return now
}

// Traces returns the traces of the host's calls, oldest first (the last
// 256): cache hits and misses, upstream requests, status and duration.
func (h *Host) Traces() []Trace {
	calls := h.harness.Calls(0)
	traces := make([]Trace, len(calls))
	for i, tr := range calls {
		traces[len(calls)-1-i] = traceOf(tr)
	}
	return traces
}

// Events returns the events the host published, oldest first (the last
// 256).
func (h *Host) Events() []Event {
	published := h.host.Events()
	out := make([]Event, len(published))
	for i, ev := range published {
		out[i] = eventOf(ev)
	}
	return out
}

// Requests returns the requests the upstream service received, in order.
func (h *Host) Requests(service string) []Request { return h.upstreams.received(service) }

// Logs returns what the host logged, at every level.
func (h *Host) Logs() *observer.ObservedLogs { return h.logs }

// Entry is one cache entry of a user.
type Entry struct {
	AppID  string
	UserID string
	Model  string
	// Key is the extension's key, e.g. "inbox:work:INBOX:0".
	Key string
	// TTL is the time the entry has left.
	TTL time.Duration
	// Size is the stored envelope's length in bytes, which the 64 KiB cap
	// (I-CACHE-VALUE-SIZE-CAP-64KB) bounds.
	Size int
	// Envelope is the entry as stored: {"model", "version", "data",
	// "cached_at"}.
	Envelope json.RawMessage
}

// String returns "app/user/model/key (ttl, size)".
func (e Entry) String() string {
	return fmt.Sprintf("%s/%s/%s/%s (%s, %d bytes)", e.AppID, e.UserID, e.Model, e.Key, e.TTL, e.Size)
}

// CacheEntries returns the cache entries of userID (every user when
// empty), sorted by app, user, model and key hash.
func (h *Host) CacheEntries(userID string) []Entry {
	h.t.Helper()
	infos, err := h.harness.Entries(context.Background(), userID)
	if err != nil {
		h.t.Fatalf("hosttest: %v", err)
	}
	entries := make([]Entry, len(infos))
	for i, info := range infos {
		entries[i] = entryOf(info)
	}
	return entries
}

func entryOf(info cache.EntryInfo) Entry {
	key := info.Key
	if key == "" {
		key = "#" + info.KeyHash // written by another process: only its hash is known
	}
	return Entry{
		AppID: info.AppID, UserID: info.UserID, Model: info.Model, Key: key, TTL: info.TTL,
		Size: len(info.Envelope), Envelope: bytes.Clone(info.Envelope), // the test's copy, not the cache's
	}
}

// PurgeCache drops the cache entries of userID (every user when empty) and
// returns how many it dropped.
func (h *Host) PurgeCache(userID string) int {
	h.t.Helper()
	n, err := h.harness.PurgeCache(context.Background(), userID)
	if err != nil {
		h.t.Fatalf("hosttest: %v", err)
	}
	return n
}

// Documents returns userID's store documents in every served extension,
// by collection and id.
func (h *Host) Documents(userID string) []store.Stored {
	h.t.Helper()
	docs, err := h.harness.Documents(context.Background(), userID)
	if err != nil {
		h.t.Fatalf("hosttest: %v", err)
	}
	return docs
}

// SeedDocument writes a store document of app's userID before a call
// reads it; data is encoded as JSON and must encode as an object.
func (h *Host) SeedDocument(app, userID, collection, id string, data any) store.Stored {
	h.t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		h.t.Fatalf("hosttest: seed %s/%s: %v", collection, id, err)
	}
	doc, err := h.harness.SeedDocument(context.Background(), app, userID, collection, id, raw)
	if err != nil {
		h.t.Fatalf("hosttest: seed %s/%s: %v", collection, id, err)
	}
	return doc
}

// ClearStore removes userID's store documents and returns how many it
// removed.
func (h *Host) ClearStore(userID string) int {
	h.t.Helper()
	n, err := h.harness.ClearStore(context.Background(), userID)
	if err != nil {
		h.t.Fatalf("hosttest: %v", err)
	}
	return n
}
