package mailclient

import (
	"fmt"
	"slices"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/runtime"
)

// writeEffects are declared by the writes DESIGN §7 fixes: the sidebar
// panel refreshes and the platform learns an email changed.
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
	if err := writeMessages(c, "/v1/messages/archive", req, &body); err != nil {
		return runtime.Result{}, err
	}
	// DESIGN §7: after the write, the folder's page and the unread
	// summary go, whatever the count.
	forget(c, mailboxChange{account: p.AccountID, listings: []string{p.Folder, folderArchive, folderStarred}, unread: true})
	return runtime.Success(ArchiveData{Archived: body.Archived, MessageID: p.MessageID},
		fmt.Sprintf("Archived %d message(s).", body.Archived)), nil
}

// ── Chat function: mark messages read or unread ─────────────────────────────

// MarkReadParams are mark_read's parameters: DESIGN §7's, and ids or a
// query beside message_id.
type MarkReadParams struct {
	AccountID string `json:"account_id" jsonschema:"required" jsonschema_description:"Mail account holding the message."`
	MessageID string `json:"message_id" jsonschema:"minLength=1" jsonschema_description:"Message to mark."`
	Selection
	Read   bool   `json:"read" jsonschema_description:"True marks the messages read, false unread."`
	Folder string `json:"folder" jsonschema_description:"Folder the messages are in."`
}

// Validate asks for something to mark: message_id, message_ids or a query.
func (p *MarkReadParams) Validate() error {
	if p.MessageID == "" && !p.given() {
		return &runtime.CodedError{Code: runtime.CodeValidationMissingField, Message: "Provide message_id, message_ids or query."}
	}
	return nil
}

// MarkReadData is mark_read's result data.
type MarkReadData struct {
	Updated   int    `json:"updated"`
	MessageID string `json:"message_id"`
	Read      bool   `json:"read"`
	// MessageIDs are the ids marked, when the call gave several.
	MessageIDs []string `json:"message_ids,omitempty"`
}

// MarkRead is mark_read, declared as the SDK's @chat.function.
var MarkRead = runtime.AddFunction(chat, runtime.Function[MarkReadParams, MarkReadData]{
	Name:         "mark_read",
	Description:  "Mark messages as read, or as unread with read=false: one message_id, several message_ids, or a search query.",
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
	var ids []string
	if p.given() {
		var err error
		if ids, err = p.ids(); err != nil {
			return runtime.Result{}, err
		}
	}
	if p.MessageID != "" && !slices.Contains(ids, p.MessageID) {
		ids = append([]string{p.MessageID}, ids...)
	}
	state := "read"
	if !p.Read {
		state = "unread"
	}
	read := p.Read
	data := MarkReadData{MessageID: p.MessageID, Read: p.Read}
	if len(ids) > 0 {
		var body struct {
			Updated int `json:"updated"`
		}
		req := messagesRequest{UserID: uid, AccountID: p.AccountID, MessageIDs: ids, Read: &read}
		if err := writeMessages(c, "/v1/messages/mark_read", req, &body); err != nil {
			return runtime.Result{}, err
		}
		data.Updated = body.Updated
		if len(ids) > 1 {
			data.MessageIDs = ids
		}
		// A state-only change: the pages showing the messages are patched.
		forget(c, mailboxChange{account: p.AccountID, patched: []string{p.Folder, folderStarred}, ids: ids,
			edit: func(m *MessagePreview) { m.Unread = !read }, unread: true})
	} else {
		// What is marked stops matching, so the loop ends.
		q := "is:unread " + p.Query
		if !read {
			q = "is:read " + p.Query
		}
		n, err := byQuery(c, batchRequest{AccountID: p.AccountID, Ops: []string{state}, Query: q, FromFolder: p.Folder}, maxQueryRounds, nil)
		// Even when nothing changed now: this may be the retry of a call
		// that changed the mailbox and died before it dropped the pages.
		forget(c, mailboxChange{account: p.AccountID, listings: []string{p.Folder, folderStarred}, unread: true})
		if err != nil {
			return runtime.Result{}, err
		}
		data.Updated = n
	}
	return runtime.Success(data, fmt.Sprintf("Marked %d message(s) as %s.", data.Updated, state)), nil
}

// writeMessages sends one of the writes DESIGN §7 fixes. Their refusals
// keep the host's codes of DESIGN §6 (BACKEND_4XX, BACKEND_5XX), which
// other programs expect of these functions; the newer functions name
// their own (mailError).
func writeMessages(c *ctx.Call, path string, req messagesRequest, out any) error {
	resp, err := c.HTTP().Post(c, mailService+path, authorized(c, httpclient.JSON(req))...)
	if err != nil {
		return err
	}
	return resp.Decode(out)
}

// messagesRequest is the body of the mail-service's archive and mark_read
// endpoints.
type messagesRequest struct {
	UserID     string   `json:"user_id"`
	AccountID  string   `json:"account_id"`
	MessageIDs []string `json:"message_ids"`
	Read       *bool    `json:"read,omitempty"`
}
