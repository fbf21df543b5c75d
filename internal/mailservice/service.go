// Package mailservice is the reference mail-service: the backend the
// mail-client extension reaches as "mail-service", served by
// cmd/mailservice for the dev loop and in-process by test harnesses.
//
//	GET  /v1/inbox?user_id&account_id&folder&page[&limit][&cursor]  → {"messages", "total", "has_more", "next_cursor", "folder"}
//	GET  /v1/unread?user_id                                → {"unread", "accounts"}
//	GET  /v1/unread?user_id&account_id[&folder]            → {"folder", "unread", "total"}
//	GET  /v1/accounts?user_id                              → {"accounts": [{"account_id", "email", "provider", "display_name", "active"}]}
//	GET  /v1/folders?user_id&account_id                    → {"folders": [{"key", "name", "system", "total", "unread"}]}
//	GET  /v1/counts?user_id&account_id                     → {"total", "inbox_total", "unread", "spam", "archive", "today"}
//	GET  /v1/messages/{id}?user_id&account_id[&mark_read]  → {"id", "thread_id", "from", "to", "cc", "subject", "date", "body", "body_type", "unread", "starred", "has_attachments", "folder", "labels", "message_id_header", "attachments": [{"id", "filename", "size_bytes", "mime_type"}]}
//	POST /v1/messages/archive    {"user_id", "account_id", "message_ids"}          → {"archived"}
//	POST /v1/messages/mark_read  {"user_id", "account_id", "message_ids", "read"}  → {"updated"}
//	GET  /v1/search?user_id&account_id&q[&limit][&folder][&oldest_first]  → {"results", "total"}
//	POST /v1/messages/batch           {"user_id", "account_id", "ids", "ops", "from_folder", "to_folder"}  → {"succeeded", "total", "failed"}
//	POST /v1/messages/batch-by-query  {"user_id", "account_id", "q", "ops", "max", "from_folder", "to_folder"}  → {"succeeded", "total", "failed", "matched"}
//	POST /v1/send                 {"user_id", "account_id", "to", "cc", "bcc", "subject", "body", "is_html"}  → {"id", "thread_id", "sent", "subject"}
//	POST /v1/messages/{id}/reply  {"user_id", "account_id", "body", "is_html", "to", "cc", "bcc"}  → {"id", "thread_id", "sent", "subject"}
//	POST /v1/_deliver  {"user_id", "account_id", "folder", "messages": [{"from", "subject", "snippet", "body", "unread", "starred", "has_attachments"}]}  → {"delivered"}
//	GET  /v1/_faults                                        → {"fail_rate", "slow_rate", "slow_ms"}
//	PUT  /v1/_faults  {"fail_rate", "slow_rate", "slow_ms"}  → {"fail_rate", "slow_rate", "slow_ms"}
//	GET  /v1/_sent    → {"sent": [{"user_id", "account_id", "id", "thread_id", "kind", "subject", "body", "to", "idempotency_key", "at"}]}
//
// Folders are INBOX, archive, sent, drafts, spam and trash, matched
// whatever their case, plus two virtual ones that list messages filed
// elsewhere: "starred" (the starred messages of the inbox) and
// "[Gmail]/All Mail" (every message outside the spam and the trash). Any
// other name, in any UTF-8, is a custom folder: empty until messages are
// moved or delivered into it.
//
// The inbox pages a folder newest first by page (0-based) or, when cursor
// is given, by the limit messages after it (page then ignored). A cursor is
// an opaque position, the arrival time and id of the last message of the
// page before, bound to its folder: it stays valid, and pages neither
// repeat nor skip, while mail arrives at the top. next_cursor is the
// cursor of the following page whenever has_more, "" otherwise; a cursor
// that is malformed or of another folder is a VALIDATION error.
//
// Accounts lists "personal", "work" and every other account used in this
// Service, sorted by id; only "work" is active. Each has the address
// <user>@<account>.example.com (both parts lower-cased, characters outside
// [a-z0-9._-] replaced by "-", at most 32 bytes). Folders lists the
// system folders (Inbox, Sent, Drafts, Spam, Trash, Starred, Archive) and
// then the custom ones that hold messages, sorted. Counts' today counts
// the messages that arrived in the 24 h before the clock, or since.
//
// GET /v1/messages/{id} answers one message in full, its body, recipients
// and attachments derived from its id unless a send or a delivery gave
// them; mark_read=true marks it read first. An id not in the mailbox of
// (user_id, account_id) is NOT_FOUND.
//
// Search answers the first limit (1 to 200, default 50) messages that match
// q, newest first unless oldest_first, in every folder unless folder (or an
// in: term) names one; total counts every match, not just the page. The
// grammar (query.go) is space-separated, case-insensitive terms that must
// all match: from:, subject:, is:unread, is:read, is:starred, in:<folder>,
// newer_than:<N>d, older_than:<N>d (counted back from the mailboxes' clock,
// 2026-11-26T09:00:00Z) and free words.
//
// A batch applies exactly one op — "archive" (move to the archive),
// "delete" (move to the trash), "read", "unread", "purge" (remove for
// good), "star", "unstar" or "move" (to to_folder: at most 256 bytes, not
// a virtual folder; a new name creates a custom folder) — to up to 200
// ids, or by query to the newest max (1 to 1000, default 1000) messages
// that match q; matched counts every match. The op is limited to the
// folder from_folder when given, and purge to the trash when it is not.
// The ids it was not applied to are listed in failed, with "not_found"
// (no such message in this mailbox) or "not_in_folder"; total counts the
// distinct ids given, or the messages the query picked.
//
// Send files a new message of mine into sent, read, in a new thread; a
// reply files one into sent in the thread of the message replied to, its
// subject "Re: " and the original's (the prefix added once), to its sender
// unless to is given. to (required for send) and cc and bcc are
// comma-separated addresses, each with an "@"; texts are at most 64 KiB. A
// send or reply with an Idempotency-Key header (1 to 256 bytes, scoped to
// the user and account) is filed once: the same request again answers the
// same JSON with Idempotent-Replayed: true, another request under the key
// is 409 CONFLICT.
//
// The control endpoints, of tests and the dev loop, are the paths that
// start with /v1/_. They are never subject to Options.Latency or injected
// faults, so that a test can always switch faults off and read the
// records, but they count in Requests and need the token like the others.
// POST /v1/_deliver files 1 to 100 messages into folder (default INBOX),
// each newer than everything before it and a new thread; unread defaults
// to true. PUT /v1/_faults replaces the faults injected into the requests
// that begin from then on (an absent field is 0, so {} switches them off)
// and answers the faults now in force, as GET /v1/_faults does: fail_rate,
// the probability (0 to 1) that a request fails with Options.FailStatus
// and code INJECTED; slow_rate, the probability (0 to 1) that a request
// first waits slow_ms milliseconds (a whole number, 0 to 600000), answering
// 503 CANCELLED if its context ends first. A rate or slow_ms out of range,
// an unknown field or a malformed body is VALIDATION; the initial faults
// are those of Options. GET /v1/_sent answers every message a send or a
// reply filed, of every user and account, in filing order: kind "send" or
// "reply", the subject, body and to filed, the request's Idempotency-Key
// ("" when none) and at, the message's date. A message stays listed when
// it is later moved or purged; a replay under an Idempotency-Key files
// nothing, so it lists nothing.
//
// Every (user_id, account_id) pair has a mailbox, generated on first use
// from a hash of the two ids, so the same ids give the same mailbox in every
// process. Writes change the mailbox in memory for the life of the Service;
// new messages take the ids after the mailbox's highest (m-NNNN) and arrive
// a minute after its newest message. Requests counts requests by route
// pattern ("/v1/inbox", "/v1/messages/{id}", "/v1/messages/{id}/reply"),
// an unknown path by itself. Errors answer {"error": {"code", "message",
// "retryable"}}, retryable true exactly for 429 and 5xx statuses.
package mailservice

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Service. The zero value serves at once, never fails,
// and pages by 25.
type Options struct {
	// Latency is how long every request but those of the control
	// endpoints waits before it is handled; a request whose context ends
	// first answers 503 with code "CANCELLED".
	Latency time.Duration
	// FailRate is the probability, from 0 to 1, that a request (after its
	// latency) fails with FailStatus and code "INJECTED" instead of being
	// handled: the initial Faults.FailRate, which SetFaults and PUT
	// /v1/_faults change at run time. Values outside [0, 1] are clamped.
	FailRate float64
	// SlowRate is the probability, from 0 to 1, that a request (after its
	// latency) waits Slow before it is handled: the initial
	// Faults.SlowRate. Values outside [0, 1] are clamped.
	SlowRate float64
	// Slow is how long a slowed request waits, the initial Faults.Slow;
	// clamped to [0, MaxSlow].
	Slow time.Duration
	// FailStatus is the status of injected failures, 400 to 599; zero, or
	// any value outside that range, means 503.
	FailStatus int
	// PageSize is the number of messages per inbox page when the request
	// gives no limit; zero or negative means 25.
	PageSize int
	// Token, when set, is the bearer token every request must carry
	// (Authorization: Bearer <token>); others answer 401 UNAUTHORIZED.
	Token string
}

