package mailservice

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// withKey is a header with Idempotency-Key key.
func withKey(key string) http.Header { return http.Header{"Idempotency-Key": {key}} }

// sendBody is a valid send body.
func sendBody(user, account, subject, body string) map[string]any {
	return map[string]any{"user_id": user, "account_id": account, "to": "Ada <ada@analytical.example>, grace@navy.example", "cc": "ken@unix.example", "bcc": "", "subject": subject, "body": body, "is_html": false}
}

// replyBody is a valid reply body.
func replyBody(user, account, body string) map[string]any {
	return map[string]any{"user_id": user, "account_id": account, "body": body}
}

func TestSend(t *testing.T) {
	s := New(Options{})
	size := mailboxSize(t, s, "u-1", "work")
	sentBefore := allMessages(t, s, "u-1", "work", "sent")
	threads := map[string]bool{}
	for _, m := range everything(t, s, "u-1", "work") {
		threads[m.ThreadID] = true
	}

	var resp sendResponse
	rec := postJSON(t, s, "/v1/send", sendBody("u-1", "work", "Quarterly plan", "Hi all,\n\n  here is   the plan for Q1. "+strings.Repeat("More words. ", 20)), &resp, nil)
	if k := keys(t, rec.Body.Bytes()); !slices.Equal(k, []string{"id", "thread_id", "sent", "subject"}) {
		t.Fatalf("keys %v", k)
	}
	if resp.ID != messageID(size+1) || threads[resp.ThreadID] || !resp.Sent || resp.Subject != "Quarterly plan" {
		t.Fatalf("answer %+v, want id %s, a new thread, sent", resp, messageID(size+1))
	}
	if rec.Header().Get(headerReplayed) != "" {
		t.Errorf("a first send says %s", headerReplayed)
	}

	// Filed at the top of sent, read, mine, newer than everything.
	sent := allMessages(t, s, "u-1", "work", "sent")
	if len(sent) != len(sentBefore)+1 || sent[0].ID != resp.ID {
		t.Fatalf("sent holds %d, top %s; want %d, top %s", len(sent), sent[0].ID, len(sentBefore)+1, resp.ID)
	}
	m := sent[0]
	if m.From != me || m.Unread || m.Subject != "Quarterly plan" || !strings.HasPrefix(m.Snippet, "Hi all, here is the plan for Q1. More words.") || len(m.Snippet) > snippetRunes {
		t.Errorf("filed %+v", m)
	}
	if all := everything(t, s, "u-1", "work"); all[0].ID != resp.ID || all[1].Date >= m.Date {
		t.Errorf("the sent message is not the newest: %s at %s, then %s", all[0].ID, all[0].Date, all[1].Date)
	}
	d := getDetail(t, s, "u-1", "work", resp.ID, nil)
	if d.To != "Ada <ada@analytical.example>, grace@navy.example" || d.Cc != "ken@unix.example" || !strings.HasPrefix(d.Body, "Hi all,\n\n  here") || d.BodyType != "text" || d.ThreadID != resp.ThreadID {
		t.Errorf("detail %+v", d)
	}

	// HTML: the snippet drops the tags, the detail says html.
	html := sendBody("u-1", "work", "", "<p>Hello <b>there</b></p><p>Bye</p>")
	html["is_html"] = true
	var second sendResponse
	postJSON(t, s, "/v1/send", html, &second, nil)
	if second.ID != messageID(size+2) {
		t.Errorf("second id %s, want %s", second.ID, messageID(size+2))
	}
	if d := getDetail(t, s, "u-1", "work", second.ID, nil); d.BodyType != "html" || d.Body != "<p>Hello <b>there</b></p><p>Bye</p>" || d.Subject != "" {
		t.Errorf("html detail %+v", d)
	}
	if got := allMessages(t, s, "u-1", "work", "sent")[0].Snippet; got != "Hello there Bye" {
		t.Errorf("html snippet %q", got)
	}

	// A purged id is not handed out again.
	postBatch(t, s, "/v1/messages/batch", batchBody("u-1", "work", opPurge, "sent", second.ID))
	var third sendResponse
	postJSON(t, s, "/v1/send", sendBody("u-1", "work", "again", "x"), &third, nil)
	if third.ID != messageID(size+3) {
		t.Errorf("after a purge: id %s, want %s", third.ID, messageID(size+3))
	}
}

