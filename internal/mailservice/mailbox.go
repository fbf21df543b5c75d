package mailservice

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Folder names. Two are virtual: "starred" lists the starred messages of
// the inbox and "[Gmail]/All Mail" every message outside the spam and the
// trash; nothing is filed into them. Any other name is a custom folder,
// holding the messages moved or delivered into it (none until then).
const (
	folderInbox   = "INBOX"
	folderArchive = "archive"
	folderSent    = "sent"
	folderDrafts  = "drafts"
	folderSpam    = "spam"
	folderTrash   = "trash"
	folderStarred = "starred"
	folderAllMail = "[Gmail]/All Mail"
)

// knownFolders are the folders canonicalFolder matches whatever their case.
var knownFolders = [...]string{folderInbox, folderArchive, folderSent, folderDrafts, folderSpam, folderTrash, folderStarred, folderAllMail}

// isVirtual reports whether folder (canonical) lists messages filed
// elsewhere, so that nothing can be moved or delivered into it.
func isVirtual(folder string) bool { return folder == folderStarred || folder == folderAllMail }

// Message is one message as the service answers it. Field order is the
// order of the keys in its JSON.
type Message struct {
	// ID is unique within its mailbox and stable across processes ("m-0001").
	ID string `json:"id"`
	// ThreadID groups a message with its replies ("t-0001").
	ThreadID string `json:"thread_id"`
	// From is the sender, "Name <address>".
	From string `json:"from"`
	// Subject is the subject line.
	Subject string `json:"subject"`
	// Snippet is the start of the body.
	Snippet string `json:"snippet"`
	// Date is when the message arrived, RFC 3339 in UTC.
	Date string `json:"date"`
	// Unread is true until the message is marked read.
	Unread bool `json:"unread"`
	// Starred is true for starred messages.
	Starred bool `json:"starred"`
	// HasAttachments is true when the message carries files.
	HasAttachments bool `json:"has_attachments"`
	// Labels holds the message's folder.
	Labels []string `json:"labels"`
}

// message is a Message in a mailbox: its wire fields, minus the labels,
// plus the folder it is in and its arrival time.
type message struct {
	Message
	folder string
	at     time.Time
	// to, cc and body are what a send or a delivery gave; GET
	// /v1/messages/{id} derives an empty to, and the body unless hasBody,
	// from the id (detail.go).
	to, cc, body string
	hasBody      bool // body was given, even if empty
	html         bool // body is HTML
}

// folderSpec says how a folder is generated.
type folderSpec struct {
	name     string
	min, max int           // number of messages, inclusive
	meanGap  time.Duration // mean time between two messages, newest first
	recent   int           // the newest messages that use unreadRecent
	// Probabilities of a message being unread (among the recent ones and the
	// others), starred, with attachments, and a reply in an existing thread.
	unreadRecent, unread, starred, attachments, reply float64
	from                                              func(*rand.Rand) string
	content                                           func(*rand.Rand) template
}

// baseTime is the arrival time every folder counts back from.
func baseTime() time.Time { return time.Date(2026, time.November, 26, 9, 0, 0, 0, time.UTC) }

// minGap is the least time between two messages of a folder.
const minGap = 2 * time.Minute

// folderSpecs lists the generated folders, in generation order: changing
// the order changes every mailbox.
func folderSpecs() []folderSpec {
	anySender := func(r *rand.Rand) string { return senders[r.IntN(len(senders))] }
	spamSender := func(r *rand.Rand) string { return spamSenders[r.IntN(len(spamSenders))] }
	mine := func(*rand.Rand) string { return me }
	mail := func(r *rand.Rand) template { return templates[r.IntN(len(templates))] }
	spam := func(r *rand.Rand) template { return spamTemplates[r.IntN(len(spamTemplates))] }
	draft := func(r *rand.Rand) template { return draftTemplates[r.IntN(len(draftTemplates))] }
	return []folderSpec{
		{name: folderInbox, min: 110, max: 150, meanGap: 2 * time.Hour, recent: 15,
			unreadRecent: 0.6, unread: 0.22, starred: 0.1, attachments: 0.15, reply: 0.2,
			from: anySender, content: mail},
		{name: folderArchive, min: 180, max: 220, meanGap: 10 * time.Hour,
			unread: 0.03, starred: 0.1, attachments: 0.15, reply: 0.2, from: anySender, content: mail},
		{name: folderSent, min: 70, max: 90, meanGap: 8 * time.Hour,
			starred: 0.05, attachments: 0.15, reply: 0.4, from: mine, content: mail},
		{name: folderDrafts, min: 3, max: 7, meanGap: 24 * time.Hour,
			attachments: 0.15, from: mine, content: draft},
		{name: folderSpam, min: 10, max: 20, meanGap: 12 * time.Hour,
			unread: 0.5, attachments: 0.15, from: spamSender, content: spam},
		{name: folderTrash, min: 6, max: 14, meanGap: 24 * time.Hour,
			unread: 0.1, attachments: 0.15, reply: 0.2, from: anySender, content: mail},
	}
}