// Error codes of the answers' {"error": {"code"}}.
const (
	codeValidation       = "VALIDATION"
	codeNotFound         = "NOT_FOUND"
	codeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	codeInjected         = "INJECTED"
	codeCancelled        = "CANCELLED"
	codeUnauthorized     = "UNAUTHORIZED"
	codeConflict         = "CONFLICT"     // 409: an Idempotency-Key reused for another request
	codeRateLimited      = "RATE_LIMITED" // 429; no endpoint limits today, injected 429s stay INJECTED
)

const (
	defaultPageSize   = 25
	defaultFailStatus = http.StatusServiceUnavailable
	maxLimit          = 100     // largest limit a request may give
	maxIDLength       = 256     // longest user_id or account_id
	maxBodyBytes      = 1 << 20 // largest POST body
)

// defaultAccounts are the accounts every user has.
func defaultAccounts() []string { return []string{"personal", "work"} }

// Service is the mail-service. It is an http.Handler, safe for concurrent
// use; create it with New.
type Service struct {
	opts Options
	// faults are the faults in force, never nil. Every request reads them,
	// so they sit behind an atomic pointer rather than mu.
	faults atomic.Pointer[Faults]

	mu        sync.Mutex
	mailboxes map[mailboxKey]*mailbox
	accounts  map[string]map[string]bool // user → accounts used
	requests  map[string]int             // path → requests received

	// sentMu guards sent. It is taken with a mailbox's mu held, so that
	// sent is in filing order, and nothing is locked under it.
	sentMu sync.Mutex
	sent   []sentEntry // every message a send or a reply filed, in order
}

