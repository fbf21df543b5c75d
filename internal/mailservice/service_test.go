package mailservice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// call sends one request to h in-process and returns the status and body.
func call(t *testing.T, h http.Handler, method, target, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, r))
	return rec.Code, rec.Body.Bytes()
}

// inboxURL is the URL of one inbox page; extra is appended as it is.
func inboxURL(user, account, folder string, page int, extra string) string {
	q := url.Values{"user_id": {user}, "account_id": {account}, "folder": {folder}, "page": {fmt.Sprint(page)}}
	return "/v1/inbox?" + q.Encode() + extra
}

// getPage fetches one inbox page and fails the test on anything but 200.
func getPage(t *testing.T, h http.Handler, user, account, folder string, page int, extra string) inboxResponse {
	t.Helper()
	status, body := call(t, h, http.MethodGet, inboxURL(user, account, folder, page, extra), "")
	if status != http.StatusOK {
		t.Fatalf("inbox %s/%s/%s page %d: status %d, body %s", user, account, folder, page, status, body)
	}
	var resp inboxResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decode inbox page: %v", err)
	}
	return resp
}

// allMessages lists a whole folder, 100 at a time.
func allMessages(t *testing.T, h http.Handler, user, account, folder string) []Message {
	t.Helper()
	var all []Message
	for page := 0; ; page++ {
		resp := getPage(t, h, user, account, folder, page, "&limit=100")
		all = append(all, resp.Messages...)
		if !resp.HasMore {
			if len(all) != resp.Total {
				t.Fatalf("%s: listed %d messages, total %d", folder, len(all), resp.Total)
			}
			return all
		}
	}
}

func getUnread(t *testing.T, h http.Handler, user string) unreadResponse {
	t.Helper()
	status, body := call(t, h, http.MethodGet, "/v1/unread?user_id="+url.QueryEscape(user), "")
	if status != http.StatusOK {
		t.Fatalf("unread %s: status %d, body %s", user, status, body)
	}
	var resp unreadResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decode unread: %v", err)
	}
	return resp
}

// post sends a write and returns the named count of its answer.
func post(t *testing.T, h http.Handler, path, body, field string) int {
	t.Helper()
	status, raw := call(t, h, http.MethodPost, path, body)
	if status != http.StatusOK {
		t.Fatalf("POST %s %s: status %d, body %s", path, body, status, raw)
	}
	var resp map[string]int
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("decode %s answer: %v", path, err)
	}
	if len(resp) != 1 {
		t.Fatalf("POST %s answered %s, want only %q", path, raw, field)
	}
	n, ok := resp[field]
	if !ok {
		t.Fatalf("POST %s answered %s, want %q", path, raw, field)
	}
	return n
}

func archiveBody(user, account string, ids ...string) string {
	b, _ := json.Marshal(messagesRequest{UserID: user, AccountID: account, MessageIDs: ids})
	return string(b)
}

func markBody(user, account string, read bool, ids ...string) string {
	b, _ := json.Marshal(messagesRequest{UserID: user, AccountID: account, MessageIDs: ids, Read: &read})
	return string(b)
}

// keys returns the keys of the JSON object raw, in order.
func keys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("read key: %v", err)
		}
		out = append(out, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("read value: %v", err)
		}
	}
	return out
}

func countUnread(messages []Message) int {
	n := 0
	for _, m := range messages {
		if m.Unread {
			n++
		}
	}
	return n
}

func TestDeterministicMailboxes(t *testing.T) {
	first := func(s *Service, user, account string) string {
		status, body := call(t, s, http.MethodGet, inboxURL(user, account, "INBOX", 0, ""), "")
		if status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		return string(body)
	}
	a, b := New(Options{}), New(Options{})
	if first(a, "u-1", "work") != first(b, "u-1", "work") {
		t.Error("same ids gave different first pages in two services")
	}
	base := first(a, "u-1", "work")
	for _, ids := range [][2]string{{"u-2", "work"}, {"u-1", "personal"}, {"u-1w", "ork"}} {
		if first(a, ids[0], ids[1]) == base {
			t.Errorf("%v has the same first page as [u-1 work]", ids)
		}
	}
}

