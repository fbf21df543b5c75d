package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
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

// Redis is the shared backend: entries live in Redis under the hash-tagged
// keyspace, so every replica of the host sees the same cache.
type Redis struct {
	rdb     redis.UniversalClient
	timeout time.Duration
}

// NewRedis returns a backend over rdb, which it owns: Close closes it.
// timeout bounds each command (0 means DefaultRedisTimeout).
func NewRedis(rdb redis.UniversalClient, timeout time.Duration) *Redis {
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	return &Redis{rdb: rdb, timeout: timeout}
}

// Client returns the underlying Redis client.
func (r *Redis) Client() redis.UniversalClient { return r.rdb }

// Get implements Backend.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
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

// Set implements Backend.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.rdb.Set(ctx, key, value, ttl).Err()
}

// Delete implements Backend. The keys of one call share a hash tag, so one
// DEL removes them even on a cluster.
func (r *Redis) Delete(ctx context.Context, keys []string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.rdb.Del(ctx, keys...).Err()
}

// Ping checks that Redis answers within the command timeout.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.rdb.Ping(ctx).Err()
}

// Close implements Backend.
func (r *Redis) Close() error { return r.rdb.Close() }
