package mailservice

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The search grammar, shared by GET /v1/search and POST
// /v1/messages/batch-by-query. A query is terms separated by white space;
// a message matches when it matches every term. Operators and their values
// are case-insensitive:
//
//	from:<text>     the sender contains text
//	subject:<text>  the subject contains text
//	is:unread       the message is unread
//	is:read         the message is read
//	is:starred      the message is starred
//	in:<folder>     the message is in folder (inbox, archive, sent, drafts,
//	                spam, trash, or starred: the starred messages of the
//	                inbox); a folder that does not exist matches nothing
//	newer_than:<N>d the message arrived less than N days before the clock
//	older_than:<N>d the message arrived more than N days before the clock
//	<word>          the subject, the sender or the snippet contains word
//
// A term whose prefix before ":" is none of the operators above is a word
// ("Re:" and "10:00" are words). Quotes and "-" have no special meaning.
// An operator without a value, an is: of another state, or a day count
// that is not a whole number from 0 to maxQueryDays followed by "d" make
// the query malformed. The empty query matches every message.

const (
	maxQueryBytes = 2048   // longest query
	maxQueryDays  = 100000 // largest N of newer_than:Nd and older_than:Nd
)

// termKind is what a term tests.
type termKind int

const (
	termWord termKind = iota
	termFrom
	termSubject
	termUnread
	termRead
	termStarred
	termFolder
	termNewer
	termOlder
)

// term is one parsed term of a query.
type term struct {
	kind   termKind
	text   string    // lower-case text of word, from and subject
	folder string    // canonical folder of in:
	cutoff time.Time // arrival time newer_than and older_than compare with
}

// query is a parsed search query: a message matches all its terms.
type query []term

// parseQuery parses raw against the clock now. Its errors name the term by
// its position and its operator, never by the text the request gave.
func parseQuery(raw string, now time.Time) (query, error) {
	if len(raw) > maxQueryBytes {
		return nil, fmt.Errorf("q is longer than %d bytes", maxQueryBytes)
	}
	var q query
	for i, field := range strings.Fields(raw) {
		t, err := parseTerm(field, now)
		if err != nil {
			return nil, fmt.Errorf("q: term %d: %w", i+1, err)
		}
		q = append(q, t)
	}
	return q, nil
}

// parseTerm parses one term of a query.
func parseTerm(field string, now time.Time) (term, error) {
	op, value, ok := strings.Cut(field, ":")
	if !ok {
		return term{kind: termWord, text: strings.ToLower(field)}, nil
	}
	op = strings.ToLower(op)
	switch op {
	case "from", "subject", "is", "in", "newer_than", "older_than":
	default:
		return term{kind: termWord, text: strings.ToLower(field)}, nil
	}
	if value == "" {
		return term{}, fmt.Errorf("%s: needs a value", op)
	}
	switch op {
	case "from":
		return term{kind: termFrom, text: strings.ToLower(value)}, nil
	case "subject":
		return term{kind: termSubject, text: strings.ToLower(value)}, nil
	case "in":
		return term{kind: termFolder, folder: canonicalFolder(value)}, nil
	case "is":
		switch strings.ToLower(value) {
		case "unread":
			return term{kind: termUnread}, nil
		case "read":
			return term{kind: termRead}, nil
		case "starred":
			return term{kind: termStarred}, nil
		}
		return term{}, errors.New("is: want unread, read or starred")
	}
	// newer_than, older_than
	days, ok := parseDays(value)
	if !ok {
		return term{}, fmt.Errorf("%s: want a whole number of days from 0 to %d followed by d, such as %s:7d", op, maxQueryDays, op)
	}
	t := term{kind: termNewer, cutoff: now.Add(-time.Duration(days) * 24 * time.Hour)}
	if op == "older_than" {
		t.kind = termOlder
	}
	return t, nil
}

// parseDays parses "<N>d" (or "<N>D"), N a decimal number from 0 to
// maxQueryDays.
func parseDays(value string) (int, bool) {
	digits, ok := strings.CutSuffix(strings.ToLower(value), "d")
	if !ok || digits == "" || len(digits) > len(strconv.Itoa(maxQueryDays)) {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n > maxQueryDays {
		return 0, false
	}
	return n, true
}

// and returns q with the term in:folder added; folder "" adds nothing.
func (q query) and(folder string) query {
	if folder == "" {
		return q
	}
	return append(q[:len(q):len(q)], term{kind: termFolder, folder: canonicalFolder(folder)})
}

// match reports whether m matches every term of q.
func (q query) match(m *message) bool {
	var from, subject, snippet string // lower-case, computed on first use
	lowered := false
	lower := func() {
		if !lowered {
			from, subject, snippet = strings.ToLower(m.From), strings.ToLower(m.Subject), strings.ToLower(m.Snippet)
			lowered = true
		}
	}
	for _, t := range q {
		var ok bool
		switch t.kind {
		case termWord:
			lower()
			ok = strings.Contains(subject, t.text) || strings.Contains(from, t.text) || strings.Contains(snippet, t.text)
		case termFrom:
			lower()
			ok = strings.Contains(from, t.text)
		case termSubject:
			lower()
			ok = strings.Contains(subject, t.text)
		case termUnread:
			ok = m.Unread
		case termRead:
			ok = !m.Unread
		case termStarred:
			ok = m.Starred
		case termFolder:
			ok = m.in(t.folder)
		case termNewer:
			ok = m.at.After(t.cutoff)
		case termOlder:
			ok = m.at.Before(t.cutoff)
		}
		if !ok {
			return false
		}
	}
	return true
}