func TestSendValidation(t *testing.T) {
	with := func(field string, value any) string {
		b := sendBody("u-1", "work", "s", "b")
		b[field] = value
		return mustJSON(t, b)
	}
	big := strings.Repeat("x", maxTextBytes+1)
	tests := []struct {
		name, body string
		header     http.Header
		secret     string
	}{
		{"no to", with("to", ""), nil, ""},
		{"blank to", with("to", "  "), nil, ""},
		{"to without @", with("to", "zzqx-nobody"), nil, "zzqx-nobody"},
		{"second address without @", with("to", "a@b.example, zzqx-nobody"), nil, "zzqx-nobody"},
		{"trailing comma", with("to", "a@b.example,"), nil, ""},
		{"cc without @", with("cc", "zzqx-cc"), nil, "zzqx-cc"},
		{"bcc without @", with("bcc", "zzqx-bcc"), nil, "zzqx-bcc"},
		{"subject not a string", with("subject", 42), nil, ""},
		{"body not a string", with("body", []string{"a"}), nil, ""},
		{"subject too long", with("subject", big), nil, "xxxxxxxx"},
		{"body too long", with("body", big), nil, "xxxxxxxx"},
		{"is_html not a bool", with("is_html", "yes"), nil, ""},
		{"no user", with("user_id", ""), nil, ""},
		{"no account", with("account_id", ""), nil, ""},
		{"bad JSON", `{"user_id":`, nil, ""},
		{"empty key", with("subject", "s"), withKey(""), ""},
		{"key too long", with("subject", "s"), withKey(strings.Repeat("k", maxIdempotencyKeyBytes+1)), "kkkkkkkk"},
		{"two keys", with("subject", "s"), http.Header{"Idempotency-Key": {"a", "b"}}, ""},
	}
	s := New(Options{})
	before := len(allMessages(t, s, "u-1", "work", "sent"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s, http.MethodPost, "/v1/send", tt.body, tt.header)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %.300s", rec.Code, rec.Body)
			}
			assertError(t, rec.Code, rec.Body.Bytes(), codeValidation)
			assertNoEcho(t, rec.Body.Bytes(), tt.secret)
		})
	}
	if after := len(allMessages(t, s, "u-1", "work", "sent")); after != before {
		t.Errorf("rejected sends filed %d messages", after-before)
	}
	// The longest texts and key pass.
	ok := sendBody("u-1", "work", strings.Repeat("s", maxTextBytes), strings.Repeat("b", maxTextBytes))
	var resp sendResponse
	postJSON(t, s, "/v1/send", ok, &resp, withKey(strings.Repeat("k", maxIdempotencyKeyBytes)))
}

func TestSendIdempotency(t *testing.T) {
	s := New(Options{})
	sentCount := func(user, account string) int { return getPage(t, s, user, account, "sent", 0, "").Total }
	before := sentCount("u-1", "work")
	body := sendBody("u-1", "work", "once", "only once")

	first := postJSON(t, s, "/v1/send", body, new(sendResponse), withKey("key-1"))
	// Another formatting of the same body is the same request.
	reformatted, _ := json.MarshalIndent(body, "", "  ")
	second := do(t, s, http.MethodPost, "/v1/send", string(reformatted), withKey("key-1"))
	if second.Code != http.StatusOK || second.Body.String() != first.Body.String() || second.Header().Get(headerReplayed) != "true" {
		t.Fatalf("replay: status %d, body %s, %s %q; want the first answer %s", second.Code, second.Body, headerReplayed, second.Header().Get(headerReplayed), first.Body)
	}
	if got := sentCount("u-1", "work"); got != before+1 {
		t.Fatalf("sent holds %d after a replay, want %d", got, before+1)
	}

	tests := []struct {
		name       string
		path       string
		body       map[string]any
		wantStatus int
	}{
		{"same key, another body", "/v1/send", sendBody("u-1", "work", "once", "changed"), http.StatusConflict},
		{"same key, html", "/v1/send", func() map[string]any {
			b := sendBody("u-1", "work", "once", "only once")
			b["is_html"] = true
			return b
		}(), http.StatusConflict},
		{"same key, a reply", "/v1/messages/m-0001/reply", replyBody("u-1", "work", "only once"), http.StatusConflict},
	}
	for _, tt := range tests {
		rec := do(t, s, http.MethodPost, tt.path, mustJSON(t, tt.body), withKey("key-1"))
		if rec.Code != tt.wantStatus {
			t.Fatalf("%s: status %d, want %d; body %s", tt.name, rec.Code, tt.wantStatus, rec.Body)
		}
		assertError(t, rec.Code, rec.Body.Bytes(), codeConflict)
		assertNoEcho(t, rec.Body.Bytes(), "key-1")
	}

	// Keys are scoped to the user and account; without a key every
	// request sends.
	postJSON(t, s, "/v1/send", sendBody("u-1", "personal", "once", "only once"), new(sendResponse), withKey("key-1"))
	postJSON(t, s, "/v1/send", sendBody("u-2", "work", "once", "only once"), new(sendResponse), withKey("key-1"))
	postJSON(t, s, "/v1/send", body, new(sendResponse), nil)
	postJSON(t, s, "/v1/send", body, new(sendResponse), nil)
	if got := sentCount("u-1", "work"); got != before+3 {
		t.Errorf("sent holds %d, want %d", got, before+3)
	}
	for _, mb := range [][2]string{{"u-1", "personal"}, {"u-2", "work"}} {
		if top := allMessages(t, s, mb[0], mb[1], "sent")[0]; top.Subject != "once" {
			t.Errorf("%v: the keyed send was not filed: top %+v", mb, top)
		}
	}
}

