package mailclient_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// fakeMailService serves the mail-service endpoints the extension uses from
// an in-memory mailbox per user and account, and records every request.
type fakeMailService struct {
	*httptest.Server
	mu        sync.Mutex
	mailboxes map[string][]*message // key user/account
	requests  map[string]int        // path → count
	bodies    []string
	requestID []string
	failWith  int // when non-zero, every request answers this status
}

type message struct {
	ID      string `json:"id"`
	From    string `json:"from"`
	Subject string `json:"subject"`
	Snippet string `json:"snippet"`
	Date    string `json:"date"`
	Unread  bool   `json:"unread"`
	Starred bool   `json:"starred"`
	folder  string
}

const mailboxSize = 25

func newFakeMailService(t testing.TB) *fakeMailService {
	f := &fakeMailService{mailboxes: map[string][]*message{}, requests: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeMailService) mailbox(user, account string) []*message {
	key := user + "/" + account
	if _, ok := f.mailboxes[key]; !ok {
		for i := range mailboxSize {
			f.mailboxes[key] = append(f.mailboxes[key], &message{
				ID:      fmt.Sprintf("m-%d", i),
				From:    fmt.Sprintf("Sender %d <sender%d@example.com>", i, i),
				Subject: fmt.Sprintf("Quarterly report, part %d", i),
				Snippet: "Please find attached the figures we discussed on Monday; the summary is on page two.",
				Date:    fmt.Sprintf("2026-11-%02dT09:00:00Z", 1+i%28),
				Unread:  i%3 == 0,
				folder:  "INBOX",
			})
		}
	}
	return f.mailboxes[key]
}

func (f *fakeMailService) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[r.URL.Path]++
	f.requestID = append(f.requestID, r.Header.Get("X-Request-ID"))
	if f.failWith != 0 {
		w.WriteHeader(f.failWith)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query()
	switch r.URL.Path {
	case "/v1/inbox":
		var messages []*message
		for _, m := range f.mailbox(q.Get("user_id"), q.Get("account_id")) {
			if m.folder == q.Get("folder") {
				messages = append(messages, m)
			}
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // so the test can see that the host does not escape what it forwards
		_ = enc.Encode(map[string]any{"messages": messages, "total": len(messages), "has_more": false})
	case "/v1/unread":
		unread := 0
		for _, m := range f.mailbox(q.Get("user_id"), "work") {
			if m.Unread && m.folder == "INBOX" {
				unread++
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"unread": unread, "accounts": []string{"work"}})
	case "/v1/messages/archive", "/v1/messages/mark_read":
		var body struct {
			UserID     string   `json:"user_id"`
			AccountID  string   `json:"account_id"`
			MessageIDs []string `json:"message_ids"`
			Read       *bool    `json:"read"`
		}
		raw, _ := io.ReadAll(r.Body)
		f.bodies = append(f.bodies, string(raw))
		if err := json.Unmarshal(raw, &body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n := 0
		for _, m := range f.mailbox(body.UserID, body.AccountID) {
			if !slices.Contains(body.MessageIDs, m.ID) {
				continue
			}
			n++
			if r.URL.Path == "/v1/messages/archive" {
				m.folder = "archive"
			} else {
				m.Unread = !*body.Read
			}
		}
		if r.URL.Path == "/v1/messages/archive" {
			_ = json.NewEncoder(w).Encode(map[string]int{"archived": n})
		} else {
			_ = json.NewEncoder(w).Encode(map[string]int{"updated": n})
		}
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeMailService) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path]
}

func (f *fakeMailService) fail(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWith = status
}