// mailboxKey names a mailbox.
type mailboxKey struct{ user, account string }

// New returns a Service with opts, defaults filled in.
func New(opts Options) *Service {
	if opts.PageSize <= 0 {
		opts.PageSize = defaultPageSize
	}
	if opts.FailStatus < 400 || opts.FailStatus > 599 {
		opts.FailStatus = defaultFailStatus
	}
	s := &Service{
		opts:      opts,
		mailboxes: map[mailboxKey]*mailbox{},
		accounts:  map[string]map[string]bool{},
		requests:  map[string]int{},
	}
	f := initialFaults(opts)
	s.faults.Store(&f)
	return s
}

// Requests returns how many requests each path has received, whatever
// their outcome (latency cut short, injected failure, error). The map is a
// copy.
func (s *Service) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// ServeHTTP implements http.Handler: the token, then latency and the
// faults in force (neither for the control endpoints), then the endpoint.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, found := findRoute(r)
	key := r.URL.Path // an unknown path counts under itself
	if found {
		key = rt.pattern
	}
	s.mu.Lock()
	s.requests[key]++
	s.mu.Unlock()

	if s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.opts.Token)) != 1 {
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "a valid bearer token is required")
		return
	}
	// By path, not route, so that an unknown control path answers its 404
	// at once too.
	if !strings.HasPrefix(r.URL.Path, controlPrefix) {
		if s.opts.Latency > 0 && !wait(w, r, s.opts.Latency, "request ended during the injected latency") {
			return
		}
		if !s.injectFaults(w, r) {
			return
		}
	}

	if !found {
		writeError(w, http.StatusNotFound, codeNotFound, "no endpoint "+r.URL.Path)
		return
	}
	if !rt.allows(r.Method) {
		allow := allowed(rt.pattern)
		w.Header().Set("Allow", allow)
		// The pattern, not the path, so that no message id is echoed.
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, fmt.Sprintf("%s takes %s", rt.pattern, allow))
		return
	}
	rt.handle(s, w, r)
}

