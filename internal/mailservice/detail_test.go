package mailservice

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// detailURL is the URL of GET /v1/messages/{id}.
func detailURL(user, account, id string, extra url.Values) string {
	return idsURL("/v1/messages/"+url.PathEscape(id), user, account, extra)
}

// getDetail fetches one message in full and fails the test on anything
// but 200.
func getDetail(t *testing.T, h http.Handler, user, account, id string, extra url.Values) MessageDetail {
	t.Helper()
	var d MessageDetail
	getJSON(t, h, detailURL(user, account, id, extra), &d)
	return d
}

func TestMessageDetailShape(t *testing.T) {
	s := New(Options{})
	inbox := allMessages(t, s, "u-1", "work", "INBOX")
	m := inbox[0]
	var raw json.RawMessage
	body := getJSON(t, s, detailURL("u-1", "work", m.ID, nil), &raw)
	want := []string{"id", "thread_id", "from", "to", "cc", "subject", "date", "body", "body_type", "unread", "starred", "has_attachments", "folder", "labels", "message_id_header", "attachments"}
	if k := keys(t, body); !slices.Equal(k, want) {
		t.Fatalf("keys %v, want %v", k, want)
	}
	if strings.Contains(string(body), `\u003c`) {
		t.Errorf("addresses are escaped: %.200s", body)
	}
	d := getDetail(t, s, "u-1", "work", m.ID, nil)
	if d.ID != m.ID || d.ThreadID != m.ThreadID || d.From != m.From || d.Subject != m.Subject || d.Date != m.Date ||
		d.Unread != m.Unread || d.Starred != m.Starred || d.HasAttachments != m.HasAttachments ||
		d.Folder != "INBOX" || !slices.Equal(d.Labels, []string{"INBOX"}) {
		t.Errorf("detail %+v does not match the listing %+v", d, m)
	}
	if d.To != me || d.Cc != "" || d.BodyType != "text" {
		t.Errorf("to %q, cc %q, body_type %q", d.To, d.Cc, d.BodyType)
	}
	if want := "<" + m.ID + ".work@mail.example.com>"; d.MessageIDHeader != want {
		t.Errorf("message_id_header %q, want %q", d.MessageIDHeader, want)
	}
	if got := getDetail(t, s, "u-1", "Shared Box", "m-0001", nil).MessageIDHeader; got != "<m-0001.shared-box@mail.example.com>" {
		t.Errorf("message_id_header of a sanitised account %q", got)
	}
}

func TestMessageDetailDerived(t *testing.T) {
	s, other := New(Options{}), New(Options{})
	all := everything(t, s, "u-1", "work")
	sentTo := map[string]bool{}
	attachments := 0
	for _, m := range all {
		d := getDetail(t, s, "u-1", "work", m.ID, nil)
		if again := getDetail(t, other, "u-1", "work", m.ID, nil); fmt.Sprint(again) != fmt.Sprint(d) {
			t.Fatalf("%s differs between two services:\n%+v\n%+v", m.ID, d, again)
		}
		mine := m.Labels[0] == "sent" || m.Labels[0] == "drafts"
		switch {
		case mine && (d.To == me || !slices.Contains(senders[:], d.To)):
			t.Errorf("%s of mine is to %q, want one of the senders", m.ID, d.To)
		case !mine && d.To != me:
			t.Errorf("received %s is to %q, want me", m.ID, d.To)
		}
		if mine {
			sentTo[d.To] = true
		}
		// The snippet, two or three sentences, the sign-off with the name.
		paragraphs := strings.Split(d.Body, "\n\n")
		if len(paragraphs) != 3 || paragraphs[0] != m.Snippet || !strings.HasSuffix(d.Body, ",\n"+senderName(m.From)) {
			t.Fatalf("%s body %q", m.ID, d.Body)
		}
		if n := strings.Count(paragraphs[1], ".") + strings.Count(paragraphs[1], "?") + strings.Count(paragraphs[1], "!"); n < 2 || n > 3 {
			t.Errorf("%s body middle %q, want 2 or 3 sentences", m.ID, paragraphs[1])
		}
		if !m.HasAttachments {
			if len(d.Attachments) != 0 || d.Attachments == nil {
				t.Errorf("%s without attachments answered %v", m.ID, d.Attachments)
			}
			continue
		}
		attachments++
		if len(d.Attachments) < 1 || len(d.Attachments) > 2 {
			t.Fatalf("%s has %d attachments, want 1 or 2", m.ID, len(d.Attachments))
		}
		for i, a := range d.Attachments {
			if a.ID != fmt.Sprintf("a%d", i+1) || a.Filename == "" || a.MimeType == "" || a.SizeBytes <= 0 {
				t.Errorf("%s attachment %+v", m.ID, a)
			}
		}
	}
	if len(sentTo) < 3 || attachments == 0 {
		t.Errorf("%d distinct recipients of mine, %d messages with attachments: the derivation varies too little", len(sentTo), attachments)
	}
	// Without mark_read, answering details changes nothing.
	if got := everything(t, s, "u-1", "work"); !slices.EqualFunc(got, all, sameMessage) {
		t.Error("answering details changed the mailbox")
	}
}

