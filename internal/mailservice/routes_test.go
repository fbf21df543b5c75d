package mailservice

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, path string
		wantOK        bool
		wantID        string
	}{
		{"/v1/inbox", "/v1/inbox", true, ""},
		{"/v1/inbox", "/v1/inbox/", false, ""},
		{"/v1/inbox", "/v1/Inbox", false, ""},
		{"/v1/messages/{id}", "/v1/messages/m-0001", true, "m-0001"},
		{"/v1/messages/{id}", "/v1/messages/", false, ""},
		{"/v1/messages/{id}", "/v1/messages", false, ""},
		{"/v1/messages/{id}", "/v1/messages/m-0001/", false, ""},
		{"/v1/messages/{id}/reply", "/v1/messages/m-0001/reply", true, "m-0001"},
		{"/v1/messages/{id}/reply", "/v1/messages//reply", false, ""},
		{"/v1/messages/{id}/reply", "/v1/messages/m-0001/forward", false, ""},
	}
	for _, tt := range tests {
		values, ok := matchPattern(tt.pattern, tt.path)
		if ok != tt.wantOK || values["id"] != tt.wantID {
			t.Errorf("matchPattern(%q, %q) = %v, %v; want id %q, %v", tt.pattern, tt.path, values, ok, tt.wantID, tt.wantOK)
		}
	}
}

func TestRoutingErrors(t *testing.T) {
	tests := []struct {
		name, method, target string
		wantStatus           int
		wantCode, wantAllow  string
	}{
		{"detail by POST", "POST", "/v1/messages/m-0001", 405, codeMethodNotAllowed, "GET"},
		{"reply by GET", "GET", "/v1/messages/m-0001/reply", 405, codeMethodNotAllowed, "POST"},
		{"fixed path before {id}", "GET", "/v1/messages/archive", 405, codeMethodNotAllowed, "POST"},
		{"batch-by-query before {id}", "GET", "/v1/messages/batch-by-query", 405, codeMethodNotAllowed, "POST"},
		{"send by GET", "GET", "/v1/send", 405, codeMethodNotAllowed, "POST"},
		{"deliver by GET", "GET", "/v1/_deliver", 405, codeMethodNotAllowed, "POST"},
		{"faults by POST", "POST", "/v1/_faults", 405, codeMethodNotAllowed, "GET, PUT"},
		{"faults by DELETE", "DELETE", "/v1/_faults", 405, codeMethodNotAllowed, "GET, PUT"},
		{"sent by POST", "POST", "/v1/_sent", 405, codeMethodNotAllowed, "GET"},
		{"faults with a slash", "GET", "/v1/_faults/", 404, codeNotFound, ""},
		{"unknown control path", "GET", "/v1/_nothing", 404, codeNotFound, ""},
		{"accounts by POST", "POST", "/v1/accounts?user_id=u-1", 405, codeMethodNotAllowed, "GET"},
		{"folders by DELETE", "DELETE", "/v1/folders", 405, codeMethodNotAllowed, "GET"},
		{"counts by PUT", "PUT", "/v1/counts", 405, codeMethodNotAllowed, "GET"},
		{"no id", "GET", "/v1/messages/", 404, codeNotFound, ""},
		{"under a message", "GET", "/v1/messages/m-0001/attachments", 404, codeNotFound, ""},
		{"reply with a slash", "POST", "/v1/messages/m-0001/reply/", 404, codeNotFound, ""},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s, tt.method, tt.target, "", nil)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			assertError(t, rec.Code, rec.Body.Bytes(), tt.wantCode)
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow %q, want %q", got, tt.wantAllow)
			}
			if tt.wantStatus == 405 && strings.Contains(tt.target, "m-0001") {
				assertNoEcho(t, rec.Body.Bytes(), "m-0001")
			}
		})
	}
}

func TestRequestsKeyedByPattern(t *testing.T) {
	s := New(Options{})
	for _, id := range []string{"m-0001", "m-0002", "m-9999"} {
		call(t, s, http.MethodGet, idsURL("/v1/messages/"+id, "u-1", "work", nil), "")
		call(t, s, http.MethodPost, "/v1/messages/"+id+"/reply", `{"user_id":"u-1","account_id":"work","body":"ok"}`)
	}
	call(t, s, http.MethodPost, "/v1/messages/m-0001", "") // a wrong method counts too
	call(t, s, http.MethodGet, "/v1/inbox?user_id=u-1&account_id=work", "")
	call(t, s, http.MethodGet, "/v1/no-such-endpoint", "")
	call(t, s, http.MethodGet, "/v1/messages/m-0001/x", "")
	want := map[string]int{
		"/v1/messages/{id}":       4,
		"/v1/messages/{id}/reply": 3,
		"/v1/inbox":               1,
		"/v1/no-such-endpoint":    1,
		"/v1/messages/m-0001/x":   1,
	}
	if got := s.Requests(); !maps.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
}

