// Package host assembles a running host from its configuration: logger,
// metrics, cache, upstream client, dispatcher, call-token verifier, event
// publishers and the HTTP API, and runs it until it is told to stop, then
// drains.
package host

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/clock"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/confirm"
	"github.com/imperalcloud/exthost/internal/console"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/fastrpc"
	"github.com/imperalcloud/exthost/internal/metrics"
	"github.com/imperalcloud/exthost/internal/notify"
	"github.com/imperalcloud/exthost/internal/replay"
	"github.com/imperalcloud/exthost/internal/server"
	"github.com/imperalcloud/exthost/internal/tasks"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// Options are what a host takes besides its configuration.
type Options struct {
	// Extensions are the extensions to serve, typically registry.List().
	Extensions []*runtime.Extension
	// Logger replaces the logger the configuration describes.
	Logger *zap.Logger
	// Clock is the host's clock, which harnesses move. Default: the real
	// time, and with the harness mode on, a clock.Real the harness moves.
	Clock *clock.Clock
	// Transport carries upstream requests, in place of the network; a
	// harness's stubs plug in here. Default: a keep-alive transport.
	Transport http.RoundTripper
	// Namespace prefixes the Redis keys and channels (cache entries,
	// invalidations, events), so that hosts of parallel tests sharing one
	// Redis never collide. It holds no glob character and no brace.
	// Production leaves it empty.
	Namespace string
	// Version is reported in logs and as the upstream User-Agent.
	Version string
	// Environ is where secrets are read, as os.Environ returns it
	// (EXTHOST_SECRET_<APP>_<NAME>). Default: none.
	Environ []string
}

// Host is an assembled host.
type Host struct {
	cfg        config.Config
	log        *zap.Logger
	metrics    *metrics.Metrics
	rdb        redis.UniversalClient
	store      *cache.Store
	pg         *store.Postgres // nil unless store.backend is postgres
	dispatcher *dispatch.Dispatcher
	events     *events.Log
	published  *events.RedisPublisher
	tokens     *calltoken.Verifier
	api        *server.Server
	harness    *Harness         // nil unless harness.enabled
	console    *console.Console // nil unless the console is served
	notes      *events.NotificationLog
	sender     *notify.Sender
	tasks      *tasks.Pool
	replays    *replay.Set           // of confirmation tokens
	rpc        *fastrpc.Worker       // nil unless rpc.enabled
	rpcRedis   redis.UniversalClient // the worker's own client, with the memory cache backend
	closeOnce  sync.Once
}