func TestInboxShape(t *testing.T) {
	s := New(Options{})
	status, body := call(t, s, http.MethodGet, inboxURL("u-1", "work", "INBOX", 0, ""), "")
	if status != http.StatusOK {
		t.Fatalf("status %d, body %s", status, body)
	}
	if got, want := keys(t, body), []string{"messages", "total", "has_more", "next_cursor", "folder"}; !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	var raw struct{ Messages []json.RawMessage }
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"id", "thread_id", "from", "subject", "snippet", "date", "unread", "starred", "has_attachments", "labels"}
	for _, m := range raw.Messages {
		if got := keys(t, m); !slices.Equal(got, wantKeys) {
			t.Fatalf("message keys %v, want %v", got, wantKeys)
		}
	}

	idRE := regexp.MustCompile(`^m-\d{4}$`)
	threadRE := regexp.MustCompile(`^t-\d{4}$`)
	fromRE := regexp.MustCompile(`^[^<>]+ <[^<>@\s]+@[^<>@\s]+\.[a-z]+>$`)
	all := allMessages(t, s, "u-1", "work", "INBOX")
	seen := map[string]bool{}
	var last time.Time
	for i, m := range all {
		if !idRE.MatchString(m.ID) || seen[m.ID] {
			t.Errorf("bad or duplicate id %q", m.ID)
		}
		seen[m.ID] = true
		if !threadRE.MatchString(m.ThreadID) || !fromRE.MatchString(m.From) || m.Subject == "" || m.Snippet == "" {
			t.Errorf("bad message %+v", m)
		}
		if strings.Contains(m.Subject+m.Snippet, "{") {
			t.Errorf("unfilled placeholder in %+v", m)
		}
		if !slices.Equal(m.Labels, []string{"INBOX"}) {
			t.Errorf("labels %v, want [INBOX]", m.Labels)
		}
		at, err := time.Parse(time.RFC3339, m.Date)
		if err != nil || !strings.HasSuffix(m.Date, "Z") || at.After(baseTime()) {
			t.Errorf("bad date %q", m.Date)
		}
		if i > 0 && !at.Before(last) {
			t.Errorf("message %d (%s) is not older than the one before (%s)", i, m.Date, last)
		}
		last = at
	}
	unread := float64(countUnread(all)) / float64(len(all))
	if unread < 0.15 || unread > 0.5 {
		t.Errorf("unread share %.2f, want about 0.3", unread)
	}
}

func TestMessageJSONKeepsAngleBrackets(t *testing.T) {
	_, body := call(t, New(Options{}), http.MethodGet, inboxURL("u-1", "work", "INBOX", 0, ""), "")
	if !bytes.Contains(body, []byte(`"from":"`)) || !bytes.Contains(body, []byte(`>"`)) || bytes.Contains(body, []byte(`\u003c`)) {
		t.Errorf("senders are not literal <...>: %.300s", body)
	}
}

func TestFolderSizes(t *testing.T) {
	tests := []struct {
		folder   string
		min, max int
	}{
		{"INBOX", 110, 150},
		{"inbox", 110, 150},
		{"archive", 180, 220},
		{"sent", 70, 90},
		{"drafts", 3, 7},
		{"spam", 10, 20},
		{"trash", 6, 14},
		{"no-such-folder", 0, 0},
	}
	s := New(Options{})
	for _, user := range []string{"alice", "bob", "carol"} {
		for _, tt := range tests {
			resp := getPage(t, s, user, "work", tt.folder, 0, "")
			if resp.Total < tt.min || resp.Total > tt.max {
				t.Errorf("%s %s: total %d, want %d..%d", user, tt.folder, resp.Total, tt.min, tt.max)
			}
		}
		var starred []string
		for _, m := range allMessages(t, s, user, "work", "INBOX") {
			if m.Starred {
				starred = append(starred, m.ID)
			}
		}
		var listed []string
		for _, m := range allMessages(t, s, user, "work", "starred") {
			listed = append(listed, m.ID)
		}
		if len(starred) == 0 || !slices.Equal(listed, starred) {
			t.Errorf("%s: starred folder %v, want the starred inbox messages %v", user, listed, starred)
		}
	}
}

