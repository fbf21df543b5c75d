// Package ctx holds the per-call context an extension's handler receives:
// who is calling, and the clients bound to that caller (HTTP, cache, log).
//
// A *Call is itself a context.Context carrying the call's deadline and
// cancellation, so a handler passes one value around:
//
//	func listInbox(c *ctx.Call, p ListInboxParams) (runtime.Result, error) {
//		page, err := inboxPages.GetOrFetch(c, cacheKey, time.Minute, fetchInbox)
//		...
//	}
package ctx

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/httpclient"
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

// Call is one invocation of an extension function. It embeds the call's
// context (deadline and cancellation), so it can be passed wherever a
// context.Context is expected. The runtime builds it; handlers only read it.
type Call struct {
	context.Context

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
	// Clock is the host's time source; nil means time.Now. Use Now.
	Clock func() time.Time

	logger  *zap.Logger
	logOnce sync.Once
	log     *zap.Logger
}

// NewCall returns a call on parent. logger is the host's logger; the call's
// own logger, with the call's fields, is built on first use.
func NewCall(parent context.Context, logger *zap.Logger) *Call {
	return &Call{Context: parent, logger: logger}
}

// CacheClient returns the call's cache client; it makes a *Call a
// cache.Scope, so handlers write inboxPages.GetOrFetch(c, key, ttl, fetch).
func (c *Call) CacheClient() *cache.Client { return c.Cache }

// Now returns the current time on the host's clock.
func (c *Call) Now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

// Log returns a logger carrying the call's request id, app, function and
// user id. It is built on first use: most calls never log.
func (c *Call) Log() *zap.Logger {
	c.logOnce.Do(func() {
		base := c.logger
		if base == nil {
			base = zap.NewNop()
		}
		c.log = base.With(
			zap.String("request_id", c.RequestID),
			zap.String("app", c.AppID),
			zap.String("function", c.Function),
			zap.String("user_id", c.User.ImperalID),
		)
	})
	return c.log
}
