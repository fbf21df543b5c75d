package calltoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// LocalReplayCapacity bounds the in-process replay set. Past it, the oldest
// or least used jtis may be forgotten before they expire.
const LocalReplayCapacity = 1_000_000

// maxLocalTTL caps an entry's lifetime in the in-process set, so that the
// clock plus it cannot overflow.
const maxLocalTTL = 100 * 365 * 24 * time.Hour

// Options configures a Verifier.
type Options struct {
	// Secrets are the HMAC secrets, current first: the first signs, all
	// verify (rotation). Each string's UTF-8 bytes are a key. At least one
	// is required, and none may be empty.
	Secrets []string
	// Redis is the replay store shared by the replicas (and by Python
	// verifiers, through the SDK's key). Nil: the in-process set only,
	// which protects one replica.
	Redis redis.UniversalClient
	// Now is the clock for exp and for the in-process set. Default time.Now.
	Now func() time.Time
	// Logger receives the Redis failing/recovered transitions, once per
	// incident. Default: no logging.
	Logger *zap.Logger
	// Observer counts the jtis claimed in the in-process set because Redis
	// failed. Default: none.
	Observer Observer
}

// Observer is told what metrics count.
type Observer interface {
	// ReplayFallback is called each time a jti is claimed in the
	// in-process replay set because the shared one failed.
	ReplayFallback()
}

// Verifier verifies call tokens. It is safe for concurrent use.
type Verifier struct {
	macs      []*sync.Pool // of hash.Hash: HMAC-SHA256 keyed with each secret, in order
	rdb       redis.UniversalClient
	now       func() time.Time
	log       *zap.Logger
	observer  Observer
	local     *otter.Cache[string, time.Duration]
	localUsed atomic.Bool // a jti was ever claimed locally while Redis is configured
	redisDown atomic.Bool
}

// NewVerifier returns a Verifier, or an error if the options are unusable.
func NewVerifier(opts Options) (*Verifier, error) {
	if len(opts.Secrets) == 0 {
		return nil, errors.New("calltoken: no secret configured")
	}
	v := &Verifier{
		rdb:      opts.Redis,
		now:      opts.Now,
		log:      opts.Logger,
		observer: opts.Observer,
	}
	for i, s := range opts.Secrets {
		if s == "" {
			return nil, fmt.Errorf("calltoken: secret %d is empty", i)
		}
		key := []byte(s)
		v.macs = append(v.macs, &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }})
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = zap.NewNop()
	}
	local, err := otter.New(&otter.Options[string, time.Duration]{
		MaximumSize: LocalReplayCapacity,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, time.Duration]) time.Duration {
			return e.Value
		}),
		Clock: clock{v.now},
	})
	if err != nil {
		return nil, fmt.Errorf("calltoken: local replay set: %w", err)
	}
	v.local = local
	return v, nil
}

// clock is the Verifier's clock for otter. Without ticks the set has no
// periodic clean-up goroutine; expired entries go at its writes.
type clock struct{ now func() time.Time }

func (c clock) NowNano() int64                      { return c.now().UnixNano() }
func (c clock) Tick(time.Duration) <-chan time.Time { return nil }

// Close releases the Verifier's resources. It does not close Options.Redis.
func (v *Verifier) Close() { v.local.StopAllGoroutines() }

// Verify verifies the token of a chat-function call for app appID and user
// userID, in the SDK's order (verify_call_token with tool_type chat_fn):
// length, format, signature, claims, expiry, then the single-use claim of
// the jti, and only then tool_type, app_id and user_id, so a mismatching
// token is used up. A failure is always an *Error.
func (v *Verifier) Verify(ctx context.Context, token, appID, userID string) (Claims, error) {
	c, err := v.verifyCommon(ctx, token)
	if err != nil {
		return Claims{}, err
	}
	if c.ToolType != ToolTypeChatFn {
		return Claims{}, denied(ReasonToolType)
	}
	if c.AppID != appID {
		return Claims{}, denied(ReasonAppID)
	}
	if c.UserID != userID {
		return Claims{}, denied(ReasonUserID)
	}
	return c, nil
}

