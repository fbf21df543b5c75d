package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// trackingChannel is where Redis sends the invalidations of a tracking
// connection that redirects them to a subscribed one (RESP2).
const trackingChannel = "__redis__:invalidate"

// fenceChannel carries the fence's requests and answers (see fence), after
// the cache's namespace; its version changes with their form, so that
// replicas of two forms do not wait for each other.
const fenceChannel = "exthost:l1:fence:v1"

// topologyEvery is how often the masters of a cluster are listed, to
// follow failovers and resharding that change them.
const topologyEvery = time.Second

// tracking keeps the L1 coherent with Redis itself, through Redis's
// server-assisted client tracking: on every master, one connection of its
// own turns tracking on in broadcast mode for the cache's key prefix,
// redirected to itself, and subscribes to the invalidation channel. Redis
// then tells it of every change of an entry — a write or delete by any
// client, an expiry, an eviction, a flush — and the L1 drops it. The L1 is
// used only while every master's tracker is subscribed, and emptied
// whenever one is lost or the set of masters changes.
//
// go-redis's own client-side cache (9.22+, experimental) is not used: it
// keeps reply bytes, where hits need the decoded values the L1 keeps; it
// serves a standalone client only; and it applies an invalidation when
// the connection carrying it is next read, where the L1 must drop its
// copies as soon as Redis sends the message.
type tracking struct {
	l1      *l1
	rdb     redis.UniversalClient // checks what the invalidated entries hold
	timeout time.Duration
	prefix  string
	log     *zap.Logger
	node    func(addr string) *redis.Options // a tracker's client options
	cluster *redis.ClusterClient             // nil for a single node or Sentinel

	fence *fence // answers other replicas' fence requests, and makes this one's

	mu       sync.Mutex
	trackers map[string]*tracker // by master address
	settled  bool                // the masters are known

	stop context.CancelFunc
	done chan struct{}
}

// tracker is the tracking connection of one master.
type tracker struct {
	addr     string
	node     atomic.Pointer[string] // a cluster master's ID, as it reports it
	channels []string               // the invalidations' and the fence's
	client   *redis.Client
	live     atomic.Bool // subscribed with tracking on
	stop     context.CancelFunc
	done     chan struct{} // follow ended

	mu     sync.Mutex
	ps     *redis.PubSub
	closed bool
}

// master is how fence requests name the tracker's master: its node ID on a
// cluster, else anyMaster.
func (tr *tracker) master() string {
	if id := tr.node.Load(); id != nil {
		return *id
	}
	return anyMaster
}

// subscription returns the tracker's current subscription.
func (tr *tracker) subscription() *redis.PubSub {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.ps
}

// resubscribe replaces the subscription with one on a new connection, on
// which OnConnect turns tracking on afresh.
func (tr *tracker) resubscribe(ctx context.Context) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		return
	}
	_ = tr.ps.Close()
	tr.ps = tr.client.Subscribe(ctx, tr.channels...)
}

// newTracking starts tracking for l1 over rdb.
func newTracking(rdb redis.UniversalClient, l *l1, namespace string, timeout time.Duration, logger *zap.Logger) *tracking {
	t := &tracking{l1: l, rdb: rdb, timeout: timeout, prefix: namespace + "extcache:", log: logger, trackers: make(map[string]*tracker), done: make(chan struct{}),
		fence: newFence(rdb, namespace+fenceChannel, timeout, logger)}
	ctx, stop := context.WithCancel(context.Background())
	t.stop = stop
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		t.cluster = c
		co := c.Options()
		t.node = func(addr string) *redis.Options {
			return &redis.Options{
				Addr: addr, Username: co.Username, Password: co.Password, TLSConfig: co.TLSConfig, Dialer: co.Dialer,
				DialTimeout: co.DialTimeout, ReadTimeout: co.ReadTimeout, WriteTimeout: co.WriteTimeout,
			}
		}
		go t.followMasters(ctx)
	case *redis.Client: // a single node, or Sentinel's current master
		base := *c.Options()
		t.node = func(string) *redis.Options { o := base; return &o }
		t.mu.Lock()
		t.settled = true
		t.start(ctx, base.Addr)
		t.mu.Unlock()
		close(t.done)
	default:
		t.log.Warn("cache L1 off: client tracking needs a single-node, Sentinel or Cluster client", zap.String("client", fmt.Sprintf("%T", rdb)))
		close(t.done)
	}
	return t
}

// start runs the tracker of addr. t.mu is held.
func (t *tracking) start(ctx context.Context, addr string) {
	opt := t.node(addr)
	opt.Protocol = 2 // invalidations redirected to a subscribed connection
	opt.PoolSize, opt.MinIdleConns, opt.MaxIdleConns = 1, 0, 1
	opt.MaxRetries = -1
	opt.DisableIdentity = true
	tr := &tracker{addr: addr, channels: []string{trackingChannel, t.fence.channel}, done: make(chan struct{})}
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		// Before the subscription, on the same connection: tracking on,
		// redirected to itself, for every key of the cache.
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			return err
		}
		if t.cluster != nil {
			// The fence names masters by the ID each reports of itself:
			// addresses are spelled differently by CLUSTER SHARDS and
			// CLUSTER SLOTS (endpoints, announced IPs).
			node, err := cn.ClusterMyID(ctx).Result()
			if err != nil {
				return err
			}
			tr.node.Store(&node)
		}
		return cn.ClientTrackingOn(ctx, &redis.ClientTrackingOptions{Redirect: id, Bcast: true, Prefixes: []string{t.prefix}}).Err()
	}
	ctx, stop := context.WithCancel(ctx)
	tr.stop = stop
	tr.client = redis.NewClient(opt)
	tr.ps = tr.client.Subscribe(ctx, tr.channels...)
	t.trackers[addr] = tr
	go t.follow(ctx, tr)
}