// New assembles a host from cfg, which must be valid (config.Load validates).
func New(cfg config.Config, opts Options) (*Host, error) {
	h := &Host{cfg: cfg, log: opts.Logger, metrics: metrics.New(), events: events.NewLog(256), notes: events.NewNotificationLog(256)}
	if h.log == nil {
		var err error
		if h.log, err = NewLogger(cfg.Log); err != nil {
			return nil, err
		}
	}
	if strings.ContainsAny(opts.Namespace, "*?[]\\{}") {
		return nil, fmt.Errorf("host: namespace %q holds a glob character or a brace", opts.Namespace)
	}
	var now func() time.Time // nil: each part keeps its own real clock
	if cfg.Harness.Enabled && opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Clock != nil {
		now = opts.Clock.Now
	}
	ok := false
	defer func() {
		if !ok {
			h.close(context.Background())
		}
	}()

	var backend cache.Backend
	switch cfg.Cache.Backend {
	case config.BackendRedis:
		rdb, err := cache.NewRedisClient(cache.RedisConfig{
			URL: cfg.Cache.Redis.URL, Addrs: cfg.Cache.Redis.Addrs, MasterName: cfg.Cache.Redis.MasterName,
			Timeout: cfg.Cache.Redis.Timeout,
		})
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		h.rdb = rdb
		redisBackend := cache.NewRedis(rdb, cache.RedisOptions{
			Timeout: cfg.Cache.Redis.Timeout, L1Entries: cfg.Cache.Redis.L1MaxEntries, Logger: h.log.Named("cache"),
			Observer: h.metrics, Namespace: opts.Namespace,
		})
		h.metrics.WatchL1(redisBackend.L1Len)
		backend = redisBackend
	default:
		mem, err := cache.NewMemory(cache.MemoryOptions{MaxEntries: cfg.Cache.Memory.MaxEntries, Now: now})
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		backend = mem
	}
	storeOpts := cache.Options{
		FetchTimeout: cfg.Limits.CallTimeout, Logger: h.log.Named("cache"), Observer: h.metrics, Now: now,
	}
	if cfg.Harness.Enabled || cfg.Console.Serves(cfg.Auth.Mode) {
		storeOpts.KeyNames = harnessKeyNames
	}
	storeOpts.RecordReads = cfg.Console.Serves(cfg.Auth.Mode)
	h.store = cache.NewStore(backend, storeOpts)

	envs, err := resolveEnv(opts.Extensions, cfg.Extensions, cfg.Secrets.Dir, opts.Environ)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	docs, err := h.openStore(cfg.Store, now)
	if err != nil {
		return nil, err
	}

	upstreams, err := httpclient.New(httpclient.Config{
		Services: cfg.Services, Observer: h.metrics, UserAgent: "exthost/" + opts.Version, Transport: opts.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}

	publishers := events.Publishers{h.events}
	if h.rdb != nil {
		h.published = events.NewRedisPublisher(h.rdb, events.RedisOptions{
			Logger: h.log.Named("events"), Observer: h.metrics, Namespace: opts.Namespace,
		})
		publishers = append(publishers, h.published)
	}
	gate, err := h.confirmationGate(cfg, opts.Namespace, now)
	if err != nil {
		return nil, err
	}
	if cfg.Console.Serves(cfg.Auth.Mode) {
		apps := make([]string, 0, len(opts.Extensions))
		for _, ext := range opts.Extensions {
			apps = append(apps, ext.AppID())
		}
		h.console = console.New(console.Options{Cache: h.store, Apps: apps})
	}
	notifiers := events.Notifiers{h.notes}
	if h.console != nil {
		notifiers = append(notifiers, h.console)
	}
	if h.published != nil {
		notifiers = append(notifiers, h.published)
	}
	if h.sender, err = notify.New(notify.Options{
		PerMinute: cfg.Notifications.PerMinute, Burst: cfg.Notifications.Burst, To: notifiers, Now: now, Observer: h.metrics,
	}); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	var records tasks.Records = tasks.NewMemory(tasks.MemoryOptions{Now: now})
	if h.rdb != nil {
		records = tasks.NewRedis(h.rdb, tasks.RedisOptions{Namespace: opts.Namespace})
	}
	h.tasks = tasks.NewPool(tasks.Options{
		Records: records, MaxRunning: cfg.Tasks.MaxRunning, ResultTTL: cfg.Tasks.ResultTTL, Now: now,
		Logger: h.log.Named("tasks"), Finished: h.taskFinished,
	})
	h.metrics.WatchTasks(h.tasks.Running)
	dispatchOpts := dispatch.Options{
		Extensions: opts.Extensions, Cache: h.store, Store: docs, HTTP: upstreams, Logger: h.log,
		Events: publishers, CallTimeout: cfg.Limits.CallTimeout, Now: now,
		Observers: []dispatch.Observer{h.metrics}, Env: envs,
		Confirmations: gate, Tasks: h.tasks, TaskTimeout: cfg.Tasks.Timeout, LongTaskTimeout: cfg.Tasks.LongTimeout,
		Notifier: h.sender,
	}
	if cfg.Harness.Enabled {
		h.harness = newHarness(opts.Clock, h.store, docs, h.events, h.notes, opts.Extensions)
		dispatchOpts.Observers = append(dispatchOpts.Observers, h.harness.calls)
	}
	var consoleHandler http.Handler
	if h.console != nil {
		dispatchOpts.Observers = append(dispatchOpts.Observers, h.console)
		consoleHandler = h.console.Handler()
	}
	if h.dispatcher, err = dispatch.New(dispatchOpts); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}

	var tokens server.TokenVerifier
	if cfg.Auth.Mode == config.AuthCallToken {
		// With the memory backend there is no shared store: the replay set
		// is this process's own (one replica only).
		if h.tokens, err = calltoken.NewVerifier(calltoken.Options{
			Secrets: cfg.Auth.Secrets, Redis: h.rdb, Now: now, Logger: h.log.Named("calltoken"),
			Observer: h.metrics,
		}); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		tokens = h.tokens
	}
	var harnessAPI server.Harness
	if h.harness != nil {
		harnessAPI = h.harness
	}
	var mcp *server.MCPOptions
	if cfg.MCP.Enabled {
		mcp = &server.MCPOptions{
			Stateless: cfg.MCP.Stateless, JSONResponse: cfg.MCP.JSONResponse, SessionTimeout: cfg.MCP.SessionTimeout,
			Version: opts.Version,
		}
	}
	if h.api, err = server.New(server.Options{
		Harness:    harnessAPI,
		Dispatcher: h.dispatcher, Tokens: tokens, Logger: h.log, Metrics: h.metrics,
		SuccessSampling: server.Sampling(cfg.Log.SampleSuccess),
		MaxBodyBytes:    cfg.Limits.MaxBodyBytes, MaxConcurrentCalls: cfg.Limits.MaxConcurrentCalls,
		OversizeDiscardBytes: cfg.Limits.OversizeDiscardBytes, OversizeDiscardTimeout: cfg.Limits.OversizeDiscardTimeout,
		MCP: mcp, Console: consoleHandler,
	}); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if cfg.RPC.Enabled {
		if err := h.newWorker(cfg, opts.Namespace); err != nil {
			return nil, err
		}
	}
	ok = true
	return h, nil
}

