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
	"time"

	"github.com/imperalcloud/exthost/internal/replay"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

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
	macs    []*sync.Pool // of hash.Hash: HMAC-SHA256 keyed with each secret, in order
	now     func() time.Time
	replays *replay.Set
}

// NewVerifier returns a Verifier, or an error if the options are unusable.
func NewVerifier(opts Options) (*Verifier, error) {
	if len(opts.Secrets) == 0 {
		return nil, errors.New("calltoken: no secret configured")
	}
	v := &Verifier{now: opts.Now}
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
	var fallback func()
	if opts.Observer != nil {
		fallback = opts.Observer.ReplayFallback
	}
	replays, err := replay.New(replay.Options{
		Redis: opts.Redis, Prefix: ReplayKeyPrefix, Name: "call token", Now: v.now, Logger: opts.Logger, Fallback: fallback,
	})
	if err != nil {
		return nil, fmt.Errorf("calltoken: %w", err)
	}
	v.replays = replays
	return v, nil
}

// Close releases the Verifier's resources. It does not close Options.Redis.
func (v *Verifier) Close() { v.replays.Close() }

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

// VerifyCaller verifies a chat-function token as Verify does, but leaves
// its app and user for the caller to check: for a request that names no
// app, whose app and user are those of what it asks for (a task).
func (v *Verifier) VerifyCaller(ctx context.Context, token string) (Claims, error) {
	c, err := v.verifyCommon(ctx, token)
	if err != nil {
		return Claims{}, err
	}
	if c.ToolType != ToolTypeChatFn {
		return Claims{}, denied(ReasonToolType)
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
	if !v.replays.Claim(ctx, c.Jti, time.Duration(max(1, c.Exp-now))*time.Second) {
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
