package mailclient

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/runtime"
)

// composeEffects are declared by send and reply.
var composeEffects = []string{"__panel__inbox", "create:email"}

// BodyAliases are the other names models give a message's body; the real
// extension accepts them all (Pydantic AliasChoices), and so does this one.
type BodyAliases struct {
	Content string `json:"content" jsonschema:"maxLength=65536" jsonschema_description:"Same as body."`
	Message string `json:"message" jsonschema:"maxLength=65536" jsonschema_description:"Same as body."`
	Text    string `json:"text" jsonschema:"maxLength=65536" jsonschema_description:"Same as body."`
}

// body returns the first body given, under any of its names.
func (a BodyAliases) body(body string) string {
	for _, b := range [...]string{body, a.Content, a.Message, a.Text} {
		if strings.TrimSpace(b) != "" {
			return b
		}
	}
	return ""
}

// SendParams are send's parameters.
type SendParams struct {
	To      string `json:"to" jsonschema:"required,maxLength=4096" jsonschema_description:"Recipients, comma-separated addresses."`
	Subject string `json:"subject" jsonschema:"maxLength=998" jsonschema_description:"Subject; empty for the body's first line."`
	Body    string `json:"body" jsonschema:"maxLength=65536" jsonschema_description:"The message."`
	BodyAliases
	IsHTML  bool   `json:"is_html" jsonschema_description:"The body is HTML."`
	Cc      string `json:"cc" jsonschema:"maxLength=4096" jsonschema_description:"Copy recipients, comma-separated."`
	Bcc     string `json:"bcc" jsonschema:"maxLength=4096" jsonschema_description:"Blind copy recipients, comma-separated."`
	Account string `json:"account" jsonschema_description:"Account email or ID to send from; empty for the active account."`
}

// SentEmail is send's and reply's result data.
type SentEmail struct {
	Sent      bool   `json:"sent"`
	MessageID string `json:"message_id"`
	ThreadID  string `json:"thread_id"`
	Account   string `json:"account"`
	To        string `json:"to"`
	Subject   string `json:"subject"`
}

// Send is send: a new email. Never retried: see neverRetried.
var Send = runtime.AddFunction(chat, runtime.Function[SendParams, SentEmail]{
	Name:        "send",
	Description: "Send a new email.",
	ActionType:  runtime.Write,
	Effects:     composeEffects,
	Event:       "sent",
	Handler:     send,
})

// sendRequest is the body of POST /v1/send and of a reply.
type sendRequest struct {
	UserID    string `json:"user_id"`
	AccountID string `json:"account_id"`
	To        string `json:"to"`
	Cc        string `json:"cc"`
	Bcc       string `json:"bcc"`
	Subject   string `json:"subject,omitempty"`
	Body      string `json:"body"`
	IsHTML    bool   `json:"is_html"`
}

// sentAnswer is the mail-service's answer to a send or a reply.
type sentAnswer struct {
	ID       string `json:"id"`
	ThreadID string `json:"thread_id"`
	Subject  string `json:"subject"`
}

func send(c *ctx.Call, p SendParams) (runtime.Result, error) {
	to := strings.TrimSpace(p.To)
	if to == "" {
		return runtime.Fail("Recipient (to) is required.").WithCode(codeValidation), nil
	}
	body := p.body(p.Body)
	if body == "" {
		return runtime.Fail("Email body is required.").WithCode(codeValidation), nil
	}
	acct, _, err := resolveAccount(c, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	subject := p.Subject
	if strings.TrimSpace(subject) == "" {
		subject = subjectFrom(body)
	}
	req := sendRequest{UserID: c.UserID(), AccountID: acct.ID, To: to, Cc: p.Cc, Bcc: p.Bcc, Subject: subject, Body: body, IsHTML: p.IsHTML}
	sent, err := post(c, "/v1/send", req)
	if err != nil {
		return runtime.Result{}, err
	}
	return runtime.Success(SentEmail{Sent: true, MessageID: sent.ID, ThreadID: sent.ThreadID, Account: acct.ID, To: to, Subject: subject},
		"Email sent to "+to+"."), nil
}

// subjectFrom makes a subject of a body's first line, at most 60
// characters, as the real extension does.
func subjectFrom(body string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "(no subject)"
	}
	if utf8.RuneCountInString(line) > 60 {
		line = string([]rune(line)[:60])
	}
	return line
}