// newWorker makes the Fast-RPC worker, with the cache's Redis client or,
// with the memory cache backend, one of its own from cache.redis.
func (h *Host) newWorker(cfg config.Config, namespace string) error {
	rdb := h.rdb
	if rdb == nil {
		var err error
		if h.rpcRedis, err = cache.NewRedisClient(cache.RedisConfig{
			URL: cfg.Cache.Redis.URL, Addrs: cfg.Cache.Redis.Addrs, MasterName: cfg.Cache.Redis.MasterName,
			Timeout: cfg.Cache.Redis.Timeout,
		}); err != nil {
			return fmt.Errorf("host: rpc: %w", err)
		}
		rdb = h.rpcRedis
	}
	var err error
	h.rpc, err = fastrpc.New(fastrpc.Options{
		Redis: rdb, Handler: h.api.RPCCall, Stream: cfg.RPC.Stream, Group: cfg.RPC.Group,
		KeyPrefix: namespace + fastrpc.DefaultKeyPrefix, MaxInFlight: cfg.RPC.MaxInFlight, ClaimIdle: cfg.RPC.ClaimIdle,
		MaxDeliveries: cfg.RPC.MaxDeliveries, ReplyTTL: cfg.RPC.ReplyTTL, RecordTTL: cfg.RPC.RecordTTL,
		Tenants: cfg.RPC.Tenants, Logger: h.log.Named("rpc"), Observer: h.metrics,
	})
	if err != nil {
		return fmt.Errorf("host: %w", err)
	}
	h.metrics.WatchRPC(h.rpc.InFlight)
	return nil
}

// Worker returns the Fast-RPC worker of a host with rpc.enabled, else nil.
func (h *Host) Worker() *fastrpc.Worker { return h.rpc }

// confirmationGate returns the gate of confirmation tokens. Its keys are
// confirmation.secrets, or derived from auth.secrets in call_token mode,
// so that replicas redeem each other's tokens; else a key of this process.
func (h *Host) confirmationGate(cfg config.Config, namespace string, now func() time.Time) (*confirm.Gate, error) {
	var keys [][]byte
	switch {
	case len(cfg.Confirmation.Secrets) > 0:
		for _, s := range cfg.Confirmation.Secrets {
			keys = append(keys, []byte(s))
		}
	case cfg.Auth.Mode == config.AuthCallToken:
		for _, s := range cfg.Auth.Secrets {
			keys = append(keys, confirm.DeriveKey(s))
		}
	default:
		keys = [][]byte{[]byte(rand.Text())}
	}
	var err error
	h.replays, err = replay.New(replay.Options{
		Redis: h.rdb, Prefix: namespace + "exthost:confirm:", Name: "confirmation", Now: now,
		Logger: h.log.Named("confirm"), Fallback: h.metrics.ConfirmationFallback,
	})
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	gate, err := confirm.New(confirm.Options{Keys: keys, TTL: cfg.Confirmation.TTL, Replays: h.replays, Now: now})
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return gate, nil
}