func TestSendIdempotencyConcurrent(t *testing.T) {
	s := New(Options{})
	before := getPage(t, s, "u-1", "work", "sent", 0, "").Total
	body := mustJSON(t, sendBody("u-1", "work", "racing", "one of us"))
	answers := make([]string, 8)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			rec := do(t, s, http.MethodPost, "/v1/send", body, withKey("race"))
			answers[i] = rec.Body.String()
		})
	}
	wg.Wait()
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Fatalf("answers differ: %s / %s", answers[0], a)
		}
	}
	if got := getPage(t, s, "u-1", "work", "sent", 0, "").Total; got != before+1 {
		t.Errorf("sent holds %d, want %d", got, before+1)
	}
}

func TestReply(t *testing.T) {
	s := New(Options{})
	inbox := allMessages(t, s, "u-1", "work", "INBOX")
	plain := inbox[slices.IndexFunc(inbox, func(m Message) bool { return !strings.HasPrefix(m.Subject, "Re: ") })]
	already := inbox[slices.IndexFunc(inbox, func(m Message) bool { return strings.HasPrefix(m.Subject, "Re: ") })]
	mine := allMessages(t, s, "u-1", "work", "sent")[0]
	mineTo := getDetail(t, s, "u-1", "work", mine.ID, nil).To

	tests := []struct {
		name        string
		original    Message
		to          string
		wantSubject string
		wantTo      string
	}{
		{"plain subject", plain, "", "Re: " + plain.Subject, plain.From},
		{"Re: already", already, "", already.Subject, already.From},
		{"to given", plain, "someone@else.example", "Re: " + plain.Subject, "someone@else.example"},
		{"to my own message", mine, "", replySubject(mine.Subject), mineTo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := replyBody("u-1", "work", "Thanks!")
			body["to"] = tt.to
			var resp sendResponse
			rec := postJSON(t, s, "/v1/messages/"+tt.original.ID+"/reply", body, &resp, nil)
			if k := keys(t, rec.Body.Bytes()); !slices.Equal(k, []string{"id", "thread_id", "sent", "subject"}) {
				t.Fatalf("keys %v", k)
			}
			if resp.ThreadID != tt.original.ThreadID || !resp.Sent || resp.Subject != tt.wantSubject {
				t.Errorf("answer %+v, want thread %s, subject %q", resp, tt.original.ThreadID, tt.wantSubject)
			}
			if top := allMessages(t, s, "u-1", "work", "sent")[0]; top.ID != resp.ID {
				t.Errorf("the reply %s is not the newest of sent (%s)", resp.ID, top.ID)
			}
			d := getDetail(t, s, "u-1", "work", resp.ID, nil)
			if d.Subject != tt.wantSubject || d.To != tt.wantTo || d.From != me || d.Body != "Thanks!" || d.Unread || d.Folder != "sent" {
				t.Errorf("reply %+v, want subject %q to %q", d, tt.wantSubject, tt.wantTo)
			}
		})
	}
}

