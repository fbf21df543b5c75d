package mailservice

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

func batchBody(user, account, op, from string, ids ...string) string {
	b, _ := json.Marshal(batchRequest{batchOp: batchOp{UserID: user, AccountID: account, Ops: []string{op}, FromFolder: from}, IDs: ids})
	return string(b)
}

func queryBody(user, account, op, q string, max int, from string) string {
	req := batchQueryRequest{batchOp: batchOp{UserID: user, AccountID: account, Ops: []string{op}, FromFolder: from}, Q: q}
	if max != 0 {
		req.Max = &max
	}
	b, _ := json.Marshal(req)
	return string(b)
}

// postBatch sends a batch (by ids or by query), fails the test on anything
// but 200 or on keys other than the endpoint's, and returns the answer.
func postBatch(t *testing.T, h http.Handler, path, body string) batchQueryResponse {
	t.Helper()
	status, raw := call(t, h, http.MethodPost, path, body)
	if status != http.StatusOK {
		t.Fatalf("POST %s %s: status %d, body %s", path, body, status, raw)
	}
	want := []string{"succeeded", "total", "failed"}
	if path == "/v1/messages/batch-by-query" {
		want = append(want, "matched")
	}
	if got := keys(t, raw); !slices.Equal(got, want) {
		t.Fatalf("POST %s answered keys %v, want %v", path, got, want)
	}
	var resp batchQueryResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("decode %s answer: %v", path, err)
	}
	if resp.Failed == nil {
		t.Fatalf("POST %s: failed is null, want []", path)
	}
	return resp
}

// byID indexes every message of a mailbox.
func byID(t *testing.T, h http.Handler, user, account string) map[string]Message {
	t.Helper()
	out := map[string]Message{}
	for _, m := range everything(t, h, user, account) {
		out[m.ID] = m
	}
	return out
}

func sameMessage(a, b Message) bool {
	return a.ID == b.ID && a.Unread == b.Unread && a.Starred == b.Starred && slices.Equal(a.Labels, b.Labels)
}

// assertApplied checks after against before: the ids in done show op, every
// other message is unchanged.
func assertApplied(t *testing.T, before, after map[string]Message, op string, done []string) {
	t.Helper()
	for id, was := range before {
		now, ok := after[id]
		if !slices.Contains(done, id) {
			if !ok || !sameMessage(was, now) {
				t.Errorf("%s changed from %+v to %+v", id, was, now)
			}
			continue
		}
		want := was
		switch op {
		case opArchive:
			want.Labels = []string{"archive"}
		case opDelete:
			want.Labels = []string{"trash"}
		case opRead:
			want.Unread = false
		case opUnread:
			want.Unread = true
		case opStar:
			want.Starred = true
		case opUnstar:
			want.Starred = false
		case opPurge:
			if ok {
				t.Errorf("%s is still there after purge: %+v", id, now)
			}
			continue
		}
		if !ok || !sameMessage(want, now) {
			t.Errorf("%s after %s is %+v, want %+v", id, op, now, want)
		}
	}
	if len(after) > len(before) {
		t.Errorf("%d messages became %d", len(before), len(after))
	}
}

// fixture is one mailbox's folders before a test changes them.
type fixture struct{ inbox, archive, spam, trash []Message }

func newFixture(t *testing.T, h http.Handler, user, account string) fixture {
	return fixture{
		inbox:   allMessages(t, h, user, account, "INBOX"),
		archive: allMessages(t, h, user, account, "archive"),
		spam:    allMessages(t, h, user, account, "spam"),
		trash:   allMessages(t, h, user, account, "trash"),
	}
}

