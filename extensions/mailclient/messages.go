package mailclient

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/runtime"
)

// writeEffects are declared by every write: the sidebar panel refreshes and
// the platform learns an email changed.
var writeEffects = []string{"__panel__sidebar", "update:email"}

// ── Chat function: archive a message ────────────────────────────────────────

// ArchiveMessageParams are archive_message's parameters.
type ArchiveMessageParams struct {
	AccountID string `json:"account_id" jsonschema:"required" jsonschema_description:"Mail account holding the message."`
	MessageID string `json:"message_id" jsonschema:"required,minLength=1" jsonschema_description:"Message to archive."`
	Folder    string `json:"folder" jsonschema_description:"Folder the message is in."`
}

// ArchiveData is archive_message's result data.
type ArchiveData struct {
	Archived  int    `json:"archived"`
	MessageID string `json:"message_id"`
}

// ArchiveMessage is archive_message, declared as the SDK's @chat.function.
var ArchiveMessage = runtime.AddFunction(chat, runtime.Function[ArchiveMessageParams, ArchiveData]{
	Name:         "archive_message",
	Description:  "Archive one message: it leaves the folder and stays searchable in the archive.",
	ActionType:   runtime.Write,
	Effects:      writeEffects,
	Event:        "email.archived",
	IDProjection: "message_id",
	Defaults:     ArchiveMessageParams{Folder: "INBOX"},
	Handler:      archiveMessage,
})

func archiveMessage(c *ctx.Call, p ArchiveMessageParams) (runtime.Result, error) {
	uid := c.UserID()
	if uid == "" || p.AccountID == "" {
		return runtime.Fail("No account specified."), nil
	}

	var body struct {
		Archived int `json:"archived"`
	}
	req := messagesRequest{UserID: uid, AccountID: p.AccountID, MessageIDs: []string{p.MessageID}}
	if err := writeMessages(c, "http://mail-service/v1/messages/archive", p.Folder, req, &body); err != nil {
		return runtime.Result{}, err
	}

	return runtime.Success(ArchiveData{Archived: body.Archived, MessageID: p.MessageID},
		fmt.Sprintf("Archived %d message(s).", body.Archived)), nil
}

// ── Chat function: mark a message read or unread ────────────────────────────

// MarkReadParams are mark_read's parameters.
type MarkReadParams struct {
	AccountID string `json:"account_id" jsonschema:"required" jsonschema_description:"Mail account holding the message."`
	MessageID string `json:"message_id" jsonschema:"required,minLength=1" jsonschema_description:"Message to mark."`
	Read      bool   `json:"read" jsonschema_description:"True marks the message read, false unread."`
	Folder    string `json:"folder" jsonschema_description:"Folder the message is in."`
}

// MarkReadData is mark_read's result data.
type MarkReadData struct {
	Updated   int    `json:"updated"`
	MessageID string `json:"message_id"`
	Read      bool   `json:"read"`
}

// MarkRead is mark_read, declared as the SDK's @chat.function.
var MarkRead = runtime.AddFunction(chat, runtime.Function[MarkReadParams, MarkReadData]{
	Name:         "mark_read",
	Description:  "Mark one message as read, or as unread with read=false.",
	ActionType:   runtime.Write,
	Effects:      writeEffects,
	Event:        "email.marked_read",
	IDProjection: "message_id",
	Defaults:     MarkReadParams{Read: true, Folder: "INBOX"},
	Handler:      markRead,
})

func markRead(c *ctx.Call, p MarkReadParams) (runtime.Result, error) {
	uid := c.UserID()
	if uid == "" || p.AccountID == "" {
		return runtime.Fail("No account specified."), nil
	}

	var body struct {
		Updated int `json:"updated"`
	}
	req := messagesRequest{UserID: uid, AccountID: p.AccountID, MessageIDs: []string{p.MessageID}, Read: &p.Read}
	if err := writeMessages(c, "http://mail-service/v1/messages/mark_read", p.Folder, req, &body); err != nil {
		return runtime.Result{}, err
	}

	state := "read"
	if !p.Read {
		state = "unread"
	}
	return runtime.Success(MarkReadData{Updated: body.Updated, MessageID: p.MessageID, Read: p.Read},
		fmt.Sprintf("Marked %d message(s) as %s.", body.Updated, state)), nil
}

// messagesRequest is the body of the mail-service's message endpoints.
type messagesRequest struct {
	UserID     string   `json:"user_id"`
	AccountID  string   `json:"account_id"`
	MessageIDs []string `json:"message_ids"`
	Read       *bool    `json:"read,omitempty"`
}

// writeMessages sends one write to the mail-service, decodes its answer
// into out, and then drops the cache entries the write made stale, so the
// next read is fresh. The inbox key is checked before the write: a key the
// cache would refuse must fail the call before the mailbox changes, not
// after. The unread key is dropped only when it is a valid key: a user id
// outside the key charset never had an unread summary cached.
func writeMessages(c *ctx.Call, url, folder string, req messagesRequest, out any) error {
	stale := []string{inboxKey(req.AccountID, folder)}
	if err := cache.ValidateKey(stale[0]); err != nil {
		return err
	}
	if key := unreadKey(req.UserID); cache.ValidateKey(key) == nil {
		stale = append(stale, key)
	}
	resp, err := c.HTTP().Post(c, url, authorized(c, httpclient.JSON(req))...)
	if err != nil {
		return err
	}
	if err := resp.Decode(out); err != nil {
		return err
	}
	// The write happened: a cache failure is logged, not returned, and the
	// entries expire within their TTL anyway.
	if err := c.Cache().Delete(c, stale...); err != nil {
		c.Log().Warn("cache invalidation failed; entries stay until their TTL", zap.Error(err))
	}
	return nil
}