func TestNewEndpointsShareTheGuards(t *testing.T) {
	targets := []struct {
		method, target, body, key string
		control                   bool // spared the injected faults, not the token
	}{
		{"GET", "/v1/accounts?user_id=u-1", "", "/v1/accounts", false},
		{"GET", idsURL("/v1/folders", "u-1", "work", nil), "", "/v1/folders", false},
		{"GET", idsURL("/v1/counts", "u-1", "work", nil), "", "/v1/counts", false},
		{"GET", idsURL("/v1/messages/m-0001", "u-1", "work", nil), "", "/v1/messages/{id}", false},
		{"POST", "/v1/send", `{"user_id":"u-1","account_id":"work","to":"a@b.example"}`, "/v1/send", false},
		{"POST", "/v1/messages/m-0001/reply", `{"user_id":"u-1","account_id":"work","body":"ok"}`, "/v1/messages/{id}/reply", false},
		{"POST", "/v1/_deliver", mustJSON(t, deliverBody("u-1", "work", "", 1)), "/v1/_deliver", true},
		{"GET", "/v1/_faults", "", "/v1/_faults", true},
		{"GET", "/v1/_sent", "", "/v1/_sent", true},
		{"PUT", "/v1/_faults", `{"fail_rate":1}`, "/v1/_faults", true}, // last: it keeps the failures on, but only for what follows
	}
	tests := []struct {
		name          string
		opts          Options
		wantStatus    int
		wantCode      string
		wantRetryable bool
		spareControl  bool // the control endpoints answer 200
	}{
		{"token", Options{Token: "secret"}, 401, codeUnauthorized, false, false},
		{"injected 500", Options{FailRate: 1, FailStatus: 500}, 500, codeInjected, true, true},
		{"injected 429", Options{FailRate: 1, FailStatus: 429}, 429, codeInjected, true, true},
		{"injected 400", Options{FailRate: 1, FailStatus: 400}, 400, codeInjected, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.opts)
			want := map[string]int{}
			for _, target := range targets {
				rec := do(t, s, target.method, target.target, target.body, nil)
				want[target.key]++
				if target.control && tt.spareControl {
					if rec.Code != http.StatusOK {
						t.Fatalf("%s %s: status %d, want 200; body %s", target.method, target.target, rec.Code, rec.Body)
					}
					continue
				}
				if rec.Code != tt.wantStatus {
					t.Fatalf("%s %s: status %d, want %d", target.method, target.target, rec.Code, tt.wantStatus)
				}
				assertError(t, rec.Code, rec.Body.Bytes(), tt.wantCode)
				if got := strings.Contains(rec.Body.String(), `"retryable":true`); got != tt.wantRetryable {
					t.Errorf("%s: body %s, want retryable %v", target.target, rec.Body, tt.wantRetryable)
				}
			}
			if got := s.Requests(); !maps.Equal(got, want) {
				t.Errorf("requests %v, want %v", got, want)
			}
		})
	}
}

func TestErrorCodesAndRetryable(t *testing.T) {
	// The codes are wire values: clients switch on them.
	codes := map[string]string{
		codeValidation: "VALIDATION", codeNotFound: "NOT_FOUND", codeMethodNotAllowed: "METHOD_NOT_ALLOWED",
		codeInjected: "INJECTED", codeCancelled: "CANCELLED", codeUnauthorized: "UNAUTHORIZED",
		codeConflict: "CONFLICT", codeRateLimited: "RATE_LIMITED",
	}
	for got, want := range codes {
		if got != want {
			t.Errorf("code %q, want %q", got, want)
		}
	}
	tests := []struct {
		status int
		want   bool
	}{
		{400, false}, {401, false}, {404, false}, {405, false}, {409, false}, {428, false},
		{429, true}, {499, false}, {500, true}, {503, true}, {599, true},
	}
	for _, tt := range tests {
		if got := retryable(tt.status); got != tt.want {
			t.Errorf("retryable(%d) = %v, want %v", tt.status, got, tt.want)
		}
	}
}

func TestNewEndpointsConcurrentUse(t *testing.T) {
	s := New(Options{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			user := []string{"alice", "bob"}[w%2]
			cursor := ""
			for i := range 10 {
				id := messageID(1 + w*10 + i)
				call(t, s, http.MethodPost, "/v1/_deliver", mustJSON(t, deliverBody(user, "work", "", 2)))
				call(t, s, http.MethodPost, "/v1/send", mustJSON(t, sendBody(user, "work", "s", "b")))
				do(t, s, http.MethodPost, "/v1/messages/"+id+"/reply", mustJSON(t, replyBody(user, "work", "ok")), withKey(id))
				call(t, s, http.MethodPost, "/v1/messages/batch", moveBody(user, "work", "Later", "", id))
				call(t, s, http.MethodGet, detailURL(user, "work", id, url.Values{"mark_read": {"true"}}), "")
				call(t, s, http.MethodGet, idsURL("/v1/folders", user, "work", nil), "")
				call(t, s, http.MethodGet, idsURL("/v1/counts", user, "work", nil), "")
				call(t, s, http.MethodGet, "/v1/accounts?user_id="+user, "")
				call(t, s, http.MethodGet, "/v1/_sent", "")
				var page inboxResponse
				target := cursorURL(user, "work", "INBOX", cursor, "&limit=5")
				if cursor == "" {
					target = inboxURL(user, "work", "INBOX", 0, "&limit=5")
				}
				// No getJSON: it would end the test from this goroutine.
				if status, body := call(t, s, http.MethodGet, target, ""); status != http.StatusOK || json.Unmarshal(body, &page) != nil {
					t.Errorf("%s: status %d, body %.200s", target, status, body)
					return
				}
				cursor = page.NextCursor
			}
		})
	}
	wg.Wait()
	if got := s.Requests()["/v1/messages/{id}/reply"]; got != 80 {
		t.Errorf("reply requests %d, want 80", got)
	}
	// Every send and reply filed once, each mailbox's in id order: the
	// record is appended where the message is filed.
	sent := getSent(t, s)
	if len(sent) != 160 {
		t.Errorf("sent lists %d, want 160", len(sent))
	}
	last := map[string]string{}
	for _, e := range sent {
		if e.ID <= last[e.UserID] {
			t.Errorf("%s: %s listed after %s", e.UserID, e.ID, last[e.UserID])
		}
		last[e.UserID] = e.ID
	}
}
