package mailclient

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// ── Bulk writes: by id or by query ──────────────────────────────────────────
//
// archive, star, move and purge (and mark_read, extended) take either
// message ids, one or up to maxBulkIDs, or a query; the mail-service
// applies one op to a batch of ids, or to what a query matches, in one
// request each.

// mailEffects are declared by the mail writes of the real extension's names.
var mailEffects = []string{"__panel__inbox", "update:email"}

// maxBulkIDs is the most ids one call may name (the real extension's
// MAX_BULK_IDS, and the mail-service's batch limit).
const maxBulkIDs = 200

// maxQueryRounds bounds the requests of a query path; each changes up to
// maxByQuery messages.
const maxQueryRounds = 20

// Selection is how a bulk write names its messages: ids or a query.
type Selection struct {
	// MessageIDs is one id, ids separated by commas, or a list of ids:
	// models send all three, and the real extension takes them all.
	MessageIDs json.RawMessage `json:"message_ids" jsonschema:"oneof_type=string;array" jsonschema_description:"Message id, comma-separated ids, or a list of ids (at most 200)."`
	Query      string          `json:"query" jsonschema:"maxLength=2048" jsonschema_description:"Instead of ids: every message this search query matches."`
}

// given reports whether the selection names anything: ids (null, [] and
// "" are none, as models send for "no ids") or a query.
func (s Selection) given() bool {
	switch strings.Join(strings.Fields(string(s.MessageIDs)), "") {
	case "", "null", "[]", `""`:
		return strings.TrimSpace(s.Query) != ""
	}
	return true
}

