package calltoken

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testSecret = "test-secret-32-bytes-urlsafe-base64-for-unit-tests-only"
	newSecret  = "new-secret-for-rotation-test-32-bytes-content-here"
	testNow    = 1767225600 // 2026-01-01T00:00:00Z
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ nanos atomic.Int64 }

func newFakeClock(unix int64) *fakeClock {
	c := &fakeClock{}
	c.nanos.Store(unix * int64(time.Second))
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.nanos.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }
func (c *fakeClock) Unix() int64             { return c.Now().Unix() }
func (c *fakeClock) claims(tool, app, user string, ttl int64) Claims {
	return Claims{AppID: app, Exp: c.Unix() + ttl, Iat: c.Unix(), Jti: NewJTI(), ToolType: tool, UserID: user}
}

func newTestVerifier(t *testing.T, clk *fakeClock, opts Options) *Verifier {
	t.Helper()
	if opts.Secrets == nil {
		opts.Secrets = []string{testSecret}
	}
	opts.Now = clk.Now
	v, err := NewVerifier(opts)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// signRaw signs an arbitrary payload as Mint signs the canonical one.
func signRaw(payload, secret string) string { return sign([]byte(payload), []byte(secret)) }

// reasonOf returns the reason of a Verify error, "" for success, and fails
// the test on an error that is not an *Error.
func reasonOf(t *testing.T, err error) (reason string, denied bool) {
	t.Helper()
	if err == nil {
		return "", false
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *calltoken.Error", err, err)
	}
	return e.Reason, e.Denied
}

func wantReason(t *testing.T, err error, want string) {
	t.Helper()
	got, denied := reasonOf(t, err)
	if got != want {
		t.Fatalf("reason = %q (err %v), want %q", got, err, want)
	}
	wantDenied := want == ReasonToolType || want == ReasonAppID || want == ReasonUserID
	if denied != wantDenied {
		t.Fatalf("Denied = %v for %q, want %v", denied, want, wantDenied)
	}
}

func verify(t *testing.T, v *Verifier, token, app, user string) (Claims, error) {
	t.Helper()
	return v.Verify(context.Background(), token, app, user)
}
