package mailclient

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/runtime"
)

// ── Chat function: empty the trash ──────────────────────────────────────────

// PurgeTrashParams are purge_trash's parameters.
type PurgeTrashParams struct {
	AccountID string `json:"account_id" jsonschema:"required,minLength=1" jsonschema_description:"Mail account whose Trash to empty."`
}

// PurgeData is purge_trash's result data.
type PurgeData struct {
	Purged int `json:"purged"`
}

// PurgeTrash is purge_trash: destructive, so the host holds each call at
// its confirmation gate until the user confirms it.
var PurgeTrash = runtime.AddFunction(chat, runtime.Function[PurgeTrashParams, PurgeData]{
	Name:        "purge_trash",
	Description: "Permanently delete every message in an account's Trash. Asks the user to confirm first.",
	ActionType:  runtime.Destructive,
	Effects:     []string{"__panel__sidebar", "delete:email"},
	Event:       "purged",
	ConfirmSummary: func(PurgeTrashParams) string {
		return "Every message in this account's Trash will be deleted for good."
	},
	Handler: purgeTrash,
})

func purgeTrash(c *ctx.Call, p PurgeTrashParams) (runtime.Result, error) {
	// The mail-service purges up to maxByQuery a request: the user
	// confirmed emptying the whole Trash, so ask until none is left.
	res, err := purgeFrom(c, p.AccountID, folderTrash, nil, "in:trash")
	if err != nil {
		return runtime.Result{}, err
	}
	return runtime.Success(PurgeData{Purged: res.Succeeded},
		fmt.Sprintf("Deleted %d message(s) from Trash for good.", res.Succeeded)), nil
}

// maxPurgeRounds bounds purge_trash's requests: 100 000 messages.
const maxPurgeRounds = 100

// ── Chat function: archive everything a query matches ──────────────────────

// ArchiveByQueryParams are archive_by_query's parameters.
type ArchiveByQueryParams struct {
	AccountID string `json:"account_id" jsonschema:"required,minLength=1" jsonschema_description:"Mail account to archive in."`
	Query     string `json:"query" jsonschema:"required,minLength=1,maxLength=512" jsonschema_description:"Which inbox messages to archive, in the search grammar: from:, subject:, is:unread, newer_than:7d, words."`
}

// ArchivedByQuery is the result data of an archive_by_query task.
type ArchivedByQuery struct {
	Archived int `json:"archived"`
	Batches  int `json:"batches"`
}

// ArchiveByQuery is archive_by_query: it hands the work to a background
// task, which archives the matching inbox messages a batch at a time,
// reports progress after each and notifies the user when done.
var ArchiveByQuery = runtime.AddFunction(chat, runtime.Function[ArchiveByQueryParams, runtime.TaskStarted]{
	Name:        "archive_by_query",
	Description: "Archive every inbox message a search query matches, in the background; the user is notified when it is done.",
	ActionType:  runtime.Write,
	Effects:     writeEffects,
	Event:       "archived",
	LongRunning: true,
	Handler: func(_ *ctx.Call, p ArchiveByQueryParams) (runtime.Result, error) {
		return runtime.StartTask("archive_by_query", func(c *ctx.Call) (runtime.Result, error) {
			return archiveByQuery(c, p)
		}), nil
	},
})

// archiveBatch is how many messages one round archives: the mail-service's
// batch limit, so that progress moves every round.
const archiveBatch = 200

// maxByQuery is the most messages one batch-by-query request changes.
const maxByQuery = 1000

// maxArchiveRounds bounds the loop, should the mail-service keep matching
// what it has archived.
const maxArchiveRounds = 500

func archiveByQuery(c *ctx.Call, p ArchiveByQueryParams) (runtime.Result, error) {
	// The query is limited to the inbox, so what is archived stops
	// matching and the loop ends when nothing is left.
	req := batchRequest{AccountID: p.AccountID, Ops: []string{"archive"}, Query: "in:inbox " + p.Query, Max: archiveBatch}
	var done ArchivedByQuery
	archived, err := byQuery(c, req, maxArchiveRounds, func(archived, left int) error {
		done.Archived, done.Batches = archived, done.Batches+1
		forget(c, mailboxChange{account: p.AccountID, listings: []string{folderInbox, folderArchive, folderStarred}, unread: true})
		percent := 100 * float64(archived) / float64(archived+left)
		return c.Progress(percent, fmt.Sprintf("Archived %d message(s).", archived)) // fails once cancelled
	})
	// Even when nothing matched now: this may be the retry of a call that
	// archived and died before it dropped the pages.
	forget(c, mailboxChange{account: p.AccountID, listings: []string{folderInbox, folderArchive, folderStarred}, unread: true})
	if err != nil {
		return runtime.Result{}, err
	}
	done.Archived = archived
	summary := fmt.Sprintf("Archived %d message(s) matching the query.", done.Archived)
	if err := c.Notify(summary, done); err != nil {
		c.Log().Info("archive_by_query notification not sent", zap.Error(err))
	}
	return runtime.Success(done, summary), nil
}
