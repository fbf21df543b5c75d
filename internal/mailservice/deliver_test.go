package mailservice

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDeliver(t *testing.T) {
	s := New(Options{})
	size := mailboxSize(t, s, "u-1", "work")
	newest := arrivedAt(t, everything(t, s, "u-1", "work")[0])
	threads := map[string]bool{}
	for _, m := range everything(t, s, "u-1", "work") {
		threads[m.ThreadID] = true
	}
	read := false
	body := map[string]any{"user_id": "u-1", "account_id": "work", "messages": []map[string]any{
		{"from": "Tester <tester@example.org>", "subject": "first", "snippet": "one"},
		{"from": "Tester <tester@example.org>", "subject": "second", "body": "Body  of\nthe second.", "unread": read, "starred": true, "has_attachments": true},
		{"from": "Other <other@example.org>", "subject": "third"},
	}}
	var resp deliverResponse
	rec := postJSON(t, s, "/v1/_deliver", body, &resp, nil)
	if k := keys(t, rec.Body.Bytes()); !slices.Equal(k, []string{"delivered"}) {
		t.Fatalf("keys %v", k)
	}
	if want := []string{messageID(size + 1), messageID(size + 2), messageID(size + 3)}; !slices.Equal(resp.Delivered, want) {
		t.Fatalf("delivered %v, want %v", resp.Delivered, want)
	}

	top := getPage(t, s, "u-1", "work", "INBOX", 0, "&limit=3").Messages
	if got := ids(top); !slices.Equal(got, []string{resp.Delivered[2], resp.Delivered[1], resp.Delivered[0]}) {
		t.Fatalf("inbox top %v, want the delivered, last first", got)
	}
	for i, m := range slices.Backward(top) {
		if want := newest.Add(time.Duration(3-i) * time.Minute); !arrivedAt(t, m).Equal(want) {
			t.Errorf("%s arrived %s, want %s", m.ID, m.Date, want)
		}
		if threads[m.ThreadID] {
			t.Errorf("%s is in an existing thread %s", m.ID, m.ThreadID)
		}
		threads[m.ThreadID] = true
	}
	first, second, third := top[2], top[1], top[0]
	if first.Subject != "first" || first.Snippet != "one" || !first.Unread || first.Starred || first.HasAttachments {
		t.Errorf("first %+v", first)
	}
	if second.Snippet != "Body of the second." || second.Unread || !second.Starred || !second.HasAttachments {
		t.Errorf("second %+v", second)
	}
	if d := getDetail(t, s, "u-1", "work", second.ID, nil); d.Body != "Body  of\nthe second." || d.To != me || len(d.Attachments) == 0 {
		t.Errorf("second's detail %+v", d)
	}
	if d := getDetail(t, s, "u-1", "work", third.ID, nil); !strings.HasSuffix(d.Body, ",\nOther") {
		t.Errorf("third's derived body %q", d.Body)
	}

	// Deliveries into other folders, by any case; other mailboxes unchanged.
	bob := byID(t, s, "bob", "work")
	deliverN(t, s, "u-1", "work", "Spam", 2)
	deliverN(t, s, "u-1", "personal", "", 1)
	if got := getPage(t, s, "u-1", "work", "spam", 0, "&limit=2").Messages; got[0].Subject != "delivered 2" || got[1].Subject != "delivered 1" {
		t.Errorf("spam top %v", got)
	}
	if got := getPage(t, s, "u-1", "personal", "INBOX", 0, "&limit=1").Messages[0]; got.Subject != "delivered 1" {
		t.Errorf("personal inbox top %+v", got)
	}
	if after := byID(t, s, "bob", "work"); !maps.EqualFunc(bob, after, sameMessage) {
		t.Error("a delivery for u-1 changed bob's mailbox")
	}
}

func TestDeliverValidation(t *testing.T) {
	with := func(change func(map[string]any)) string {
		b := deliverBody("u-1", "work", "", 1)
		change(b)
		return mustJSON(t, b)
	}
	message := func(change func(map[string]any)) string {
		return with(func(b map[string]any) { change(b["messages"].([]map[string]any)[0]) })
	}
	tests := []struct{ name, body, secret string }{
		{"no messages", with(func(b map[string]any) { delete(b, "messages") }), ""},
		{"empty messages", with(func(b map[string]any) { b["messages"] = []any{} }), ""},
		{"too many messages", mustJSON(t, deliverBody("u-1", "work", "", maxDeliver+1)), ""},
		{"into starred", with(func(b map[string]any) { b["folder"] = "Starred" }), ""},
		{"into All Mail", with(func(b map[string]any) { b["folder"] = "[gmail]/all mail" }), "[gmail]/all mail"},
		{"blank folder", with(func(b map[string]any) { b["folder"] = "   " }), ""},
		{"folder too long", with(func(b map[string]any) { b["folder"] = strings.Repeat("zq", maxFolderBytes) }), "zqzq"},
		{"no from", message(func(m map[string]any) { delete(m, "from") }), ""},
		{"subject too long", message(func(m map[string]any) { m["subject"] = strings.Repeat("zq", maxTextBytes) }), "zqzq"},
		{"unread not a bool", message(func(m map[string]any) { m["unread"] = "yes" }), ""},
		{"no user", with(func(b map[string]any) { delete(b, "user_id") }), ""},
		{"no account", with(func(b map[string]any) { delete(b, "account_id") }), ""},
		{"bad JSON", `{"user_id":`, ""},
	}
	s := New(Options{})
	before := mailboxSize(t, s, "u-1", "work")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, s, http.MethodPost, "/v1/_deliver", tt.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %.300s", status, body)
			}
			assertError(t, status, body, codeValidation)
			assertNoEcho(t, body, tt.secret)
		})
	}
	if after := mailboxSize(t, s, "u-1", "work"); after != before {
		t.Errorf("rejected deliveries added %d messages", after-before)
	}
	// The largest delivery passes, into a folder of the longest name.
	deliverN(t, s, "u-1", "work", strings.Repeat("f", maxFolderBytes), maxDeliver)
	if got := mailboxSize(t, s, "u-1", "work"); got != before+maxDeliver {
		t.Errorf("mailbox holds %d, want %d", got, before+maxDeliver)
	}
}
