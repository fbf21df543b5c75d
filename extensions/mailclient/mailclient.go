// Package mailclient is the mail-client extension: the seed recipe
// "Cached inbox — typed get_or_fetch with TTL" in Go, with two write
// functions that invalidate what they change.
//
// It reaches its backend as the logical service "mail-service" (see
// cmd/mailservice for the reference implementation):
//
//	GET  /v1/inbox?user_id&account_id&folder&page  → {"messages", "total", "has_more"}
//	GET  /v1/unread?user_id                        → {"unread", "accounts"}
//	POST /v1/messages/archive    {"user_id", "account_id", "message_ids"}          → {"archived"}
//	POST /v1/messages/mark_read  {"user_id", "account_id", "message_ids", "read"}  → {"updated"}
//
// The host wires it in with a blank import.
package mailclient

import (
	"encoding/json"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

// ── Extension bootstrap ─────────────────────────────────────────────────────

var ext = runtime.NewExtension(runtime.ExtensionInfo{
	AppID:           "mail-client",
	Version:         "1.0.0",
	DisplayName:     "Mail Client",
	Description:     "Mail Client extension — read and send email with AI assistance.",
	Icon:            "icon.svg",
	ActionsExplicit: true,
})

var chat = ext.ChatTool("tool_mail_chat", "Mail Client — read, search, and send email.")

func init() { registry.Register(ext) }

// Extension returns the mail-client extension, for tests that serve it in
// a host of their own (hosttest).
func Extension() *runtime.Extension { return ext }

// ── Config and secrets ──────────────────────────────────────────────────────

// Settings is the extension's config (extensions.mail-client.config).
type Settings struct {
	// InboxTTLSeconds is how long an inbox page or an unread count stays
	// cached, within [5, 300].
	InboxTTLSeconds int `json:"inbox_ttl_seconds"`
}

// Validate checks the TTL against the cache's bounds at start-up, not at
// the first call.
func (s *Settings) Validate() error {
	if s.InboxTTLSeconds < 5 || s.InboxTTLSeconds > 300 {
		return &runtime.ConfigError{Key: "inbox_ttl_seconds", Problem: "must be within [5, 300]"}
	}
	return nil
}

var settings = runtime.ExtensionConfig(ext, Settings{InboxTTLSeconds: 60})

// mailServiceToken, when set, is sent to the mail-service as
// Authorization: Bearer (EXTHOST_SECRET_MAIL_CLIENT_MAIL_SERVICE_TOKEN).
var mailServiceToken = runtime.DeclareSecret(ext, "mail_service_token", false)

// authorized adds the mail-service's authorization to opts, when its token
// is set.
func authorized(c *ctx.Call, opts ...httpclient.Option) []httpclient.Option {
	if token, ok := mailServiceToken.Value(c); ok {
		return append(opts, httpclient.Header("Authorization", "Bearer "+token))
	}
	return opts
}

// cacheTTL is how long a page or a count stays valid: data that changes on
// user action but is read far more often.
func cacheTTL(c *ctx.Call) time.Duration {
	return time.Duration(settings.Get(c).InboxTTLSeconds) * time.Second
}

// ── Cache model registration ────────────────────────────────────────────────
//
// Registered at package scope, before any handler can run. TTL is not set
// here: it is given per Set / GetOrFetch call, within [5, 300] seconds
// (I-CACHE-TTL-CAP-300S).

// InboxPage is the first page of a folder, as cached under "inbox_page".
// Messages are kept as the mail-service sent them: the host forwards them
// and never needs their fields.
type InboxPage struct {
	AccountID string            `json:"account_id"`
	Folder    string            `json:"folder"`
	Messages  []json.RawMessage `json:"messages"`
	Total     int               `json:"total"`
	HasMore   bool              `json:"has_more"`
	FetchedAt string            `json:"fetched_at"`
}

// UnreadSummary is the user's unread count, as cached under "unread_summary".
type UnreadSummary struct {
	Unread    int      `json:"unread"`
	Accounts  []string `json:"accounts"`
	FetchedAt string   `json:"fetched_at"`
}

var (
	inboxPages      = runtime.CacheModel[InboxPage](ext, "inbox_page")
	unreadSummaries = runtime.CacheModel[UnreadSummary](ext, "unread_summary")
)
