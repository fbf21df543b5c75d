package mailservice

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

const (
	maxTextBytes           = 64 << 10 // longest subject, body, address list or sender of a send, reply or delivery
	maxIdempotencyKeyBytes = 256      // longest Idempotency-Key
	snippetRunes           = 100      // longest snippet taken from a body

	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
)

// outgoing is what send and reply bodies say about the message to send.
type outgoing struct {
	To     string `json:"to"`
	Cc     string `json:"cc"`
	Bcc    string `json:"bcc"`
	Body   string `json:"body"`
	IsHTML bool   `json:"is_html"`
}

// sendRequest is the body of POST /v1/send.
type sendRequest struct {
	UserID    string `json:"user_id"`
	AccountID string `json:"account_id"`
	Subject   string `json:"subject"`
	outgoing
}

// replyRequest is the body of POST /v1/messages/{id}/reply.
type replyRequest struct {
	UserID    string `json:"user_id"`
	AccountID string `json:"account_id"`
	outgoing
}

// sendResponse is the answer of POST /v1/send and of a reply.
type sendResponse struct {
	ID       string `json:"id"`
	ThreadID string `json:"thread_id"`
	Sent     bool   `json:"sent"`
	// Subject is the subject filed: a reply's is made here ("Re: …"), so
	// the client need not repeat the rule.
	Subject string `json:"subject"`
}

// sentRecord is the answer a send or a reply gave under an
// Idempotency-Key, and the fingerprint of its request.
type sentRecord struct {
	fingerprint [sha256.Size]byte
	resp        sendResponse
}

// send serves POST /v1/send: a new message, in a new thread, filed into
// sent.
func (s *Service) send(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := req.check(); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	m := req.message(req.Subject)
	s.file(w, r, kindSend, req.UserID, req.AccountID, fingerprint(kindSend, "", req), func(*mailbox) (*message, bool) { return m, true })
}

// reply serves POST /v1/messages/{id}/reply: a reply in the thread of the
// message id, to its sender unless to says otherwise, filed into sent.
func (s *Service) reply(w http.ResponseWriter, r *http.Request) {
	var req replyRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := req.check(); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	id := r.PathValue("id")
	s.file(w, r, kindReply, req.UserID, req.AccountID, fingerprint(kindReply, id, req), func(mb *mailbox) (*message, bool) {
		original, ok := mb.byID[id]
		if !ok {
			return nil, false
		}
		m := req.message(replySubject(original.Subject))
		m.ThreadID = original.ThreadID
		if m.to == "" {
			m.to = original.replyTo()
		}
		return m, true
	})
}

// check checks a send body: the ids, to (required), cc, bcc, the subject
// and the body.
func (req sendRequest) check() error {
	if err := validateIDs(req.UserID, req.AccountID); err != nil {
		return err
	}
	if err := req.outgoing.check(true); err != nil {
		return err
	}
	return checkText("subject", req.Subject)
}

// check checks a reply body: the ids, the body (required), and to, cc and
// bcc when given.
func (req replyRequest) check() error {
	if err := validateIDs(req.UserID, req.AccountID); err != nil {
		return err
	}
	if strings.TrimSpace(req.Body) == "" {
		return errors.New("body is required")
	}
	return req.outgoing.check(false)
}

// check checks the addresses and the body; to must be given when
// toRequired.
func (o outgoing) check(toRequired bool) error {
	if err := checkAddresses("to", o.To, toRequired); err != nil {
		return err
	}
	if err := checkAddresses("cc", o.Cc, false); err != nil {
		return err
	}
	if err := checkAddresses("bcc", o.Bcc, false); err != nil {
		return err
	}
	return checkText("body", o.Body)
}

// checkAddresses checks the comma-separated address list of field: every
// address must have an '@'. Its errors name the address by its position,
// never by its text.
func checkAddresses(field, list string, required bool) error {
	if err := checkText(field, list); err != nil {
		return err
	}
	if strings.TrimSpace(list) == "" {
		if required {
			return fmt.Errorf("%s is required", field)
		}
		return nil
	}
	for i, addr := range strings.Split(list, ",") {
		if !strings.Contains(addr, "@") {
			return fmt.Errorf("%s: address %d has no @", field, i+1)
		}
	}
	return nil
}

// checkText checks that the text of field is not too long.
func checkText(field, text string) error {
	if len(text) > maxTextBytes {
		return fmt.Errorf("%s is longer than %d bytes", field, maxTextBytes)
	}
	return nil
}

// message returns o as a message of mine with subject, read, in sent; add
// gives it its id, thread and arrival.
func (o outgoing) message(subject string) *message {
	m := &message{folder: folderSent, to: o.To, cc: o.Cc, body: o.Body, hasBody: true, html: o.IsHTML}
	m.From = me
	m.Subject = subject
	m.Snippet = snippetOf(o.Body, o.IsHTML)
	return m
}

