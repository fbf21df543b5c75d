// Package mailclient is the mail-client extension: the seed recipe
// "Cached inbox — typed get_or_fetch with TTL" in Go, grown into the core
// of the real Imperal mail client (shared/reference/mail-client.md): its
// accounts in the store, paged inboxes and unread counts in the cache, reads,
// searches, counts, sends and replies, and bulk writes by id or by query,
// each write dropping or patching exactly the cache entries it makes stale.
//
// It reaches its backend as the logical service "mail-service"; the
// reference implementation, and the endpoints it serves, are in
// internal/mailservice (cmd/mailservice runs it).
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

// InboxPage is the first page of a folder, as list_inbox caches it under
// "inbox_page". Messages are kept as the mail-service sent them: the host
// forwards them and never needs their fields.
type InboxPage struct {
	AccountID string            `json:"account_id"`
	Folder    string            `json:"folder"`
	Messages  []json.RawMessage `json:"messages"`
	Total     int               `json:"total"`
	HasMore   bool              `json:"has_more"`
	FetchedAt string            `json:"fetched_at"`
}

// UnreadSummary is the user's unread count, as get_unread_summary caches
// it under "unread_summary".
type UnreadSummary struct {
	Unread    int      `json:"unread"`
	Accounts  []string `json:"accounts"`
	FetchedAt string   `json:"fetched_at"`
}

// InboxMessages is one page of a folder as inbox caches it under
// "inbox_messages" (the real extension's model): page 1 at
// msgs:<account>:<folder>, page N at msgs:<account>:<folder>:p<N>.
type InboxMessages struct {
	AccountID string           `json:"account_id"`
	Folder    string           `json:"folder"`
	Page      int              `json:"page"`
	Messages  []MessagePreview `json:"messages"`
	HasMore   bool             `json:"has_more"`
	// NextCursor is the mail-service's cursor of the page after this one.
	NextCursor string `json:"next_cursor"`
	FetchedAt  string `json:"fetched_at"`
}

// FolderUnread is a folder's unread and total messages, as cached under
// "folder_unread" at unread:<account>:<folder>. (The real extension's
// "unread_summary" holds this; here that name is get_unread_summary's, whose
// shape DESIGN §7 fixes.)
type FolderUnread struct {
	AccountID   string `json:"account_id"`
	Folder      string `json:"folder"`
	UnreadCount int    `json:"unread_count"`
	Total       int    `json:"total"`
	FetchedAt   string `json:"fetched_at"`
}

// MailCounts are an account's counts, as cached under "mail_counts" at
// counts:<account>.
type MailCounts struct {
	AccountID  string `json:"account_id"`
	Total      int    `json:"total"`
	InboxTotal int    `json:"inbox_total"`
	Unread     int    `json:"unread"`
	Spam       int    `json:"spam"`
	Archive    int    `json:"archive"`
	Today      int    `json:"today"`
	FetchedAt  string `json:"fetched_at"`
}

var (
	inboxPages      = runtime.CacheModel[InboxPage](ext, "inbox_page")
	unreadSummaries = runtime.CacheModel[UnreadSummary](ext, "unread_summary")
	inboxMessages   = runtime.CacheModel[InboxMessages](ext, "inbox_messages")
	folderUnreads   = runtime.CacheModel[FolderUnread](ext, "folder_unread")
	mailCounts      = runtime.CacheModel[MailCounts](ext, "mail_counts")
)

// fetchedAt stamps a cached value with the call's clock, as the models'
// fetched_at fields hold it.
func fetchedAt(c *ctx.Call) string { return c.Now().UTC().Format(time.RFC3339Nano) }

// countsTTL is how long counts stay cached: they move with every arrival.
const countsTTL = 30 * time.Second

// ── Messages ────────────────────────────────────────────────────────────────

// MessagePreview is one message of a listing or a search.
type MessagePreview struct {
	MessageID      string   `json:"message_id"`
	ThreadID       string   `json:"thread_id"`
	From           string   `json:"from"`
	Subject        string   `json:"subject"`
	Snippet        string   `json:"snippet"`
	Date           string   `json:"date"`
	Unread         bool     `json:"unread"`
	Starred        bool     `json:"starred"`
	HasAttachments bool     `json:"has_attachments"`
	Labels         []string `json:"labels"`
	// Account is the account a search across accounts found it in.
	Account string `json:"account,omitempty"`
}

// wirePreview is a message as the mail-service lists it, with "id" where
// the extension says "message_id" (the real extension renames it too).
type wirePreview struct {
	ID string `json:"id"`
	MessagePreview
}

// previews returns the wire messages as the extension shows them.
func previews(wire []wirePreview) []MessagePreview {
	out := make([]MessagePreview, len(wire))
	for i, w := range wire {
		out[i] = w.MessagePreview
		out[i].MessageID = w.ID
		out[i].Labels = nonNil(w.Labels)
	}
	return out
}