func TestBatch(t *testing.T) {
	unread := func(ms []Message, want bool) []Message {
		return filter(ms, func(m Message) bool { return m.Unread == want })
	}
	tests := []struct {
		name       string
		op, from   string
		ids        func(f fixture) []string
		wantFailed func(f fixture) []batchFailure
		wantTotal  int
	}{
		{name: "archive", op: opArchive,
			ids:        func(f fixture) []string { return []string{f.inbox[0].ID, f.inbox[5].ID, "m-9999", f.inbox[9].ID} },
			wantFailed: func(fixture) []batchFailure { return []batchFailure{{"m-9999", failNotFound}} },
			wantTotal:  4},
		{name: "archive from the trash restores", op: opArchive,
			ids:       func(f fixture) []string { return []string{f.trash[0].ID} },
			wantTotal: 1},
		{name: "archive an archived message", op: opArchive,
			ids:       func(f fixture) []string { return []string{f.archive[0].ID} },
			wantTotal: 1},
		{name: "archive limited to the inbox", op: opArchive, from: "inbox",
			ids:        func(f fixture) []string { return []string{f.inbox[0].ID, f.spam[0].ID} },
			wantFailed: func(f fixture) []batchFailure { return []batchFailure{{f.spam[0].ID, failNotInFolder}} },
			wantTotal:  2},
		{name: "delete", op: opDelete,
			ids:       func(f fixture) []string { return []string{f.inbox[1].ID, f.archive[2].ID, f.spam[0].ID} },
			wantTotal: 3},
		{name: "read", op: opRead,
			ids:       func(f fixture) []string { return ids(unread(f.inbox, true)[:3]) },
			wantTotal: 3},
		{name: "unread", op: opUnread,
			ids: func(f fixture) []string {
				return append(ids(unread(f.inbox, false)[:2]), ids(unread(f.archive, false)[:1])...)
			},
			wantTotal: 3},
		{name: "purge from the trash only", op: opPurge,
			ids: func(f fixture) []string {
				return []string{f.trash[0].ID, f.inbox[0].ID, f.trash[1].ID, f.archive[0].ID, "nope"}
			},
			wantFailed: func(f fixture) []batchFailure {
				return []batchFailure{{f.inbox[0].ID, failNotInFolder}, {f.archive[0].ID, failNotInFolder}, {"nope", failNotFound}}
			},
			wantTotal: 5},
		{name: "purge all the trash", op: opPurge,
			ids:       func(f fixture) []string { return ids(f.trash) },
			wantTotal: -1},
		{name: "purge from the given folder only", op: opPurge, from: "SPAM",
			ids:        func(f fixture) []string { return []string{f.spam[0].ID, f.trash[0].ID, f.spam[1].ID} },
			wantFailed: func(f fixture) []batchFailure { return []batchFailure{{f.trash[0].ID, failNotInFolder}} },
			wantTotal:  3},
		{name: "an id given twice counts once", op: opDelete,
			ids:       func(f fixture) []string { return []string{f.inbox[0].ID, f.inbox[0].ID, f.inbox[1].ID} },
			wantTotal: 2},
		{name: "star", op: opStar,
			ids: func(f fixture) []string {
				starred := filter(f.inbox, func(m Message) bool { return m.Starred })
				return []string{f.inbox[slices.IndexFunc(f.inbox, func(m Message) bool { return !m.Starred })].ID, starred[0].ID, f.archive[0].ID, "nope"}
			},
			wantFailed: func(fixture) []batchFailure { return []batchFailure{{"nope", failNotFound}} },
			wantTotal:  4},
		{name: "unstar limited to the inbox", op: opUnstar, from: "INBOX",
			ids: func(f fixture) []string {
				return append(ids(filter(f.inbox, func(m Message) bool { return m.Starred })), f.spam[0].ID)
			},
			wantFailed: func(f fixture) []batchFailure { return []batchFailure{{f.spam[0].ID, failNotInFolder}} },
			wantTotal:  -1},
		{name: "no ids", op: opRead,
			ids:       func(fixture) []string { return nil },
			wantTotal: 0},
		{name: "most ids", op: opRead,
			ids:       func(f fixture) []string { return ids(append(slices.Clone(f.inbox), f.archive...)[:maxBatchIDs]) },
			wantTotal: maxBatchIDs},
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
			wantTotal := tt.wantTotal
			if wantTotal < 0 {
				wantTotal = len(given)
			}

			resp := postBatch(t, s, "/v1/messages/batch", batchBody("u-1", "work", tt.op, tt.from, given...))
			if resp.Total != wantTotal || resp.Succeeded != wantTotal-len(wantFailed) || !slices.Equal(resp.Failed, wantFailed) {
				t.Fatalf("answered %+v, want total %d, succeeded %d, failed %v", resp.batchResponse, wantTotal, wantTotal-len(wantFailed), wantFailed)
			}
			var done []string
			for _, id := range given {
				if !slices.ContainsFunc(wantFailed, func(f batchFailure) bool { return f.ID == id }) {
					done = append(done, id)
				}
			}
			assertApplied(t, before, byID(t, s, "u-1", "work"), tt.op, done)

			if tt.op == opPurge && len(done) > 0 {
				// Purged is gone for good: another purge finds nothing.
				again := postBatch(t, s, "/v1/messages/batch", batchBody("u-1", "work", opPurge, tt.from, done[0]))
				if again.Succeeded != 0 || !slices.Equal(again.Failed, []batchFailure{{done[0], failNotFound}}) {
					t.Errorf("purging %s again answered %+v, want not_found", done[0], again.batchResponse)
				}
				if got := getSearch(t, s, "u-1", "work", "", "&limit=1").Total; got != len(before)-len(done) {
					t.Errorf("search counts %d messages, want %d", got, len(before)-len(done))
				}
			}
		})
	}
}

