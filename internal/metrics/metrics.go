// Package metrics holds the host's Prometheus metrics in a registry of its
// own, and implements the observer hooks of the cache and the HTTP client.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/fastrpc"
)

// Metrics are the host's metrics. Labels take only values the host knows
// (registered apps and functions, stable codes), so their number is bounded.
type Metrics struct {
	registry         *prometheus.Registry
	rpcEntries       *prometheus.CounterVec
	rpcLegacy        prometheus.Counter
	rpcRedisErrors   *prometheus.CounterVec
	calls            *prometheus.CounterVec
	callDuration     *prometheus.HistogramVec
	storeOps         *prometheus.CounterVec
	storeDuration    *prometheus.HistogramVec
	inFlight         prometheus.Gauge
	cacheLookups     *prometheus.CounterVec
	cacheErrors      *prometheus.CounterVec
	cacheDegraded    prometheus.Gauge
	collapsed        *prometheus.CounterVec
	upstreamRequests *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
	replayFallbacks  prometheus.Counter
	eventsDropped    prometheus.Counter
	l1Hits           prometheus.Counter
	l1Invalidations  prometheus.Counter
	rejectedRequests *prometheus.CounterVec
	notifications    *prometheus.CounterVec
	tasksFinished    *prometheus.CounterVec
	confirmLocal     prometheus.Counter
}

// New returns the metrics, registered with a new registry together with the
// Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_calls_total", Help: "Function calls by app, function, status and error code.",
		}, []string{"app", "function", "status", "error_code"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "exthost_call_duration_seconds", Help: "Function call latency.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"app", "function"}),
		storeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_store_operations_total", Help: "Document store operations by app, collection, operation and outcome.",
		}, []string{"app", "collection", "op", "outcome"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "exthost_store_operation_duration_seconds", Help: "Document store operation latency.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"op"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "exthost_calls_in_flight", Help: "Function calls running now.",
		}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_cache_lookups_total", Help: "Cache reads by app, model and result (hit or miss).",
		}, []string{"app", "model", "result"}),
		cacheErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_cache_backend_errors_total", Help: "Failed cache backend operations by operation.",
		}, []string{"op"}),
		cacheDegraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "exthost_cache_degraded", Help: "1 while the cache backend is failing (reads are misses).",
		}),
		collapsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_cache_collapsed_fetches_total", Help: "Cache misses that joined another caller's fetch.",
		}, []string{"app", "model"}),
		upstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_upstream_requests_total", Help: "Upstream requests by service, method and status (0: no response).",
		}, []string{"service", "method", "status"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "exthost_upstream_duration_seconds", Help: "Upstream request latency.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"service", "method"}),
		replayFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exthost_calltoken_replay_local_total", Help: "Call-token ids claimed in the local replay set because Redis failed.",
		}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exthost_events_dropped_total", Help: "Events not published to Redis because the queue was full.",
		}),
		l1Hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exthost_cache_l1_hits_total", Help: "Cache reads answered by the in-process L1 in front of Redis.",
		}),
		l1Invalidations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exthost_cache_l1_invalidations_total", Help: "Invalidation announcements from other replicas applied to the L1.",
		}),
		rejectedRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_rejected_requests_total", Help: "Requests answered before dispatch, by HTTP status and error code.",
		}, []string{"status", "error_code"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_notifications_total", Help: "Notifications by outcome: sent, or dropped over the user's rate.",
		}, []string{"outcome"}),
		tasksFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_tasks_finished_total", Help: "Background tasks ended, by app, function and status.",
		}, []string{"app", "function", "status"}),
		confirmLocal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exthost_confirmation_replay_local_total", Help: "Confirmation tokens claimed in the local replay set because Redis failed.",
		}),
		rpcEntries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_rpc_entries_total", Help: "Fast-RPC stream entries settled, by outcome.",
		}, []string{"outcome"}),
		rpcLegacy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exthost_rpc_legacy_envelopes_total", Help: "Fast-RPC envelopes with no \"v\", served as version 1.",
		}),
		rpcRedisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exthost_rpc_redis_errors_total", Help: "Failed Redis commands of the Fast-RPC worker, by operation.",
		}, []string{"op"}),
	}
	m.registry.MustRegister(
		m.rpcEntries, m.rpcLegacy, m.rpcRedisErrors,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.callDuration, m.inFlight, m.cacheLookups, m.cacheErrors, m.cacheDegraded, m.collapsed,
		m.upstreamRequests, m.upstreamDuration, m.replayFallbacks, m.eventsDropped, m.rejectedRequests,
		m.l1Hits, m.l1Invalidations, m.storeOps, m.storeDuration, m.notifications, m.tasksFinished, m.confirmLocal,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Call records a finished call from its trace (a dispatch.Observer). An
// unknown app or function is counted under "unknown" so that callers
// cannot grow the label set.
func (m *Metrics) Call(tr dispatch.Trace) {
	app, function := tr.AppID, tr.Function
	if tr.Err != nil && errors.As(tr.Err, new(*dispatch.LookupError)) {
		app, function = "unknown", "unknown"
	}
	m.calls.WithLabelValues(app, function, string(tr.Status), tr.ErrorCode).Inc()
	m.callDuration.WithLabelValues(app, function).Observe(tr.Duration.Seconds())
	for _, op := range tr.Store {
		m.storeOps.WithLabelValues(app, op.Collection, op.Op, op.Outcome).Inc()
		m.storeDuration.WithLabelValues(op.Op).Observe(op.Duration.Seconds())
	}
}

// InFlight returns the gauge of running calls.
func (m *Metrics) InFlight() prometheus.Gauge { return m.inFlight }

// Rejected counts a request answered before dispatch (400, 401, 413, 429, ...).
func (m *Metrics) Rejected(status int, code string) {
	m.rejectedRequests.WithLabelValues(strconv.Itoa(status), code).Inc()
}

// ReplayFallback counts a call-token id claimed locally during a Redis failure.
func (m *Metrics) ReplayFallback() { m.replayFallbacks.Inc() }

// EventDropped counts an event the Redis publisher had no room for.
func (m *Metrics) EventDropped() { m.eventsDropped.Inc() }

// L1Hit counts a read the L1 answered.
func (m *Metrics) L1Hit() { m.l1Hits.Inc() }

// L1Invalidation counts an announcement from another replica applied to the L1.
func (m *Metrics) L1Invalidation() { m.l1Invalidations.Inc() }

// WatchL1 exports the L1's size, read from entries at each scrape.
func (m *Metrics) WatchL1(entries func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "exthost_cache_l1_entries", Help: "Entries in the in-process L1 in front of Redis.",
	}, func() float64 { return float64(entries()) }))
}

