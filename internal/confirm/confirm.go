// Package confirm is the confirmation gate of DESIGN §13: a function that
// requires confirmation runs only when its call carries a token the gate
// issued for that very call — the same app, user, function and parameters —
// within its expiry, once.
//
// A token is base64url(claims) + "." + base64url(HMAC-SHA256(key, claims)).
// The claims bind the parameters by the SHA-256 of their canonical JSON
// (keys sorted, no whitespace), so key order and spacing do not matter and
// values do. Its id is claimed in a replay.Set on use, shared by the
// replicas through Redis.
package confirm

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/imperalcloud/exthost/internal/pyjson"
	"github.com/imperalcloud/exthost/internal/replay"
)

// DefaultTTL is how long a token is good for when Options leaves TTL unset.
const DefaultTTL = 5 * time.Minute

// maxTokenLen bounds the tokens Redeem looks at.
const maxTokenLen = 1024

// Options configures a Gate.
type Options struct {
	// Keys are the HMAC keys, current first: the first signs, all verify.
	// Replicas that redeem each other's tokens share them. At least one.
	Keys [][]byte
	// TTL is how long a token is good for. Default DefaultTTL.
	TTL time.Duration
	// Replays remembers redeemed tokens. Required.
	Replays *replay.Set
	// Now is the clock of expiries. Default time.Now.
	Now func() time.Time
}

// Gate issues and redeems confirmation tokens. It is safe for concurrent use.
type Gate struct {
	keys    [][]byte
	ttl     time.Duration
	replays *replay.Set
	now     func() time.Time
}

// New returns a Gate for opts.
func New(opts Options) (*Gate, error) {
	switch {
	case len(opts.Keys) == 0:
		return nil, errors.New("confirm: no key")
	case opts.Replays == nil:
		return nil, errors.New("confirm: no replay set")
	}
	for i, k := range opts.Keys {
		if len(k) < 16 {
			return nil, fmt.Errorf("confirm: key %d is shorter than 16 bytes", i)
		}
	}
	g := &Gate{keys: opts.Keys, ttl: opts.TTL, replays: opts.Replays, now: opts.Now}
	if g.ttl <= 0 {
		g.ttl = DefaultTTL
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g, nil
}

// Call names the call a token is for.
type Call struct {
	AppID    string
	UserID   string
	Function string
	// Params is the call's JSON object of parameters; empty or null is {}.
	Params json.RawMessage
	// RequestID, when set, lets a retry of the call that redeemed a token
	// (the same request id) redeem it again until it expires: a confirmed
	// call that failed on its way, or ran and lost its answer (a replica
	// killed before it replied), may be retried without asking the user
	// twice. Only the platform's own parts choose request ids (a call token
	// is single use), and a batch gives each of its calls its own.
	RequestID string
}

// Ticket is a token issued for one call: what data.confirmation carries.
type Ticket struct {
	Token string
	// Params is the call's parameters in their canonical form.
	Params    json.RawMessage
	ExpiresAt time.Time
}

// claims are what a token says; the JSON names are short, as a token
// travels through a model's context.
type claims struct {
	ID       string `json:"jti"`
	AppID    string `json:"app"`
	UserID   string `json:"sub"`
	Function string `json:"fn"`
	Params   string `json:"params"` // base64url(SHA-256(canonical params))
	Exp      int64  `json:"exp"`    // Unix seconds
}

// Issue returns a token for call, good until the gate's TTL passes.
func (g *Gate) Issue(call Call) (Ticket, error) {
	canonical, err := Canonical(call.Params)
	if err != nil {
		return Ticket{}, err
	}
	exp := g.now().Add(g.ttl).Truncate(time.Second)
	c := claims{
		ID: rand.Text(), AppID: call.AppID, UserID: call.UserID, Function: call.Function,
		Params: digest(canonical), Exp: exp.Unix(),
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return Ticket{}, fmt.Errorf("confirm: %w", err)
	}
	token := b64.EncodeToString(payload) + "." + b64.EncodeToString(sign(g.keys[0], payload))
	return Ticket{Token: token, Params: canonical, ExpiresAt: exp}, nil
}

// The reasons a token is refused, for logs; callers see one answer.
var (
	ErrMalformed = errors.New("confirm: malformed token")
	ErrSignature = errors.New("confirm: token not signed by this host")
	ErrExpired   = errors.New("confirm: token expired")
	ErrOtherCall = errors.New("confirm: token issued for another call")
	ErrReplayed  = errors.New("confirm: token already used")
)

// Redeem checks that token was issued for call and has not expired, then
// claims it, so that it is good for one call (and that call's retries,
// when it has a request id). A refusal is one of the Err values. A token
// for another call is not used up by the attempt.
func (g *Gate) Redeem(ctx context.Context, token string, call Call) error {
	if len(token) > maxTokenLen {
		return ErrMalformed
	}
	payloadB64, sigB64, ok := strings.Cut(token, ".")
	if !ok {
		return ErrMalformed
	}
	payload, err1 := b64.DecodeString(payloadB64)
	sig, err2 := b64.DecodeString(sigB64)
	if err1 != nil || err2 != nil {
		return ErrMalformed
	}
	if !g.signed(payload, sig) {
		return ErrSignature
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil || c.ID == "" {
		return ErrMalformed
	}
	now := g.now()
	if c.Exp <= now.Unix() {
		return ErrExpired
	}
	canonical, err := Canonical(call.Params)
	if err != nil {
		return ErrOtherCall
	}
	if c.AppID != call.AppID || c.UserID != call.UserID || c.Function != call.Function || c.Params != digest(canonical) {
		return ErrOtherCall
	}
	if !g.replays.ClaimFor(ctx, c.ID, call.RequestID, time.Unix(c.Exp, 0).Sub(now)) {
		return ErrReplayed
	}
	return nil
}

func (g *Gate) signed(payload, sig []byte) bool {
	for _, k := range g.keys {
		if hmac.Equal(sig, sign(k, payload)) {
			return true
		}
	}
	return false
}

// Canonical returns params in canonical form: keys sorted, no whitespace,
// numbers as Python writes them; empty or null parameters are {}.
func Canonical(params json.RawMessage) (json.RawMessage, error) {
	trimmed := strings.TrimSpace(string(params))
	if trimmed == "" || trimmed == "null" {
		return json.RawMessage(`{}`), nil
	}
	out, err := pyjson.AppendSorted(nil, params)
	if err != nil {
		return nil, fmt.Errorf("confirm: params: %w", err)
	}
	return out, nil
}

// DeriveKey derives a confirmation key from secret, so that one configured
// secret can serve call tokens and confirmations without either's MAC
// standing in for the other's.
func DeriveKey(secret string) []byte { return sign([]byte(secret), []byte("exthost confirmation v1")) }

var b64 = base64.RawURLEncoding

func sign(key, payload []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	return mac.Sum(nil)
}

func digest(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return b64.EncodeToString(sum[:])
}
