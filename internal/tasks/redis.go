package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configures a Redis.
type RedisOptions struct {
	// Namespace prefixes the keys and the channel, so that hosts of parallel
	// tests sharing one Redis never collide. Production leaves it empty.
	Namespace string
}

// Redis keeps records in Redis, so that every replica reads every task:
// the hash <ns>exthost:task:<id> holds the record's JSON and whether it is
// final, and ends are announced on <ns>exthost:tasks:ended.
type Redis struct {
	rdb     redis.UniversalClient
	prefix  string
	channel string
	mu      sync.Mutex
	sub     *redis.PubSub
	done    chan struct{}
}

// writeUnlessFinal writes a record unless the stored one is final.
var writeUnlessFinal = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'final') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'final', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`)

// NewRedis returns records kept in rdb, which the caller closes.
func NewRedis(rdb redis.UniversalClient, opts RedisOptions) *Redis {
	return &Redis{rdb: rdb, prefix: opts.Namespace + "exthost:task:", channel: opts.Namespace + "exthost:tasks:ended"}
}

// Write implements Records.
func (r *Redis) Write(ctx context.Context, rec Record, ttl time.Duration) (bool, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("tasks: record: %w", err)
	}
	final := "0"
	if rec.Status.Final() {
		final = "1"
	}
	wrote, err := writeUnlessFinal.Run(context.WithoutCancel(ctx), r.rdb, []string{r.prefix + rec.TaskID},
		raw, final, max(1, ttl.Milliseconds())).Int()
	if err != nil {
		return false, fmt.Errorf("tasks: redis: %w", err)
	}
	return wrote == 1, nil
}

// Read implements Records.
func (r *Redis) Read(ctx context.Context, id string) (Record, bool, error) {
	raw, err := r.rdb.HGet(ctx, r.prefix+id, "rec").Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return Record{}, false, nil
	case err != nil:
		return Record{}, false, fmt.Errorf("tasks: redis: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return Record{}, false, fmt.Errorf("tasks: stored record: %w", err)
	}
	return rec, true, nil
}

// Announce implements Records.
func (r *Redis) Announce(ctx context.Context, id string) error {
	if err := r.rdb.Publish(context.WithoutCancel(ctx), r.channel, id).Err(); err != nil {
		return fmt.Errorf("tasks: redis: %w", err)
	}
	return nil
}

// Listen implements Records. A Redis takes one listener, its pool's: a
// second call does nothing.
func (r *Redis) Listen(ended func(id string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sub != nil {
		return
	}
	r.sub = r.rdb.Subscribe(context.Background(), r.channel)
	// Wait for Redis to confirm the subscription, so that an end announced
	// once Listen has returned is heard; if Redis is down, the
	// subscription follows when it is back.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, _ = r.sub.Receive(ctx)
	cancel()
	r.done = make(chan struct{})
	messages := r.sub.Channel()
	go func() {
		defer close(r.done)
		for m := range messages {
			ended(m.Payload)
		}
	}()
}

// Close implements Records.
func (r *Redis) Close() error {
	r.mu.Lock()
	sub, done := r.sub, r.done
	r.sub = nil
	r.mu.Unlock()
	if sub == nil {
		return nil
	}
	err := sub.Close()
	<-done
	return err
}
