package mailservice

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCanonicalFolder(t *testing.T) {
	tests := []struct{ name, want string }{
		{"INBOX", folderInbox},
		{"inbox", folderInbox},
		{"Starred", folderStarred},
		{"[Gmail]/All Mail", folderAllMail},
		{"[gmail]/all mail", folderAllMail},
		{"[GMAIL]/ALL MAIL", folderAllMail},
		{"All Mail", "All Mail"},
		{"Входящие", "Входящие"},
		{"Work Projects", "Work Projects"},
	}
	for _, tt := range tests {
		if got := canonicalFolder(tt.name); got != tt.want {
			t.Errorf("canonicalFolder(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAllMail(t *testing.T) {
	s := New(Options{})
	everyOne := everything(t, s, "u-1", "work")
	want := filter(everyOne, func(m Message) bool { return m.Labels[0] != "spam" && m.Labels[0] != "trash" })
	for _, name := range []string{"[Gmail]/All Mail", "[gmail]/all mail"} {
		got := allMessages(t, s, "u-1", "work", name)
		if !slices.Equal(ids(got), ids(want)) {
			t.Errorf("%s lists %d messages, want the %d outside spam and trash", name, len(got), len(want))
		}
	}
	if resp := getPage(t, s, "u-1", "work", "[gmail]/all mail", 0, ""); resp.Folder != folderAllMail {
		t.Errorf("folder %q, want %q", resp.Folder, folderAllMail)
	}
	// Deleting leaves All Mail; search scopes to it by the folder parameter.
	post(t, s, "/v1/messages/archive", archiveBody("u-1", "work", want[0].ID), "archived")
	postBatch(t, s, "/v1/messages/batch", batchBody("u-1", "work", opDelete, "", want[1].ID))
	if got := getPage(t, s, "u-1", "work", folderAllMail, 0, "").Total; got != len(want)-1 {
		t.Errorf("All Mail holds %d after a delete, want %d", got, len(want)-1)
	}
	if got := getSearch(t, s, "u-1", "work", "", "&folder="+url.QueryEscape(folderAllMail)).Total; got != len(want)-1 {
		t.Errorf("search in All Mail counts %d, want %d", got, len(want)-1)
	}
}

func TestCustomFolders(t *testing.T) {
	s := New(Options{})
	for _, name := range []string{"Входящие", "Work Projects"} {
		if resp := getPage(t, s, "u-1", "work", name, 0, ""); resp.Total != 0 || len(resp.Messages) != 0 || resp.Folder != name {
			t.Errorf("%s before any move: %+v, want empty", name, resp)
		}
	}
	inbox := allMessages(t, s, "u-1", "work", "INBOX")
	moved := ids(inbox[:3])
	postBatch(t, s, "/v1/messages/batch", moveBody("u-1", "work", "Входящие", "", moved...))
	delivered := deliverN(t, s, "u-1", "work", "Work Projects", 2)

	got := allMessages(t, s, "u-1", "work", "Входящие")
	if !slices.Equal(ids(got), moved) {
		t.Errorf("Входящие holds %v, want %v", ids(got), moved)
	}
	for _, m := range got {
		if !slices.Equal(m.Labels, []string{"Входящие"}) {
			t.Errorf("%s labels %v", m.ID, m.Labels)
		}
	}
	if got := ids(allMessages(t, s, "u-1", "work", "Work Projects")); !slices.Equal(got, []string{delivered[1], delivered[0]}) {
		t.Errorf("Work Projects holds %v, want %v newest first", got, delivered)
	}
	if got := getSearch(t, s, "u-1", "work", "in:Входящие", "").Total; got != 3 {
		t.Errorf("in:Входящие matches %d, want 3", got)
	}

	// The folder list ends with the custom folders, sorted.
	folders := getFolders(t, s, "u-1", "work")
	custom := folders[len(systemFolders):]
	want := []folderInfo{
		{Key: "Work Projects", Name: "Work Projects", Total: 2, Unread: 2},
		{Key: "Входящие", Name: "Входящие", Total: 3, Unread: countUnread(inbox[:3])},
	}
	if !slices.Equal(custom, want) {
		t.Errorf("custom folders %+v, want %+v", custom, want)
	}

	// Moving everything out empties a custom folder, which leaves the list.
	postBatch(t, s, "/v1/messages/batch", moveBody("u-1", "work", "inbox", "", moved...))
	if folders := getFolders(t, s, "u-1", "work"); len(folders) != len(systemFolders)+1 || folders[len(folders)-1].Key != "Work Projects" {
		t.Errorf("after moving back: %+v", folders[len(systemFolders):])
	}
}

func getFolders(t *testing.T, h http.Handler, user, account string) []folderInfo {
	t.Helper()
	var resp foldersResponse
	getJSON(t, h, idsURL("/v1/folders", user, account, nil), &resp)
	return resp.Folders
}

func TestFolders(t *testing.T) {
	s := New(Options{})
	var raw struct{ Folders []json.RawMessage }
	body := getJSON(t, s, idsURL("/v1/folders", "u-1", "work", nil), &raw)
	if k := keys(t, body); !slices.Equal(k, []string{"folders"}) {
		t.Fatalf("keys %v", k)
	}
	for _, f := range raw.Folders {
		if k := keys(t, f); !slices.Equal(k, []string{"key", "name", "system", "total", "unread"}) {
			t.Fatalf("folder keys %v", k)
		}
	}
	var want []folderInfo
	for _, f := range []struct{ key, name string }{
		{"INBOX", "Inbox"}, {"sent", "Sent"}, {"drafts", "Drafts"}, {"spam", "Spam"},
		{"trash", "Trash"}, {"starred", "Starred"}, {"archive", "Archive"},
	} {
		messages := allMessages(t, s, "u-1", "work", f.key)
		want = append(want, folderInfo{Key: f.key, Name: f.name, System: true, Total: len(messages), Unread: countUnread(messages)})
	}
	if got := getFolders(t, s, "u-1", "work"); !slices.Equal(got, want) {
		t.Errorf("folders %+v, want %+v", got, want)
	}
}

func TestCounts(t *testing.T) {
	s := New(Options{})
	all := everything(t, s, "u-1", "work")
	inbox := allMessages(t, s, "u-1", "work", "INBOX")
	dayAgo := baseTime().Add(-24 * time.Hour)
	want := countsResponse{
		Total:      len(all),
		InboxTotal: len(inbox),
		Unread:     countUnread(inbox),
		Spam:       len(allMessages(t, s, "u-1", "work", "spam")),
		Archive:    len(allMessages(t, s, "u-1", "work", "archive")),
		Today:      len(filter(all, func(m Message) bool { return arrivedAt(t, m).After(dayAgo) })),
	}
	if want.Today == 0 || want.Today == want.Total {
		t.Fatalf("today %d of %d: the fixture tests nothing", want.Today, want.Total)
	}
	var got countsResponse
	body := getJSON(t, s, idsURL("/v1/counts", "u-1", "work", nil), &got)
	if k := keys(t, body); !slices.Equal(k, []string{"total", "inbox_total", "unread", "spam", "archive", "today"}) {
		t.Fatalf("keys %v", k)
	}
	if got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
	if n := getSearch(t, s, "u-1", "work", "newer_than:1d", "").Total; n != want.Today {
		t.Errorf("newer_than:1d matches %d, today %d", n, want.Today)
	}

	// Delivered mail counts as today's and as unread in the inbox.
	deliverN(t, s, "u-1", "work", "", 3)
	want.Total, want.InboxTotal, want.Unread, want.Today = want.Total+3, want.InboxTotal+3, want.Unread+3, want.Today+3
	getJSON(t, s, idsURL("/v1/counts", "u-1", "work", nil), &got)
	if got != want {
		t.Errorf("counts after a delivery %+v, want %+v", got, want)
	}
}

func TestUnreadOfOneAccount(t *testing.T) {
	s := New(Options{})
	tests := []struct {
		folder, want string
	}{
		{"", folderInbox},
		{"inbox", folderInbox},
		{"archive", folderArchive},
		{"[gmail]/all mail", folderAllMail},
		{"Nowhere", "Nowhere"},
	}
	for _, tt := range tests {
		messages := allMessages(t, s, "u-1", "personal", tt.want)
		var got folderUnreadResponse
		body := getJSON(t, s, idsURL("/v1/unread", "u-1", "personal", url.Values{"folder": {tt.folder}}), &got)
		if k := keys(t, body); !slices.Equal(k, []string{"folder", "unread", "total"}) {
			t.Fatalf("keys %v", k)
		}
		if want := (folderUnreadResponse{tt.want, countUnread(messages), len(messages)}); got != want {
			t.Errorf("folder %q: %+v, want %+v", tt.folder, got, want)
		}
	}
	// Without account_id the answer is the user's, folder ignored.
	var all unreadResponse
	body := getJSON(t, s, "/v1/unread?user_id=u-1&folder=archive", &all)
	if k := keys(t, body); !slices.Equal(k, []string{"unread", "accounts"}) {
		t.Fatalf("keys %v", k)
	}
}

func TestReadEndpointErrors(t *testing.T) {
	long := strings.Repeat("a", maxIDLength+1)
	tests := []struct{ name, target string }{
		{"folders without user", "/v1/folders?account_id=work"},
		{"folders without account", "/v1/folders?user_id=u-1"},
		{"counts without account", "/v1/counts?user_id=u-1"},
		{"counts, account too long", "/v1/counts?user_id=u-1&account_id=" + long},
		{"unread, account too long", "/v1/unread?user_id=u-1&account_id=" + long},
		{"unread of an account without user", "/v1/unread?account_id=work"},
		{"detail without account", "/v1/messages/m-0001?user_id=u-1"},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, s, http.MethodGet, tt.target, "")
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", status, body)
			}
			assertError(t, status, body, codeValidation)
		})
	}
}