// canonicalFolder maps a requested folder to the name messages are filed
// under: the known folders match whatever their case ("inbox" is
// "INBOX"), any other name is a custom folder and kept as it is.
func canonicalFolder(name string) string {
	for _, known := range knownFolders {
		if strings.EqualFold(name, known) {
			return known
		}
	}
	return name
}

// newRand returns the random source of the mailbox of (userID, accountID):
// a PCG seeded from the FNV-128a hash of both, length-prefixed so that no
// two pairs share an input.
func newRand(userID, accountID string) *rand.Rand {
	h := fnv.New128a()
	for _, s := range [...]string{userID, accountID} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	sum := h.Sum(nil)
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])))
}

// mailbox is the state of one (user, account) pair. Its fields are guarded
// by mu.
type mailbox struct {
	mu       sync.Mutex
	messages []*message // every message, newest first
	byID     map[string]*message
	// lastID and lastThread are the numbers of the highest message and
	// thread ids handed out, never lowered, so that a purged id is not
	// given again.
	lastID, lastThread int
	// sentByKey holds the answers of send and reply by Idempotency-Key,
	// for the life of the Service.
	sentByKey map[string]sentRecord
}

// newMailbox generates the mailbox of (userID, accountID). The result
// depends on the two ids only.
func newMailbox(userID, accountID string) *mailbox {
	r := newRand(userID, accountID)
	base := baseTime()
	var all []*message
	threads := 0
	for _, spec := range folderSpecs() {
		n := spec.min + r.IntN(spec.max-spec.min+1)
		// Arrival times, newest first.
		at := make([]time.Time, n)
		t := base
		for i := range at {
			gap := minGap + time.Duration(r.ExpFloat64()*float64(spec.meanGap))
			t = t.Add(-gap.Truncate(time.Second))
			at[i] = t
		}
		// Contents, oldest first, so that a reply follows what it answers.
		folder := make([]*message, n)
		for i := n - 1; i >= 0; i-- {
			m := &message{folder: spec.name, at: at[i]}
			m.Date = at[i].Format(time.RFC3339)
			m.From = spec.from(r)
			if older := folder[i+1 : min(n, i+6)]; len(older) > 0 && r.Float64() < spec.reply {
				parent := older[r.IntN(len(older))]
				m.ThreadID = parent.ThreadID
				m.Subject = "Re: " + strings.TrimPrefix(parent.Subject, "Re: ")
				m.Snippet = replySnippets[r.IntN(len(replySnippets))]
			} else {
				threads++
				m.ThreadID = fmt.Sprintf("t-%04d", threads)
				m.Subject, m.Snippet = fill(spec.content(r), r)
			}
			unread := spec.unread
			if i < spec.recent {
				unread = spec.unreadRecent
			}
			m.Unread = r.Float64() < unread
			m.Starred = r.Float64() < spec.starred
			m.HasAttachments = r.Float64() < spec.attachments
			folder[i] = m
		}
		all = append(all, folder...)
	}
	mb := &mailbox{messages: all, byID: make(map[string]*message, len(all)), lastID: len(all), lastThread: threads, sentByKey: map[string]sentRecord{}}
	for i, m := range all {
		m.ID = fmt.Sprintf("m-%04d", i+1)
		mb.byID[m.ID] = m
	}
	// Newest first across folders, so any folder (and a message archived
	// into another) lists newest first by filtering.
	slices.SortStableFunc(mb.messages, func(a, b *message) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return mb
}

// fill draws the values of tmpl's placeholders and returns its subject and
// snippet with the same values in both.
func fill(tmpl template, r *rand.Rand) (subject, snippet string) {
	amount := r.IntN(500000) + 999 // cents
	rep := strings.NewReplacer(
		"{num}", strconv.Itoa(10000+r.IntN(90000)),
		"{project}", projects[r.IntN(len(projects))],
		"{day}", days[r.IntN(len(days))],
		"{city}", cities[r.IntN(len(cities))],
		"{amount}", fmt.Sprintf("$%d.%02d", amount/100, amount%100),
	)
	return rep.Replace(tmpl.subject), rep.Replace(tmpl.snippet)
}

// in reports whether m is listed in folder (canonical).
func (m *message) in(folder string) bool {
	switch folder {
	case folderStarred:
		return m.folder == folderInbox && m.Starred
	case folderAllMail:
		// Gmail's All Mail: everything but the spam and the trash.
		return m.folder != folderSpam && m.folder != folderTrash
	}
	return m.folder == folder
}

// wire returns m as answered, its labels its folder.
func (m *message) wire() Message {
	out := m.Message
	out.Labels = []string{m.folder}
	return out
}

// listing is one page of a folder.
type listing struct {
	messages []Message // the page, newest first; never nil
	total    int       // the folder's size
	hasMore  bool      // whether messages follow the page
	last     position  // of the page's last message; zero when it is empty
}

// page returns up to limit messages of folder from the start-th (0-based).
func (mb *mailbox) page(folder string, start, limit int) listing {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	l := listing{messages: []Message{}}
	for _, m := range mb.messages {
		if !m.in(folder) {
			continue
		}
		if l.total >= start && len(l.messages) < limit {
			l.messages = append(l.messages, m.wire())
			l.last = positionOf(m)
		}
		l.total++
	}
	l.hasMore = start+len(l.messages) < l.total
	return l
}

// pageAfter returns up to limit messages of folder that follow pos in the
// folder's newest-first order. It compares arrival times and ids rather
// than counting, so mail arriving at the top, or the message at pos
// leaving the folder, neither repeats nor skips a message.
func (mb *mailbox) pageAfter(folder string, pos position, limit int) listing {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	l := listing{messages: []Message{}}
	for _, m := range mb.messages {
		if !m.in(folder) {
			continue
		}
		l.total++
		switch {
		case !pos.precedes(m):
		case len(l.messages) < limit:
			l.messages = append(l.messages, m.wire())
			l.last = positionOf(m)
		default:
			l.hasMore = true
		}
	}
	return l
}

// unread returns the number of unread messages in the inbox.
func (mb *mailbox) unread() int {
	_, unread := mb.count(folderInbox)
	return unread
}

// count returns the number of messages in folder and how many of them are
// unread.
func (mb *mailbox) count(folder string) (total, unread int) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	for _, m := range mb.messages {
		if m.in(folder) {
			total++
			if m.Unread {
				unread++
			}
		}
	}
	return total, unread
}

