package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// fence makes this replica's writes read-your-writes across replicas: a
// write of an entry returns only once every other replica's L1 has applied
// Redis's word of it, so that a call answered by another replica after it
// can never be served that replica's older copy.
//
// After the write, the writer publishes a fence request on the master that
// holds the key, on a channel every tracker subscribes to beside the
// invalidations. Redis sends it to each tracking connection after the
// write's invalidation, on the same connection, and follow applies them in
// that order; each tracker that hears a request for its master answers it
// on the same channel. PUBLISH says how many subscribers heard it; the
// writer waits for that many answers, bounded by the command timeout.
//
// The cost is on writes, which are rare and already wait for Redis and
// usually an upstream, instead of on every hit: a hit is answered from the
// L1 without crossing the network. A tracker that is not subscribed is not
// counted and keeps no L1 meanwhile. A writer that is not a replica of this
// host (an operator's DEL, another program) is not fenced: its changes
// reach the L1 as soon as Redis sends word of them.
type fence struct {
	id      string // this replica's, in its requests and answers
	channel string
	rdb     redis.UniversalClient
	timeout time.Duration
	log     *zap.Logger
	answer  func(ctx context.Context, payload string) error // publishes an answer

	warned atomic.Int64 // when the last warning was logged, in Unix ns

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]*fenceWait // by request
	nodes   map[string]string     // cluster masters' IDs, by address
}

// fenceWait is one write's wait for its answers.
type fenceWait struct {
	need    int // answers to wait for; -1 until PUBLISH has said
	answers map[string]struct{}
	done    chan struct{}
}

// complete closes done when every answer is in. f.mu is held.
func (w *fenceWait) complete() {
	if w.need >= 0 && len(w.answers) >= w.need {
		select {
		case <-w.done:
		default:
			close(w.done)
		}
	}
}

func newFence(rdb redis.UniversalClient, channel string, timeout time.Duration, log *zap.Logger) *fence {
	var id [8]byte
	_, _ = rand.Read(id[:])
	f := &fence{id: hex.EncodeToString(id[:]), channel: channel, rdb: rdb, timeout: timeout, log: log, pending: make(map[uint64]*fenceWait), nodes: make(map[string]string)}
	f.answer = func(ctx context.Context, payload string) error { return rdb.Publish(ctx, channel, payload).Err() }
	return f
}

// fence requests and answers: "r <writer> <seq> <master>", "a <writer> <seq> <tracker's replica>".
const (
	fenceRequest = "r"
	fenceAnswer  = "a"
	anyMaster    = "*" // a single node or Sentinel's master: whichever tracker hears it
)

// after returns once every replica tracking the master of key has applied
// the invalidations of every write of key made before it was called, or
// when the command timeout has passed (then it logs why).
func (f *fence) after(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.timeout)
	defer cancel()
	node, master := f.rdb, anyMaster
	var clusterMaster *redis.Client // the key's master, on a cluster
	if cluster, ok := f.rdb.(*redis.ClusterClient); ok {
		c, err := cluster.MasterForKey(ctx, key)
		if err == nil {
			master, err = f.nodeID(ctx, c)
		}
		if err != nil {
			f.warn("cache L1 fence: no master for the key", zap.Error(err))
			return
		}
		node, clusterMaster = c, c
	}
	f.mu.Lock()
	f.seq++
	seq := f.seq
	w := &fenceWait{need: -1, answers: make(map[string]struct{}), done: make(chan struct{})}
	f.pending[seq] = w
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.pending, seq)
		f.mu.Unlock()
	}()

	heard, err := node.Publish(ctx, f.channel, strings.Join([]string{fenceRequest, f.id, strconv.FormatUint(seq, 10), master}, " ")).Result()
	if err != nil {
		f.warn("cache L1 fence: request not published", zap.Error(err))
		return
	}
	f.mu.Lock()
	w.need = int(heard)
	w.complete()
	f.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		f.mu.Lock()
		got := len(w.answers)
		f.mu.Unlock()
		f.warn("cache L1 fence: not every replica answered in time; one may serve its copy a moment longer",
			zap.Int("heard", int(heard)), zap.Int("answered", got))
		if clusterMaster != nil {
			f.forget(clusterMaster) // its ID is learnt again: a node may have been replaced
		}
	}
}

// nodeID returns the ID the master c reports of itself, remembered by its
// address.
func (f *fence) nodeID(ctx context.Context, c *redis.Client) (string, error) {
	addr := c.Options().Addr
	f.mu.Lock()
	id, ok := f.nodes[addr]
	f.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := c.ClusterMyID(ctx).Result()
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	f.nodes[addr] = id
	f.mu.Unlock()
	return id, nil
}

func (f *fence) forget(c *redis.Client) {
	f.mu.Lock()
	delete(f.nodes, c.Options().Addr)
	f.mu.Unlock()
}

// warn logs at most once per warnEvery: a fence that fails, fails for
// every write until what broke it mends.
func (f *fence) warn(msg string, fields ...zap.Field) {
	now := time.Now().UnixNano()
	last := f.warned.Load()
	if now-last < int64(warnEvery) || !f.warned.CompareAndSwap(last, now) {
		return
	}
	f.log.Warn(msg, fields...)
}

// warnEvery spaces the fence's warnings.
const warnEvery = 10 * time.Second

// heard handles a message of the fence channel that the tracker of master
// read, after every invalidation Redis sent it before: a request for that
// master is answered, an answer to this replica's request counted.
func (f *fence) heard(master, payload string) {
	parts := strings.Split(payload, " ")
	if len(parts) != 4 {
		return
	}
	switch parts[0] {
	case fenceRequest:
		if parts[3] != anyMaster && parts[3] != master {
			return // a copy another master passed on (Cluster broadcasts every message)
		}
		answer := strings.Join([]string{fenceAnswer, parts[1], parts[2], f.id}, " ")
		go func() { // not on follow's goroutine: it goes on reading
			ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
			defer cancel()
			if err := f.answer(ctx, answer); err != nil {
				f.warn("cache L1 fence: answer not published", zap.Error(err))
			}
		}()
	case fenceAnswer:
		if parts[1] != f.id {
			return
		}
		seq, err := strconv.ParseUint(parts[2], 10, 64)
		if err != nil {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if w, ok := f.pending[seq]; ok {
			w.answers[parts[3]] = struct{}{}
			w.complete()
		}
	}
}