// Lookup implements cache.Observer.
func (m *Metrics) Lookup(appID, model string, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cacheLookups.WithLabelValues(appID, model, result).Inc()
}

// BackendError implements cache.Observer.
func (m *Metrics) BackendError(op string) { m.cacheErrors.WithLabelValues(op).Inc() }

// Degraded implements cache.Observer.
func (m *Metrics) Degraded(degraded bool) {
	if degraded {
		m.cacheDegraded.Set(1)
	} else {
		m.cacheDegraded.Set(0)
	}
}

// Collapsed implements cache.Observer.
func (m *Metrics) Collapsed(appID, model string) { m.collapsed.WithLabelValues(appID, model).Inc() }

// Upstream implements httpclient.Observer.
func (m *Metrics) Upstream(service, method string, status int, elapsed time.Duration) {
	m.upstreamRequests.WithLabelValues(service, method, strconv.Itoa(status)).Inc()
	m.upstreamDuration.WithLabelValues(service, method).Observe(elapsed.Seconds())
}

var (
	_ cache.Observer      = (*Metrics)(nil)
	_ httpclient.Observer = (*Metrics)(nil)
)

// Notification counts a notification, sent or dropped (a notify.Observer).
func (m *Metrics) Notification(sent bool) {
	outcome := "dropped"
	if sent {
		outcome = "sent"
	}
	m.notifications.WithLabelValues(outcome).Inc()
}

// TaskFinished counts a task's end.
func (m *Metrics) TaskFinished(app, function, status string) {
	m.tasksFinished.WithLabelValues(app, function, status).Inc()
}

// ConfirmationFallback counts a confirmation token claimed locally during
// a Redis failure.
func (m *Metrics) ConfirmationFallback() { m.confirmLocal.Inc() }

// WatchTasks exports the number of running tasks, read when scraped.
func (m *Metrics) WatchTasks(running func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "exthost_tasks_running", Help: "Background tasks running in this process.",
	}, func() float64 { return float64(running()) }))
}

// Entry counts a settled Fast-RPC entry (a fastrpc.Observer).
func (m *Metrics) Entry(o fastrpc.Outcome) { m.rpcEntries.WithLabelValues(string(o)).Inc() }

// LegacyEnvelope counts a Fast-RPC envelope with no "v".
func (m *Metrics) LegacyEnvelope() { m.rpcLegacy.Inc() }

// RedisError counts a failed Redis command of the Fast-RPC worker.
func (m *Metrics) RedisError(op string) { m.rpcRedisErrors.WithLabelValues(op).Inc() }

// WatchRPC exports the worker's calls in flight as a gauge.
func (m *Metrics) WatchRPC(inFlight func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "exthost_rpc_in_flight", Help: "Fast-RPC calls running now.",
	}, func() float64 { return float64(inFlight()) }))
}