// ids returns the selection's ids, trimmed and without repeats; none
// means the query.
func (s Selection) ids() ([]string, error) {
	var list []string
	raw := strings.TrimSpace(string(s.MessageIDs))
	switch {
	case raw == "" || raw == "null":
	case raw[0] == '"':
		var csv string
		if err := json.Unmarshal(s.MessageIDs, &csv); err != nil {
			return nil, invalid("message_ids must be an id, comma-separated ids or a list of ids.")
		}
		list = strings.Split(csv, ",")
	default:
		if err := json.Unmarshal(s.MessageIDs, &list); err != nil {
			return nil, invalid("message_ids must be an id, comma-separated ids or a list of ids.")
		}
	}
	seen := make(map[string]bool, len(list))
	out := list[:0]
	for _, id := range list {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	switch {
	case len(out) > maxBulkIDs:
		return nil, invalid(fmt.Sprintf("Too many message IDs: %d. Max per call: %d.", len(out), maxBulkIDs))
	case len(out) == 0 && strings.TrimSpace(s.Query) == "":
		return nil, invalid("Provide message_ids or query.")
	}
	return out, nil
}

// Validate refuses a selection of nothing, before a confirmation is asked
// for a call that could not run.
func (s *Selection) Validate() error {
	_, err := s.ids()
	return err
}

// invalid is a refusal of the call's parameters.
func invalid(message string) error {
	return &runtime.CodedError{Code: codeValidation, Message: message}
}

// BulkResult is the result data of a bulk write.
type BulkResult struct {
	Operation   string `json:"operation"`
	Succeeded   int    `json:"succeeded"`
	FailedCount int    `json:"failed_count"`
	Total       int    `json:"total"`
	// Errors are the first three failures, "<id>: <reason>".
	Errors []string `json:"errors"`
}

// batchRequest is the body of POST /v1/messages/batch (ids) and of
// /v1/messages/batch-by-query (q and max).
type batchRequest struct {
	UserID     string   `json:"user_id"`
	AccountID  string   `json:"account_id"`
	Ops        []string `json:"ops"`
	IDs        []string `json:"ids,omitempty"`
	Query      string   `json:"q,omitempty"`
	Max        int      `json:"max,omitempty"`
	FromFolder string   `json:"from_folder,omitempty"`
	ToFolder   string   `json:"to_folder,omitempty"`
}

// batchAnswer is the mail-service's answer to either.
type batchAnswer struct {
	Succeeded int `json:"succeeded"`
	Total     int `json:"total"`
	Failed    []struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"failed"`
	Matched int `json:"matched"`
}

// batch applies op to the ids (when req.IDs) or to up to req.Max messages
// that req.Query matches.
func batch(c *ctx.Call, req batchRequest) (batchAnswer, error) {
	req.UserID = c.UserID()
	path := "/v1/messages/batch"
	if req.IDs == nil {
		path = "/v1/messages/batch-by-query"
	}
	var out batchAnswer
	return out, mailPost(c, path, req, &out)
}

// bulkResult reports a batch by ids.
func bulkResult(op string, a batchAnswer) BulkResult {
	r := BulkResult{Operation: op, Succeeded: a.Succeeded, FailedCount: len(a.Failed), Total: a.Total, Errors: []string{}}
	for _, f := range a.Failed[:min(len(a.Failed), 3)] {
		id := f.ID
		if len(id) > 16 {
			id = id[:16]
		}
		r.Errors = append(r.Errors, id+": "+f.Error)
	}
	return r
}

// selected resolves a bulk write's messages and account: the ids (none
// for a query) and the account they are in.
func selected(c *ctx.Call, sel Selection, account string) ([]string, store.Document[Account], error) {
	ids, err := sel.ids()
	if err != nil {
		return nil, store.Document[Account]{}, err
	}
	acct, _, err := resolveAccount(c, account)
	return ids, acct, err
}

// apply applies req's op to the ids, or, without ids, to what req.Query
// matches in up to rounds requests, and reports what changed, also when it
// fails half-way.
func apply(c *ctx.Call, req batchRequest, ids []string, rounds int) (BulkResult, error) {
	op := req.Ops[0]
	if len(ids) > 0 {
		req.IDs, req.Query = ids, ""
		out, err := batch(c, req)
		return bulkResult(op, out), err
	}
	n, err := byQuery(c, req, rounds, nil)
	return BulkResult{Operation: op, Succeeded: n, Total: n, Errors: []string{}}, err
}

// byQuery applies req's op to every message req.Query matches, a batch of
// maxByQuery at a time, up to rounds requests: the query must stop matching
// a message once the op is applied (archive only from "in:inbox", purge
// from "in:trash"), so the loop ends when nothing is left. After each
// round, progress (when not nil) hears how many have changed and how many
// still match; its error ends the loop.
func byQuery(c *ctx.Call, req batchRequest, rounds int, progress func(done, left int) error) (done int, err error) {
	if req.Max == 0 {
		req.Max = maxByQuery
	}
	for range rounds {
		out, err := batch(c, req)
		if err != nil {
			return done, err
		}
		done += out.Succeeded
		left := out.Matched - out.Total
		if progress != nil && out.Total > 0 {
			if err := progress(done, left); err != nil {
				return done, err
			}
		}
		if left <= 0 || out.Succeeded == 0 {
			break
		}
	}
	return done, nil
}

// emails says "1 email" or "n emails".
func emails(n int) string {
	if n == 1 {
		return "1 email"
	}
	return fmt.Sprintf("%d emails", n)
}

// ── Chat function: archive ──────────────────────────────────────────────────

// ArchiveParams are archive's parameters.
type ArchiveParams struct {
	Selection
	Account string `json:"account" jsonschema_description:"Account email or ID; empty for the active account."`
}

// Archive is archive: inbox messages leave the inbox and stay in the
// archive. A query runs as a background task.
var Archive = runtime.AddFunction(chat, runtime.Function[ArchiveParams, BulkResult]{
	Name: "archive",
	Description: "Archive emails by id (one, or up to 200) or every inbox email a search query matches; " +
		"a query runs in the background and the user is notified when it is done.",
	ActionType:  runtime.Write,
	Effects:     mailEffects,
	Event:       "archived",
	LongRunning: true,
	Handler:     archive,
})

func archive(c *ctx.Call, p ArchiveParams) (runtime.Result, error) {
	ids, acct, err := selected(c, p.Selection, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	if len(ids) == 0 {
		q := ArchiveByQueryParams{AccountID: acct.ID, Query: p.Query}
		return runtime.StartTask("archive", func(c *ctx.Call) (runtime.Result, error) { return archiveByQuery(c, q) }), nil
	}
	res, err := apply(c, batchRequest{AccountID: acct.ID, Ops: []string{"archive"}}, ids, 0)
	// Even when nothing changed now: this may be the retry of a call that
	// changed the mailbox and died before it dropped the pages.
	forget(c, mailboxChange{account: acct.ID, listings: []string{folderInbox, folderArchive, folderStarred}, unread: true})
	if err != nil {
		return runtime.Result{}, err
	}
	return runtime.Success(res, "Archived "+emails(res.Succeeded)+"."), nil
}

// ── Chat function: star ─────────────────────────────────────────────────────

// StarParams are star's parameters.
type StarParams struct {
	Selection
	Starred bool   `json:"starred" jsonschema_description:"True stars the emails, false removes the star."`
	Account string `json:"account" jsonschema_description:"Account email or ID; empty for the active account."`
}

// Star is star: a state-only change, which patches the cached pages that
// show the messages instead of dropping them.
var Star = runtime.AddFunction(chat, runtime.Function[StarParams, BulkResult]{
	Name:        "star",
	Description: "Star emails (or remove the star with starred=false), by id or by search query.",
	ActionType:  runtime.Write,
	Effects:     mailEffects,
	Event:       "starred",
	Defaults:    StarParams{Starred: true},
	Handler:     star,
})

func star(c *ctx.Call, p StarParams) (runtime.Result, error) {
	ids, acct, err := selected(c, p.Selection, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	req, verb := batchRequest{AccountID: acct.ID, Ops: []string{"star"}, Query: p.Query}, "Starred"
	// Unstarring can loop on is:starred; starring has no "not starred"
	// term, so its query path is one round of up to maxByQuery.
	rounds := 1
	if !p.Starred {
		req.Ops, req.Query, rounds, verb = []string{"unstar"}, "is:starred "+p.Query, maxQueryRounds, "Unstarred"
	}
	res, err := apply(c, req, ids, rounds)
	switch {
	case len(ids) > 0:
		// The starred folder's listing changes; elsewhere the messages
		// stay where they are, with a new state.
		patched := slices.DeleteFunc(slices.Clone(systemFolders[:]), func(f string) bool { return f == folderStarred })
		starred := p.Starred
		forget(c, mailboxChange{account: acct.ID, listings: []string{folderStarred}, patched: patched, ids: ids,
			edit: func(m *MessagePreview) { m.Starred = starred }})
	default: // even when nothing changed now, as archive's retry
		forget(c, mailboxChange{account: acct.ID, listings: systemFolders[:]}) // which ones, the query does not say
	}
	if err != nil {
		return runtime.Result{}, err
	}
	return runtime.Success(res, verb+" "+emails(res.Succeeded)+"."), nil
}

// ── Chat function: move ─────────────────────────────────────────────────────

// MoveParams are move's parameters.
type MoveParams struct {
	Selection
	ToFolder   string `json:"to_folder" jsonschema:"required,minLength=1,maxLength=256" jsonschema_description:"Folder to move the emails to."`
	FromFolder string `json:"from_folder" jsonschema:"maxLength=256" jsonschema_description:"Folder the emails are in."`
	Account    string `json:"account" jsonschema_description:"Account email or ID; empty for the active account."`
}

// Move is move: emails from one folder to another.
var Move = runtime.AddFunction(chat, runtime.Function[MoveParams, BulkResult]{
	Name:        "move",
	Description: "Move emails, by id or by search query, from one folder (default the inbox) to another.",
	ActionType:  runtime.Write,
	Effects:     mailEffects,
	Event:       "moved",
	Defaults:    MoveParams{FromFolder: folderInbox},
	Handler:     move,
})

func move(c *ctx.Call, p MoveParams) (runtime.Result, error) {
	ids, acct, err := selected(c, p.Selection, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	from, to := canonicalFolder(p.FromFolder), canonicalFolder(p.ToFolder)
	// Limited to from_folder, so what moved stops matching a query.
	req := batchRequest{AccountID: acct.ID, Ops: []string{"move"}, Query: p.Query, FromFolder: from, ToFolder: to}
	res, err := apply(c, req, ids, maxQueryRounds)
	forget(c, mailboxChange{account: acct.ID, listings: []string{from, to, folderStarred}, unread: true}) // even when nothing changed now, as archive's retry
	if err != nil {
		return runtime.Result{}, err
	}
	return runtime.Success(res, fmt.Sprintf("Moved %s to %s.", emails(res.Succeeded), to)), nil
}

// ── Chat function: purge ────────────────────────────────────────────────────

// PurgeParams are purge's parameters.
type PurgeParams struct {
	Selection
	FromFolder string `json:"from_folder" jsonschema:"maxLength=256" jsonschema_description:"Folder to delete from for good (default the trash)."`
	Account    string `json:"account" jsonschema_description:"Account email or ID; empty for the active account."`
}

// Purge is purge: destructive, so the host holds each call at its
// confirmation gate until the user confirms it.
var Purge = runtime.AddFunction(chat, runtime.Function[PurgeParams, BulkResult]{
	Name:        "purge",
	Description: "Delete emails for good, by id or by search query, from the trash or another folder. Asks the user to confirm first.",
	ActionType:  runtime.Destructive,
	Effects:     []string{"__panel__inbox", "delete:email"},
	Event:       "purged",
	Defaults:    PurgeParams{FromFolder: folderTrash},
	ConfirmSummary: func(p PurgeParams) string {
		if ids, err := p.ids(); err == nil && len(ids) > 0 {
			return fmt.Sprintf("%s will be deleted from %s for good.", strings.ToUpper(emails(len(ids))[:1])+emails(len(ids))[1:], canonicalFolder(p.FromFolder))
		}
		return fmt.Sprintf("Every email in %s that the query matches will be deleted for good.", canonicalFolder(p.FromFolder))
	},
	Handler: purge,
})

func purge(c *ctx.Call, p PurgeParams) (runtime.Result, error) {
	ids, acct, err := selected(c, p.Selection, p.Account)
	if err != nil {
		return runtime.Result{}, err
	}
	from := canonicalFolder(p.FromFolder)
	res, err := purgeFrom(c, acct.ID, from, ids, p.Query)
	if err != nil {
		return runtime.Result{}, finalErr(err)
	}
	return runtime.Success(res, fmt.Sprintf("Deleted %s from %s for good.", emails(res.Succeeded), from)), nil
}

// purgeFrom deletes for good the ids of folder, or without ids every
// message of folder that q matches (the mail-service limits the query to
// from_folder, so what is purged stops matching), and drops what that
// made stale, also when it fails half-way.
func purgeFrom(c *ctx.Call, accountID, folder string, ids []string, q string) (BulkResult, error) {
	res, err := apply(c, batchRequest{AccountID: accountID, Ops: []string{"purge"}, Query: q, FromFolder: folder}, ids, maxPurgeRounds)
	forget(c, mailboxChange{account: accountID, listings: []string{folder, folderStarred}, unread: true}) // even when nothing changed now, as archive's retry
	return res, err
}