// taskFinished publishes and counts a task's end.
func (h *Host) taskFinished(rec tasks.Record) {
	h.metrics.TaskFinished(rec.AppID, rec.Function, string(rec.Status))
	if h.dispatcher != nil {
		h.dispatcher.TaskFinished(rec)
	}
}

// openStore opens the document store cfg describes; a Postgres one is
// reached and its schema brought up to date now, so that a host that
// cannot keep documents does not start.
func (h *Host) openStore(cfg config.Store, now func() time.Time) (*store.Store, error) {
	opts := store.Options{MaxDocumentBytes: cfg.MaxDocumentBytes, MaxDocuments: cfg.MaxDocuments, Timeout: cfg.Timeout, Now: now}
	if cfg.Backend == config.StorePostgres {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		pg, err := store.OpenPostgres(ctx, store.PostgresOptions{URL: cfg.Postgres.URL, MaxConns: int32(cfg.Postgres.MaxConns)})
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		h.pg, opts.Backend = pg, pg
	}
	return store.New(opts), nil
}

// Harness returns the harness of a host with the harness mode on, else nil.
func (h *Host) Harness() *Harness { return h.harness }

// Dispatcher returns the host's dispatcher, for in-process calls.
func (h *Host) Dispatcher() *dispatch.Dispatcher { return h.dispatcher }

// Handler returns the HTTP API.
func (h *Host) Handler() http.Handler { return h.api.Handler() }

// Events returns the most recent events the host published.
func (h *Host) Events() []events.Event { return h.events.Events() }

// Logger returns the host's logger.
func (h *Host) Logger() *zap.Logger { return h.log }

// Run serves the API on l until ctx ends, then drains: new calls are
// refused with 503 and /readyz reports 503, calls in flight get up to
// limits.drain_timeout to finish, and the cache, the event publisher and
// Redis are closed. It returns nil after a clean drain. Whatever it returns,
// the host is closed afterwards.
func (h *Host) Run(ctx context.Context, l net.Listener) error {
	if addr, ok := l.Addr().(*net.TCPAddr); !ok || !addr.IP.IsLoopback() {
		var why string
		switch {
		case h.cfg.Auth.Mode == config.AuthDev:
			why = "dev auth trusts the identity in the request body"
		case h.harness != nil:
			why = "the harness moves the clock and drops cache entries"
		case h.console != nil:
			why = "the dev console shows every call's parameters and answers and drops cache entries, without a token"
		}
		if why != "" {
			h.close(context.Background())
			return fmt.Errorf("host: %s, so it listens only on loopback, not %s", why, l.Addr())
		}
	}
	srv := &http.Server{
		Handler:           h.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      h.cfg.Limits.CallTimeout + 10*time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          zap.NewStdLog(h.log.Named("http")),
	}
	if h.console != nil {
		srv.RegisterOnShutdown(h.console.Close) // an open page's live tail must not hold the drain
	}
	debugAddr, stopDebug, err := h.serveDebug()
	if err != nil {
		h.close(context.Background())
		return err
	}
	defer stopDebug()
	debugField := zap.Skip()
	if debugAddr != "" {
		debugField = zap.String("debug", debugAddr)
	}
	h.log.Info("host serving", zap.String("listen", l.Addr().String()), zap.String("auth", h.cfg.Auth.Mode),
		zap.String("cache", h.cfg.Cache.Backend), zap.Strings("services", slices.Sorted(maps.Keys(h.cfg.Services))),
		zap.Int("extensions", len(h.dispatcher.Extensions())), debugField)

	listener := &closeSignal{Listener: l, closed: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(listener) }()
	workerServed := make(chan error, 1)
	if h.rpc != nil {
		go func() { workerServed <- h.rpc.Serve() }()
	} else {
		workerServed <- fastrpc.ErrWorkerClosed
	}
	select {
	case err := <-served:
		h.stopWorker(workerServed)
		h.close(context.Background())
		return fmt.Errorf("host: %w", err)
	case <-ctx.Done():
	}

	h.api.Drain()
	drainCtx, cancel := context.WithTimeout(context.Background(), h.cfg.Limits.DrainTimeout)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(drainCtx) }()
	workerShutdown := make(chan error, 1)
	go func() { workerShutdown <- h.shutdownWorker(drainCtx) }()
	// Draining begins once no connection can arrive: the line says so.
	<-listener.closed
	h.log.Info("host draining", zap.Duration("drain_timeout", h.cfg.Limits.DrainTimeout))
	err = errors.Join(<-shutdown, <-workerShutdown)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		h.log.Warn("serve ended with an error", zap.Error(err))
	}
	<-workerServed
	closeCtx := drainCtx
	if n := h.tasks.Drain(drainCtx); n > 0 {
		h.log.Warn("drain timeout passed with background tasks running; cancelled them", zap.Int("tasks", n))
		// Their task.finished events were queued just now: give the
		// publisher a moment of its own to send them.
		var cancelFlush context.CancelFunc
		closeCtx, cancelFlush = context.WithTimeout(context.Background(), flushTimeout)
		defer cancelFlush()
	}
	h.close(closeCtx)
	if err != nil {
		return fmt.Errorf("host: drain: %w", err)
	}
	h.log.Info("host stopped")
	return nil
}