// post sends req to path, a send or a reply, once however often the call
// is retried (see sendFailed). What went out is filed in Sent, so Sent's
// pages and the counts go.
func post(c *ctx.Call, path string, req sendRequest) (sentAnswer, error) {
	var sent sentAnswer
	if err := mailPost(c, path, req, &sent, idempotencyKey(c, path, req)); err != nil {
		return sent, sendFailed(err)
	}
	forget(c, mailboxChange{account: req.AccountID, listings: []string{folderSent}, counts: true})
	return sent, nil
}

// idempotencyKey names the send of one call to path: the same call
// retried (same request id, X-Request-ID or the RPC corr_id, and the same
// parameters) gets the same key, so the mail-service sends it once; any
// other call, even with the same text or to another message, is a new
// send.
func idempotencyKey(c *ctx.Call, path string, req sendRequest) httpclient.Option {
	body, _ := json.Marshal(req) // strings and bools always encode
	h := sha256.New()
	for _, part := range [...]string{c.AppID(), c.UserID(), c.Function(), c.RequestID(), path} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	return httpclient.Header("Idempotency-Key", "mc-"+hex.EncodeToString(h.Sum(nil)[:16]))
}

// ── Chat function: reply ────────────────────────────────────────────────────

// ReplyParams are reply's parameters.
type ReplyParams struct {
	Body string `json:"body" jsonschema:"maxLength=65536" jsonschema_description:"The reply."`
	BodyAliases
	IsHTML    bool   `json:"is_html" jsonschema_description:"The body is HTML."`
	MessageID string `json:"message_id" jsonschema:"maxLength=256" jsonschema_description:"Message to reply to; empty for the one read last."`
	To        string `json:"to" jsonschema:"maxLength=4096" jsonschema_description:"Recipients; empty for the original sender."`
	Cc        string `json:"cc" jsonschema:"maxLength=4096" jsonschema_description:"Copy recipients, comma-separated."`
	Bcc       string `json:"bcc" jsonschema:"maxLength=4096" jsonschema_description:"Blind copy recipients, comma-separated."`
	Account   string `json:"account" jsonschema_description:"Account email or ID of the message; empty for the active account."`
}

// Reply is reply: an answer in the message's thread.
var Reply = runtime.AddFunction(chat, runtime.Function[ReplyParams, SentEmail]{
	Name:         "reply",
	Description:  "Reply to an email, in its thread; without message_id, to the email read last.",
	ActionType:   runtime.Write,
	Effects:      composeEffects,
	Event:        "sent",
	IDProjection: "message_id",
	Handler:      reply,
})

func reply(c *ctx.Call, p ReplyParams) (runtime.Result, error) {
	if uid := c.UserID(); uid == "" || uid == "__system__" {
		return runtime.Fail("No authenticated user context.").WithCode(runtime.CodeUnauthenticated), nil
	}
	body := p.body(p.Body)
	if body == "" {
		return runtime.Fail("Reply body is required.").WithCode(codeValidation), nil
	}
	id, account, to := p.MessageID, p.Account, strings.TrimSpace(p.To)
	if id == "" {
		last, ok, err := lastRead.Get(c, lastReadID)
		if err != nil {
			return runtime.Result{}, err
		}
		if !ok || last.Data.MessageID == "" {
			return runtime.Fail("No message_id and no recently read email.").WithCode(codeValidation), nil
		}
		id = last.Data.MessageID
		if account == "" {
			account = last.Data.Account
		}
		if to == "" {
			to = last.Data.From
		}
	}
	acct, _, err := resolveAccount(c, account)
	if err != nil {
		return runtime.Result{}, err
	}
	path, ok := messagePath(id, "/reply")
	if !ok {
		return runtime.Fail("Message not found in this account.").WithCode(codeNotFound), nil
	}
	req := sendRequest{UserID: c.UserID(), AccountID: acct.ID, To: strings.TrimSpace(p.To), Cc: p.Cc, Bcc: p.Bcc, Body: body, IsHTML: p.IsHTML}
	sent, err := post(c, path, req)
	if err != nil {
		return runtime.Result{}, err
	}
	summary := "Reply sent."
	if to != "" {
		summary = "Reply sent to " + to + "."
	}
	return runtime.Success(SentEmail{Sent: true, MessageID: sent.ID, ThreadID: sent.ThreadID, Account: acct.ID, To: to, Subject: sent.Subject}, summary), nil
}
