package mailservice

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// cursorURL is the URL of the inbox page after cursor; extra is appended.
func cursorURL(user, account, folder, cursor, extra string) string {
	q := url.Values{"user_id": {user}, "account_id": {account}, "folder": {folder}, "cursor": {cursor}}
	return "/v1/inbox?" + q.Encode() + extra
}

// getCursorPage fetches the page after cursor and fails the test on
// anything but 200.
func getCursorPage(t *testing.T, h http.Handler, user, account, folder, cursor, extra string) inboxResponse {
	t.Helper()
	var resp inboxResponse
	getJSON(t, h, cursorURL(user, account, folder, cursor, extra), &resp)
	return resp
}

func TestCursorRoundTrip(t *testing.T) {
	for _, folder := range []string{folderInbox, "Входящие", "Work Projects", folderAllMail, ""} {
		pos := position{at: 1795683600123456789, id: "m-0042"}
		c := encodeCursor(folder, pos)
		if strings.ContainsAny(c, "=+/") {
			t.Errorf("cursor %q is not unpadded base64url", c)
		}
		got, err := decodeCursor(folder, c)
		if err != nil || got != pos {
			t.Errorf("%q: decoded %+v, %v; want %+v", folder, got, err, pos)
		}
		if _, err := decodeCursor(folder+"x", c); err == nil {
			t.Errorf("%q: the cursor decodes for another folder", folder)
		}
	}
	if long := encodeCursor(folderInbox, position{id: strings.Repeat("m", maxIDLength)}); len(long) > maxCursorBytes {
		t.Errorf("a cursor of the longest id has %d bytes, more than maxCursorBytes %d", len(long), maxCursorBytes)
	}
}

func TestCursorPaging(t *testing.T) {
	s := New(Options{})
	all := allMessages(t, s, "u-1", "work", "INBOX")

	// Walking by cursor lists the folder once, like the page numbers.
	var walked []Message
	resp := getPage(t, s, "u-1", "work", "INBOX", 0, "&limit=30")
	for pages := 1; ; pages++ {
		walked = append(walked, resp.Messages...)
		if resp.Folder != folderInbox || resp.Total != len(all) {
			t.Fatalf("page %d: folder %q, total %d", pages, resp.Folder, resp.Total)
		}
		if !resp.HasMore {
			if resp.NextCursor != "" {
				t.Errorf("last page: next_cursor %q, want \"\"", resp.NextCursor)
			}
			break
		}
		if resp.NextCursor == "" || pages > len(all) {
			t.Fatalf("page %d: has_more without next_cursor", pages)
		}
		resp = getCursorPage(t, s, "u-1", "work", "inbox", resp.NextCursor, "&limit=30&page=3") // page is ignored
	}
	if !slices.Equal(ids(walked), ids(all)) {
		t.Fatalf("walked %d messages, want the %d of the folder in order", len(walked), len(all))
	}

	// Page-number answers carry the cursor of the page after them.
	p1 := getPage(t, s, "u-1", "work", "INBOX", 1, "&limit=10")
	p2 := getPage(t, s, "u-1", "work", "INBOX", 2, "&limit=10")
	if next := getCursorPage(t, s, "u-1", "work", "INBOX", p1.NextCursor, "&limit=10"); !slices.Equal(ids(next.Messages), ids(p2.Messages)) {
		t.Errorf("after page 1's cursor: %v, want page 2 %v", ids(next.Messages), ids(p2.Messages))
	}
	// A page past the end has nothing more.
	if past := getPage(t, s, "u-1", "work", "INBOX", 99, "&limit=10"); past.HasMore || past.NextCursor != "" || len(past.Messages) != 0 {
		t.Errorf("past the end: %+v", past)
	}
}

func TestCursorStableWhileMailArrives(t *testing.T) {
	s := New(Options{})
	before := allMessages(t, s, "u-1", "work", "INBOX")
	page1 := getPage(t, s, "u-1", "work", "INBOX", 0, "&limit=10")
	delivered := deliverN(t, s, "u-1", "work", "", 5)

	// Page 2 by the old cursor follows page 1: no repeat, no skip.
	page2 := getCursorPage(t, s, "u-1", "work", "INBOX", page1.NextCursor, "&limit=10")
	if got, want := ids(page2.Messages), ids(before[10:20]); !slices.Equal(got, want) {
		t.Fatalf("page 2 after 5 arrivals: %v, want %v", got, want)
	}
	if page2.Total != len(before)+5 {
		t.Errorf("total %d, want %d", page2.Total, len(before)+5)
	}
	// By page number the same page shifts by the arrivals.
	if shifted := getPage(t, s, "u-1", "work", "INBOX", 1, "&limit=10"); !slices.Equal(ids(shifted.Messages), ids(before[5:15])) {
		t.Errorf("page 1 by number: %v, want %v", ids(shifted.Messages), ids(before[5:15]))
	}
	// The new mail is at the top, the last delivered first.
	top := getPage(t, s, "u-1", "work", "INBOX", 0, "&limit=5")
	want := slices.Clone(delivered)
	slices.Reverse(want)
	if !slices.Equal(ids(top.Messages), want) {
		t.Errorf("top %v, want the delivered %v", ids(top.Messages), want)
	}

	// The cursor's message leaving the folder does not move the position.
	last := page2.Messages[len(page2.Messages)-1].ID
	post(t, s, "/v1/messages/archive", archiveBody("u-1", "work", last), "archived")
	page3 := getCursorPage(t, s, "u-1", "work", "INBOX", page2.NextCursor, "&limit=10")
	if got, want := ids(page3.Messages), ids(before[20:30]); !slices.Equal(got, want) {
		t.Errorf("page 3 after its cursor's message left: %v, want %v", got, want)
	}
}

func TestCursorErrors(t *testing.T) {
	s := New(Options{})
	inboxCursor := getPage(t, s, "u-1", "work", "INBOX", 0, "&limit=5").NextCursor
	raw, err := base64.RawURLEncoding.DecodeString(inboxCursor)
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(change func([]byte) []byte) string {
		return base64.RawURLEncoding.EncodeToString(change(slices.Clone(raw)))
	}
	tests := []struct{ name, folder, cursor string }{
		{"not base64", "INBOX", "zzqx!!!"},
		{"padded", "INBOX", inboxCursor + "="},
		{"another folder", "archive", inboxCursor},
		{"a custom folder", "Work Projects", inboxCursor},
		{"too short", "INBOX", reencode(func(b []byte) []byte { return b[:cursorHeader] })},
		{"another version", "INBOX", reencode(func(b []byte) []byte { b[0] = 9; return b })},
		{"id too long", "INBOX", reencode(func(b []byte) []byte { return append(b, strings.Repeat("x", maxIDLength)...) })},
		{"far too long", "INBOX", strings.Repeat("A", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, s, http.MethodGet, cursorURL("u-1", "work", tt.folder, tt.cursor, ""), "")
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", status, body)
			}
			assertError(t, status, body, codeValidation)
			if !strings.Contains(string(body), "cursor: not a valid cursor for this folder") {
				t.Errorf("body %s", body)
			}
			assertNoEcho(t, body, tt.cursor[:min(len(tt.cursor), 12)])
		})
	}
}
