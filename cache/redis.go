package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// DefaultRedisTimeout bounds each Redis command when RedisOptions leaves it
// unset: a slower Redis reads as a miss rather than slowing the call.
const DefaultRedisTimeout = 250 * time.Millisecond

// RedisConfig says where Redis is. It covers the three topologies of
// redis.UniversalClient: a single node (URL, or one address), Sentinel
// (MasterName and the sentinels' Addrs) and Cluster (two or more Addrs, or
// Cluster with one configuration endpoint).
type RedisConfig struct {
	// URL is a redis:// or rediss:// URL: address, credentials, database, TLS.
	URL string
	// Addrs, when set, replaces the URL's address: cluster seeds or sentinels.
	// Credentials and TLS still come from URL.
	Addrs []string
	// MasterName selects Sentinel: the name of the monitored master.
	MasterName string
	// Cluster forces cluster mode with a single address.
	Cluster bool
	// Timeout bounds dialling and each command. Default DefaultRedisTimeout.
	Timeout time.Duration
	// PoolSize is the number of connections per node. Default: go-redis's (10 per CPU).
	PoolSize int
}

// NewRedisClient builds a client for cfg tuned to fail fast: no retries,
// short dial/read/write timeouts, and the caller's context deadline honoured,
// so an outage costs a call milliseconds, not seconds.
func NewRedisClient(cfg RedisConfig) (redis.UniversalClient, error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	opts := &redis.UniversalOptions{
		MasterName:            cfg.MasterName,
		IsClusterMode:         cfg.Cluster,
		PoolSize:              cfg.PoolSize,
		MaxRetries:            -1, // 0 would mean the default of 3 retries
		DialerRetries:         1,  // one attempt: the default 5, 100 ms apart, costs a call 400 ms per command
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	}
	if cfg.URL != "" {
		u, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("cache: redis url: %w", err)
		}
		opts.Addrs = []string{u.Addr}
		opts.DB = u.DB
		opts.Username, opts.Password = u.Username, u.Password
		opts.TLSConfig = u.TLSConfig
	}
	if len(cfg.Addrs) > 0 {
		opts.Addrs = cfg.Addrs
	}
	if len(opts.Addrs) == 0 {
		return nil, errors.New("cache: redis needs a url or addrs")
	}
	return redis.NewUniversalClient(opts), nil
}

// RedisOptions configures a Redis backend.
type RedisOptions struct {
	// Timeout bounds each command. Default DefaultRedisTimeout.
	Timeout time.Duration
	// L1Entries bounds the in-process layer of decoded values in front of
	// Redis (L1), so that a hit moves and decodes no entry and does not
	// cross the network; 0 means no L1. The L1 is coherent with Redis itself
	// through client tracking (BCAST on the cache's prefix, one tracking
	// connection per master): any change of an entry by any client, an
	// expiry, an eviction or a flush drops it as soon as Redis says so, and
	// while tracking is not live the L1 is bypassed and emptied. A write by
	// a replica with an L1 returns once every other replica's L1 has
	// applied it, so that replicas sharing a Redis read their users'
	// writes (replicas sharing one should all have an L1, or none).
	L1Entries int
	// Logger receives the L1's tracking losses and recoveries.
	Logger *zap.Logger
	// Observer counts the L1's hits and applied invalidations. Default: none.
	Observer L1Observer
	// Namespace prefixes every key (and so the tracked prefix), so that
	// tests sharing one Redis never see each other's entries. Production
	// leaves it empty: the keyspace is then exactly DESIGN's. It must hold
	// no glob character and no brace.
	Namespace string
}

// Redis is the shared backend: entries live in Redis under the hash-tagged
// keyspace, so every replica of the host sees the same cache.
type Redis struct {
	rdb     redis.UniversalClient
	timeout time.Duration
	l1      *l1    // nil without an L1
	ns      string // Namespace
}

// NewRedis returns a backend over rdb, which it owns: Close closes it.
func NewRedis(rdb redis.UniversalClient, opts RedisOptions) *Redis {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	r := &Redis{rdb: rdb, timeout: opts.Timeout, ns: opts.Namespace}
	if opts.L1Entries > 0 {
		r.l1 = newL1(rdb, opts)
	}
	return r
}

// Client returns the underlying Redis client.
func (r *Redis) Client() redis.UniversalClient { return r.rdb }

// L1Len returns the number of entries in the L1, approximately.
func (r *Redis) L1Len() int {
	if r.l1 == nil {
		return 0
	}
	return r.l1.entries.EstimatedSize()
}

// Get implements Backend.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	key = r.ns + key
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.rdb.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return v, true, nil
}