func TestPagination(t *testing.T) {
	s := New(Options{PageSize: 40})
	total := getPage(t, s, "u-1", "work", "INBOX", 0, "").Total
	all := allMessages(t, s, "u-1", "work", "INBOX")

	tests := []struct {
		name      string
		page      int
		extra     string
		wantStart int
		wantLen   int
	}{
		{"first page, default size", 0, "", 0, 40},
		{"second page", 1, "", 40, 40},
		{"limit", 2, "&limit=7", 14, 7},
		{"last page", 1, "&limit=100", 100, total - 100},
		{"exact end", 1, fmt.Sprintf("&limit=%d", total/2+total%2), total/2 + total%2, total / 2},
		{"past the end", 9, "&limit=100", 0, 0},
		{"far past the end", 1 << 60, "&limit=100", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := getPage(t, s, "u-1", "work", "INBOX", tt.page, tt.extra)
			if resp.Total != total || len(resp.Messages) != tt.wantLen {
				t.Fatalf("total %d, %d messages; want %d, %d", resp.Total, len(resp.Messages), total, tt.wantLen)
			}
			if resp.Messages == nil {
				t.Error("messages is null, want []")
			}
			for i, m := range resp.Messages {
				if m.ID != all[tt.wantStart+i].ID {
					t.Fatalf("message %d is %s, want %s", i, m.ID, all[tt.wantStart+i].ID)
				}
			}
			wantMore := tt.wantLen > 0 && tt.wantStart+tt.wantLen < total
			if resp.HasMore != wantMore {
				t.Errorf("has_more %v, want %v", resp.HasMore, wantMore)
			}
		})
	}
	if got := len(getPage(t, New(Options{}), "u-1", "work", "INBOX", 0, "").Messages); got != 25 {
		t.Errorf("default page size %d, want 25", got)
	}
}

func TestUnread(t *testing.T) {
	s := New(Options{})
	status, body := call(t, s, http.MethodGet, "/v1/unread?user_id=u-1", "")
	if status != http.StatusOK {
		t.Fatalf("status %d, body %s", status, body)
	}
	if got, want := keys(t, body), []string{"unread", "accounts"}; !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	resp := getUnread(t, s, "u-1")
	want := countUnread(allMessages(t, s, "u-1", "personal", "INBOX")) + countUnread(allMessages(t, s, "u-1", "work", "INBOX"))
	if resp.Unread != want || !slices.Equal(resp.Accounts, []string{"personal", "work"}) {
		t.Fatalf("unread %d %v, want %d [personal work]", resp.Unread, resp.Accounts, want)
	}

	// An account used once counts from then on, and the list stays sorted.
	extra := countUnread(allMessages(t, s, "u-1", "alpha", "INBOX"))
	resp = getUnread(t, s, "u-1")
	if resp.Unread != want+extra || !slices.Equal(resp.Accounts, []string{"alpha", "personal", "work"}) {
		t.Fatalf("unread %d %v, want %d [alpha personal work]", resp.Unread, resp.Accounts, want+extra)
	}

	// An account whose inbox has nothing unread is not listed.
	var ids []string
	for _, m := range allMessages(t, s, "u-1", "alpha", "INBOX") {
		ids = append(ids, m.ID)
	}
	post(t, s, "/v1/messages/mark_read", markBody("u-1", "alpha", true, ids...), "updated")
	resp = getUnread(t, s, "u-1")
	if resp.Unread != want || !slices.Equal(resp.Accounts, []string{"personal", "work"}) {
		t.Fatalf("unread %d %v, want %d [personal work]", resp.Unread, resp.Accounts, want)
	}
}

func TestArchive(t *testing.T) {
	s := New(Options{})
	inbox := allMessages(t, s, "u-1", "work", "INBOX")
	archived := getPage(t, s, "u-1", "work", "archive", 0, "").Total
	unread := getUnread(t, s, "u-1").Unread
	picked := []Message{inbox[0], inbox[3], inbox[len(inbox)-1]}
	ids := []string{picked[0].ID, picked[1].ID, picked[2].ID}

	if n := post(t, s, "/v1/messages/archive", archiveBody("u-1", "work", append(ids, "m-9999")...), "archived"); n != 3 {
		t.Fatalf("archived %d, want 3", n)
	}
	after := allMessages(t, s, "u-1", "work", "INBOX")
	if len(after) != len(inbox)-3 {
		t.Errorf("inbox total %d, want %d", len(after), len(inbox)-3)
	}
	for _, m := range after {
		if slices.Contains(ids, m.ID) {
			t.Errorf("%s is still in the inbox", m.ID)
		}
	}
	if got, want := getUnread(t, s, "u-1").Unread, unread-countUnread(picked); got != want {
		t.Errorf("unread %d, want %d", got, want)
	}
	archive := allMessages(t, s, "u-1", "work", "archive")
	if len(archive) != archived+3 {
		t.Errorf("archive total %d, want %d", len(archive), archived+3)
	}
	for _, m := range archive {
		if slices.Contains(ids, m.ID) && !slices.Equal(m.Labels, []string{"archive"}) {
			t.Errorf("archived %s has labels %v", m.ID, m.Labels)
		}
	}
	for i := 1; i < len(archive); i++ {
		if archive[i].Date > archive[i-1].Date {
			t.Fatalf("archive is not newest first at %d", i)
		}
	}

	if n := post(t, s, "/v1/messages/archive", archiveBody("u-1", "work", ids...), "archived"); n != 0 {
		t.Errorf("archiving again: archived %d, want 0", n)
	}
}