// shutdownWorker stops the Fast-RPC worker's reading and waits, until ctx
// ends, for the calls it has taken.
func (h *Host) shutdownWorker(ctx context.Context) error {
	if h.rpc == nil {
		return nil
	}
	return h.rpc.Shutdown(ctx)
}

// stopWorker ends the worker at once and waits for Serve to return.
func (h *Host) stopWorker(served <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = h.shutdownWorker(ctx)
	<-served
}

// flushTimeout bounds the last flush of events after a drain that ran out
// of time.
const flushTimeout = 2 * time.Second

// closeSignal is a listener that says when it has been closed.
type closeSignal struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *closeSignal) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// Close releases what New acquired, for a host that was never Run. Run
// closes the host itself; closing twice does nothing.
func (h *Host) Close() { h.close(context.Background()) }

// close flushes the event publisher within ctx and releases everything, once.
func (h *Host) close(ctx context.Context) {
	h.closeOnce.Do(func() { h.release(ctx) })
}

func (h *Host) release(ctx context.Context) {
	if h.console != nil {
		h.console.Close()
	}
	if h.rpc != nil {
		stopped, cancel := context.WithCancel(ctx)
		cancel()
		_ = h.rpc.Shutdown(stopped) // Run shut it down; else it never served
	}
	if h.tasks != nil {
		_ = h.tasks.Close()
	}
	if h.dispatcher != nil {
		_ = h.dispatcher.Close()
	}
	if h.sender != nil {
		h.sender.Close()
	}
	if h.replays != nil {
		h.replays.Close()
	}
	if h.published != nil {
		h.published.Close(ctx)
	}
	if h.tokens != nil {
		h.tokens.Close()
	}
	if h.pg != nil {
		h.pg.Close()
	}
	if h.rpcRedis != nil {
		_ = h.rpcRedis.Close()
	}
	if h.store != nil {
		_ = h.store.Close() // closes Redis too: the store owns the backend
	} else if h.rdb != nil {
		_ = h.rdb.Close()
	}
	_ = h.log.Sync()
}

// NewLogger builds the logger cfg describes: JSON lines, or a console format
// for people, at the given level.
func NewLogger(cfg config.Log) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("host: log level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if cfg.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		zc.DisableStacktrace = true
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Sampling = nil
	zc.OutputPaths, zc.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	log, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("host: logger: %w", err)
	}
	return log, nil
}