// Resident implements ValueBackend: the L1's entry.
func (r *Redis) Resident(ctx context.Context, key string) (any, bool) {
	if r.l1 == nil {
		return nil, false
	}
	e, ok := r.l1.get(r.ns + key)
	return e.Value, ok && e.Value != nil
}

// GetValue implements ValueBackend: from the L1 when it holds the entry,
// else from Redis, with Keep adding the decoded value to the L1 for the
// entry's remaining TTL.
func (r *Redis) GetValue(ctx context.Context, key string) (Entry, bool, error) {
	if r.l1 == nil {
		raw, found, err := r.Get(ctx, key)
		return Entry{Envelope: raw}, found, err
	}
	key = r.ns + key
	if e, ok := r.l1.get(key); ok {
		return e, true, nil
	}
	gen := r.l1.generation()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get, ttl = p.Get(ctx, key), p.PTTL(ctx, key)
		return nil
	})
	raw, getErr := get.Bytes()
	switch {
	case errors.Is(getErr, redis.Nil):
		return Entry{}, false, nil
	case err != nil:
		return Entry{}, false, err
	}
	left := ttl.Val()
	return Entry{Envelope: raw, Keep: func(v any) { r.l1.fill(key, raw, v, left, gen) }}, true, nil
}

// Set implements Backend.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return r.SetValue(ctx, key, value, nil, ttl)
}

// SetValue implements ValueBackend, keeping the value in the L1. Redis's
// tracking tells every replica's L1 of the write, this one's too (which
// drops its copy: the next read refills it).
func (r *Redis) SetValue(ctx context.Context, key string, envelope []byte, value any, ttl time.Duration) error {
	key = r.ns + key
	// Kept before the write, so that Redis's word of it, which may come
	// before the write's own reply, finds the entry and keeps it (Redis
	// holds its envelope); a write that fails drops it again.
	if value != nil {
		r.l1.put(key, envelope, value, ttl)
	} else {
		r.l1.drop([]string{key})
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.rdb.Set(ctx, key, envelope, ttl).Err(); err != nil {
		r.l1.drop([]string{key})
		return err
	}
	r.l1.fenceAfter(ctx, key)
	return nil
}

// Delete implements Backend. The keys of one call share a hash tag, so one
// DEL removes them even on a cluster.
func (r *Redis) Delete(ctx context.Context, keys []string) error {
	if r.ns != "" {
		namespaced := make([]string, len(keys))
		for i, k := range keys {
			namespaced[i] = r.ns + k
		}
		keys = namespaced
	}
	r.l1.drop(keys) // before the round trip: no read of ours may keep the old entry
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := r.rdb.Del(ctx, keys...).Err()
	r.l1.drop(keys) // and after: a read that started before the DEL ended
	if err == nil && len(keys) > 0 {
		r.l1.fenceAfter(ctx, keys[0]) // one hash tag: one master
	}
	return err
}

// Scan implements Scanner. On a cluster it scans every master.
func (r *Redis) Scan(ctx context.Context, prefix string) ([]Stored, error) {
	pattern := r.ns + prefix + "*"
	var keys []string
	scan := func(ctx context.Context, node redis.Cmdable) error {
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return iter.Err()
	}
	var err error
	if cluster, ok := r.rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err = cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return scan(ctx, node)
		})
	} else {
		err = scan(ctx, r.rdb)
	}
	if err != nil {
		return nil, fmt.Errorf("cache: scan: %w", err)
	}
	ttls, values := make([]*redis.DurationCmd, len(keys)), make([]*redis.StringCmd, len(keys))
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			ttls[i], values[i] = p.PTTL(ctx, k), p.Get(ctx, k)
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("cache: scan: %w", err)
	}
	found := make([]Stored, 0, len(keys))
	for i, k := range keys {
		envelope, err := values[i].Bytes()
		if err != nil || ttls[i].Val() <= 0 { // gone since the scan
			continue
		}
		st := Stored{StorageKey: strings.TrimPrefix(k, r.ns), TTL: ttls[i].Val(), Envelope: envelope}
		if r.l1 != nil {
			// The L1 hands its decoded value to every hit: show it, when it
			// was decoded from this very envelope.
			if e, ok := r.l1.entries.GetIfPresent(k); ok && bytes.Equal(e.envelope, envelope) {
				st.Value = e.value
			}
		}
		found = append(found, st)
	}
	return found, nil
}

// Ping checks that Redis answers within the command timeout.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.rdb.Ping(ctx).Err()
}

// Close implements Backend: it stops the L1's subscription and closes the
// client.
func (r *Redis) Close() error {
	r.l1.close()
	return r.rdb.Close()
}