func TestMarkRead(t *testing.T) {
	s := New(Options{})
	inbox := allMessages(t, s, "u-1", "work", "INBOX")
	i := slices.IndexFunc(inbox, func(m Message) bool { return m.Unread })
	id := inbox[i].ID
	unread := getUnread(t, s, "u-1").Unread

	tests := []struct {
		name       string
		body       string
		wantUpdate int
		wantUnread int
	}{
		{"read", markBody("u-1", "work", true, id), 1, unread - 1},
		{"read again", markBody("u-1", "work", true, id), 1, unread - 1},
		{"unread", markBody("u-1", "work", false, id, id), 1, unread},
		{"read by default", `{"user_id":"u-1","account_id":"work","message_ids":["` + id + `"]}`, 1, unread - 1},
		{"unknown id", markBody("u-1", "work", false, "m-9999"), 0, unread - 1},
		{"no ids", `{"user_id":"u-1","account_id":"work"}`, 0, unread - 1},
	}
	for _, tt := range tests {
		if n := post(t, s, "/v1/messages/mark_read", tt.body, "updated"); n != tt.wantUpdate {
			t.Errorf("%s: updated %d, want %d", tt.name, n, tt.wantUpdate)
		}
		if got := getUnread(t, s, "u-1").Unread; got != tt.wantUnread {
			t.Errorf("%s: unread %d, want %d", tt.name, got, tt.wantUnread)
		}
	}
	if got := allMessages(t, s, "u-1", "work", "INBOX")[i]; got.Unread {
		t.Errorf("%s is still unread in the listing", id)
	}
}

func TestUsersAreIsolated(t *testing.T) {
	s := New(Options{})
	before := allMessages(t, s, "bob", "work", "INBOX")
	unreadBefore := getUnread(t, s, "bob")
	var ids []string
	for _, m := range allMessages(t, s, "alice", "work", "INBOX")[:10] {
		ids = append(ids, m.ID) // the same ids exist in bob's mailbox
	}
	post(t, s, "/v1/messages/archive", archiveBody("alice", "work", ids[:5]...), "archived")
	post(t, s, "/v1/messages/mark_read", markBody("alice", "work", true, ids[5:]...), "updated")
	post(t, s, "/v1/messages/mark_read", markBody("alice", "shared", true, ids...), "updated")

	if after := allMessages(t, s, "bob", "work", "INBOX"); !slices.EqualFunc(before, after, func(a, b Message) bool {
		return a.ID == b.ID && a.Unread == b.Unread
	}) {
		t.Error("writes for alice changed bob's inbox")
	}
	if after := getUnread(t, s, "bob"); after.Unread != unreadBefore.Unread || !slices.Equal(after.Accounts, unreadBefore.Accounts) {
		t.Errorf("bob's unread went from %+v to %+v", unreadBefore, after)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, method, target, body string
		wantStatus                 int
		wantCode                   string
	}{
		{"inbox without user", "GET", "/v1/inbox?account_id=work", "", 400, codeValidation},
		{"inbox without account", "GET", "/v1/inbox?user_id=u-1", "", 400, codeValidation},
		{"negative page", "GET", "/v1/inbox?user_id=u-1&account_id=work&page=-1", "", 400, codeValidation},
		{"page not a number", "GET", "/v1/inbox?user_id=u-1&account_id=work&page=two", "", 400, codeValidation},
		{"limit zero", "GET", "/v1/inbox?user_id=u-1&account_id=work&limit=0", "", 400, codeValidation},
		{"limit too big", "GET", "/v1/inbox?user_id=u-1&account_id=work&limit=101", "", 400, codeValidation},
		{"user id too long", "GET", "/v1/inbox?account_id=work&user_id=" + strings.Repeat("u", 300), "", 400, codeValidation},
		{"unread without user", "GET", "/v1/unread", "", 400, codeValidation},
		{"archive bad JSON", "POST", "/v1/messages/archive", `{"user_id":`, 400, codeValidation},
		{"archive trailing data", "POST", "/v1/messages/archive", `{"user_id":"u","account_id":"a"} {}`, 400, codeValidation},
		{"archive wrong type", "POST", "/v1/messages/archive", `{"user_id":"u","account_id":"a","message_ids":"m-0001"}`, 400, codeValidation},
		{"archive without account", "POST", "/v1/messages/archive", `{"user_id":"u","message_ids":[]}`, 400, codeValidation},
		{"mark_read empty body", "POST", "/v1/messages/mark_read", "", 400, codeValidation},
		{"mark_read without user", "POST", "/v1/messages/mark_read", `{"account_id":"a","message_ids":[]}`, 400, codeValidation},
		{"unknown path", "GET", "/v1/outbox", "", 404, codeNotFound},
		{"root", "GET", "/", "", 404, codeNotFound},
		{"inbox by POST", "POST", "/v1/inbox?user_id=u-1&account_id=work", "", 405, codeMethodNotAllowed},
		{"archive by GET", "GET", "/v1/messages/archive", "", 405, codeMethodNotAllowed},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, s, tt.method, tt.target, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", status, tt.wantStatus, body)
			}
			assertError(t, status, body, tt.wantCode)
		})
	}
}