func TestMessageDetailMarkRead(t *testing.T) {
	s := New(Options{})
	inbox := allMessages(t, s, "u-1", "work", "INBOX")
	i := slices.IndexFunc(inbox, func(m Message) bool { return m.Unread })
	id := inbox[i].ID
	unread := getUnread(t, s, "u-1").Unread

	tests := []struct {
		name       string
		extra      url.Values
		wantUnread bool
	}{
		{"not asked", nil, true},
		{"mark_read=false", url.Values{"mark_read": {"false"}}, true},
		{"mark_read=0", url.Values{"mark_read": {"0"}}, true},
		{"mark_read=true", url.Values{"mark_read": {"true"}}, false},
		{"read stays read", nil, false},
	}
	for _, tt := range tests {
		if d := getDetail(t, s, "u-1", "work", id, tt.extra); d.Unread != tt.wantUnread {
			t.Errorf("%s: unread %v, want %v", tt.name, d.Unread, tt.wantUnread)
		}
	}
	if got := getUnread(t, s, "u-1").Unread; got != unread-1 {
		t.Errorf("unread %d, want %d", got, unread-1)
	}
	status, body := call(t, s, http.MethodGet, detailURL("u-1", "work", id, url.Values{"mark_read": {"zzqx"}}), "")
	if status != http.StatusBadRequest {
		t.Fatalf("bad mark_read: status %d", status)
	}
	assertError(t, status, body, codeValidation)
	assertNoEcho(t, body, "zzqx")
}

func TestMessageDetailNotFound(t *testing.T) {
	s := New(Options{})
	// After 300 deliveries alice's sent message takes an id past the end
	// of any generated mailbox (at most 501 messages).
	for range 3 {
		deliverN(t, s, "alice", "work", "", 100)
	}
	var sent sendResponse
	postJSON(t, s, "/v1/send", map[string]any{"user_id": "alice", "account_id": "work", "to": "x@y.example", "body": "hi"}, &sent, nil)
	getDetail(t, s, "alice", "work", sent.ID, nil)

	tests := []struct{ name, user, account, id string }{
		{"another user's message", "bob", "work", sent.ID},
		{"another account's message", "alice", "personal", sent.ID},
		{"no such id", "alice", "work", "m-9999"},
		{"not an id", "alice", "work", "zzqx-secret"},
		{"an id with spaces", "alice", "work", "zzqx secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, s, http.MethodGet, detailURL(tt.user, tt.account, tt.id, url.Values{"mark_read": {"true"}}), "")
			if status != http.StatusNotFound {
				t.Fatalf("status %d, want 404; body %s", status, body)
			}
			assertError(t, status, body, codeNotFound)
			assertNoEcho(t, body, tt.id)
		})
	}
}
