package mailclient

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// canonicalFolder spells the system folders as the mail-service does,
// whatever their case ("inbox" is "INBOX"); any other name is a custom
// folder and stays as given.
func canonicalFolder(name string) string {
	for _, f := range systemFolders {
		if strings.EqualFold(name, f) {
			return f
		}
	}
	return name
}

// ── Chat function: inbox ────────────────────────────────────────────────────

// The page sizes of inbox.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// InboxParams are inbox's parameters.
type InboxParams struct {
	Folder  string `json:"folder" jsonschema:"maxLength=256" jsonschema_description:"Folder to list: inbox, sent, drafts, spam, trash, starred, archive, or a folder of the account's own."`
	Cursor  string `json:"cursor" jsonschema:"maxLength=2048" jsonschema_description:"The cursor of a previous answer, for the page after it; empty for the first page."`
	Limit   int    `json:"limit" jsonschema_description:"Messages per page, 1 to 100 (clamped)."`
	Account string `json:"account" jsonschema_description:"Account email or ID; empty for the active account."`
}

// InboxView is inbox's result data: one page of a folder.
type InboxView struct {
	Account  string           `json:"account"`
	Folder   string           `json:"folder"`
	Page     int              `json:"page"`
	Messages []MessagePreview `json:"messages"`
	// Total is always null: a page's length is not the folder's size
	// (count_emails says that), as in the real extension since 5.8.0.
	Total   *int `json:"total"`
	HasMore bool `json:"has_more"`
	// Cursor asks for the next page; empty on the last one.
	Cursor      string `json:"cursor"`
	UnreadCount int    `json:"unread_count"`
}

// Inbox is inbox: a folder, a page at a time.
var Inbox = runtime.AddFunction(chat, runtime.Function[InboxParams, InboxView]{
	Name: "inbox",
	Description: "List a mail folder, newest first, a page at a time; pass the answer's cursor for the next page. " +
		"The page length is not the folder's size: for counts use count_emails, for dates or senders use search.",
	ActionType: runtime.Read,
	Defaults:   InboxParams{Folder: "inbox", Limit: defaultPageSize},
	Handler:    inbox,
})

// pageCursor is what an inbox cursor carries: the listing it belongs to,
// the page it asks for, and the mail-service's cursor of that page.
type pageCursor struct {
	Account string `json:"a"`
	Folder  string `json:"f"`
	Limit   int    `json:"l"`
	Page    int    `json:"p"`
	Next    string `json:"c"`
}