// inboxResponse is the answer of GET /v1/inbox.
type inboxResponse struct {
	Messages []Message `json:"messages"`
	Total    int       `json:"total"`
	HasMore  bool      `json:"has_more"`
	// NextCursor is the cursor of the next page, "" when none follows.
	NextCursor string `json:"next_cursor"`
	// Folder is the canonical name of the folder listed.
	Folder string `json:"folder"`
}

// inbox serves GET /v1/inbox: one page of a folder, newest first, by page
// number or, when cursor is given, the limit messages after it.
func (s *Service) inbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user, account := q.Get("user_id"), q.Get("account_id")
	if err := validateIDs(user, account); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	folder := folderParam(q.Get("folder"))
	cursor, page := q.Get("cursor"), 0
	if cursor == "" { // with a cursor, page is ignored
		var err error
		if page, err = intParam(q.Get("page"), 0, 0, maxInt); err != nil {
			writeError(w, http.StatusBadRequest, codeValidation, "page: "+err.Error())
			return
		}
	}
	limit, err := intParam(q.Get("limit"), s.opts.PageSize, 1, maxLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, "limit: "+err.Error())
		return
	}
	var l listing
	if cursor != "" {
		pos, err := decodeCursor(folder, cursor)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeValidation, err.Error())
			return
		}
		l = s.mailbox(user, account).pageAfter(folder, pos, limit)
	} else {
		start := maxInt // a page past any folder's end, without overflow
		if page <= maxInt/limit {
			start = page * limit
		}
		l = s.mailbox(user, account).page(folder, start, limit)
	}
	writeJSON(w, http.StatusOK, inboxResponse{
		Messages: l.messages, Total: l.total, HasMore: l.hasMore,
		NextCursor: l.nextCursor(folder), Folder: folder,
	})
}

// folderParam returns the canonical folder of a folder query parameter,
// the inbox when it is empty.
func folderParam(raw string) string {
	if raw == "" {
		return folderInbox
	}
	return canonicalFolder(raw)
}

// unreadResponse is the answer of GET /v1/unread without account_id.
type unreadResponse struct {
	Unread   int      `json:"unread"`
	Accounts []string `json:"accounts"`
}

// folderUnreadResponse is the answer of GET /v1/unread with account_id.
type folderUnreadResponse struct {
	Folder string `json:"folder"`
	Unread int    `json:"unread"`
	Total  int    `json:"total"`
}