// replySubject returns the subject of a reply to subject: "Re: " in front,
// unless it starts with one already, in any case.
func replySubject(subject string) string {
	if len(subject) >= 3 && strings.EqualFold(subject[:3], "re:") {
		return subject
	}
	return "Re: " + subject
}

// replyTo returns whom a reply to m goes to by default: its sender, or its
// recipients when m is mine.
func (m *message) replyTo() string {
	if m.From == me {
		return m.recipients()
	}
	return m.From
}

// snippetOf returns the start of body as a snippet: white space
// collapsed, tags dropped when it is HTML (roughly: entities stay), at
// most snippetRunes runes.
func snippetOf(body string, html bool) string {
	if html {
		var b strings.Builder
		inTag := false
		for _, c := range body {
			switch {
			case c == '<':
				inTag = true
			case c == '>' && inTag:
				inTag = false
				b.WriteByte(' ') // "a<br>b" is two words
			case !inTag:
				b.WriteRune(c)
			}
		}
		body = b.String()
	}
	text := strings.Join(strings.Fields(body), " ")
	if utf8.RuneCountInString(text) <= snippetRunes {
		return text
	}
	return strings.TrimSpace(string([]rune(text)[:snippetRunes]))
}

// fingerprint identifies a request under an Idempotency-Key: the endpoint,
// the message replied to, and the decoded body, so that formatting does
// not matter but any field does.
func fingerprint(endpoint, original string, req any) [sha256.Size]byte {
	b, err := json.Marshal(struct {
		Endpoint string `json:"endpoint"`
		Original string `json:"original"`
		Request  any    `json:"request"`
	}{endpoint, original, req})
	if err != nil {
		panic(err) // the request types are plain strings and bools
	}
	return sha256.Sum256(b)
}

// idempotencyKey returns the request's Idempotency-Key, "" when it has
// none.
func idempotencyKey(h http.Header) (string, error) {
	values := h.Values(headerIdempotencyKey)
	switch {
	case len(values) == 0:
		return "", nil
	case len(values) > 1:
		return "", errors.New("Idempotency-Key: give one")
	case values[0] == "" || len(values[0]) > maxIdempotencyKeyBytes:
		return "", fmt.Errorf("Idempotency-Key: want 1 to %d bytes", maxIdempotencyKeyBytes)
	}
	return values[0], nil
}

// fileOutcome is what fileOnce did.
type fileOutcome int

const (
	filed           fileOutcome = iota // the message was filed
	replayed                           // the key's earlier answer is answered again
	keyReused                          // the key was used for another request
	originalMissing                    // build found no message to reply to
)

// file answers a send or a reply (kind) of the user's account: with
// build's message filed into sent, and into the record of GET /v1/_sent,
// or as Idempotency-Key says.
func (s *Service) file(w http.ResponseWriter, r *http.Request, kind, user, account string, fp [sha256.Size]byte, build func(*mailbox) (*message, bool)) {
	key, err := idempotencyKey(r.Header)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	record := func(m *message) {
		s.recordSent(sentEntry{
			UserID: user, AccountID: account, ID: m.ID, ThreadID: m.ThreadID, Kind: kind,
			Subject: m.Subject, Body: m.body, To: m.to, IdempotencyKey: key, At: m.Date,
		})
	}
	resp, outcome := s.mailbox(user, account).fileOnce(key, fp, build, record)
	switch outcome {
	case keyReused:
		writeError(w, http.StatusConflict, codeConflict, "Idempotency-Key was used for another request")
	case originalMissing:
		writeError(w, http.StatusNotFound, codeNotFound, errNoMessage)
	case replayed:
		w.Header().Set(headerReplayed, "true")
		fallthrough
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

// fileOnce files the message build returns, unless key (when not "") was
// used before: then it answers that request's answer when fp is its
// fingerprint, and keyReused when not. It all happens under mb.mu, so two
// requests with one key file one message; build runs with mb.mu held and
// returns false when the message it replies to is missing, and onFiled runs
// with it held once the message is filed (only then).
func (mb *mailbox) fileOnce(key string, fp [sha256.Size]byte, build func(*mailbox) (*message, bool), onFiled func(*message)) (sendResponse, fileOutcome) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if prev, ok := mb.sentByKey[key]; ok && key != "" {
		if prev.fingerprint != fp {
			return sendResponse{}, keyReused
		}
		return prev.resp, replayed
	}
	m, ok := build(mb)
	if !ok {
		return sendResponse{}, originalMissing
	}
	mb.add(m)
	onFiled(m)
	resp := sendResponse{ID: m.ID, ThreadID: m.ThreadID, Sent: true, Subject: m.Subject}
	if key != "" {
		mb.sentByKey[key] = sentRecord{fingerprint: fp, resp: resp}
	}
	return resp, filed
}