func (pc pageCursor) encode() string {
	raw, _ := json.Marshal(pc) // strings and ints always encode
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeCursor(s string) (pageCursor, bool) {
	var pc pageCursor
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(raw, &pc) != nil || pc.Page < 2 || pc.Next == "" {
		return pageCursor{}, false
	}
	return pc, true
}

func inbox(c *ctx.Call, p InboxParams) (runtime.Result, error) {
	acct, _, err := resolveAccount(c, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	folder := canonicalFolder(p.Folder)
	limit := min(max(p.Limit, 1), maxPageSize)
	at := pageCursor{Account: acct.ID, Folder: folder, Limit: limit, Page: 1}
	if p.Cursor != "" {
		pc, ok := decodeCursor(p.Cursor)
		if !ok {
			return runtime.Fail("The cursor is not one inbox gave; list from the first page.").WithCode(codeValidation), nil
		}
		// A cursor of another listing (another account, folder or page
		// size: panel parameters the platform re-sent) starts over, as
		// the real extension's account-bound cursors do.
		if pc.Account == acct.ID && pc.Folder == folder && pc.Limit == limit {
			at = pc
		}
	}

	fetch := func(f *ctx.Call) (InboxMessages, error) {
		query := httpclient.Params{"user_id": f.UserID(), "account_id": acct.ID, "folder": folder, "limit": limit, "page": 0}
		if at.Page > 1 {
			query["cursor"] = at.Next
		}
		var body struct {
			Messages   []wirePreview `json:"messages"`
			HasMore    bool          `json:"has_more"`
			NextCursor string        `json:"next_cursor"`
		}
		if err := mailGet(f, "/v1/inbox", query, &body); err != nil {
			return InboxMessages{}, err
		}
		return InboxMessages{AccountID: acct.ID, Folder: folder, Page: at.Page, Messages: previews(body.Messages),
			HasMore: body.HasMore, NextCursor: body.NextCursor, FetchedAt: fetchedAt(f)}, nil
	}
	// Pages of the default size are cached, by page number; other sizes
	// are rarer and go to the mail-service.
	var page InboxMessages
	if limit == defaultPageSize {
		page, err = inboxMessages.GetOrFetch(c, pageKey(acct.ID, folder, at.Page), cacheTTL(c), fetch)
	} else {
		page, err = fetch(c)
	}
	if err != nil {
		return runtime.Result{}, err
	}

	view := InboxView{Account: acct.ID, Folder: folder, Page: at.Page, Messages: page.Messages, HasMore: page.HasMore}
	if page.HasMore && page.NextCursor != "" {
		view.Cursor = pageCursor{Account: acct.ID, Folder: folder, Limit: limit, Page: at.Page + 1, Next: page.NextCursor}.encode()
	}
	// The count decorates the page; without it the page still answers.
	if unread, err := folderUnread(c, acct.ID, folder); err == nil {
		view.UnreadCount = unread.UnreadCount
	} else {
		c.Log().Info("unread count unavailable", zap.Error(err))
	}
	return runtime.Success(view, fmt.Sprintf("%d message(s) in %s.", len(view.Messages), folder)), nil
}

// folderUnread returns the unread and total messages of an account's
// folder, cached.
func folderUnread(c *ctx.Call, accountID, folder string) (FolderUnread, error) {
	return folderUnreads.GetOrFetch(c, folderUnreadKey(accountID, folder), cacheTTL(c), func(f *ctx.Call) (FolderUnread, error) {
		var body struct {
			Unread int `json:"unread"`
			Total  int `json:"total"`
		}
		err := mailGet(f, "/v1/unread", httpclient.Params{"user_id": f.UserID(), "account_id": accountID, "folder": folder}, &body)
		return FolderUnread{AccountID: accountID, Folder: folder, UnreadCount: body.Unread, Total: body.Total,
			FetchedAt: fetchedAt(f)}, err
	})
}

// ── Chat function: read_email ───────────────────────────────────────────────

// LastRead is the message the user read last, as stored in "mail_last_read"
// under the id "last": reply answers it when given no message.
type LastRead struct {
	MessageID       string `json:"message_id"`
	Account         string `json:"account"`
	Subject         string `json:"subject"`
	From            string `json:"from"`
	ThreadID        string `json:"thread_id"`
	MessageIDHeader string `json:"message_id_header"`
}

var lastRead = runtime.StoreCollection[LastRead](ext, "mail_last_read")

// lastReadID is the one document of mail_last_read.
const lastReadID = "last"

// ReadEmailParams are read_email's parameters.
type ReadEmailParams struct {
	MessageID string `json:"message_id" jsonschema:"required,minLength=1,maxLength=256" jsonschema_description:"Id of the message to read."`
	Account   string `json:"account" jsonschema_description:"Account email or ID; empty to look in every connected account."`
}

// Attachment is a file a message carries.
type Attachment struct {
	ID        string `json:"id"`
	Filename  string `json:"filename"`
	SizeBytes int    `json:"size_bytes"`
	MimeType  string `json:"mime_type"`
}

// EmailMessage is read_email's result data: the whole message.
type EmailMessage struct {
	MessageID       string       `json:"message_id"`
	ThreadID        string       `json:"thread_id"`
	Account         string       `json:"account"`
	Folder          string       `json:"folder"`
	Subject         string       `json:"subject"`
	From            string       `json:"from"`
	To              string       `json:"to"`
	Cc              string       `json:"cc"`
	Date            string       `json:"date"`
	Body            string       `json:"body"`
	BodyType        string       `json:"body_type"`
	Unread          bool         `json:"unread"`
	Starred         bool         `json:"starred"`
	Attachments     []Attachment `json:"attachments"`
	MessageIDHeader string       `json:"message_id_header"`
}

// ReadEmail is read_email: one message, which reading marks read.
var ReadEmail = runtime.AddFunction(chat, runtime.Function[ReadEmailParams, EmailMessage]{
	Name:         "read_email",
	Description:  "Open one email by id and show its whole body; it is marked read.",
	ActionType:   runtime.Read,
	IDProjection: "message_id",
	Handler:      readEmail,
})

func readEmail(c *ctx.Call, p ReadEmailParams) (runtime.Result, error) {
	acct, all, err := resolveAccount(c, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	// Without an account, the active one first, then the others: the
	// user's own accounts only.
	candidates := []store.Document[Account]{acct}
	if p.Account == "" {
		for _, d := range all {
			if d.ID != acct.ID {
				candidates = append(candidates, d)
			}
		}
	}
	for _, a := range candidates {
		msg, err := fetchMessage(c, a.ID, p.MessageID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return runtime.Result{}, err
		}
		msg.Account = a.ID
		// Reading marked it read: the folder's page is patched, the counts
		// dropped.
		patched := []string{msg.Folder}
		if msg.Starred && msg.Folder == folderInbox {
			patched = append(patched, folderStarred)
		}
		forget(c, mailboxChange{account: a.ID, patched: patched, ids: []string{msg.MessageID},
			edit: func(m *MessagePreview) { m.Unread = false }, unread: true})
		last := LastRead{MessageID: msg.MessageID, Account: a.ID, Subject: msg.Subject, From: msg.From,
			ThreadID: msg.ThreadID, MessageIDHeader: msg.MessageIDHeader}
		if _, err := lastRead.Update(c, lastReadID, last, ""); err != nil {
			c.Log().Warn("last read message not remembered", zap.Error(err))
		}
		return runtime.Success(msg, "Email: "+msg.Subject), nil
	}
	return runtime.Fail("Email not found in any connected account.").WithCode(codeNotFound), nil
}

// fetchMessage reads a message from the mail-service, marking it read.
func fetchMessage(c *ctx.Call, accountID, id string) (EmailMessage, error) {
	path, ok := messagePath(id, "")
	if !ok {
		return EmailMessage{}, &runtime.CodedError{Code: codeNotFound, Message: "No such message."}
	}
	var body struct {
		ID string `json:"id"`
		EmailMessage
	}
	err := mailGet(c, path, httpclient.Params{"user_id": c.UserID(), "account_id": accountID, "mark_read": true}, &body)
	msg := body.EmailMessage
	msg.MessageID = body.ID
	msg.Attachments = nonNil(msg.Attachments)
	return msg, err
}

// ── Chat function: search ───────────────────────────────────────────────────

// SearchParams are search's parameters.
type SearchParams struct {
	Query       string `json:"query" jsonschema:"required,minLength=1,maxLength=2048" jsonschema_description:"Search terms: from:, subject:, is:unread, is:read, is:starred, in:<folder>, newer_than:7d, older_than:30d, and words."`
	MaxResults  int    `json:"max_results" jsonschema_description:"Most messages to return, 1 to 200 (clamped)."`
	OldestFirst bool   `json:"oldest_first" jsonschema_description:"Oldest matches first instead of newest."`
	Folder      string `json:"folder" jsonschema:"maxLength=256" jsonschema_description:"Only this folder; empty for all."`
	Account     string `json:"account" jsonschema_description:"Account email or ID; empty to search every connected account."`
}

// SearchPage is search's result data.
type SearchPage struct {
	Query string `json:"query"`
	// Total counts every match, not just those returned.
	Total    int              `json:"total"`
	HasMore  bool             `json:"has_more"`
	Messages []MessagePreview `json:"messages"`
}

// Search is search: messages matching a query, with the true total.
var Search = runtime.AddFunction(chat, runtime.Function[SearchParams, SearchPage]{
	Name:        "search",
	Description: "Search mail with a query; the answer's total counts every match, not just the messages returned.",
	ActionType:  runtime.Read,
	Defaults:    SearchParams{MaxResults: 50},
	Handler:     search,
})

func search(c *ctx.Call, p SearchParams) (runtime.Result, error) {
	acct, all, err := resolveAccount(c, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	limit := min(max(p.MaxResults, 1), 200)
	targets := all
	if p.Account != "" {
		targets = []store.Document[Account]{acct}
	}
	out := SearchPage{Query: p.Query, Messages: []MessagePreview{}}
	for _, a := range targets {
		found, total, err := searchAccount(c, a.ID, p.Query, p.Folder, limit, p.OldestFirst)
		if err != nil {
			return runtime.Result{}, err
		}
		for i := range found {
			found[i].Account = a.ID
		}
		out.Messages = append(out.Messages, found...)
		out.Total += total
	}
	if len(targets) > 1 {
		// RFC 3339 dates in UTC sort as strings.
		slices.SortStableFunc(out.Messages, func(a, b MessagePreview) int {
			if p.OldestFirst {
				return cmp.Compare(a.Date, b.Date)
			}
			return cmp.Compare(b.Date, a.Date)
		})
		out.Messages = out.Messages[:min(len(out.Messages), limit)]
	}
	out.HasMore = out.Total > len(out.Messages)
	return runtime.Success(out, fmt.Sprintf("%d result(s) for '%s'.", out.Total, p.Query)), nil
}

// searchAccount runs one search in one account: the first limit matches
// and the number of all of them.
func searchAccount(c *ctx.Call, accountID, q, folder string, limit int, oldestFirst bool) ([]MessagePreview, int, error) {
	var body struct {
		Results []wirePreview `json:"results"`
		Total   int           `json:"total"`
	}
	query := httpclient.Params{"user_id": c.UserID(), "account_id": accountID, "q": q, "limit": limit, "oldest_first": oldestFirst}
	if folder != "" {
		query["folder"] = canonicalFolder(folder)
	}
	if err := mailGet(c, "/v1/search", query, &body); err != nil {
		return nil, 0, err
	}
	return previews(body.Results), body.Total, nil
}

// ── Chat function: count_emails ─────────────────────────────────────────────

// CountEmailsParams are count_emails' parameters.
type CountEmailsParams struct {
	Folder  string `json:"folder" jsonschema:"maxLength=256" jsonschema_description:"What to count: all, unread, inbox, today, spam, archive, sent, trash, drafts, starred or a folder name; empty for all."`
	Query   string `json:"query" jsonschema:"maxLength=2048" jsonschema_description:"Count the messages a search query matches instead."`
	Account string `json:"account" jsonschema_description:"Account email or ID; empty to count in every connected account."`
}

// FolderCounts is count_emails' result data: a count per account address,
// and their sum under "total".
type FolderCounts struct {
	Counts map[string]int `json:"counts"`
	Total  int            `json:"total"`
}

// CountEmails is count_emails: true counts, never a page's length.
var CountEmails = runtime.AddFunction(chat, runtime.Function[CountEmailsParams, FolderCounts]{
	Name:        "count_emails",
	Description: "Count emails: in a folder, unread, arrived today, or matching a query; per account and in total.",
	ActionType:  runtime.Read,
	Handler:     countEmails,
})

func countEmails(c *ctx.Call, p CountEmailsParams) (runtime.Result, error) {
	acct, all, err := resolveAccount(c, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	targets := all
	if p.Account != "" {
		targets = []store.Document[Account]{acct}
	}
	out := FolderCounts{Counts: map[string]int{}}
	for _, a := range targets {
		n, err := countIn(c, a.ID, p)
		if err != nil {
			return runtime.Result{}, err
		}
		out.Counts[a.Data.Email] += n
		out.Total += n
	}
	out.Counts["total"] = out.Total
	return runtime.Success(out, fmt.Sprintf("%d email(s).", out.Total)), nil
}

// countIn counts what p asks for in one account.
func countIn(c *ctx.Call, accountID string, p CountEmailsParams) (int, error) {
	if p.Query != "" {
		_, total, err := searchAccount(c, accountID, p.Query, p.Folder, 1, false)
		return total, err
	}
	what := strings.ToLower(p.Folder)
	if _, counted := (MailCounts{}).of(what); !counted {
		f, err := folderUnread(c, accountID, canonicalFolder(p.Folder))
		return f.Total, err
	}
	counts, err := mailCounts.GetOrFetch(c, countsKey(accountID), countsTTL, func(f *ctx.Call) (MailCounts, error) {
		m := MailCounts{AccountID: accountID}
		err := mailGet(f, "/v1/counts", httpclient.Params{"user_id": f.UserID(), "account_id": accountID}, &m)
		m.AccountID, m.FetchedAt = accountID, fetchedAt(f)
		return m, err
	})
	n, _ := counts.of(what)
	return n, err
}

// of returns the count count_emails names what ("" or "all", unread,
// inbox, today, spam, archive), and false for a name it does not hold.
func (m MailCounts) of(what string) (int, bool) {
	switch what {
	case "", "all":
		return m.Total, true
	case "unread":
		return m.Unread, true
	case "inbox":
		return m.InboxTotal, true
	case "today":
		return m.Today, true
	case "spam":
		return m.Spam, true
	case "archive":
		return m.Archive, true
	}
	return 0, false
}