func TestBatchErrors(t *testing.T) {
	const batch, byQuery = "/v1/messages/batch", "/v1/messages/batch-by-query"
	many := make([]string, maxBatchIDs+1)
	for i := range many {
		many[i] = fmt.Sprintf("m-%04d", i+1)
	}
	tooMany, _ := json.Marshal(batchRequest{batchOp: batchOp{UserID: "u-1", AccountID: "work", Ops: []string{opRead}}, IDs: many})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string
	}{
		{"no ops", "POST", batch, `{"user_id":"u-1","account_id":"work","ids":["m-0001"]}`, 400, codeValidation},
		{"empty ops", "POST", batch, `{"user_id":"u-1","account_id":"work","ids":["m-0001"],"ops":[]}`, 400, codeValidation},
		{"two ops", "POST", batch, `{"user_id":"u-1","account_id":"work","ids":["m-0001"],"ops":["archive","read"]}`, 400, codeValidation},
		{"the same op twice", "POST", batch, `{"user_id":"u-1","account_id":"work","ids":["m-0001"],"ops":["read","read"]}`, 400, codeValidation},
		{"unknown op", "POST", batch, `{"user_id":"u-1","account_id":"work","ids":["m-0001"],"ops":["trash"]}`, 400, codeValidation},
		{"op not a list", "POST", batch, `{"user_id":"u-1","account_id":"work","ids":["m-0001"],"ops":"read"}`, 400, codeValidation},
		{"too many ids", "POST", batch, string(tooMany), 400, codeValidation},
		{"ids not a list", "POST", batch, `{"user_id":"u-1","account_id":"work","ids":"m-0001","ops":["read"]}`, 400, codeValidation},
		{"no user", "POST", batch, `{"account_id":"work","ids":["m-0001"],"ops":["read"]}`, 400, codeValidation},
		{"no account", "POST", batch, `{"user_id":"u-1","ids":["m-0001"],"ops":["read"]}`, 400, codeValidation},
		{"bad JSON", "POST", batch, `{"user_id":`, 400, codeValidation},
		{"trailing data", "POST", batch, `{"user_id":"u-1","account_id":"work","ids":["m-0001"],"ops":["read"]} {}`, 400, codeValidation},
		{"body too large", "POST", batch, `{"user_id":"u-1","account_id":"work","ops":["read"],"ids":["` + strings.Repeat("m", maxBodyBytes) + `"]}`, 400, codeValidation},
		{"batch by GET", "GET", batch, "", 405, codeMethodNotAllowed},

		{"query: no q", "POST", byQuery, `{"user_id":"u-1","account_id":"work","ops":["read"]}`, 400, codeValidation},
		{"query: blank q", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"  ","ops":["read"]}`, 400, codeValidation},
		{"query: malformed q", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"in:inbox newer_than:x","ops":["read"]}`, 400, codeValidation},
		{"query: no ops", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"in:inbox"}`, 400, codeValidation},
		{"query: two ops", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"in:inbox","ops":["read","unread"]}`, 400, codeValidation},
		{"query: unknown op", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"in:inbox","ops":["trash"]}`, 400, codeValidation},
		{"query: max zero", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"in:inbox","ops":["read"],"max":0}`, 400, codeValidation},
		{"query: max negative", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"in:inbox","ops":["read"],"max":-1}`, 400, codeValidation},
		{"query: max too big", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"in:inbox","ops":["read"],"max":1001}`, 400, codeValidation},
		{"query: max not an integer", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"in:inbox","ops":["read"],"max":1.5}`, 400, codeValidation},
		{"query: no user", "POST", byQuery, `{"account_id":"work","q":"in:inbox","ops":["read"]}`, 400, codeValidation},
		{"query: trailing data", "POST", byQuery, `{"user_id":"u-1","account_id":"work","q":"in:inbox","ops":["read"]}]`, 400, codeValidation},
		{"query by GET", "GET", byQuery, "", 405, codeMethodNotAllowed},
	}
	s := New(Options{})
	before := byID(t, s, "u-1", "work")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, s, tt.method, tt.path, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %.300s", status, tt.wantStatus, body)
			}
			assertError(t, status, body, tt.wantCode)
		})
	}
	if after := byID(t, s, "u-1", "work"); !maps.EqualFunc(before, after, sameMessage) {
		t.Error("a rejected batch changed the mailbox")
	}
}

func TestBatchByQuery(t *testing.T) {
	const path = "/v1/messages/batch-by-query"
	s := New(Options{})
	f := newFixture(t, s, "u-1", "work")
	unread := filter(f.inbox, func(m Message) bool { return m.Unread })
	if len(unread) <= 3 {
		t.Fatalf("%d unread in the inbox, want more than 3", len(unread))
	}

	// max picks the newest matches; matched counts them all.
	before := byID(t, s, "u-1", "work")
	resp := postBatch(t, s, path, queryBody("u-1", "work", opRead, "in:inbox is:unread", 3, ""))
	if resp.Matched != len(unread) || resp.Total != 3 || resp.Succeeded != 3 || len(resp.Failed) != 0 {
		t.Fatalf("answered %+v, want matched %d, total 3, succeeded 3", resp, len(unread))
	}
	assertApplied(t, before, byID(t, s, "u-1", "work"), opRead, ids(unread[:3]))

	// max defaults to 1000.
	resp = postBatch(t, s, path, queryBody("u-1", "work", opRead, "IN:INBOX IS:UNREAD", 0, ""))
	if resp.Matched != len(unread)-3 || resp.Total != len(unread)-3 || resp.Succeeded != len(unread)-3 {
		t.Fatalf("answered %+v, want matched, total and succeeded %d", resp, len(unread)-3)
	}
	resp = postBatch(t, s, path, queryBody("u-1", "work", opRead, "in:inbox is:unread", 0, ""))
	if resp.Matched != 0 || resp.Total != 0 || resp.Succeeded != 0 {
		t.Fatalf("answered %+v, want nothing left to match", resp)
	}
	if n := getSearch(t, s, "u-1", "work", "in:inbox is:unread", "").Total; n != 0 {
		t.Errorf("%d unread left in the inbox", n)
	}

	// The whole mailbox, unread again: more matches than the largest max.
	all := everything(t, s, "u-1", "work")
	resp = postBatch(t, s, path, queryBody("u-1", "work", opUnread, "m", 1000, ""))
	wantMatched := len(filter(all, word("m")))
	if resp.Matched != wantMatched || resp.Total != min(wantMatched, 1000) {
		t.Errorf("answered %+v, want matched %d", resp, wantMatched)
	}

	// Purge by query is limited to the trash unless from_folder says.
	sender := f.trash[0].From
	before = byID(t, s, "u-1", "work")
	inTrash := filter(f.trash, func(m Message) bool { return m.From == sender })
	resp = postBatch(t, s, path, queryBody("u-1", "work", opPurge, "from:"+strings.Fields(sender)[0], 0, ""))
	wantTrash := filter(f.trash, func(m Message) bool { return contains(m.From, strings.ToLower(strings.Fields(sender)[0])) })
	if len(inTrash) == 0 || resp.Matched != len(wantTrash) || resp.Succeeded != len(wantTrash) {
		t.Fatalf("purge answered %+v, want matched %d (the trash only)", resp, len(wantTrash))
	}
	assertApplied(t, before, byID(t, s, "u-1", "work"), opPurge, ids(wantTrash))

	before = byID(t, s, "u-1", "work")
	old := filter(f.archive, func(m Message) bool { return arrivedAt(t, m).Before(baseTime().AddDate(0, 0, -60)) })
	resp = postBatch(t, s, path, queryBody("u-1", "work", opPurge, "older_than:60d", 0, "archive"))
	if len(old) == 0 || resp.Matched != len(old) || resp.Succeeded != len(old) {
		t.Fatalf("purge from the archive answered %+v, want matched %d", resp, len(old))
	}
	assertApplied(t, before, byID(t, s, "u-1", "work"), opPurge, ids(old))

	// Delete by query moves to the trash; in:trash finds them there.
	before = byID(t, s, "u-1", "work")
	invoices := filter(allMessages(t, s, "u-1", "work", "INBOX"), word("invoice"))
	trashed := getSearch(t, s, "u-1", "work", "in:trash", "").Total
	resp = postBatch(t, s, path, queryBody("u-1", "work", opDelete, "in:inbox invoice", 0, ""))
	if len(invoices) == 0 || resp.Matched != len(invoices) {
		t.Fatalf("delete answered %+v, want matched %d", resp, len(invoices))
	}
	assertApplied(t, before, byID(t, s, "u-1", "work"), opDelete, ids(invoices))
	if got := getSearch(t, s, "u-1", "work", "in:trash", "").Total; got != trashed+len(invoices) {
		t.Errorf("trash holds %d, want %d", got, trashed+len(invoices))
	}
}

// TestArchiveLoopTerminates pins that archived messages leave the inbox, so
// "search in:inbox <q>, archive the page" runs out of pages.
func TestArchiveLoopTerminates(t *testing.T) {
	s := New(Options{})
	const q = "in:inbox from:example.com"
	first := getSearch(t, s, "u-1", "work", q, "&limit=1").Total
	if first < 10 {
		t.Fatalf("%d matches, want at least 10", first)
	}
	left, rounds := first, 0
	for ; left > 0; rounds++ {
		if rounds > first/4+1 {
			t.Fatalf("still %d matches after %d rounds", left, rounds)
		}
		page := getSearch(t, s, "u-1", "work", q, "&limit=4")
		resp := postBatch(t, s, "/v1/messages/batch", batchBody("u-1", "work", opArchive, "", ids(page.Results)...))
		if resp.Succeeded != len(page.Results) {
			t.Fatalf("archived %+v of %d", resp.batchResponse, len(page.Results))
		}
		next := getSearch(t, s, "u-1", "work", q, "&limit=1").Total
		if next != left-len(page.Results) {
			t.Fatalf("matches went from %d to %d after archiving %d", left, next, len(page.Results))
		}
		left = next
	}
	if got := getSearch(t, s, "u-1", "work", "in:archive from:example.com", "&limit=1").Total; got < first {
		t.Errorf("archive holds %d matches, want at least the %d archived", got, first)
	}

	// The same by query, one message at a time.
	const q2 = "in:inbox is:starred"
	first = getSearch(t, s, "u-1", "work", q2, "&limit=1").Total
	if first == 0 {
		t.Fatal("no starred messages in the inbox")
	}
	for rounds = 0; ; rounds++ {
		if rounds > first {
			t.Fatalf("batch-by-query still matching after %d rounds", rounds)
		}
		resp := postBatch(t, s, "/v1/messages/batch-by-query", queryBody("u-1", "work", opArchive, q2, 1, ""))
		if resp.Matched != first-rounds {
			t.Fatalf("round %d matched %d, want %d", rounds, resp.Matched, first-rounds)
		}
		if resp.Matched == 0 {
			break
		}
	}
}

func TestBatchUsersAreIsolated(t *testing.T) {
	s := New(Options{})
	// Ids number each mailbox from m-0001: the last of the larger mailbox
	// is not in the smaller one.
	size := func(user, account string) int { return getSearch(t, s, user, account, "", "&limit=1").Total }
	big, small := "alice", "bob"
	if size(big, "work") < size(small, "work") {
		big, small = small, big
	}
	if size(big, "work") == size(small, "work") {
		t.Fatal("alice and bob have mailboxes of the same size")
	}
	foreign := fmt.Sprintf("m-%04d", size(big, "work"))

	bigBefore, smallBefore := byID(t, s, big, "work"), byID(t, s, small, "work")
	resp := postBatch(t, s, "/v1/messages/batch", batchBody(small, "work", opPurge, "archive", foreign))
	if resp.Succeeded != 0 || resp.Total != 1 || !slices.Equal(resp.Failed, []batchFailure{{foreign, failNotFound}}) {
		t.Errorf("%s purging %s of %s answered %+v, want not_found", small, foreign, big, resp.batchResponse)
	}

	// Writes for one user (or one account) leave the others alone, even
	// where ids coincide.
	trash := allMessages(t, s, big, "work", "trash")
	postBatch(t, s, "/v1/messages/batch", batchBody(big, "work", opPurge, "", ids(trash)...))
	postBatch(t, s, "/v1/messages/batch", batchBody(big, "work", opArchive, "", "m-0001", "m-0002", "m-0003"))
	postBatch(t, s, "/v1/messages/batch-by-query", queryBody(big, "work", opDelete, "in:inbox", 0, ""))
	postBatch(t, s, "/v1/messages/batch-by-query", queryBody(big, "personal", opPurge, "in:trash", 0, ""))
	if after := byID(t, s, small, "work"); !maps.EqualFunc(smallBefore, after, sameMessage) {
		t.Errorf("writes for %s changed %s's mailbox", big, small)
	}
	if after := byID(t, s, big, "work"); maps.EqualFunc(bigBefore, after, sameMessage) {
		t.Errorf("the writes did not change %s's mailbox", big)
	}
	if got := getSearch(t, s, big, "work", "in:inbox", "").Total; got != 0 {
		t.Errorf("%s's inbox holds %d after deleting in:inbox", big, got)
	}
	if got := getSearch(t, s, big, "personal", "in:trash", "").Total; got != 0 {
		t.Errorf("%s's personal trash holds %d after the purge", big, got)
	}
}

func TestNewEndpointsNeedToken(t *testing.T) {
	s := New(Options{Token: "secret"})
	for _, target := range []struct{ method, path, body string }{
		{"GET", searchURL("u-1", "work", "in:inbox", ""), ""},
		{"POST", "/v1/messages/batch", batchBody("u-1", "work", opPurge, "", "m-0001")},
		{"POST", "/v1/messages/batch-by-query", queryBody("u-1", "work", opPurge, "in:trash", 0, "")},
	} {
		status, body := call(t, s, target.method, target.path, target.body)
		if status != http.StatusUnauthorized {
			t.Fatalf("%s %s without a token: status %d, want 401", target.method, target.path, status)
		}
		assertError(t, status, body, codeUnauthorized)
	}
	want := map[string]int{"/v1/search": 1, "/v1/messages/batch": 1, "/v1/messages/batch-by-query": 1}
	if got := s.Requests(); !maps.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
}

func TestBatchConcurrentUse(t *testing.T) {
	s := New(Options{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			user := []string{"alice", "bob"}[w%2]
			for i := range 10 {
				id := fmt.Sprintf("m-%04d", 1+w*10+i)
				call(t, s, http.MethodPost, "/v1/messages/batch", batchBody(user, "work", batchOps[i%len(batchOps)], "", id))
				call(t, s, http.MethodPost, "/v1/messages/batch-by-query", queryBody(user, "work", opRead, "in:inbox is:unread", 2, ""))
				call(t, s, http.MethodGet, searchURL(user, "work", "is:unread", ""), "")
				call(t, s, http.MethodGet, inboxURL(user, "work", "INBOX", 0, ""), "")
			}
		})
	}
	wg.Wait()
	if got := s.Requests()["/v1/search"]; got != 80 {
		t.Errorf("search requests %d, want 80", got)
	}
}
