package mailservice

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// moveBody is a batch body moving ids to to, limited to from.
func moveBody(user, account, to, from string, ids ...string) string {
	b, _ := json.Marshal(batchRequest{batchOp: batchOp{UserID: user, AccountID: account, Ops: []string{opMove}, ToFolder: to, FromFolder: from}, IDs: ids})
	return string(b)
}

// moveQueryBody is a batch-by-query body moving the matches of q to to.
func moveQueryBody(user, account, to, q string) string {
	b, _ := json.Marshal(batchQueryRequest{batchOp: batchOp{UserID: user, AccountID: account, Ops: []string{opMove}, ToFolder: to}, Q: q})
	return string(b)
}

func TestBatchMove(t *testing.T) {
	tests := []struct {
		name, to, from string
		ids            func(f fixture) []string
		wantFolder     string
		wantFailed     func(f fixture) []batchFailure
	}{
		{name: "to a custom folder", to: "Work Projects", wantFolder: "Work Projects",
			ids:        func(f fixture) []string { return []string{f.inbox[0].ID, f.archive[0].ID, "nope"} },
			wantFailed: func(fixture) []batchFailure { return []batchFailure{{"nope", failNotFound}} }},
		{name: "to a UTF-8 folder", to: "Входящие/2026", wantFolder: "Входящие/2026",
			ids: func(f fixture) []string { return []string{f.inbox[1].ID} }},
		{name: "to a system folder, any case", to: "TRASH", wantFolder: folderTrash,
			ids: func(f fixture) []string { return []string{f.inbox[2].ID, f.spam[0].ID} }},
		{name: "back to the inbox", to: "inbox", wantFolder: folderInbox,
			ids: func(f fixture) []string { return []string{f.spam[0].ID, f.trash[0].ID} }},
		{name: "limited to a folder", to: "Later", from: "spam", wantFolder: "Later",
			ids:        func(f fixture) []string { return []string{f.spam[0].ID, f.inbox[0].ID} },
			wantFailed: func(f fixture) []batchFailure { return []batchFailure{{f.inbox[0].ID, failNotInFolder}} }},
		{name: "limited to All Mail", to: "Later", from: "[Gmail]/All Mail", wantFolder: "Later",
			ids:        func(f fixture) []string { return []string{f.archive[3].ID, f.trash[0].ID} },
			wantFailed: func(f fixture) []batchFailure { return []batchFailure{{f.trash[0].ID, failNotInFolder}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{})
			f := newFixture(t, s, "u-1", "work")
			before := byID(t, s, "u-1", "work")
			given := tt.ids(f)
			var wantFailed []batchFailure
			if tt.wantFailed != nil {
				wantFailed = tt.wantFailed(f)
			}
			resp := postBatch(t, s, "/v1/messages/batch", moveBody("u-1", "work", tt.to, tt.from, given...))
			if resp.Total != len(given) || resp.Succeeded != len(given)-len(wantFailed) || !slices.Equal(resp.Failed, wantFailed) {
				t.Fatalf("answered %+v, want failed %v", resp.batchResponse, wantFailed)
			}
			var moved []string
			for _, id := range given {
				if !slices.ContainsFunc(wantFailed, func(f batchFailure) bool { return f.ID == id }) {
					moved = append(moved, id)
				}
			}
			listed := allMessages(t, s, "u-1", "work", tt.wantFolder)
			for _, id := range moved {
				i := slices.IndexFunc(listed, func(m Message) bool { return m.ID == id })
				if i < 0 || !slices.Equal(listed[i].Labels, []string{tt.wantFolder}) {
					t.Errorf("%s is not listed in %s", id, tt.wantFolder)
				}
			}
			// Nothing else changed, whatever the folder.
			after := byID(t, s, "u-1", "work")
			for id, was := range before {
				if !slices.Contains(moved, id) && !sameMessage(was, after[id]) {
					t.Errorf("%s changed from %+v to %+v", id, was, after[id])
				}
			}
		})
	}
}

