package mailclient

import (
	"slices"
	"strconv"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/ctx"
)

// ── Cache keys ──────────────────────────────────────────────────────────────
//
// Every part that comes from a call (account ids, folder names, user ids)
// goes through cache.Key, so a folder named "[Gmail]/All Mail" gets a key
// like any other while the plain ones keep the spelling DESIGN §7 fixes.

// The mail client's folders, as the mail-service names them.
const (
	folderInbox   = "INBOX"
	folderSent    = "sent"
	folderDrafts  = "drafts"
	folderSpam    = "spam"
	folderTrash   = "trash"
	folderStarred = "starred"
	folderArchive = "archive"
)

// systemFolders are the folders every account has.
var systemFolders = [...]string{folderInbox, folderSent, folderDrafts, folderSpam, folderTrash, folderStarred, folderArchive}

// pagedBeyondFirst is how many pages after the first a folder's listing
// may have cached, all of which a change to the folder drops: the cache
// hashes its keys, so there is no prefix to delete by (the real
// extension's workaround, mail-client.md §2); later pages expire with
// their TTL.
const pagedBeyondFirst = 4

func inboxKey(accountID, folder string) string { return cache.Key("inbox", accountID, folder, "0") }

func unreadKey(userID string) string { return cache.Key("unread", userID) }

// pageKey is the key of page (1-based) of folder.
func pageKey(accountID, folder string, page int) string {
	if page <= 1 {
		return cache.Key("msgs", accountID, folder)
	}
	return cache.Key("msgs", accountID, folder, "p"+strconv.Itoa(page))
}

func folderUnreadKey(accountID, folder string) string {
	return cache.Key("unread", accountID, folder)
}

func countsKey(accountID string) string { return cache.Key("counts", accountID) }

// ── What a write changes ────────────────────────────────────────────────────

// mailboxChange is what one write changed in one account's mailbox, for
// forget and patch to make the cache agree. Folders may be spelled as the
// call spelled them ("inbox"): forget drops list_inbox's page under that
// spelling and the canonical one, and the inbox tool's pages and counts,
// always keyed canonically, under the canonical one.
type mailboxChange struct {
	account string
	// listings are the folders whose listing changed: messages entered or
	// left them. Their pages are dropped.
	listings []string
	// patched are the folders whose cached first page has the messages of
	// ids changed in place by edit (a state-only change: read, starred).
	patched []string
	ids     []string
	edit    func(*MessagePreview)
	// unread says unread counts changed: the folders' counts, the
	// account's and the user's summary are dropped.
	unread bool
	// counts says the account's totals changed.
	counts bool
}

// forget drops the cache entries the change made stale. The write has
// happened: a cache failure is logged, not returned, and the entries
// expire within their TTL anyway.
func forget(c *ctx.Call, ch mailboxChange) {
	spelled := slices.Concat(ch.listings, ch.patched)
	ch.listings, ch.patched = canonicalFolders(ch.listings), canonicalFolders(ch.patched)
	var stale []string
	// list_inbox's page shows read and starred states too.
	for _, f := range distinct(slices.Concat(spelled, ch.listings, ch.patched)) {
		stale = append(stale, inboxKey(ch.account, f))
	}
	if ch.unread {
		for _, f := range distinct(slices.Concat(ch.listings, ch.patched)) {
			stale = append(stale, folderUnreadKey(ch.account, f))
		}
	}
	for _, f := range ch.listings {
		for page := 1; page <= 1+pagedBeyondFirst; page++ {
			stale = append(stale, pageKey(ch.account, f, page))
		}
	}
	for _, f := range ch.patched {
		for page := 2; page <= 1+pagedBeyondFirst; page++ {
			stale = append(stale, pageKey(ch.account, f, page))
		}
	}
	if ch.unread {
		stale = append(stale, unreadKey(c.UserID()))
	}
	if ch.unread || ch.counts || len(ch.listings) > 0 {
		stale = append(stale, countsKey(ch.account))
	}
	if len(stale) > 0 {
		if err := c.Cache().Delete(c, stale...); err != nil {
			c.Log().Warn("cache invalidation failed; entries stay until their TTL", zap.Error(err))
		}
	}
	patch(c, ch)
}

// canonicalFolders returns folders spelled canonically, each once.
func canonicalFolders(folders []string) []string {
	out := make([]string, len(folders))
	for i, f := range folders {
		out[i] = canonicalFolder(f)
	}
	return distinct(out)
}

// distinct returns list without repeats, in first-seen order.
func distinct(list []string) []string {
	out := list[:0:0]
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// patch rewrites the messages of a state-only change in the cached first
// pages, instead of dropping them: the mail-service, like Gmail, may
// answer a refetch right after a write with the state before it (the
// real extension's optimistic patch, 5.3.4). A page the change does not
// touch is left alone; a failed rewrite drops the page.
func patch(c *ctx.Call, ch mailboxChange) {
	if ch.edit == nil {
		return
	}
	for _, f := range ch.patched {
		key := pageKey(ch.account, f, 1)
		page, ok, err := inboxMessages.Get(c, key)
		if err != nil || !ok {
			// A miss need not mean no page: the cache may be failing, or
			// distrust its entries after an outage. Whatever is there is
			// older than this change.
			_ = c.Cache().Delete(c, key)
			continue
		}
		// The cached page is shared with every hit that read it: edit a
		// copy of its messages.
		page.Messages = slices.Clone(page.Messages)
		touched := false
		for i := range page.Messages {
			if slices.Contains(ch.ids, page.Messages[i].MessageID) {
				ch.edit(&page.Messages[i])
				touched = true
			}
		}
		if !touched {
			continue
		}
		if err := inboxMessages.Set(c, key, page, cacheTTL(c)); err != nil {
			c.Log().Warn("cache patch failed; dropping the page", zap.Error(err))
			_ = c.Cache().Delete(c, key)
		}
	}
}