// follow applies what one tracker hears until ctx ends. go-redis
// reconnects a lost subscription, and OnConnect turns tracking on again.
func (t *tracking) follow(ctx context.Context, tr *tracker) {
	defer close(tr.done)
	backoff := 50 * time.Millisecond
	for {
		msg, err := tr.subscription().Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if isFlushAll(err) {
			t.l1.reset(t.healthy) // FLUSHALL or FLUSHDB: every key
			t.l1.observer.L1Invalidation()
			continue
		}
		if err != nil {
			if !isConnectionLoss(err) {
				// Not a lost connection, which go-redis would reconnect: the
				// state of this one is unknown, so make a new one.
				tr.resubscribe(ctx)
			}
			if tr.live.Swap(false) {
				t.log.Warn("cache L1 lost Redis client tracking; reads go to Redis until it is back",
					zap.String("node", tr.addr), zap.Error(err))
			}
			t.l1.reset(never)
			select { // Redis is down: do not spin on reconnects
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Count == len(tr.channels) { // fence requests are heard too
				tr.live.Store(true)
				backoff = 50 * time.Millisecond
				t.l1.reset(t.healthy) // whatever happened before is unknown: start empty
			}
		case *redis.Message:
			if m.Channel == t.fence.channel {
				t.fence.heard(tr.master(), m.Payload) // after every invalidation before it
				continue
			}
			keys := m.PayloadSlice
			if len(keys) == 0 {
				keys = []string{m.Payload}
			}
			t.l1.invalidate(ctx, t.rdb, t.timeout, keys)
			t.l1.observer.L1Invalidation()
		}
	}
}

// never is the health of an L1 whose tracking was just lost.
func never() bool { return false }

// healthy reports whether every master is tracked.
func (t *tracking) healthy() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.settled || len(t.trackers) == 0 {
		return false
	}
	for _, tr := range t.trackers {
		if !tr.live.Load() {
			return false
		}
	}
	return true
}

// followMasters keeps one tracker per master of the cluster, listing the
// masters every topologyEvery: a failover or a resharding that changes
// them empties the L1 and bypasses it until every new master is tracked.
func (t *tracking) followMasters(ctx context.Context) {
	defer close(t.done)
	tick := time.NewTicker(topologyEvery)
	defer tick.Stop()
	for {
		masters, complete, err := t.masters(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			t.apply(ctx, masters, complete)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// masters lists the cluster's masters, from CLUSTER SHARDS: all of them,
// with slots or not (a master that is being given slots holds keys before
// it owns them). complete is false when a master that owns slots is not
// online, and so cannot be tracked.
func (t *tracking) masters(ctx context.Context) (masters []string, complete bool, _ error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	shards, err := t.cluster.ClusterShards(ctx).Result()
	if err != nil {
		return nil, false, err
	}
	complete = true
	for _, shard := range shards {
		for _, n := range shard.Nodes {
			if n.Role == "master" && n.Health != "online" && len(shard.Slots) > 0 {
				complete = false
			}
			if n.Role == "master" && n.Health == "online" {
				host := n.IP
				if host == "" {
					host = n.Endpoint
				}
				masters = append(masters, net.JoinHostPort(host, strconv.FormatInt(n.Port, 10)))
			}
		}
	}
	slices.Sort(masters)
	return masters, complete, nil
}

// apply starts the trackers of new masters and stops those of former ones;
// while the list is incomplete the L1 is not used.
func (t *tracking) apply(ctx context.Context, masters []string, complete bool) {
	t.mu.Lock()
	changed := t.settled != (complete && len(masters) > 0)
	for _, addr := range masters {
		if _, ok := t.trackers[addr]; !ok {
			t.start(ctx, addr)
			changed = true
		}
	}
	var gone []*tracker
	for addr, tr := range t.trackers {
		if !slices.Contains(masters, addr) {
			delete(t.trackers, addr)
			gone = append(gone, tr)
			changed = true
		}
	}
	t.settled = complete && len(masters) > 0
	t.mu.Unlock()
	for _, tr := range gone {
		tr.close()
	}
	if changed {
		t.log.Info("cache L1 follows the cluster's masters", zap.Strings("masters", masters))
		t.l1.reset(t.healthy)
	}
}

func (tr *tracker) close() {
	tr.stop()
	tr.mu.Lock()
	tr.closed = true
	_ = tr.ps.Close() // a blocked Receive does not watch its context
	tr.mu.Unlock()
	<-tr.done
	_ = tr.client.Close()
}

// isFlushAll reports whether err is how go-redis reports Redis's
// invalidation of every key (after FLUSHALL or FLUSHDB): a message with a
// null payload, which go-redis refuses to parse. It has no error value of
// its own, so its text is the only sign; the connection is intact.
func isFlushAll(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unsupported pubsub message payload: <nil>")
}

// isConnectionLoss reports whether err means the tracking connection is
// gone, which go-redis's subscription re-establishes on its own.
func isConnectionLoss(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, redis.ErrClosed) || errors.Is(err, syscall.ECONNRESET)
}

// close stops every tracker.
func (t *tracking) close() {
	t.stop()
	<-t.done
	t.mu.Lock()
	trackers := make([]*tracker, 0, len(t.trackers))
	for _, tr := range t.trackers {
		trackers = append(trackers, tr)
	}
	t.trackers = map[string]*tracker{}
	t.mu.Unlock()
	for _, tr := range trackers {
		tr.close()
	}
}
