// Package mailservice is the reference mail-service: the backend the
// mail-client extension reaches as "mail-service", served by
// cmd/mailservice for the dev loop and in-process by test harnesses.
//
//	GET  /v1/inbox?user_id&account_id&folder&page[&limit]  → {"messages", "total", "has_more"}
//	GET  /v1/unread?user_id                                → {"unread", "accounts"}
//	POST /v1/messages/archive    {"user_id", "account_id", "message_ids"}          → {"archived"}
//	POST /v1/messages/mark_read  {"user_id", "account_id", "message_ids", "read"}  → {"updated"}
//	GET  /v1/search?user_id&account_id&q[&limit][&folder][&oldest_first]  → {"results", "total"}
//	POST /v1/messages/batch           {"user_id", "account_id", "ids", "ops", "from_folder"}  → {"succeeded", "total", "failed"}
//	POST /v1/messages/batch-by-query  {"user_id", "account_id", "q", "ops", "max", "from_folder"}  → {"succeeded", "total", "failed", "matched"}
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
// "delete" (move to the trash), "read", "unread" or "purge" (remove for
// good) — to up to 200 ids, or by query to the newest max (1 to 1000,
// default 1000) messages that match q; matched counts every match. The op
// is limited to the folder from_folder when given, and purge to the trash
// when it is not. The ids it was not applied to are listed in failed, with
// "not_found" (no such message in this mailbox) or "not_in_folder"; total
// counts the distinct ids given, or the messages the query picked.
//
// Every (user_id, account_id) pair has a mailbox, generated on first use
// from a hash of the two ids, so the same ids give the same mailbox in every
// process. Writes change the mailbox in memory for the life of the Service.
// Errors answer {"error": {"code", "message"}}.
package mailservice

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Options configure a Service. The zero value serves at once, never fails,
// and pages by 25.
type Options struct {
	// Latency is how long every request waits before it is handled; a
	// request whose context ends first answers 503 with code "CANCELLED".
	Latency time.Duration
	// FailRate is the probability, from 0 to 1, that a request (after its
	// latency) fails with FailStatus and code "INJECTED" instead of being
	// handled.
	FailRate float64
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

	mu        sync.Mutex
	mailboxes map[mailboxKey]*mailbox
	accounts  map[string]map[string]bool // user → accounts used
	requests  map[string]int             // path → requests received
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
	return &Service{
		opts:      opts,
		mailboxes: map[mailboxKey]*mailbox{},
		accounts:  map[string]map[string]bool{},
		requests:  map[string]int{},
	}
}

// Requests returns how many requests each path has received, whatever
// their outcome (latency cut short, injected failure, error). The map is a
// copy.
func (s *Service) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// ServeHTTP implements http.Handler: latency, then fault injection, then
// the endpoint.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	s.mu.Unlock()

	if s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.opts.Token)) != 1 {
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "a valid bearer token is required")
		return
	}
	if s.opts.Latency > 0 {
		timer := time.NewTimer(s.opts.Latency)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			writeError(w, http.StatusServiceUnavailable, codeCancelled, "request ended during the injected latency")
			return
		}
	}
	if s.opts.FailRate > 0 && rand.Float64() < s.opts.FailRate {
		writeError(w, s.opts.FailStatus, codeInjected, "injected failure")
		return
	}

	var handle func(http.ResponseWriter, *http.Request)
	method := http.MethodPost
	switch r.URL.Path {
	case "/v1/inbox":
		handle, method = s.inbox, http.MethodGet
	case "/v1/unread":
		handle, method = s.unread, http.MethodGet
	case "/v1/messages/archive":
		handle = s.archive
	case "/v1/messages/mark_read":
		handle = s.markRead
	case "/v1/search":
		handle, method = s.search, http.MethodGet
	case "/v1/messages/batch":
		handle = s.batch
	case "/v1/messages/batch-by-query":
		handle = s.batchByQuery
	default:
		writeError(w, http.StatusNotFound, codeNotFound, "no endpoint "+r.URL.Path)
		return
	}
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", method)
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, fmt.Sprintf("%s takes %s", r.URL.Path, method))
		return
	}
	handle(w, r)
}

// inboxResponse is the answer of GET /v1/inbox.
type inboxResponse struct {
	Messages []Message `json:"messages"`
	Total    int       `json:"total"`
	HasMore  bool      `json:"has_more"`
}

// inbox serves GET /v1/inbox: one page of a folder, newest first.
func (s *Service) inbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user, account := q.Get("user_id"), q.Get("account_id")
	if err := validateIDs(user, account); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	folder := folderInbox
	if f := q.Get("folder"); f != "" {
		folder = canonicalFolder(f)
	}
	page, err := intParam(q.Get("page"), 0, 0, maxInt)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, "page: "+err.Error())
		return
	}
	limit, err := intParam(q.Get("limit"), s.opts.PageSize, 1, maxLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, "limit: "+err.Error())
		return
	}
	start := maxInt // a page past any folder's end, without overflow
	if page <= maxInt/limit {
		start = page * limit
	}
	messages, total, hasMore := s.mailbox(user, account).page(folder, start, limit)
	writeJSON(w, http.StatusOK, inboxResponse{Messages: messages, Total: total, HasMore: hasMore})
}

// unreadResponse is the answer of GET /v1/unread.
type unreadResponse struct {
	Unread   int      `json:"unread"`
	Accounts []string `json:"accounts"`
}

// unread serves GET /v1/unread: the unread messages in the inboxes of all
// the user's accounts, and the accounts that have any.
func (s *Service) unread(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user_id")
	if err := validateID("user_id", user); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
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
}

// writeError answers status with the error shape.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorResponse{Error: errorBody{Code: code, Message: message}})
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
