package events

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
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
	// Observer counts dropped events. Default: none.
	Observer Observer
	// Namespace prefixes the channels, so that hosts of parallel tests
	// sharing one Redis never hear each other. Production leaves it empty.
	Namespace string
}

// Observer is told what metrics count.
type Observer interface {
	// EventDropped is called for each event or notification dropped because the queue to
	// Redis was full.
	EventDropped()
}

// NopObserver observes nothing; embed it to implement only some methods.
type NopObserver struct{}

// EventDropped implements Observer.
func (NopObserver) EventDropped() {}

// RedisPublisher publishes events to Redis from a background goroutine, so
// a slow or absent Redis never delays a call.
type RedisPublisher struct {
	rdb      redis.UniversalClient
	queue    chan outgoing
	timeout  time.Duration
	log      *zap.Logger
	observer Observer
	ns       string // the namespace of the channels
	done     chan struct{}
	once     sync.Once
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
	if opts.Observer == nil {
		opts.Observer = NopObserver{}
	}
	p := &RedisPublisher{
		rdb: rdb, queue: make(chan outgoing, opts.Queue), timeout: opts.Timeout,
		log: opts.Logger, observer: opts.Observer, ns: opts.Namespace, done: make(chan struct{}),
	}
	go p.run()
	return p
}

// outgoing is an event or a notification on its way to Redis.
type outgoing struct {
	event *Event
	note  *Notification
}

// Publish implements Publisher. It never blocks.
func (p *RedisPublisher) Publish(_ context.Context, ev Event) {
	select {
	case p.queue <- outgoing{event: &ev}:
	default:
		p.observer.EventDropped()
	}
}

// Notify implements Notifier: it publishes n on imperal:notify:<tenant_id>.
// It never blocks.
func (p *RedisPublisher) Notify(n Notification) {
	select {
	case p.queue <- outgoing{note: &n}:
	default:
		p.observer.EventDropped()
	}
}

// encode returns the channel and payload of o.
func (p *RedisPublisher) encode(o outgoing) (string, []byte, error) {
	if o.note != nil {
		payload, err := o.note.Encode()
		return p.ns + NotifyChannelPrefix + o.note.TenantID, payload, err
	}
	payload, err := o.event.Encode()
	return p.ns + ChannelPrefix + o.event.TenantID, payload, err
}

func (p *RedisPublisher) run() {
	defer close(p.done)
	failing := false
	for o := range p.queue {
		channel, payload, err := p.encode(o)
		if err != nil {
			p.log.Error("event or notification does not encode", zap.Error(err))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		err = p.rdb.Publish(ctx, channel, payload).Err()
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
