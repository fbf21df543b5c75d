// Package events publishes the events of successful calls beyond the
// process: to Redis, on the SDK's fallback channel imperal:events:<tenant_id>.
package events

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/internal/jsonx"
	"github.com/imperalcloud/exthost/runtime"
)

// ChannelPrefix starts the channel of a tenant's events.
const ChannelPrefix = "imperal:events:"

// RedisOptions configures a RedisPublisher.
type RedisOptions struct {
	// Queue is how many events may wait for Redis; past it new events are
	// dropped (and counted) rather than slowing calls. Default 1024.
	Queue int
	// Timeout bounds each PUBLISH. Default 1s.
	Timeout time.Duration
	// Logger receives failures, once per incident.
	Logger *zap.Logger
	// OnDrop is called for each dropped event, for a metric.
	OnDrop func()
	// Namespace prefixes the channels, so that hosts of parallel tests
	// sharing one Redis never hear each other. Production leaves it empty.
	Namespace string
}

// RedisPublisher publishes events to Redis from a background goroutine, so
// a slow or absent Redis never delays a call.
type RedisPublisher struct {
	rdb     redis.UniversalClient
	queue   chan runtime.Event
	timeout time.Duration
	log     *zap.Logger
	onDrop  func()
	prefix  string // the channel prefix, in the namespace
	done    chan struct{}
	once    sync.Once
}

// NewRedisPublisher starts a publisher on rdb; Close stops it.
func NewRedisPublisher(rdb redis.UniversalClient, opts RedisOptions) *RedisPublisher {
	if opts.Queue <= 0 {
		opts.Queue = 1024
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.OnDrop == nil {
		opts.OnDrop = func() {}
	}
	p := &RedisPublisher{
		rdb: rdb, queue: make(chan runtime.Event, opts.Queue), timeout: opts.Timeout,
		log: opts.Logger, onDrop: opts.OnDrop, prefix: opts.Namespace + ChannelPrefix, done: make(chan struct{}),
	}
	go p.run()
	return p
}

// Publish implements runtime.Publisher. It never blocks.
func (p *RedisPublisher) Publish(_ context.Context, ev runtime.Event) {
	select {
	case p.queue <- ev:
	default:
		p.onDrop()
	}
}

func (p *RedisPublisher) run() {
	defer close(p.done)
	failing := false
	for ev := range p.queue {
		payload, err := jsonx.Marshal(ev)
		if err != nil {
			p.log.Error("event does not encode", zap.String("event_type", ev.EventType), zap.Error(err))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		err = p.rdb.Publish(ctx, p.prefix+ev.TenantID, payload).Err()
		cancel()
		switch {
		case err != nil && !failing:
			failing = true
			p.log.Warn("publishing events to Redis fails; events are lost until it recovers", zap.Error(err))
		case err == nil && failing:
			failing = false
			p.log.Info("publishing events to Redis works again")
		}
	}
}

// Close publishes what is queued, within ctx, and stops the publisher.
// Publish must not be called after Close.
func (p *RedisPublisher) Close(ctx context.Context) {
	p.once.Do(func() { close(p.queue) })
	select {
	case <-p.done:
	case <-ctx.Done():
	}
}