func TestBatchByQueryStarAndMove(t *testing.T) {
	const path = "/v1/messages/batch-by-query"
	s := New(Options{})
	inbox := allMessages(t, s, "u-1", "work", "INBOX")
	unstarred := filter(inbox, func(m Message) bool { return !m.Starred && m.Unread })
	starred := filter(inbox, func(m Message) bool { return m.Starred })

	// Star the unread: the starred folder gains them.
	resp := postBatch(t, s, path, queryBody("u-1", "work", opStar, "in:inbox is:unread", 0, ""))
	if wantMatched := len(filter(inbox, func(m Message) bool { return m.Unread })); resp.Matched != wantMatched || resp.Succeeded != wantMatched {
		t.Fatalf("star answered %+v, want %d", resp, wantMatched)
	}
	if got := getPage(t, s, "u-1", "work", "starred", 0, "").Total; got != len(starred)+len(unstarred) {
		t.Errorf("starred holds %d, want %d", got, len(starred)+len(unstarred))
	}
	// Unstar everything starred: none left in the inbox.
	postBatch(t, s, path, queryBody("u-1", "work", opUnstar, "is:starred", 0, ""))
	if got := getSearch(t, s, "u-1", "work", "is:starred", "").Total; got != 0 {
		t.Errorf("%d starred after unstar", got)
	}

	// Move by query into a new custom folder; in: finds them there.
	resp = postBatch(t, s, path, moveQueryBody("u-1", "work", "People/Ada", "in:inbox from:ada"))
	fromAda := filter(inbox, func(m Message) bool { return contains(m.From, "ada") })
	if len(fromAda) == 0 || resp.Matched != len(fromAda) || resp.Succeeded != len(fromAda) {
		t.Fatalf("move answered %+v, want %d", resp, len(fromAda))
	}
	if got := ids(allMessages(t, s, "u-1", "work", "People/Ada")); !slices.Equal(got, ids(fromAda)) {
		t.Errorf("People/Ada holds %v, want %v", got, ids(fromAda))
	}
	if got := getSearch(t, s, "u-1", "work", "in:People/Ada", "").Total; got != len(fromAda) {
		t.Errorf("in:People/Ada matches %d, want %d", got, len(fromAda))
	}
	if got := getSearch(t, s, "u-1", "work", "in:inbox from:ada", "").Total; got != 0 {
		t.Errorf("%d from ada left in the inbox", got)
	}
}

func TestBatchMoveErrors(t *testing.T) {
	const batch, byQuery = "/v1/messages/batch", "/v1/messages/batch-by-query"
	tests := []struct{ name, path, body, secret string }{
		{"no to_folder", batch, moveBody("u-1", "work", "", "", "m-0001"), ""},
		{"blank to_folder", batch, moveBody("u-1", "work", "  \t", "", "m-0001"), ""},
		{"to_folder too long", batch, moveBody("u-1", "work", strings.Repeat("zq", maxFolderBytes), "", "m-0001"), "zqzq"},
		{"into starred", batch, moveBody("u-1", "work", "STARRED", "", "m-0001"), "STARRED"},
		{"into All Mail", batch, moveBody("u-1", "work", "[gmail]/all mail", "", "m-0001"), "[gmail]/all mail"},
		{"by query, no to_folder", byQuery, moveQueryBody("u-1", "work", "", "in:inbox"), ""},
		{"by query, into All Mail", byQuery, moveQueryBody("u-1", "work", "[Gmail]/All Mail", "in:inbox"), ""},
		{"to_folder not a string", batch, `{"user_id":"u-1","account_id":"work","ops":["move"],"to_folder":7,"ids":["m-0001"]}`, ""},
	}
	s := New(Options{})
	before := byID(t, s, "u-1", "work")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, s, http.MethodPost, tt.path, tt.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %.300s", status, body)
			}
			assertError(t, status, body, codeValidation)
			assertNoEcho(t, body, tt.secret)
		})
	}
	if after := byID(t, s, "u-1", "work"); !maps.EqualFunc(before, after, sameMessage) {
		t.Error("a rejected move changed the mailbox")
	}
	// Other ops ignore to_folder.
	b, _ := json.Marshal(batchRequest{batchOp: batchOp{UserID: "u-1", AccountID: "work", Ops: []string{opArchive}, ToFolder: "starred"}, IDs: []string{"m-0001"}})
	if resp := postBatch(t, s, batch, string(b)); resp.Succeeded != 1 {
		t.Errorf("archive with a to_folder answered %+v", resp)
	}
}
