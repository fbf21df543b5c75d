// Package ctx holds the per-call value an extension's handler receives:
// who is calling, and the clients bound to that caller (HTTP, cache, log).
//
// A *Call is itself a context.Context carrying the call's deadline and
// cancellation, so a handler passes one value around:
//
//	func listInbox(c *ctx.Call, p ListInboxParams) (runtime.Result, error) {
//		page, err := inboxPages.GetOrFetch(c, cacheKey, time.Minute, fetchInbox)
//		...
//	}
//
// A Call is read-only: the runtime builds it in one step, with NewCall; a
// handler reads its parts and cannot set them.
package ctx

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/store"
)

// User is the verified identity of the caller, as the SDK's UserContext.
type User struct {
	// ImperalID is the platform user id; every per-user resource is keyed by it.
	ImperalID string
	Email     string
	TenantID  string
	Role      string
	Scopes    []string
}

// HasScope reports whether the user holds scope, with the SDK's rules:
// "*" grants everything, and "ns.*" grants "ns" and every "ns.<...>".
func (u User) HasScope(scope string) bool {
	for _, s := range u.Scopes {
		if s == "*" || s == scope {
			return true
		}
		if prefix, ok := strings.CutSuffix(s, ".*"); ok && (scope == prefix || strings.HasPrefix(scope, prefix+".")) {
			return true
		}
	}
	return false
}

// HasRole reports whether the user has exactly role.
func (u User) HasRole(role string) bool { return u.Role == role }

// Setup is everything a Call is made of; the runtime fills it in once.
type Setup struct {
	// AppID and Function name what is being called.
	AppID    string
	Function string
	// RequestID identifies the call in logs and upstream requests.
	RequestID string
	// User is the caller.
	User User
	// HTTP reaches the configured upstream services on the caller's behalf.
	HTTP *httpclient.Client
	// Cache is the caller's cache for this extension.
	Cache *cache.Client
	// Store is the caller's document store for this extension.
	Store *store.Client
	// Config is the extension's config, decoded at start-up.
	Config any
	// Secrets are the extension's declared secrets that are set.
	Secrets map[string]string
	// Progress records a background task's progress; nil outside a task.
	Progress func(percent float64, message string) error
	// Notifier sends notifications; nil sends none.
	Notifier Notifier
	// Clock is the host's time source; nil means time.Now.
	Clock func() time.Time
	// Logger is the host's logger; the call's own, with the call's
	// fields, is built from it on first use. Nil logs nothing.
	Logger *zap.Logger
}

// Call is one invocation of an extension function. It is a
// context.Context carrying the call's deadline and cancellation, so it can
// be passed wherever one is expected. Its parts can be read, not set; and
// the host keeps its own record of the call, so nothing a handler does to
// its Call changes what the host answers, logs or publishes.
type Call struct {
	ctx   context.Context
	setup *Setup
	log   *callLog
}

// callLog is the call's logger, built once and shared by the call's
// detached copies.
type callLog struct {
	once sync.Once
	log  *zap.Logger
}

// NewCall returns the call s describes, on parent.
func NewCall(parent context.Context, s Setup) *Call {
	s.User.Scopes = slices.Clip(s.User.Scopes)
	// One allocation for the call and its parts: a cache hit makes little else.
	parts := &struct {
		call  Call
		setup Setup
		log   callLog
	}{setup: s}
	parts.call = Call{ctx: parent, setup: &parts.setup, log: &parts.log}
	return &parts.call
}

// WithContext returns a copy of the call on another context: the same
// caller, clients and ids, another deadline and cancellation. The cache
// gives a shared fetch such a copy, detached from any one caller.
func (c *Call) WithContext(parent context.Context) *Call {
	return &Call{ctx: parent, setup: c.setup, log: c.log}
}

// Deadline implements context.Context: the call's deadline.
func (c *Call) Deadline() (time.Time, bool) { return c.ctx.Deadline() }

// Done implements context.Context: closed when the call is cancelled or
// its deadline passes.
func (c *Call) Done() <-chan struct{} { return c.ctx.Done() }

// Err implements context.Context.
func (c *Call) Err() error { return c.ctx.Err() }

// Value implements context.Context.
func (c *Call) Value(key any) any { return c.ctx.Value(key) }

// AppID returns the id of the extension being called.
func (c *Call) AppID() string { return c.setup.AppID }

// Function returns the name of the function being called.
func (c *Call) Function() string { return c.setup.Function }

// RequestID returns the call's request id.
func (c *Call) RequestID() string { return c.setup.RequestID }

// User returns the caller; its Scopes are a copy.
func (c *Call) User() User {
	u := c.setup.User
	u.Scopes = slices.Clone(u.Scopes)
	return u
}

// UserID returns the caller's platform user id, User().ImperalID.
func (c *Call) UserID() string { return c.setup.User.ImperalID }

// HTTP returns the client for the configured upstream services.
func (c *Call) HTTP() *httpclient.Client { return c.setup.HTTP }

// Cache returns the caller's cache client for this extension.
func (c *Call) Cache() *cache.Client { return c.setup.Cache }

// Config returns the extension's config (see runtime.ExtensionConfig).
func (c *Call) Config() any { return c.setup.Config }

// Secret returns the value of the extension's declared secret name, and
// whether it is set (see runtime.DeclareSecret).
func (c *Call) Secret(name string) (string, bool) {
	v, ok := c.setup.Secrets[name]
	return v, ok
}

// Store returns the caller's document store client for this extension.
func (c *Call) Store() *store.Client { return c.setup.Store }

// Progress reports how far a background task has come: percent from 0 to
// 100 (clamped) and a message, the SDK's ctx.progress. It returns an error
// once the task has been cancelled or has passed its deadline, so that a
// loop can stop at its next report; outside a task it records nothing and
// returns the call's Err.
func (c *Call) Progress(percent float64, message string) error {
	if c.setup.Progress == nil {
		return c.Err()
	}
	return c.setup.Progress(percent, message)
}

// ErrNotificationsOff is Notify's answer on a host that sends none.
var ErrNotificationsOff = errors.New("ctx: this host sends no notifications")

// Notify tells the caller something happened, the SDK's ctx.notify: the
// message and data (which must encode as a JSON object; nil is {}) go out
// as a notification envelope from this extension. A notification over
// the user's rate limit is dropped, and Notify says so with an error a
// handler may ignore: a notification is never worth failing a call for.
func (c *Call) Notify(message string, data any) error {
	if c.setup.Notifier == nil {
		return ErrNotificationsOff
	}
	return c.setup.Notifier.Notify(c, message, data)
}

// Notifier sends the notifications of calls: the host's. It reads the
// sender and recipient from the call.
type Notifier interface {
	Notify(c *Call, message string, data any) error
}

// Now returns the current time on the host's clock.
func (c *Call) Now() time.Time {
	if c.setup.Clock != nil {
		return c.setup.Clock()
	}
	return time.Now()
}

// Log returns a logger carrying the call's request id, app, function and
// user id. It is built on first use: most calls never log.
func (c *Call) Log() *zap.Logger {
	c.log.once.Do(func() {
		base := c.setup.Logger
		if base == nil {
			base = zap.NewNop()
		}
		c.log.log = base.With(
			zap.String("request_id", c.setup.RequestID),
			zap.String("app", c.setup.AppID),
			zap.String("function", c.setup.Function),
			zap.String("user_id", c.setup.User.ImperalID),
		)
	})
	return c.log.log
}
