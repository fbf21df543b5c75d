// Package replay remembers single-use ids (a call token's jti, a
// confirmation token's id) until they expire: shared by the replicas
// through Redis, and kept in this process while Redis fails, so that an
// outage neither takes calls down nor lets a replay through on the same
// replica.
package replay

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/imperalcloud/exthost/internal/clock"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// LocalCapacity bounds the in-process set. Past it, the oldest or least
// used ids may be forgotten before they expire.
const LocalCapacity = 1_000_000

// maxLocalTTL caps an entry's lifetime in the in-process set, so that the
// clock plus it cannot overflow.
const maxLocalTTL = 100 * 365 * 24 * time.Hour

// Options configures a Set.
type Options struct {
	// Redis is the store shared by the replicas. Nil: the in-process set
	// only, which protects one replica.
	Redis redis.UniversalClient
	// Prefix starts the Redis key of every id.
	Prefix string
	// Name says whose ids they are in log lines ("call token").
	Name string
	// Now is the in-process set's clock. Default time.Now.
	Now func() time.Time
	// Logger receives the Redis failing/recovered transitions, once per
	// incident. Default: no logging.
	Logger *zap.Logger
	// Fallback, when set, is called for each id claimed in the in-process
	// set because Redis failed.
	Fallback func()
}

// Set is a set of claimed ids. It is safe for concurrent use.
type Set struct {
	opts      Options
	local     *otter.Cache[string, claim]
	localUsed atomic.Bool // an id was ever claimed locally while Redis is configured
	redisDown atomic.Bool
}

// New returns an empty Set.
func New(opts Options) (*Set, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Name == "" {
		opts.Name = "id"
	}
	local, err := otter.New(&otter.Options[string, claim]{
		MaximumSize: LocalCapacity,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, claim]) time.Duration {
			return e.Value.ttl
		}),
		Clock: clock.Func(opts.Now),
	})
	if err != nil {
		return nil, fmt.Errorf("replay: in-process set: %w", err)
	}
	return &Set{opts: opts, local: local}, nil
}

// Close releases the Set's resources. It does not close Options.Redis.
func (s *Set) Close() { s.local.StopAllGoroutines() }

// claim is an id's entry in the in-process set.
type claim struct {
	ttl   time.Duration
	owner string
}

// Claim marks id used for ttl (whole seconds, at least one) and reports
// whether it was unused: in Redis (claimScript), or in the in-process set
// when there is no Redis or Redis fails. The Redis call is
// not cut short by the caller's cancellation (the client's own timeouts
// bound it), so that a client going away is not taken for an outage.
func (s *Set) Claim(ctx context.Context, id string, ttl time.Duration) bool {
	return s.ClaimFor(ctx, id, "", ttl)
}

// ClaimFor is Claim on behalf of owner: when owner is not empty, a claim
// of id by the same owner again is granted too (a retry of the call that
// claimed it) until the id expires. In Redis it is one script (any version since
// 2.6, one key, so a cluster serves it).
func (s *Set) ClaimFor(ctx context.Context, id, owner string, ttl time.Duration) bool {
	secs := max(1, int64(ttl/time.Second))
	if s.opts.Redis == nil {
		return s.claimLocal(id, owner, secs)
	}
	if s.localUsed.Load() && s.claimedLocally(id, owner) {
		return false // claimed here by another during an outage: Redis never heard of it
	}
	n, err := claimScript.Run(context.WithoutCancel(ctx), s.opts.Redis, []string{s.opts.Prefix + id}, ownerValue(owner), secs).Int()
	if err == nil {
		s.redisOK()
		return n > 0
	}
	s.redisFailed(err)
	s.localUsed.Store(true)
	if !s.claimLocal(id, owner, secs) {
		return false
	}
	if s.opts.Fallback != nil {
		s.opts.Fallback()
	}
	return true
}

// unowned is the Redis value of an id claimed for no owner: "1", as a
// plain SET NX claim has always written.
const unowned = "1"

// ownerValue is the Redis value of an id claimed for owner.
func ownerValue(owner string) string {
	if owner == "" {
		return unowned
	}
	return "o:" + owner
}

// claimScript claims KEYS[1] for the owner value ARGV[1] for ARGV[2]
// seconds: 1 when it was unclaimed, 2 when that owner holds it already,
// 0 when another does.
var claimScript = redis.NewScript(`
local held = redis.call('GET', KEYS[1])
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if ARGV[1] ~= '1' and held == ARGV[1] then
  return 2
end
return 0
`)

func (s *Set) claimLocal(id, owner string, secs int64) bool {
	d := maxLocalTTL
	if secs < int64(maxLocalTTL/time.Second) {
		d = time.Duration(secs) * time.Second
	}
	held, claimed := s.local.SetIfAbsent(id, claim{ttl: d, owner: owner})
	return claimed || owner != "" && held.owner == owner
}

// claimedLocally reports whether id was claimed in this process by
// anyone but owner.
func (s *Set) claimedLocally(id, owner string) bool {
	held, ok := s.local.GetIfPresent(id)
	return ok && (owner == "" || held.owner != owner)
}

func (s *Set) redisFailed(err error) {
	if s.redisDown.CompareAndSwap(false, true) {
		s.opts.Logger.Warn(s.opts.Name+" replay store (redis) failing; claiming in this process until it recovers",
			zap.Error(err))
	}
}

func (s *Set) redisOK() {
	if s.redisDown.Load() && s.redisDown.CompareAndSwap(true, false) {
		s.opts.Logger.Info(s.opts.Name + " replay store (redis) recovered")
	}
}
