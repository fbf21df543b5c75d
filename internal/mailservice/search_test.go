package mailservice

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// generatedFolders are the folders the generator fills.
var generatedFolders = []string{"INBOX", "archive", "sent", "drafts", "spam", "trash"}

// searchURL is the URL of a search; extra is appended as it is.
func searchURL(user, account, q, extra string) string {
	v := url.Values{"user_id": {user}, "account_id": {account}, "q": {q}}
	return "/v1/search?" + v.Encode() + extra
}

// getSearch runs a search and fails the test on anything but 200.
func getSearch(t *testing.T, h http.Handler, user, account, q, extra string) searchResponse {
	t.Helper()
	status, body := call(t, h, http.MethodGet, searchURL(user, account, q, extra), "")
	if status != http.StatusOK {
		t.Fatalf("search %q%s: status %d, body %s", q, extra, status, body)
	}
	var resp searchResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decode search: %v", err)
	}
	if resp.Results == nil {
		t.Fatalf("search %q: results is null, want []", q)
	}
	return resp
}

// everything lists every message of the mailbox through the inbox
// endpoint, newest first (ties by id), as the search orders them.
func everything(t *testing.T, h http.Handler, user, account string) []Message {
	t.Helper()
	var all []Message
	for _, folder := range generatedFolders {
		all = append(all, allMessages(t, h, user, account, folder)...)
	}
	slices.SortStableFunc(all, func(a, b Message) int {
		if c := strings.Compare(b.Date, a.Date); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return all
}

func ids(messages []Message) []string {
	out := make([]string, len(messages))
	for i, m := range messages {
		out[i] = m.ID
	}
	return out
}

func filter(messages []Message, keep func(Message) bool) []Message {
	var out []Message
	for _, m := range messages {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

func contains(field, sub string) bool { return strings.Contains(strings.ToLower(field), sub) }

// word is the test of a free word, sub in lower case.
func word(sub string) func(Message) bool {
	return func(m Message) bool {
		return contains(m.Subject, sub) || contains(m.From, sub) || contains(m.Snippet, sub)
	}
}

// arrivedAt parses a message's date.
func arrivedAt(t *testing.T, m Message) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, m.Date)
	if err != nil {
		t.Fatalf("date of %s: %v", m.ID, err)
	}
	return at
}

func TestSearchShape(t *testing.T) {
	s := New(Options{})
	status, body := call(t, s, http.MethodGet, searchURL("u-1", "work", "in:inbox", "&limit=5"), "")
	if status != http.StatusOK {
		t.Fatalf("status %d, body %s", status, body)
	}
	if got, want := keys(t, body), []string{"results", "total"}; !slices.Equal(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	var raw struct{ Results []json.RawMessage }
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"id", "thread_id", "from", "subject", "snippet", "date", "unread", "starred", "has_attachments", "labels"}
	for _, m := range raw.Results {
		if got := keys(t, m); !slices.Equal(got, wantKeys) {
			t.Fatalf("result keys %v, want %v", got, wantKeys)
		}
	}
	// The results are the inbox's messages, as the inbox answers them.
	if got, want := getSearch(t, s, "u-1", "work", "in:inbox", "&limit=5").Results, getPage(t, s, "u-1", "work", "INBOX", 0, "&limit=5").Messages; !slices.EqualFunc(got, want, func(a, b Message) bool {
		return a.ID == b.ID && a.From == b.From && a.Date == b.Date && a.Unread == b.Unread && slices.Equal(a.Labels, b.Labels)
	}) {
		t.Errorf("search results %v, want the inbox page %v", ids(got), ids(want))
	}
	_, body = call(t, s, http.MethodGet, searchURL("u-1", "work", "no-such-word-anywhere", ""), "")
	if !strings.Contains(string(body), `"results":[]`) || !strings.Contains(string(body), `"total":0`) {
		t.Errorf("no match answered %s, want results [] and total 0", body)
	}
}

func TestSearchTotalAndPage(t *testing.T) {
	s := New(Options{})
	all := everything(t, s, "u-1", "work")
	inbox := filter(all, func(m Message) bool { return m.Labels[0] == "INBOX" })
	drafts := filter(all, func(m Message) bool { return m.Labels[0] == "drafts" })
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	if len(all) <= maxSearchLimit {
		t.Fatalf("mailbox has %d messages, want more than %d for the test", len(all), maxSearchLimit)
	}

	tests := []struct {
		name, q, extra string
		want           []Message // every match, in the answer's order
		wantLen        int
	}{
		{"default limit", "", "", all, 50},
		{"limit", "", "&limit=7", all, 7},
		{"largest limit", "", "&limit=200", all, 200},
		{"inbox, one page", "in:inbox", "&limit=10", inbox, 10},
		{"folder parameter", "", "&folder=INBOX&limit=10", inbox, 10},
		{"fewer matches than the limit", "in:drafts", "&limit=200", drafts, len(drafts)},
		{"oldest first", "", "&limit=5&oldest_first=true", reversed, 5},
		{"newest first, explicitly", "", "&limit=5&oldest_first=false", all, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := getSearch(t, s, "u-1", "work", tt.q, tt.extra)
			if resp.Total != len(tt.want) {
				t.Errorf("total %d, want %d (every match, not the page)", resp.Total, len(tt.want))
			}
			if got, want := ids(resp.Results), ids(tt.want[:tt.wantLen]); !slices.Equal(got, want) {
				t.Errorf("results %v, want %v", got, want)
			}
		})
	}
}

func TestSearchTerms(t *testing.T) {
	s := New(Options{})
	all := everything(t, s, "u-1", "work")
	trash := filter(all, func(m Message) bool { return m.Labels[0] == "trash" })
	if len(trash) == 0 {
		t.Fatal("the trash is empty")
	}
	trashSender := strings.ToLower(trash[0].From[strings.Index(trash[0].From, "<")+1 : strings.Index(trash[0].From, ">")])
	days := func(n int) time.Time { return baseTime().Add(-time.Duration(n) * 24 * time.Hour) }
	in := func(folder string) func(Message) bool { return func(m Message) bool { return m.Labels[0] == folder } }

	tests := []struct {
		q, extra string
		keep     func(Message) bool
		wantNone bool // the query matches nothing
	}{
		{q: "from:ada", keep: func(m Message) bool { return contains(m.From, "ada") }},
		{q: "FROM:Ada", keep: func(m Message) bool { return contains(m.From, "ada") }},
		{q: "from:" + strings.ToUpper(trashSender), keep: func(m Message) bool { return contains(m.From, trashSender) }},
		{q: "subject:invoice", keep: func(m Message) bool { return contains(m.Subject, "invoice") }},
		{q: "Subject:RE:", keep: func(m Message) bool { return contains(m.Subject, "re:") }},
		{q: "is:unread", keep: func(m Message) bool { return m.Unread }},
		{q: "IS:UNREAD", keep: func(m Message) bool { return m.Unread }},
		{q: "is:read", keep: func(m Message) bool { return !m.Unread }},
		{q: "is:starred", keep: func(m Message) bool { return m.Starred }},
		{q: "in:inbox", keep: in("INBOX")},
		{q: "in:INBOX", keep: in("INBOX")},
		{q: "in:Archive", keep: in("archive")},
		{q: "in:trash", keep: in("trash")},
		{q: "in:TRASH", keep: in("trash")},
		{q: "in:spam", keep: in("spam")},
		{q: "in:starred", keep: func(m Message) bool { return m.Labels[0] == "INBOX" && m.Starred }},
		{q: "in:no-such-folder", keep: func(Message) bool { return false }, wantNone: true},
		{q: "", extra: "&folder=trash", keep: in("trash")},
		{q: "", extra: "&folder=Sent", keep: in("sent")},
		{q: "in:inbox", extra: "&folder=trash", keep: func(Message) bool { return false }, wantNone: true},
		{q: "newer_than:3d", keep: func(m Message) bool { return arrivedAt(t, m).After(days(3)) }},
		{q: "NEWER_THAN:3D", keep: func(m Message) bool { return arrivedAt(t, m).After(days(3)) }},
		{q: "older_than:30d", keep: func(m Message) bool { return arrivedAt(t, m).Before(days(30)) }},
		{q: "newer_than:10d older_than:5d", keep: func(m Message) bool {
			at := arrivedAt(t, m)
			return at.After(days(10)) && at.Before(days(5))
		}},
		{q: "newer_than:0d", keep: func(Message) bool { return false }, wantNone: true},
		{q: "invoice", keep: word("invoice")},
		{q: "Billing", keep: word("billing")},
		{q: "MONTRÉAL", keep: word("montréal")},
		{q: "10:00", keep: word("10:00")},
		{q: "re: QUICK", keep: func(m Message) bool { return word("re:")(m) && word("quick")(m) }},
		{q: "no-such:operator", keep: func(Message) bool { return false }, wantNone: true},
		{q: "  in:inbox   is:unread\tfrom:example.com  ", keep: func(m Message) bool {
			return m.Labels[0] == "INBOX" && m.Unread && contains(m.From, "example.com")
		}},
		{q: "in:archive is:starred older_than:7d", keep: func(m Message) bool {
			return m.Labels[0] == "archive" && m.Starred && arrivedAt(t, m).Before(days(7))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.q+tt.extra, func(t *testing.T) {
			want := filter(all, tt.keep)
			if tt.wantNone != (len(want) == 0) || len(want) == len(all) {
				t.Fatalf("the fixture has %d of %d messages for %q: the case tests nothing", len(want), len(all), tt.q)
			}
			resp := getSearch(t, s, "u-1", "work", tt.q, tt.extra+"&limit=200")
			if resp.Total != len(want) {
				t.Errorf("total %d, want %d", resp.Total, len(want))
			}
			if got, want := ids(resp.Results), ids(want[:min(len(want), 200)]); !slices.Equal(got, want) {
				t.Errorf("results %v, want %v", got, want)
			}
		})
	}
	if got := getSearch(t, s, "u-1", "work", "older_than:0d", "").Total; got != len(all) {
		t.Errorf("older_than:0d: total %d, want every message (%d)", got, len(all))
	}
}

func TestSearchMalformed(t *testing.T) {
	tests := []struct {
		name, target string
		secret       string // text of the request the error must not echo
	}{
		{"newer_than not a number", searchURL("u-1", "work", "newer_than:zzqx", ""), "zzqx"},
		{"newer_than without unit", searchURL("u-1", "work", "newer_than:8", ""), "newer_than:8"},
		{"newer_than unit only", searchURL("u-1", "work", "newer_than:d", ""), "newer_than:d"},
		{"newer_than negative", searchURL("u-1", "work", "newer_than:-3d", ""), "-3d"},
		{"older_than in weeks", searchURL("u-1", "work", "older_than:5w", ""), "5w"},
		{"older_than fraction", searchURL("u-1", "work", "older_than:2.5d", ""), "2.5"},
		{"older_than too many days", searchURL("u-1", "work", "older_than:100001d", ""), "100001"},
		{"older_than overflow", searchURL("u-1", "work", "older_than:99999999999999999999d", ""), "9999999"},
		{"is: another state", searchURL("u-1", "work", "is:zzqx", ""), "zzqx"},
		{"is: empty", searchURL("u-1", "work", "is:", ""), ""},
		{"from: empty", searchURL("u-1", "work", "from:", ""), ""},
		{"subject: empty", searchURL("u-1", "work", "subject:", ""), ""},
		{"in: empty", searchURL("u-1", "work", "in:", ""), ""},
		{"second term", searchURL("u-1", "work", "invoice newer_than:qqzz", ""), "qqzz"},
		{"query too long", searchURL("u-1", "work", strings.Repeat("qqzz ", 500), ""), "qqzz"},
		{"limit zero", searchURL("u-1", "work", "", "&limit=0"), ""},
		{"limit too big", searchURL("u-1", "work", "", "&limit=201"), ""},
		{"limit not a number", searchURL("u-1", "work", "", "&limit=many"), ""},
		{"oldest_first not a bool", searchURL("u-1", "work", "", "&oldest_first=qqzz"), "qqzz"},
		{"no user", "/v1/search?account_id=work&q=invoice", ""},
		{"no account", "/v1/search?user_id=u-1&q=invoice", ""},
	}
	s := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, s, http.MethodGet, tt.target, "")
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", status, body)
			}
			assertError(t, status, body, codeValidation)
			if tt.secret != "" && strings.Contains(string(body), tt.secret) {
				t.Errorf("error %s echoes %q", body, tt.secret)
			}
		})
	}
	if status, body := call(t, s, http.MethodPost, searchURL("u-1", "work", "", ""), ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/search: status %d, want 405; body %s", status, body)
	}
}