// arrivalGap is the time between a new message and the newest one before
// it.
const arrivalGap = time.Minute

// add files m, its folder and contents set, as the newest message of the
// mailbox: the next message id, a new thread unless m names one, and an
// arrival arrivalGap after the newest message. mb.mu must be held.
func (mb *mailbox) add(m *message) {
	mb.lastID++
	m.ID = fmt.Sprintf("m-%04d", mb.lastID)
	if m.ThreadID == "" {
		mb.lastThread++
		m.ThreadID = fmt.Sprintf("t-%04d", mb.lastThread)
	}
	newest := baseTime() // the clock, when everything has been purged
	if len(mb.messages) > 0 {
		newest = mb.messages[0].at
	}
	m.at = newest.Add(arrivalGap)
	m.Date = m.at.Format(time.RFC3339)
	mb.messages = slices.Insert(mb.messages, 0, m)
	mb.byID[m.ID] = m
}

// archive moves the messages with the given ids to the archive and returns
// how many moved; unknown ids and archived messages are skipped.
func (mb *mailbox) archive(ids []string) int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	n := 0
	for _, id := range ids {
		if m, ok := mb.byID[id]; ok && m.folder != folderArchive {
			m.folder = folderArchive
			n++
		}
	}
	return n
}

// markRead sets the messages with the given ids read (or unread) and
// returns how many distinct messages it found.
func (mb *mailbox) markRead(ids []string, read bool) int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if m, ok := mb.byID[id]; ok && !seen[id] {
			seen[id] = true
			m.Unread = !read
		}
	}
	return len(seen)
}