// assertError checks that body is exactly the error shape with code, and
// retryable exactly when status is 429 or 5xx.
func assertError(t *testing.T, status int, body []byte, code string) {
	t.Helper()
	if got := keys(t, body); !slices.Equal(got, []string{"error"}) {
		t.Fatalf("keys %v, want [error]; body %s", got, body)
	}
	var resp struct{ Error json.RawMessage }
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, resp.Error); !slices.Equal(got, []string{"code", "message", "retryable"}) {
		t.Fatalf("error keys %v, want [code message retryable]", got)
	}
	var e errorBody
	if err := json.Unmarshal(resp.Error, &e); err != nil {
		t.Fatal(err)
	}
	if e.Code != code || e.Message == "" {
		t.Errorf("error %+v, want code %s and a message", e, code)
	}
	if want := status == http.StatusTooManyRequests || status >= 500; e.Retryable != want {
		t.Errorf("status %d: retryable %v, want %v", status, e.Retryable, want)
	}
}

func TestFaultInjection(t *testing.T) {
	targets := []struct{ method, target, body string }{
		{"GET", "/v1/inbox?user_id=u-1&account_id=work", ""},
		{"GET", "/v1/unread?user_id=u-1", ""},
		{"POST", "/v1/messages/archive", archiveBody("u-1", "work", "m-0001")},
		{"POST", "/v1/messages/mark_read", markBody("u-1", "work", true, "m-0001")},
	}
	tests := []struct {
		name       string
		opts       Options
		wantStatus int
	}{
		{"never", Options{FailRate: 0, FailStatus: 500}, 200},
		{"always, default status", Options{FailRate: 1}, 503},
		{"always, given status", Options{FailRate: 1, FailStatus: 429}, 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.opts)
			srv := httptest.NewServer(s)
			defer srv.Close()
			for range 3 {
				for _, target := range targets {
					req, err := http.NewRequest(target.method, srv.URL+target.target, strings.NewReader(target.body))
					if err != nil {
						t.Fatal(err)
					}
					resp, err := srv.Client().Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						t.Fatal(err)
					}
					if resp.StatusCode != tt.wantStatus {
						t.Fatalf("%s %s: status %d, want %d", target.method, target.target, resp.StatusCode, tt.wantStatus)
					}
					if tt.wantStatus != 200 {
						assertError(t, resp.StatusCode, body, codeInjected)
					}
				}
			}
			want := map[string]int{"/v1/inbox": 3, "/v1/unread": 3, "/v1/messages/archive": 3, "/v1/messages/mark_read": 3}
			if got := s.Requests(); !maps.Equal(got, want) {
				t.Errorf("requests %v, want %v", got, want)
			}
		})
	}
}

func TestLatencyEndsWithTheRequest(t *testing.T) {
	s := New(Options{Latency: time.Minute, FailRate: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/unread?user_id=u-1", nil)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a guard only: the request should end at once
		t.Fatal("ServeHTTP waited out the latency of a cancelled request")
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	assertError(t, rec.Code, rec.Body.Bytes(), codeCancelled)
	if got := s.Requests()["/v1/unread"]; got != 1 {
		t.Errorf("requests %d, want 1", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := New(Options{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			user := []string{"alice", "bob"}[w%2]
			for i := range 10 {
				id := fmt.Sprintf("m-%04d", 1+w*10+i)
				call(t, s, http.MethodPost, "/v1/messages/archive", archiveBody(user, "work", id))
				call(t, s, http.MethodPost, "/v1/messages/mark_read", markBody(user, "work", i%2 == 0, id))
				call(t, s, http.MethodGet, inboxURL(user, "work", "INBOX", 0, ""), "")
				call(t, s, http.MethodGet, "/v1/unread?user_id="+user, "")
				_ = s.Requests()
			}
		})
	}
	wg.Wait()
	if got := s.Requests()["/v1/inbox"]; got != 80 {
		t.Errorf("inbox requests %d, want 80", got)
	}
}
