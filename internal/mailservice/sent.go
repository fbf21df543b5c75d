package mailservice

import (
	"net/http"
	"slices"
)

// The kinds of a sentEntry, also the endpoint names in a send's or a
// reply's fingerprint.
const (
	kindSend  = "send"
	kindReply = "reply"
)

// sentEntry is one message a send or a reply filed, as GET /v1/_sent
// answers it: a copy taken when it was filed, so that moving, archiving or
// purging the message later leaves it as it was.
type sentEntry struct {
	UserID    string `json:"user_id"`
	AccountID string `json:"account_id"`
	ID        string `json:"id"`
	ThreadID  string `json:"thread_id"`
	Kind      string `json:"kind"` // kindSend or kindReply
	Subject   string `json:"subject"`
	Body      string `json:"body"`
	// To is the recipients filed: a reply's default ones when it gave
	// none.
	To string `json:"to"`
	// IdempotencyKey is the request's Idempotency-Key, "" when it had none.
	IdempotencyKey string `json:"idempotency_key"`
	// At is when the message was filed, its Date: RFC 3339 in UTC.
	At string `json:"at"`
}

// sentListResponse is the answer of GET /v1/_sent.
type sentListResponse struct {
	Sent []sentEntry `json:"sent"`
}

// recordSent appends e to the record of sent messages. It is called with
// the mailbox's mu held, right where the message is filed, so that the
// record is in filing order and a replay, which files nothing, adds
// nothing.
func (s *Service) recordSent(e sentEntry) {
	s.sentMu.Lock()
	defer s.sentMu.Unlock()
	s.sent = append(s.sent, e)
}

// sentList serves GET /v1/_sent, the control endpoint that tells a test
// what the service was asked to send: every message filed by a send or a
// reply, of every user, in filing order. It is kept for the life of the
// Service, like the mailboxes.
func (s *Service) sentList(w http.ResponseWriter, r *http.Request) {
	s.sentMu.Lock()
	sent := slices.Clone(s.sent)
	s.sentMu.Unlock()
	if sent == nil {
		sent = []sentEntry{} // [], not null
	}
	writeJSON(w, http.StatusOK, sentListResponse{Sent: sent})
}
