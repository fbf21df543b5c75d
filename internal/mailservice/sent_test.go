package mailservice

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

// getSent GETs /v1/_sent, checking its shape, and returns the entries.
func getSent(t *testing.T, h http.Handler) []sentEntry {
	t.Helper()
	var resp sentListResponse
	raw := getJSON(t, h, "/v1/_sent", &resp)
	if k := keys(t, raw); !slices.Equal(k, []string{"sent"}) {
		t.Fatalf("keys %v", k)
	}
	if resp.Sent == nil {
		t.Fatalf("sent is not a list: %s", raw)
	}
	return resp.Sent
}

func TestSentRecord(t *testing.T) {
	s := New(Options{})
	if got := getSent(t, s); len(got) != 0 {
		t.Fatalf("a new service lists %v", got)
	}

	// A send under a key, and its replay.
	sendReq := sendBody("u-1", "work", "Quarterly plan", "Hi all")
	var sent sendResponse
	postJSON(t, s, "/v1/send", sendReq, &sent, withKey("k-send"))
	sentAt := getDetail(t, s, "u-1", "work", sent.ID, nil).Date
	var again sendResponse
	if rec := postJSON(t, s, "/v1/send", sendReq, &again, withKey("k-send")); rec.Header().Get(headerReplayed) != "true" || again != sent {
		t.Fatalf("replay answered %+v, %s %q; want %+v replayed", again, headerReplayed, rec.Header().Get(headerReplayed), sent)
	}

	// A reply of another user, to a delivered message: to its sender.
	original := deliverN(t, s, "bob", "personal", "", 1)[0]
	var reply sendResponse
	postJSON(t, s, "/v1/messages/"+original+"/reply", replyBody("bob", "personal", "Thanks!"), &reply, withKey("k-reply"))
	replyAt := getDetail(t, s, "bob", "personal", reply.ID, nil).Date

	// A send without a key.
	var plain sendResponse
	postJSON(t, s, "/v1/send", sendBody("u-1", "work", "", "no key"), &plain, nil)
	plainAt := getDetail(t, s, "u-1", "work", plain.ID, nil).Date

	// What files nothing lists nothing: a rejected send, a key reused, a
	// reply to no message, the replay once more.
	for _, tt := range []struct {
		path, body string
		header     http.Header
		want       int
	}{
		{"/v1/send", mustJSON(t, sendBody("u-1", "work", "s", "b")) + "x", nil, http.StatusBadRequest},
		{"/v1/send", mustJSON(t, sendBody("u-1", "work", "other", "b")), withKey("k-send"), http.StatusConflict},
		{"/v1/messages/m-9999/reply", mustJSON(t, replyBody("u-1", "work", "b")), nil, http.StatusNotFound},
		{"/v1/send", mustJSON(t, sendReq), withKey("k-send"), http.StatusOK},
	} {
		if rec := do(t, s, http.MethodPost, tt.path, tt.body, tt.header); rec.Code != tt.want {
			t.Fatalf("POST %s: status %d, want %d; body %s", tt.path, rec.Code, tt.want, rec.Body)
		}
	}

	// Moving the messages away and purging them does not change the record.
	if n := post(t, s, "/v1/messages/archive", archiveBody("u-1", "work", sent.ID), "archived"); n != 1 {
		t.Fatalf("archived %d", n)
	}
	for _, body := range []string{
		batchBody("u-1", "work", opPurge, "sent", plain.ID),
		batchBody("bob", "personal", opDelete, "", reply.ID),
		batchBody("bob", "personal", opPurge, "", reply.ID),
	} {
		if resp := postBatch(t, s, "/v1/messages/batch", body); resp.Succeeded != 1 {
			t.Fatalf("batch %s: %+v", body, resp)
		}
	}

	want := []sentEntry{
		{UserID: "u-1", AccountID: "work", ID: sent.ID, ThreadID: sent.ThreadID, Kind: "send", Subject: "Quarterly plan", Body: "Hi all",
			To: "Ada <ada@analytical.example>, grace@navy.example", IdempotencyKey: "k-send", At: sentAt},
		{UserID: "bob", AccountID: "personal", ID: reply.ID, ThreadID: reply.ThreadID, Kind: "reply", Subject: "Re: delivered 1", Body: "Thanks!",
			To: "Tester <tester@example.org>", IdempotencyKey: "k-reply", At: replyAt},
		{UserID: "u-1", AccountID: "work", ID: plain.ID, ThreadID: plain.ThreadID, Kind: "send", Subject: "", Body: "no key",
			To: "Ada <ada@analytical.example>, grace@navy.example", IdempotencyKey: "", At: plainAt},
	}
	got := getSent(t, s)
	if !slices.Equal(got, want) {
		t.Fatalf("sent\n%+v\nwant\n%+v", got, want)
	}
	for _, e := range got {
		if at, err := time.Parse(time.RFC3339, e.At); err != nil || at.Location() != time.UTC {
			t.Errorf("%s: at %q is not RFC 3339 in UTC", e.ID, e.At)
		}
	}
	// The wire names, in order.
	var raw struct{ Sent []json.RawMessage }
	getJSON(t, s, "/v1/_sent", &raw)
	wantKeys := []string{"user_id", "account_id", "id", "thread_id", "kind", "subject", "body", "to", "idempotency_key", "at"}
	if k := keys(t, raw.Sent[0]); !slices.Equal(k, wantKeys) {
		t.Errorf("entry keys %v, want %v", k, wantKeys)
	}
}

func TestSentRecordInFilingOrder(t *testing.T) {
	s := New(Options{})
	size := mailboxSize(t, s, "u-1", "work")
	// Sends and replies of one mailbox, interleaved with another's.
	var filed []string
	for i := range 6 {
		var resp sendResponse
		if i%2 == 0 {
			postJSON(t, s, "/v1/send", sendBody("u-1", "work", "s", "b"), &resp, nil)
		} else {
			postJSON(t, s, "/v1/messages/"+messageID(i)+"/reply", replyBody("u-1", "work", "r"), &resp, nil)
		}
		filed = append(filed, resp.ID)
		postJSON(t, s, "/v1/send", sendBody("u-2", "work", "other", "b"), &resp, nil)
	}
	var mine []string
	for _, e := range getSent(t, s) {
		if e.UserID == "u-1" {
			mine = append(mine, e.ID)
		}
	}
	if !slices.Equal(mine, filed) {
		t.Errorf("u-1's entries %v, want %v", mine, filed)
	}
	if filed[0] != messageID(size+1) {
		t.Errorf("first filed %s, want %s", filed[0], messageID(size+1))
	}
}