func TestReplySubject(t *testing.T) {
	tests := []struct{ subject, want string }{
		{"Lunch", "Re: Lunch"},
		{"Re: Lunch", "Re: Lunch"},
		{"RE: Lunch", "RE: Lunch"},
		{"re:Lunch", "re:Lunch"},
		{"Regarding lunch", "Re: Regarding lunch"},
		{"", "Re: "},
		{"Ré: Lunch", "Re: Ré: Lunch"},
	}
	for _, tt := range tests {
		if got := replySubject(tt.subject); got != tt.want {
			t.Errorf("replySubject(%q) = %q, want %q", tt.subject, got, tt.want)
		}
	}
	// Replying to a reply adds nothing.
	s := New(Options{})
	var first, second sendResponse
	postJSON(t, s, "/v1/messages/m-0001/reply", replyBody("u-1", "work", "one"), &first, nil)
	postJSON(t, s, "/v1/messages/"+first.ID+"/reply", replyBody("u-1", "work", "two"), &second, nil)
	if a, b := getDetail(t, s, "u-1", "work", first.ID, nil).Subject, getDetail(t, s, "u-1", "work", second.ID, nil).Subject; a != b || strings.Count(strings.ToLower(a), "re:") != 1 {
		t.Errorf("subjects %q then %q, want one Re:", a, b)
	}
}

func TestReplyIdempotencyAndErrors(t *testing.T) {
	s := New(Options{})
	before := getPage(t, s, "u-1", "work", "sent", 0, "").Total
	first := postJSON(t, s, "/v1/messages/m-0002/reply", replyBody("u-1", "work", "ok"), new(sendResponse), withKey("r-1"))
	again := do(t, s, http.MethodPost, "/v1/messages/m-0002/reply", mustJSON(t, replyBody("u-1", "work", "ok")), withKey("r-1"))
	if again.Code != 200 || again.Body.String() != first.Body.String() || again.Header().Get(headerReplayed) != "true" {
		t.Fatalf("replay: %d %s", again.Code, again.Body)
	}
	if got := getPage(t, s, "u-1", "work", "sent", 0, "").Total; got != before+1 {
		t.Fatalf("sent holds %d, want %d", got, before+1)
	}

	tests := []struct {
		name, path string
		body       any
		wantStatus int
		wantCode   string
		secret     string
	}{
		{"another original, same key", "/v1/messages/m-0003/reply", replyBody("u-1", "work", "ok"), 409, codeConflict, ""},
		{"unknown original", "/v1/messages/zzqx-9/reply", replyBody("u-1", "work", "ok"), 404, codeNotFound, "zzqx-9"},
		{"no body", "/v1/messages/m-0002/reply", replyBody("u-1", "work", ""), 400, codeValidation, ""},
		{"blank body", "/v1/messages/m-0002/reply", replyBody("u-1", "work", " \n "), 400, codeValidation, ""},
		{"to without @", "/v1/messages/m-0002/reply", map[string]any{"user_id": "u-1", "account_id": "work", "body": "ok", "to": "zzqx-nobody"}, 400, codeValidation, "zzqx-nobody"},
		{"no account", "/v1/messages/m-0002/reply", map[string]any{"user_id": "u-1", "body": "ok"}, 400, codeValidation, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := withKey("r-1")
			if tt.wantStatus != 409 {
				header = withKey("r-" + tt.name)
			}
			rec := do(t, s, http.MethodPost, tt.path, mustJSON(t, tt.body), header)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			assertError(t, rec.Code, rec.Body.Bytes(), tt.wantCode)
			assertNoEcho(t, rec.Body.Bytes(), tt.secret)
		})
	}
	// A 404 records nothing under its key: the key works once the
	// request can succeed.
	rec := do(t, s, http.MethodPost, "/v1/messages/m-0004/reply", mustJSON(t, replyBody("u-1", "work", "ok")), withKey("r-unknown original"))
	if rec.Code != 200 || rec.Header().Get(headerReplayed) != "" {
		t.Errorf("the key of a 404: status %d, replayed %q", rec.Code, rec.Header().Get(headerReplayed))
	}
	if got := getPage(t, s, "u-1", "work", "sent", 0, "").Total; got != before+2 {
		t.Errorf("sent holds %d, want %d", got, before+2)
	}
}
