package mailclient

import (
	"encoding/json"
	"fmt"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/runtime"
)

// ── Chat function: list inbox with cache ────────────────────────────────────

// ListInboxParams are list_inbox's parameters.
type ListInboxParams struct {
	AccountID string `json:"account_id" jsonschema_description:"Mail account to list."`
	Folder    string `json:"folder" jsonschema_description:"Folder to list."`
}

// InboxData is list_inbox's result data.
type InboxData struct {
	Messages []json.RawMessage `json:"messages"`
	Total    int               `json:"total"`
	HasMore  bool              `json:"has_more"`
}

// ListInbox is list_inbox, declared as the SDK's @chat.function.
var ListInbox = runtime.AddFunction(chat, runtime.Function[ListInboxParams, InboxData]{
	Name:        "list_inbox",
	Description: "List inbox messages for the user. Returns the first page from cache or fetches fresh.",
	ActionType:  runtime.Read,
	Defaults:    ListInboxParams{Folder: "INBOX"},
	Handler:     listInbox,
})

// listInbox returns the cached inbox page, or fetches and caches it on a miss.
func listInbox(c *ctx.Call, p ListInboxParams) (runtime.Result, error) {
	uid := c.UserID()
	if uid == "" || p.AccountID == "" {
		return runtime.Fail("No account specified."), nil
	}

	// Key syntax: [A-Za-z0-9_\-:], max 128 chars (I-CACHE-KEY-SAFETY);
	// inboxKey makes any account id or folder name fit it. ':' is the
	// namespace separator; the cache adds the user namespace itself.
	cacheKey := inboxKey(p.AccountID, p.Folder)

	// fetchInbox runs on a miss, with f: the call detached from any one
	// caller, since concurrent misses share the fetch. Unlike the seed, a
	// failed fetch is an error (Decode refuses a non-2xx answer), so an
	// outage is reported, retryable, instead of cached as an empty page.
	fetchInbox := func(f *ctx.Call) (InboxPage, error) {
		resp, err := f.HTTP().Get(f, "http://mail-service/v1/inbox", authorized(f, httpclient.Params{
			"user_id": uid, "account_id": p.AccountID, "folder": p.Folder, "page": 0,
		})...)
		if err != nil {
			return InboxPage{}, err
		}
		var body struct {
			Messages []json.RawMessage `json:"messages"`
			Total    int               `json:"total"`
			HasMore  bool              `json:"has_more"`
		}
		if err := resp.Decode(&body); err != nil {
			return InboxPage{}, err
		}
		return InboxPage{
			AccountID: p.AccountID,
			Folder:    p.Folder,
			Messages:  nonNil(body.Messages),
			Total:     body.Total,
			HasMore:   body.HasMore,
			FetchedAt: fetchedAt(f),
		}, nil
	}

	// GetOrFetch returns the cached page on a hit; on a miss it calls
	// fetchInbox, stores the page for 60 s and returns it.
	page, err := inboxPages.GetOrFetch(c, cacheKey, cacheTTL(c), fetchInbox)
	if err != nil {
		return runtime.Result{}, err
	}

	messages := page.Messages[:min(20, len(page.Messages))]
	return runtime.Success(InboxData{
		Messages: messages,
		Total:    page.Total,
		HasMore:  page.HasMore,
	}, fmt.Sprintf("%d message(s) in %s.", len(messages), p.Folder)), nil
}

// ── Chat function: get unread summary with cache ────────────────────────────

// UnreadParams are get_unread_summary's parameters: none.
type UnreadParams struct{}

// UnreadData is get_unread_summary's result data.
type UnreadData struct {
	Unread   int      `json:"unread"`
	Accounts []string `json:"accounts"`
}

// GetUnreadSummary is get_unread_summary, declared as the SDK's @chat.function.
var GetUnreadSummary = runtime.AddFunction(chat, runtime.Function[UnreadParams, UnreadData]{
	Name:        "get_unread_summary",
	Description: "Return total unread count and list of accounts with unread messages.",
	ActionType:  runtime.Read,
	Handler:     getUnreadSummary,
})

// getUnreadSummary returns the cached unread summary, or fetches and caches it on a miss.
func getUnreadSummary(c *ctx.Call, _ UnreadParams) (runtime.Result, error) {
	uid := c.UserID()
	if uid == "" {
		return runtime.Fail("No user context."), nil
	}

	cacheKey := unreadKey(uid)

	fetchUnread := func(f *ctx.Call) (UnreadSummary, error) {
		resp, err := f.HTTP().Get(f, "http://mail-service/v1/unread", authorized(f, httpclient.Params{"user_id": uid})...)
		if err != nil {
			return UnreadSummary{}, err
		}
		var body struct {
			Unread   int      `json:"unread"`
			Accounts []string `json:"accounts"`
		}
		if err := resp.Decode(&body); err != nil {
			return UnreadSummary{}, err
		}
		return UnreadSummary{
			Unread:    body.Unread,
			Accounts:  nonNil(body.Accounts),
			FetchedAt: fetchedAt(f),
		}, nil
	}

	summary, err := unreadSummaries.GetOrFetch(c, cacheKey, cacheTTL(c), fetchUnread)
	if err != nil {
		return runtime.Result{}, err
	}

	return runtime.Success(UnreadData{Unread: summary.Unread, Accounts: summary.Accounts},
		fmt.Sprintf("%d unread message(s).", summary.Unread)), nil
}

// nonNil keeps an absent list an empty one, as the seed's body.get(k, []) does.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