// unread serves GET /v1/unread: with account_id, the unread and total
// messages of one folder of that account; without, the unread messages in
// the inboxes of all the user's accounts, and the accounts that have any.
func (s *Service) unread(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user, account := q.Get("user_id"), q.Get("account_id")
	if err := validateID("user_id", user); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	if account != "" {
		if err := validateID("account_id", account); err != nil {
			writeError(w, http.StatusBadRequest, codeValidation, err.Error())
			return
		}
		folder := folderParam(q.Get("folder"))
		total, unread := s.mailbox(user, account).count(folder)
		writeJSON(w, http.StatusOK, folderUnreadResponse{Folder: folder, Unread: unread, Total: total})
		return
	}
	resp := unreadResponse{Accounts: []string{}}
	for _, account := range s.userAccounts(user) {
		if n := s.mailbox(user, account).unread(); n > 0 {
			resp.Unread += n
			resp.Accounts = append(resp.Accounts, account)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// messagesRequest is the body of the POST endpoints.
type messagesRequest struct {
	UserID     string   `json:"user_id"`
	AccountID  string   `json:"account_id"`
	MessageIDs []string `json:"message_ids"`
	Read       *bool    `json:"read"`
}

// archive serves POST /v1/messages/archive.
func (s *Service) archive(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeMessagesRequest(w, r)
	if !ok {
		return
	}
	n := s.mailbox(req.UserID, req.AccountID).archive(req.MessageIDs)
	writeJSON(w, http.StatusOK, map[string]int{"archived": n})
}

// markRead serves POST /v1/messages/mark_read; read defaults to true.
func (s *Service) markRead(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeMessagesRequest(w, r)
	if !ok {
		return
	}
	read := req.Read == nil || *req.Read
	n := s.mailbox(req.UserID, req.AccountID).markRead(req.MessageIDs, read)
	writeJSON(w, http.StatusOK, map[string]int{"updated": n})
}

// decodeMessagesRequest reads and checks a POST body; on failure it has
// answered and returns false.
func decodeMessagesRequest(w http.ResponseWriter, r *http.Request) (messagesRequest, bool) {
	var req messagesRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxBodyBytes), &req); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return req, false
	}
	if err := validateIDs(req.UserID, req.AccountID); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return req, false
	}
	return req, true
}

// decodeJSON decodes exactly one JSON value from body into v.
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON body: data after the object")
	}
	return nil
}

// mailbox returns the mailbox of (user, account), generating it on first
// use, and records the account as one of the user's.
func (s *Service) mailbox(user, account string) *mailbox {
	key := mailboxKey{user, account}
	s.mu.Lock()
	defer s.mu.Unlock()
	mb, ok := s.mailboxes[key]
	if !ok {
		mb = newMailbox(user, account)
		s.mailboxes[key] = mb
		if s.accounts[user] == nil {
			s.accounts[user] = map[string]bool{}
		}
		s.accounts[user][account] = true
	}
	return mb
}

// userAccounts returns the user's accounts, sorted: the default ones and
// every one used in this Service.
func (s *Service) userAccounts(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	accounts := defaultAccounts()
	for account := range s.accounts[user] {
		if !slices.Contains(accounts, account) {
			accounts = append(accounts, account)
		}
	}
	slices.Sort(accounts)
	return accounts
}

// validateIDs checks a request's user_id and account_id.
func validateIDs(user, account string) error {
	if err := validateID("user_id", user); err != nil {
		return err
	}
	return validateID("account_id", account)
}

// validateID checks that the id named name is present and not too long.
func validateID(name, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s is required", name)
	case len(id) > maxIDLength:
		return fmt.Errorf("%s is longer than %d bytes", name, maxIDLength)
	}
	return nil
}

// maxInt is the largest int.
const maxInt = int(^uint(0) >> 1)

// intParam parses a query parameter: def when empty, else an integer in
// [lo, hi].
func intParam(raw string, def, lo, hi int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		if hi == maxInt {
			return 0, fmt.Errorf("want an integer >= %d, got %q", lo, raw)
		}
		return 0, fmt.Errorf("want an integer from %d to %d, got %q", lo, hi, raw)
	}
	return n, nil
}

// errorResponse is the answer of every failed request.
type errorResponse struct {
	Error errorBody `json:"error"`
}

// errorBody is the inside of an errorResponse.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Retryable tells the client that the same request may succeed later.
	Retryable bool `json:"retryable"`
}

// retryable reports whether an answer of status may succeed when sent
// again: rate limits and server-side failures, whatever their code (an
// injected 429 keeps the code INJECTED).
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// writeError answers status with the error shape.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorResponse{Error: errorBody{Code: code, Message: message, Retryable: retryable(status)}})
}

// writeJSON answers status with v as JSON, without HTML escaping, so the
// senders' <addresses> stay literal.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the status is sent: a failed write has no one to tell
}