// VerifyHeader is Verify for an Authorization header value: a header with
// no call token is refused with ReasonMissing.
func (v *Verifier) VerifyHeader(ctx context.Context, header, appID, userID string) (Claims, error) {
	token, ok := ParseHeader(header)
	if !ok {
		return Claims{}, unauthorized(ReasonMissing, "")
	}
	return v.Verify(ctx, token, appID, userID)
}

func (v *Verifier) verifyCommon(ctx context.Context, token string) (Claims, error) {
	if len(token) > MaxTokenLen {
		return Claims{}, unauthorized(ReasonTooLong, "")
	}
	payloadB64, sigB64, found := strings.Cut(token, ".")
	if !found {
		return Claims{}, unauthorized(ReasonMalformed, "")
	}
	payload, err := pyB64Decode(payloadB64)
	if err != nil {
		return Claims{}, unauthorized(ReasonMalformed, err.Error())
	}
	sig, err := pyB64Decode(sigB64)
	if err != nil {
		return Claims{}, unauthorized(ReasonMalformed, err.Error())
	}
	if !v.signedByOne(payload, sig) {
		return Claims{}, unauthorized(ReasonSignature, "")
	}
	c, err := parseClaims(payload)
	if err != nil {
		return Claims{}, unauthorized(ReasonPayload, err.Error())
	}
	now := v.now().Unix()
	if c.Exp <= now { // RFC 7519 4.1.4: equal is expired
		return Claims{}, unauthorized(ReasonExpired, "")
	}
	if !v.claim(ctx, c.Jti, max(1, c.Exp-now)) {
		return Claims{}, unauthorized(ReasonReplayed, "")
	}
	return c, nil
}

// signedByOne tries each secret in order, comparing in constant time.
func (v *Verifier) signedByOne(payload, sig []byte) bool {
	var sum [sha256.Size]byte
	for _, pool := range v.macs {
		mac := pool.Get().(hash.Hash)
		mac.Reset()
		mac.Write(payload)
		ok := hmac.Equal(sig, mac.Sum(sum[:0]))
		pool.Put(mac)
		if ok {
			return true
		}
	}
	return false
}

// claim marks jti used for ttl seconds and reports whether it was unused:
// SET key 1 EX ttl NX in Redis, as the SDK does, or in the in-process set
// when there is no Redis or Redis fails. The Redis call is not cut short by
// the caller's cancellation (the client's own timeouts bound it), so that a
// client going away is not taken for a Redis outage.
func (v *Verifier) claim(ctx context.Context, jti string, ttl int64) bool {
	if v.rdb == nil {
		return v.claimLocal(jti, ttl)
	}
	err := v.rdb.Do(context.WithoutCancel(ctx), "set", ReplayKeyPrefix+jti, "1", "ex", ttl, "nx").Err()
	switch {
	case err == nil:
		v.redisOK()
		// A jti claimed here during an outage is unknown to Redis.
		return !v.localUsed.Load() || !v.claimedLocally(jti)
	case errors.Is(err, redis.Nil):
		v.redisOK()
		return false
	}
	v.redisFailed(err)
	v.localUsed.Store(true)
	if !v.claimLocal(jti, ttl) {
		return false
	}
	if v.observer != nil {
		v.observer.ReplayFallback()
	}
	return true
}

func (v *Verifier) claimLocal(jti string, ttl int64) bool {
	d := maxLocalTTL
	if ttl < int64(maxLocalTTL/time.Second) {
		d = time.Duration(ttl) * time.Second
	}
	_, claimed := v.local.SetIfAbsent(jti, d)
	return claimed
}

func (v *Verifier) claimedLocally(jti string) bool {
	_, ok := v.local.GetIfPresent(jti)
	return ok
}

func (v *Verifier) redisFailed(err error) {
	if v.redisDown.CompareAndSwap(false, true) {
		v.log.Warn("call token replay store (redis) failing; claiming jtis in this process until it recovers",
			zap.Error(err))
	}
}

func (v *Verifier) redisOK() {
	if v.redisDown.Load() && v.redisDown.CompareAndSwap(true, false) {
		v.log.Info("call token replay store (redis) recovered")
	}
}
