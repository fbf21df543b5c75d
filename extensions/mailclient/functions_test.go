package mailclient_test

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/runtime"
)

// Tests of the chat functions of the real mail client: status,
// switch_account, inbox, read_email, search, count_emails, send, reply,
// archive, star, move, purge, and mark_read's message_ids and query paths.
// Expected values come from the reference mail-service itself, asked
// directly (svc), past the switch and the host's recording of requests.

// ── The reference mail-service, asked directly ──────────────────────────────

// svcDo sends a request straight to the reference mail-service and returns
// the status and body of its answer.
func svcDo(t *testing.T, h *mailHost, method, target string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	rec := httptest.NewRecorder()
	h.mail.reference.ServeHTTP(rec, httptest.NewRequest(method, target, rd))
	return rec.Code, rec.Body.Bytes()
}

// svc is svcDo for a request that must succeed, its answer decoded.
func svc[T any](t *testing.T, h *mailHost, method, target string, body any) T {
	t.Helper()
	status, raw := svcDo(t, h, method, target, body)
	if status != http.StatusOK {
		t.Fatalf("mail-service %s %s = %d %s", method, target, status, raw)
	}
	var out T
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("mail-service %s %s: %v", method, target, err)
	}
	return out
}

// wireMessage is a message as the mail-service lists it.
type wireMessage struct {
	ID string `json:"id"`
	mailclient.MessagePreview
}

// previewsOf returns the wire messages as the extension shows them, each
// tagged with account (empty: none).
func previewsOf(wire []wireMessage, account string) []mailclient.MessagePreview {
	out := make([]mailclient.MessagePreview, len(wire))
	for i, w := range wire {
		out[i] = w.MessagePreview
		out[i].MessageID = w.ID
		out[i].Account = account
	}
	return out
}

type wireListing struct {
	Messages   []wireMessage `json:"messages"`
	Total      int           `json:"total"`
	HasMore    bool          `json:"has_more"`
	NextCursor string        `json:"next_cursor"`
}

// svcInbox is the mail-service's page of folder: the first limit messages,
// or those after cursor.
func svcInbox(t *testing.T, h *mailHost, account, folder string, limit int, cursor string) wireListing {
	t.Helper()
	q := url.Values{"user_id": {h.user}, "account_id": {account}, "folder": {folder}, "limit": {strconv.Itoa(limit)}, "page": {"0"}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return svc[wireListing](t, h, http.MethodGet, "/v1/inbox?"+q.Encode(), nil)
}

type folderCount struct {
	Unread int `json:"unread"`
	Total  int `json:"total"`
}

func svcUnread(t *testing.T, h *mailHost, account, folder string) folderCount {
	t.Helper()
	q := url.Values{"user_id": {h.user}, "account_id": {account}, "folder": {folder}}
	return svc[folderCount](t, h, http.MethodGet, "/v1/unread?"+q.Encode(), nil)
}

type searchAnswer struct {
	Results []wireMessage `json:"results"`
	Total   int           `json:"total"`
}

func svcSearch(t *testing.T, h *mailHost, account, query string, limit int, oldestFirst bool) searchAnswer {
	t.Helper()
	q := url.Values{"user_id": {h.user}, "account_id": {account}, "q": {query}, "limit": {strconv.Itoa(limit)}, "oldest_first": {strconv.FormatBool(oldestFirst)}}
	return svc[searchAnswer](t, h, http.MethodGet, "/v1/search?"+q.Encode(), nil)
}

// svcMessage is the message as GET /v1/messages/{id} answers it, without
// marking it read.
func svcMessage(t *testing.T, h *mailHost, account, id string) mailclient.EmailMessage {
	t.Helper()
	q := url.Values{"user_id": {h.user}, "account_id": {account}}
	d := svc[struct {
		ID string `json:"id"`
		mailclient.EmailMessage
	}](t, h, http.MethodGet, "/v1/messages/"+url.PathEscape(id)+"?"+q.Encode(), nil)
	d.EmailMessage.MessageID = d.ID
	return d.EmailMessage
}

// svcDeliver files messages into account's folder ("" for the inbox) and
// returns their ids.
func svcDeliver(t *testing.T, h *mailHost, account, folder string, messages ...map[string]any) []string {
	t.Helper()
	out := svc[struct {
		Delivered []string `json:"delivered"`
	}](t, h, http.MethodPost, "/v1/_deliver", map[string]any{"user_id": h.user, "account_id": account, "folder": folder, "messages": messages})
	return out.Delivered
}

// ── Host helpers ────────────────────────────────────────────────────────────

// seedAccounts stores the user's two accounts as status would have, so
// that a test's first call needs no GET /v1/accounts.
func seedAccounts(h *mailHost) {
	h.SeedDocument("mail-client", h.user, "mail_accounts", "personal",
		mailclient.Account{Email: "demo@personal.example.com", Provider: "imap", DisplayName: "Personal"})
	h.SeedDocument("mail-client", h.user, "mail_accounts", "work",
		mailclient.Account{Email: "demo@work.example.com", Provider: "imap", DisplayName: "Work", Active: true})
}

// cacheKeys returns the user's cache keys, sorted.
func cacheKeys(h *mailHost) []string {
	var out []string
	for _, e := range h.CacheEntries(h.user) {
		out = append(out, e.Key)
	}
	slices.Sort(out)
	return out
}

// inboxView runs inbox with params and returns its page; the step's
// upstream and check apply.
func (h *mailHost) inboxView(t *testing.T, params map[string]any, upstream map[string]int) mailclient.InboxView {
	t.Helper()
	var view mailclient.InboxView
	h.run(t, step{fn: "inbox", params: params, upstream: upstream, check: func(t *testing.T, res hosttest.Result) {
		if !res.OK() {
			t.Fatalf("inbox failed: %s", res.JSON)
		}
		view = hosttest.Data[mailclient.InboxView](t, res)
	}})
	return view
}

// lastBody is the body of the last request to path.
func (h *mailHost) lastBody(path string) string { return string(h.last(path).Body) }

// wantFailure checks an error answer exactly.
func wantFailure(t *testing.T, res hosttest.Result, code, message string, retryable bool) {
	t.Helper()
	if res.OK() || res.ErrorCode != code || res.Error != message || res.Retryable != retryable {
		t.Fatalf("answer %s, want %s %q retryable=%v", res.JSON, code, message, retryable)
	}
}

func idsOf(v mailclient.InboxView) []string {
	out := make([]string, len(v.Messages))
	for i, m := range v.Messages {
		out[i] = m.MessageID
	}
	return out
}

func manyIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m-%04d", i+1)
	}
	return out
}

func unreadOn(t *testing.T, v mailclient.InboxView, n int) []string {
	t.Helper()
	var out []string
	for _, m := range v.Messages {
		if m.Unread && len(out) < n {
			out = append(out, m.MessageID)
		}
	}
	if len(out) < n {
		t.Fatalf("%d unread messages on the page, the test needs %d", len(out), n)
	}
	return out
}

// encodedPart is a cache key part as cache.KeyPart must encode a name
// outside the key charset: '-', the slug, '-', 16 hex digits of SHA-256.
func encodedPart(slug, name string) string {
	sum := sha256.Sum256([]byte(name))
	return "-" + slug + "-" + hex.EncodeToString(sum[:8])
}

// jsonOf is v as JSON; the values of these tests always encode.
func jsonOf(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(raw)
}

// jsonNoEscape encodes s as the host's client does: without HTML escaping.
func jsonNoEscape(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// emailsText says "1 email" or "n emails", as the bulk writes' summaries do.
func emailsText(n int) string {
	if n == 1 {
		return "1 email"
	}
	return strconv.Itoa(n) + " emails"
}

var (
	inboxPanel = []string{"inbox"}
	idemKey    = regexp.MustCompile(`^mc-[0-9a-f]{32}$`)
)

// ── status ──────────────────────────────────────────────────────────────────

func TestStatus(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		personal, work := svcUnread(t, h, "personal", "INBOX").Unread, svcUnread(t, h, "work", "INBOX").Unread
		want := mailclient.StatusData{Connected: true, Total: 2, Accounts: []mailclient.AccountStatus{
			{AccountID: "personal", Email: "demo@personal.example.com", Provider: "imap", ProviderLabel: "IMAP", DisplayName: "Personal", UnreadCount: &personal},
			{AccountID: "work", Email: "demo@work.example.com", Provider: "imap", ProviderLabel: "IMAP", DisplayName: "Work", Active: true, UnreadCount: &work},
		}}
		for _, tc := range []struct {
			name     string
			upstream map[string]int
			hits     int
		}{
			{"first call seeds the store", map[string]int{"/v1/accounts": 1, "/v1/unread": 2}, 0},
			{"second call reads the store and the cache", nil, 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h.run(t, step{fn: "status", params: map[string]any{}, upstream: tc.upstream, check: func(t *testing.T, res hosttest.Result) {
					ok(t, res, "2 account(s) connected.")
					if got := hosttest.Data[mailclient.StatusData](t, res); !reflect.DeepEqual(got, want) {
						t.Errorf("data %s, want %+v", res.Data, want)
					}
					if res.Trace.CacheHits != tc.hits {
						t.Errorf("cache hits %d, want %d", res.Trace.CacheHits, tc.hits)
					}
				}})
			})
		}
		if got := cacheKeys(h); !slices.Equal(got, []string{"unread:personal:INBOX", "unread:work:INBOX"}) {
			t.Fatalf("cache keys %v", got)
		}
		if e := h.entry(t, "unread:work:INBOX"); e.Model != "folder_unread" {
			t.Fatalf("entry %v", e)
		}

		// A user who connected an account of their own is not seeded.
		ann := hosttest.AsUser("ann")
		if res := h.Call("mail-client", "connect_account", map[string]any{"account_id": "home", "email": "ann@home.example", "provider": "gmail"}, ann); !res.OK() {
			t.Fatalf("connect_account = %s", res.JSON)
		}
		h.run(t, step{fn: "status", params: map[string]any{}, upstream: map[string]int{"/v1/unread": 1}, check: func(t *testing.T, res hosttest.Result) {
			ok(t, res, "1 account(s) connected.")
			got := hosttest.Data[mailclient.StatusData](t, res)
			if len(got.Accounts) != 1 || got.Total != 1 || !got.Connected {
				t.Fatalf("data %s", res.Data)
			}
			if a := got.Accounts[0]; a.AccountID != "home" || a.Email != "ann@home.example" || a.Provider != "gmail" || a.ProviderLabel != "Google" ||
				a.DisplayName != "" || a.Active || a.UnreadCount == nil {
				t.Fatalf("account %s", res.Data)
			}
		}}, ann)
	})
}

// Failures are about the mail-service, not the cache: one backend (the
// two-backend TestUpstreamFailureIsAnErrorAndNotCached covers caching).
func TestStatusWhenTheMailServiceFails(t *testing.T) {
	t.Parallel()
	h := newHost(t, "memory")
	// Before the accounts are known, status needs the mail-service.
	h.mail.fail(http.StatusServiceUnavailable)
	h.run(t, step{fn: "status", params: map[string]any{}, upstream: map[string]int{"/v1/accounts": 1}, check: func(t *testing.T, res hosttest.Result) {
		wantFailure(t, res, runtime.CodeBackend5xx, "mail-service failed (HTTP 503).", true)
	}})
	if docs := h.Documents(h.user); len(docs) != 0 {
		t.Fatalf("a failed seeding stored %+v", docs)
	}

	// Once they are, a count that fails is null, and the answer stands.
	seedAccounts(h)
	h.run(t, step{fn: "status", params: map[string]any{}, upstream: map[string]int{"/v1/unread": 2}, check: func(t *testing.T, res hosttest.Result) {
		ok(t, res, "2 account(s) connected.")
		if !strings.Contains(string(res.Data), `"account_id":"personal"`) || strings.Count(string(res.Data), `"unread_count":null`) != 2 {
			t.Fatalf("data %s", res.Data)
		}
	}})
	if got := cacheKeys(h); len(got) != 0 {
		t.Fatalf("failed counts were cached: %v", got)
	}
	h.mail.fail(0)
	h.run(t, step{fn: "status", params: map[string]any{}, upstream: map[string]int{"/v1/unread": 2}, check: func(t *testing.T, res hosttest.Result) {
		for _, a := range hosttest.Data[mailclient.StatusData](t, res).Accounts {
			if a.UnreadCount == nil || *a.UnreadCount != svcUnread(t, h, a.AccountID, "INBOX").Unread {
				t.Fatalf("after recovery: %s", res.Data)
			}
		}
	}})
}

// ── switch_account ──────────────────────────────────────────────────────────

func TestSwitchAccount(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		if got := cacheKeys(h); !slices.Equal(got, []string{"msgs:work:INBOX", "unread:work:INBOX"}) {
			t.Fatalf("cache keys before the switch %v", got)
		}

		accountPanels := []string{"inbox", "accounts"}
		h.run(t, step{fn: "switch_account", params: map[string]any{"account": "DEMO@Personal.Example.COM"},
			event: "account.switched", panels: accountPanels, check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Switched to demo@personal.example.com.")
				if want := `{"switched":true,"active_account":"personal","email":"demo@personal.example.com"}`; string(res.Data) != want {
					t.Fatalf("data %s, want %s", res.Data, want)
				}
			}})
		// The page of the account left behind is dropped; its unread
		// count was not changed by the switch and stays.
		if got := cacheKeys(h); !slices.Equal(got, []string{"unread:work:INBOX"}) {
			t.Fatalf("cache keys after the switch %v", got)
		}

		// Calls naming no account use the new one.
		view := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		if view.Account != "personal" || h.last("/v1/inbox").Query.Get("account_id") != "personal" {
			t.Fatalf("inbox after the switch listed %q (upstream %v)", view.Account, h.last("/v1/inbox").Query)
		}
		if want := previewsOf(svcInbox(t, h, "personal", "INBOX", 20, "").Messages, ""); !reflect.DeepEqual(view.Messages, want) {
			t.Fatalf("inbox after the switch: %v, not personal's first page", idsOf(view))
		}
		h.run(t, step{fn: "status", params: map[string]any{}, upstream: map[string]int{}, check: func(t *testing.T, res hosttest.Result) {
			a := hosttest.Data[mailclient.StatusData](t, res).Accounts
			if !a[0].Active || a[1].Active {
				t.Fatalf("active flags after the switch: %s", res.Data)
			}
		}})

		// Switching to the active account drops nothing.
		h.run(t, step{fn: "switch_account", params: map[string]any{"account": "personal"}, event: "account.switched", panels: accountPanels,
			check: func(t *testing.T, res hosttest.Result) { ok(t, res, "Switched to demo@personal.example.com.") }})
		if !slices.Contains(cacheKeys(h), "msgs:personal:INBOX") {
			t.Fatalf("switching to the active account dropped its page: %v", cacheKeys(h))
		}

		for _, tc := range []struct {
			name          string
			params        map[string]any
			code, message string
		}{
			{"unknown account", map[string]any{"account": "nope"}, "ACCOUNT_NOT_FOUND", "Account not found. Available: personal, work."},
			{"missing account", map[string]any{}, runtime.CodeValidationMissingField, "A required field is missing: account"},
			{"empty account", map[string]any{"account": ""}, runtime.CodeValidationTypeError, "Invalid value type for field: account (shorter than 1 character(s))"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h.run(t, step{fn: "switch_account", params: tc.params, check: func(t *testing.T, res hosttest.Result) {
					wantFailure(t, res, tc.code, tc.message, false)
				}})
			})
		}
	})
}

// ── inbox ───────────────────────────────────────────────────────────────────

func TestInbox(t *testing.T) {
	t.Parallel()
	// The cases run in order on one host: a folder's unread count is
	// fetched by its first case only, and cached for the others.
	cases := []struct {
		name    string
		params  map[string]any
		account string
		folder  string
		limit   int  // messages asked of the mail-service, and answered
		cached  bool // pages of the default size are cached
		unread  bool // the folder's unread count is fetched
	}{
		{"defaults", map[string]any{}, "work", "INBOX", 20, true, true},
		{"folder in any case", map[string]any{"folder": "Sent"}, "work", "sent", 20, true, true},
		{"account by address", map[string]any{"account": "demo@personal.example.com"}, "personal", "INBOX", 20, true, true},
		{"limit 0 is 1", map[string]any{"limit": 0}, "work", "INBOX", 1, false, false},
		{"limit 500 is 100", map[string]any{"limit": 500}, "work", "INBOX", 100, false, false},
		{"limit as a string", map[string]any{"limit": "7"}, "work", "INBOX", 7, false, false},
	}
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wire := svcInbox(t, h, tc.account, tc.folder, tc.limit, "")
				unread := svcUnread(t, h, tc.account, tc.folder).Unread
				upstream := map[string]int{"/v1/inbox": 1}
				if tc.unread {
					upstream["/v1/unread"] = 1
				}
				before := cacheKeys(h)
				h.run(t, step{fn: "inbox", params: tc.params, upstream: upstream, check: func(t *testing.T, res hosttest.Result) {
					ok(t, res, fmt.Sprintf("%d message(s) in %s.", tc.limit, tc.folder))
					view := hosttest.Data[mailclient.InboxView](t, res)
					if view.Account != tc.account || view.Folder != tc.folder || view.Page != 1 || view.Total != nil ||
						view.HasMore != wire.HasMore || !view.HasMore || view.Cursor == "" || view.UnreadCount != unread {
						t.Errorf("view %+v", view)
					}
					if want := previewsOf(wire.Messages, ""); !reflect.DeepEqual(view.Messages, want) {
						t.Errorf("messages differ from the mail-service's page:\n got %+v\nwant %+v", view.Messages, want)
					}
					if !strings.Contains(string(res.Data), `"total":null`) {
						t.Errorf("total is not null: %.200s", res.Data)
					}
				}})
				q := h.last("/v1/inbox").Query.Encode()
				if want := fmt.Sprintf("account_id=%s&folder=%s&limit=%d&page=0&user_id=demo", tc.account, tc.folder, tc.limit); q != want {
					t.Fatalf("upstream query %s, want %s", q, want)
				}
				var added []string
				for _, k := range cacheKeys(h) {
					if !slices.Contains(before, k) {
						added = append(added, k)
					}
				}
				var want []string
				if tc.cached {
					want = append(want, "msgs:"+tc.account+":"+tc.folder)
				}
				if tc.unread {
					want = append(want, "unread:"+tc.account+":"+tc.folder)
				}
				if !slices.Equal(added, want) {
					t.Fatalf("the call cached %v, want %v", added, want)
				}
				// The same call again: a page of the default size from the
				// cache, any other size from the mail-service again.
				again := map[string]int{"/v1/inbox": 1}
				if tc.cached {
					again = nil
				}
				h.run(t, step{fn: "inbox", params: tc.params, upstream: again, check: func(t *testing.T, res hosttest.Result) {
					ok(t, res, fmt.Sprintf("%d message(s) in %s.", tc.limit, tc.folder))
					if hits := map[bool]int{true: 2, false: 1}[tc.cached]; res.Trace.CacheHits != hits {
						t.Errorf("cache hits %d, want %d", res.Trace.CacheHits, hits)
					}
				}})
			})
		}
	})
}

func TestInboxPagesAndCache(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		first := h.Call("mail-client", "inbox", map[string]any{})
		page1 := hosttest.Data[mailclient.InboxView](t, first)
		e := h.entry(t, "msgs:work:INBOX")
		if e.Model != "inbox_messages" || e.TTL <= 50*time.Second || e.TTL > time.Minute ||
			!bytes.HasPrefix(e.Envelope, []byte(`{"model":"inbox_messages","version":1,"data":{"account_id":"work","folder":"INBOX","page":1,"messages":[`)) {
			t.Fatalf("entry %v %.120s", e, e.Envelope)
		}

		// Mail arriving does not show while the page is cached: the hit
		// answers exactly what the miss did.
		svcDeliver(t, h, "work", "", map[string]any{"from": "New <new@x.example>", "subject": "Arrived after the page"})
		h.run(t, step{fn: "inbox", params: map[string]any{"folder": "inbox"}, check: func(t *testing.T, res hosttest.Result) {
			if res.Trace.CacheHits != 2 || res.Trace.CacheMisses != 0 || !bytes.Equal(res.JSON, first.JSON) {
				t.Fatalf("hit %+v answered %s", res.Trace, res.JSON)
			}
		}})

		// The cursor asks for page 2 by the mail-service's cursor of page
		// 1, a position: the mail delivered since does not shift it.
		page2 := h.inboxView(t, map[string]any{"cursor": page1.Cursor}, map[string]int{"/v1/inbox": 1})
		sent := h.last("/v1/inbox").Query
		var pc struct {
			A, F, C string
			L, P    int
		}
		raw, err := base64.RawURLEncoding.DecodeString(page1.Cursor)
		if err != nil || json.Unmarshal(raw, &pc) != nil {
			t.Fatalf("cursor %q does not decode: %v", page1.Cursor, err)
		}
		if pc.A != "work" || pc.F != "INBOX" || pc.L != 20 || pc.P != 2 || sent.Get("cursor") != pc.C || sent.Get("limit") != "20" {
			t.Fatalf("cursor %+v, upstream %v", pc, sent)
		}
		want2 := svcInbox(t, h, "work", "INBOX", 20, pc.C)
		if page2.Page != 2 || !reflect.DeepEqual(page2.Messages, previewsOf(want2.Messages, "")) || page2.Messages[0].MessageID == page1.Messages[0].MessageID {
			t.Fatalf("page 2 %v, want %v", idsOf(page2), idsOf(mailclient.InboxView{Messages: previewsOf(want2.Messages, "")}))
		}
		if !slices.Contains(cacheKeys(h), "msgs:work:INBOX:p2") {
			t.Fatalf("page 2 not cached: %v", cacheKeys(h))
		}
		h.inboxView(t, map[string]any{"cursor": page1.Cursor}, nil)

		// A cursor of another listing starts that listing over.
		sentPage := h.inboxView(t, map[string]any{"cursor": page1.Cursor, "folder": "sent"}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		if sentPage.Page != 1 || sentPage.Folder != "sent" || h.last("/v1/inbox").Query.Has("cursor") {
			t.Fatalf("another folder's cursor: page %d of %s, upstream %v", sentPage.Page, sentPage.Folder, h.last("/v1/inbox").Query)
		}

		for name, cursor := range map[string]string{
			"not base64":     "garbage!!",
			"not JSON":       base64.RawURLEncoding.EncodeToString([]byte("abc")),
			"page 1":         base64.RawURLEncoding.EncodeToString([]byte(`{"a":"work","f":"INBOX","l":20,"p":1,"c":"x"}`)),
			"no next cursor": base64.RawURLEncoding.EncodeToString([]byte(`{"a":"work","f":"INBOX","l":20,"p":2}`)),
		} {
			t.Run(name, func(t *testing.T) {
				h.run(t, step{fn: "inbox", params: map[string]any{"cursor": cursor}, check: func(t *testing.T, res hosttest.Result) {
					wantFailure(t, res, "VALIDATION", "The cursor is not one inbox gave; list from the first page.", false)
				}})
			})
		}
	})
}

// ── The folder "[Gmail]/All Mail" ───────────────────────────────────────────

func TestGmailAllMailFolder(t *testing.T) {
	t.Parallel()
	const allMail = "[Gmail]/All Mail"
	part := encodedPart("_Gmail_All_Mail", allMail)
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		// list_inbox: the mail-service's default page, 20 of it shown.
		wire := svcInbox(t, h, "work", allMail, 25, "")
		var first hosttest.Result
		for i, tc := range []struct {
			upstream map[string]int
			hits     int
		}{{map[string]int{"/v1/inbox": 1}, 0}, {nil, 1}} {
			res := h.run(t, step{fn: "list_inbox", params: map[string]any{"account_id": "work", "folder": allMail}, upstream: tc.upstream,
				check: func(t *testing.T, res hosttest.Result) {
					ok(t, res, "20 message(s) in [Gmail]/All Mail.")
					if res.Trace.CacheHits != tc.hits {
						t.Errorf("call %d: cache hits %d, want %d", i+1, res.Trace.CacheHits, tc.hits)
					}
				}})
			if i == 0 {
				first = res
				if q := h.last("/v1/inbox").Query; q.Get("folder") != allMail || q.Get("account_id") != "work" {
					t.Fatalf("upstream query %v", q)
				}
				data := hosttest.Data[mailclient.InboxData](t, res)
				if data.Total != wire.Total || !data.HasMore || len(data.Messages) != 20 || messageAt(t, data, 0).ID != wire.Messages[0].ID || messageAt(t, data, 19).ID != wire.Messages[19].ID {
					t.Fatalf("list_inbox data: total %d (want %d), %d messages", data.Total, wire.Total, len(data.Messages))
				}
			} else if !bytes.Equal(res.JSON, first.JSON) {
				t.Fatalf("the hit answered differently: %s", res.JSON)
			}
		}
		key := "inbox:work:" + part + ":0"
		if err := cache.ValidateKey(key); err != nil {
			t.Fatalf("key %s: %v", key, err)
		}
		if e := h.entry(t, key); e.Model != "inbox_page" {
			t.Fatalf("entry %v", e)
		}

		// inbox: its own page of 20 and the folder's unread count.
		wire20 := svcInbox(t, h, "work", allMail, 20, "")
		unread := svcUnread(t, h, "work", allMail).Unread
		for i, upstream := range []map[string]int{{"/v1/inbox": 1, "/v1/unread": 1}, nil} {
			h.run(t, step{fn: "inbox", params: map[string]any{"folder": allMail}, upstream: upstream, check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "20 message(s) in [Gmail]/All Mail.")
				view := hosttest.Data[mailclient.InboxView](t, res)
				if view.Folder != allMail || view.UnreadCount != unread || !reflect.DeepEqual(view.Messages, previewsOf(wire20.Messages, "")) {
					t.Errorf("view %+v", view)
				}
				if hits := []int{0, 2}[i]; res.Trace.CacheHits != hits {
					t.Errorf("call %d: cache hits %d, want %d", i+1, res.Trace.CacheHits, hits)
				}
			}})
		}
		for _, key := range []string{"msgs:work:" + part, "unread:work:" + part} {
			if err := cache.ValidateKey(key); err != nil {
				t.Fatalf("key %s: %v", key, err)
			}
			h.entry(t, key)
		}
	})
}

// ── read_email ──────────────────────────────────────────────────────────────

func TestReadEmail(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		page := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		target := firstUnread(t, page)
		h.run(t, step{fn: "read_email", params: map[string]any{"message_id": target.MessageID}, upstream: map[string]int{"/v1/messages/{id}": 1},
			check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Email: "+target.Subject)
				want := svcMessage(t, h, "work", target.MessageID)
				want.Account = "work"
				if got := hosttest.Data[mailclient.EmailMessage](t, res); !reflect.DeepEqual(got, want) || got.Unread || got.Body == "" || got.Folder != "INBOX" || got.Attachments == nil {
					t.Fatalf("read_email\n got %+v\nwant %+v", got, want)
				}
			}})
		if q := h.last("/v1/messages/" + target.MessageID).Query.Encode(); q != "account_id=work&mark_read=true&user_id=demo" {
			t.Fatalf("upstream query %s", q)
		}
		// The cached page is patched: no listing request, the message
		// read; the unread count is fetched anew.
		after := h.inboxView(t, map[string]any{}, map[string]int{"/v1/unread": 1})
		want := slices.Clone(page.Messages)
		for i := range want {
			if want[i].MessageID == target.MessageID {
				want[i].Unread = false
			}
		}
		if !reflect.DeepEqual(after.Messages, want) || after.UnreadCount != page.UnreadCount-1 {
			t.Fatalf("after read_email: unread %d (was %d), messages %+v", after.UnreadCount, page.UnreadCount, after.Messages)
		}
		var last map[string]string
		for _, d := range h.Documents(h.user) {
			if d.Collection == "mail_last_read" && d.ID == "last" {
				_ = json.Unmarshal(d.Data, &last)
			}
		}
		if last["message_id"] != target.MessageID || last["account"] != "work" || last["from"] != target.From {
			t.Fatalf("last read %v", last)
		}

		// A message of the other account is found there, when the call
		// names no account.
		other := svcDeliver(t, h, "personal", "", map[string]any{"from": "Pat <pat@x.example>", "subject": "Only in personal"})[0]
		if status, _ := svcDo(t, h, http.MethodGet, "/v1/messages/"+other+"?user_id=demo&account_id=work", nil); status != http.StatusNotFound {
			t.Fatalf("%s is in work too (%d): the test needs an id only personal has", other, status)
		}
		h.run(t, step{fn: "read_email", params: map[string]any{"message_id": other}, upstream: map[string]int{"/v1/messages/{id}": 2},
			check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Email: Only in personal")
				if msg := hosttest.Data[mailclient.EmailMessage](t, res); msg.Account != "personal" || msg.MessageID != other || msg.From != "Pat <pat@x.example>" {
					t.Fatalf("read_email %+v", msg)
				}
			}})

		for _, tc := range []struct {
			name          string
			params        map[string]any
			upstream      map[string]int
			code, message string
		}{
			{"only in another account", map[string]any{"message_id": other, "account": "work"}, map[string]int{"/v1/messages/{id}": 1}, "NOT_FOUND", "Email not found in any connected account."},
			{"in no account", map[string]any{"message_id": "m-9999"}, map[string]int{"/v1/messages/{id}": 2}, "NOT_FOUND", "Email not found in any connected account."},
			{"a dot", map[string]any{"message_id": "."}, nil, "NOT_FOUND", "Email not found in any connected account."},
			{"unknown account", map[string]any{"message_id": "m-0001", "account": "nope"}, nil, "ACCOUNT_NOT_FOUND", "Account not found. Available: personal, work."},
			{"no id", map[string]any{}, nil, runtime.CodeValidationMissingField, "A required field is missing: message_id"},
			{"empty id", map[string]any{"message_id": ""}, nil, runtime.CodeValidationTypeError, "Invalid value type for field: message_id (shorter than 1 character(s))"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h.run(t, step{fn: "read_email", params: tc.params, upstream: tc.upstream, check: func(t *testing.T, res hosttest.Result) {
					wantFailure(t, res, tc.code, tc.message, false)
				}})
			})
		}
	})
}

// ── search ──────────────────────────────────────────────────────────────────

// search caches nothing: one backend is enough.
func TestSearch(t *testing.T) {
	t.Parallel()
	h := newHost(t, "memory")
	seedAccounts(h)
	for _, tc := range []struct {
		name     string
		params   map[string]any
		query    string
		limit    int    // asked of the mail-service, and the most answered
		folder   string // sent to the mail-service; "" for none
		accounts []string
		oldest   bool
	}{
		{"one account, default max", map[string]any{"query": "from:ada", "account": "work"}, "from:ada", 50, "", []string{"work"}, false},
		{"max_results 0 is 1", map[string]any{"query": "is:unread", "account": "work", "max_results": 0}, "is:unread", 1, "", []string{"work"}, false},
		{"max_results 1000 is 200", map[string]any{"query": "in:inbox", "account": "work", "max_results": 1000}, "in:inbox", 200, "", []string{"work"}, false},
		{"max_results as a string", map[string]any{"query": "is:read", "account": "work", "max_results": "5"}, "is:read", 5, "", []string{"work"}, false},
		{"folder in any case", map[string]any{"query": "is:unread", "account": "work", "folder": "Inbox", "max_results": 3}, "is:unread", 3, "INBOX", []string{"work"}, false},
		{"every account", map[string]any{"query": "in:inbox", "max_results": 3}, "in:inbox", 3, "", []string{"personal", "work"}, false},
		{"every account, oldest first", map[string]any{"query": "in:inbox", "max_results": 4, "oldest_first": true}, "in:inbox", 4, "", []string{"personal", "work"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []mailclient.MessagePreview
			total := 0
			for _, a := range tc.accounts {
				q := tc.query
				if tc.folder != "" {
					q += " in:" + tc.folder
				}
				s := svcSearch(t, h, a, q, tc.limit, tc.oldest)
				want = append(want, previewsOf(s.Results, a)...)
				total += s.Total
			}
			if len(tc.accounts) > 1 {
				slices.SortStableFunc(want, func(a, b mailclient.MessagePreview) int {
					if tc.oldest {
						return cmp.Compare(a.Date, b.Date)
					}
					return cmp.Compare(b.Date, a.Date)
				})
				want = want[:min(len(want), tc.limit)]
			}
			before := len(h.Requests("mail-service"))
			h.run(t, step{fn: "search", params: tc.params, upstream: map[string]int{"/v1/search": len(tc.accounts)}, check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, fmt.Sprintf("%d result(s) for '%s'.", total, tc.query))
				page := hosttest.Data[mailclient.SearchPage](t, res)
				if page.Query != tc.query || page.Total != total || page.HasMore != (total > len(want)) || !reflect.DeepEqual(page.Messages, want) {
					t.Fatalf("search: total %d (want %d), has_more %v, messages %d (want %d)", page.Total, total, page.HasMore, len(page.Messages), len(want))
				}
			}})
			for i, r := range h.Requests("mail-service")[before:] {
				want := url.Values{"user_id": {"demo"}, "account_id": {tc.accounts[i]}, "q": {tc.query}, "limit": {strconv.Itoa(tc.limit)}, "oldest_first": {strconv.FormatBool(tc.oldest)}}
				if tc.folder != "" {
					want.Set("folder", tc.folder)
				}
				if r.Query.Encode() != want.Encode() {
					t.Fatalf("request %d: %s, want %s", i, r.Query.Encode(), want.Encode())
				}
			}
		})
	}
	for _, tc := range []struct {
		name          string
		params        map[string]any
		code, message string
	}{
		{"no query", map[string]any{}, runtime.CodeValidationMissingField, "A required field is missing: query"},
		{"empty query", map[string]any{"query": ""}, runtime.CodeValidationTypeError, "Invalid value type for field: query (shorter than 1 character(s))"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.run(t, step{fn: "search", params: tc.params, check: func(t *testing.T, res hosttest.Result) { wantFailure(t, res, tc.code, tc.message, false) }})
		})
	}
	if got := cacheKeys(h); len(got) != 0 {
		t.Fatalf("search cached %v", got)
	}
}

// ── count_emails ────────────────────────────────────────────────────────────

func TestCountEmails(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		type counts struct {
			Total      int `json:"total"`
			InboxTotal int `json:"inbox_total"`
			Unread     int `json:"unread"`
			Spam       int `json:"spam"`
			Archive    int `json:"archive"`
			Today      int `json:"today"`
		}
		work := svc[counts](t, h, http.MethodGet, "/v1/counts?user_id=demo&account_id=work", nil)
		personal := svc[counts](t, h, http.MethodGet, "/v1/counts?user_id=demo&account_id=personal", nil)
		// Cases run in order: the account's counts are fetched once and
		// cached for the cases after.
		for _, tc := range []struct {
			name     string
			params   map[string]any
			want     int
			upstream map[string]int
		}{
			{"all, by default", map[string]any{"account": "work"}, work.Total, map[string]int{"/v1/counts": 1}},
			{"all", map[string]any{"account": "work", "folder": "all"}, work.Total, nil},
			{"unread", map[string]any{"account": "work", "folder": "unread"}, work.Unread, nil},
			{"inbox, any case", map[string]any{"account": "work", "folder": "INBOX"}, work.InboxTotal, nil},
			{"today", map[string]any{"account": "work", "folder": "today"}, work.Today, nil},
			{"spam", map[string]any{"account": "work", "folder": "spam"}, work.Spam, nil},
			{"archive", map[string]any{"account": "work", "folder": "Archive"}, work.Archive, nil},
			{"a folder", map[string]any{"account": "work", "folder": "Sent"}, svcUnread(t, h, "work", "sent").Total, map[string]int{"/v1/unread": 1}},
			{"starred", map[string]any{"account": "work", "folder": "starred"}, svcUnread(t, h, "work", "starred").Total, map[string]int{"/v1/unread": 1}},
			{"a query", map[string]any{"account": "work", "query": "is:starred"}, svcSearch(t, h, "work", "is:starred", 1, false).Total, map[string]int{"/v1/search": 1}},
			{"a query in a folder", map[string]any{"account": "work", "query": "is:unread", "folder": "inbox"}, svcSearch(t, h, "work", "is:unread in:INBOX", 1, false).Total, map[string]int{"/v1/search": 1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h.run(t, step{fn: "count_emails", params: tc.params, upstream: tc.upstream, check: func(t *testing.T, res hosttest.Result) {
					ok(t, res, fmt.Sprintf("%d email(s).", tc.want))
					if want := fmt.Sprintf(`{"counts":{"demo@work.example.com":%d,"total":%d},"total":%d}`, tc.want, tc.want, tc.want); string(res.Data) != want {
						t.Fatalf("data %s, want %s", res.Data, want)
					}
				}})
			})
		}
		if q := h.last("/v1/search").Query; q.Get("limit") != "1" || q.Get("folder") != "INBOX" || q.Get("q") != "is:unread" {
			t.Fatalf("count by query asked %v", q)
		}
		e := h.entry(t, "counts:work")
		if e.Model != "mail_counts" || e.TTL <= 25*time.Second || e.TTL > 30*time.Second {
			t.Fatalf("counts entry %v", e)
		}

		// Every account: a count per address and their sum.
		h.run(t, step{fn: "count_emails", params: map[string]any{"folder": "unread"}, upstream: map[string]int{"/v1/counts": 1}, check: func(t *testing.T, res hosttest.Result) {
			sum := work.Unread + personal.Unread
			ok(t, res, fmt.Sprintf("%d email(s).", sum))
			want := mailclient.FolderCounts{Counts: map[string]int{"demo@work.example.com": work.Unread, "demo@personal.example.com": personal.Unread, "total": sum}, Total: sum}
			if got := hosttest.Data[mailclient.FolderCounts](t, res); !reflect.DeepEqual(got, want) {
				t.Fatalf("data %s, want %+v", res.Data, want)
			}
		}})
	})
}

// ── Reads when the mail-service fails ───────────────────────────────────────

// One backend: that failures are not cached, both backends show in
// TestUpstreamFailureIsAnErrorAndNotCached.
func TestReadsWhenTheMailServiceFails(t *testing.T) {
	t.Parallel()
	const notFound = "Message not found in this account. If it belongs to a different account, switch accounts first."
	reads := []struct {
		fn     string
		params map[string]any
	}{
		{"inbox", map[string]any{}},
		{"read_email", map[string]any{"message_id": "m-0001", "account": "work"}},
		{"search", map[string]any{"query": "is:unread", "account": "work"}},
		{"count_emails", map[string]any{"account": "work"}},
	}
	statuses := []struct {
		status    int
		code      string
		message   string
		retryable bool
	}{
		{http.StatusServiceUnavailable, runtime.CodeBackend5xx, "mail-service failed (HTTP 503).", true},
		{http.StatusTooManyRequests, runtime.CodeRateLimited, "The mail-service is rate limiting; try again shortly.", true},
		{http.StatusNotFound, "NOT_FOUND", notFound, false},
	}
	h := newHost(t, "memory")
	seedAccounts(h)
	for _, st := range statuses {
		for _, r := range reads {
			t.Run(fmt.Sprintf("%s/%d", r.fn, st.status), func(t *testing.T) {
				h.mail.fail(st.status)
				defer h.mail.fail(0)
				message := st.message
				if r.fn == "read_email" && st.status == http.StatusNotFound {
					message = "Email not found in any connected account." // a 404 of every account tried
				}
				res := h.Call("mail-client", r.fn, r.params)
				wantFailure(t, res, st.code, message, st.retryable)
				if res.RefreshPanels != nil || len(h.Events()) != 0 {
					t.Fatalf("a failed read refreshed %v, published %v", res.RefreshPanels, h.Events())
				}
			})
		}
	}
	if got := cacheKeys(h); len(got) != 0 {
		t.Fatalf("failures were cached: %v", got)
	}
}

// ── send ────────────────────────────────────────────────────────────────────

// One backend: what a send drops from the cache is checked on both in
// TestSendOncePerRequestID.
func TestSend(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 70) + "\nsecond line"
	h := newHost(t, "memory")
	seedAccounts(h)
	for _, tc := range []struct {
		name    string
		params  map[string]any
		account string
		// The request's to, subject and body as sent to the mail-service.
		to, subject, body string
		extra             string // the request's cc, bcc and is_html
	}{
		{"body", map[string]any{"to": "ann@x.example", "subject": "Hello", "body": "Hi Ann"}, "work", "ann@x.example", "Hello", "Hi Ann", ""},
		{"content", map[string]any{"to": "ann@x.example", "content": "Hi from content\nMore."}, "work", "ann@x.example", "Hi from content", "Hi from content\nMore.", ""},
		{"message", map[string]any{"to": "ann@x.example", "subject": "M", "message": "Hi from message"}, "work", "ann@x.example", "M", "Hi from message", ""},
		{"text", map[string]any{"to": "ann@x.example", "subject": "T", "text": "Hi from text"}, "work", "ann@x.example", "T", "Hi from text", ""},
		{"blank body, then content", map[string]any{"to": "ann@x.example", "subject": "B", "body": "  ", "content": "the content"}, "work", "ann@x.example", "B", "the content", ""},
		{"subject from a long first line", map[string]any{"to": " ann@x.example, bob@x.example ", "body": long}, "work", "ann@x.example, bob@x.example", strings.Repeat("é", 60), long, ""},
		{"blank subject", map[string]any{"to": "ann@x.example", "subject": "   ", "body": "\n\n  First words  \nrest"}, "work", "ann@x.example", "First words", "\n\n  First words  \nrest", ""},
		{"from another account, cc, bcc, html", map[string]any{"to": "ann@x.example", "subject": "S", "body": "<p>hi</p>", "cc": "c@x.example", "bcc": "b@x.example", "is_html": true, "account": "personal"},
			"personal", "ann@x.example", "S", "<p>hi</p>", `"cc":"c@x.example","bcc":"b@x.example"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent mailclient.SentEmail
			h.run(t, step{fn: "send", params: tc.params, upstream: map[string]int{"/v1/send": 1}, event: "sent", panels: inboxPanel,
				check: func(t *testing.T, res hosttest.Result) {
					ok(t, res, "Email sent to "+tc.to+".")
					sent = hosttest.Data[mailclient.SentEmail](t, res)
				}})
			newest := svcInbox(t, h, tc.account, "sent", 1, "").Messages[0]
			want := mailclient.SentEmail{Sent: true, MessageID: newest.ID, ThreadID: newest.ThreadID, Account: tc.account, To: tc.to, Subject: tc.subject}
			if sent != want || newest.Subject != tc.subject {
				t.Fatalf("sent %+v, want %+v (newest in sent: %+v)", sent, want, newest)
			}
			extra, html := tc.extra, tc.params["is_html"] == true
			if extra == "" {
				extra = `"cc":"","bcc":""`
			}
			req := h.last("/v1/send")
			wantBody := `{"user_id":"demo","account_id":"` + tc.account + `","to":` + string(jsonNoEscape(tc.to)) + `,` + extra +
				`,"subject":` + string(jsonNoEscape(tc.subject)) + `,"body":` + string(jsonNoEscape(tc.body)) + `,"is_html":` + strconv.FormatBool(html) + `}`
			if string(req.Body) != wantBody {
				t.Fatalf("send body\n got %s\nwant %s", req.Body, wantBody)
			}
			if k := req.Header.Get("Idempotency-Key"); !idemKey.MatchString(k) {
				t.Fatalf("Idempotency-Key %q", k)
			}
		})
	}

	for _, tc := range []struct {
		name          string
		params        map[string]any
		upstream      map[string]int
		code, message string
	}{
		{"no body", map[string]any{"to": "ann@x.example", "subject": "S"}, nil, "VALIDATION", "Email body is required."},
		{"blank body and aliases", map[string]any{"to": "ann@x.example", "body": " ", "content": "\n", "message": "", "text": "\t"}, nil, "VALIDATION", "Email body is required."},
		{"empty to", map[string]any{"to": "", "body": "x"}, nil, "VALIDATION", "Recipient (to) is required."},
		{"blank to", map[string]any{"to": "   ", "body": "x"}, nil, "VALIDATION", "Recipient (to) is required."},
		{"no to", map[string]any{"body": "x"}, nil, runtime.CodeValidationMissingField, "A required field is missing: to"},
		{"unknown account", map[string]any{"to": "ann@x.example", "body": "x", "account": "nope"}, nil, "ACCOUNT_NOT_FOUND", "Account not found. Available: personal, work."},
		{"an address without @", map[string]any{"to": "nobody", "body": "x"}, map[string]int{"/v1/send": 1}, "VALIDATION", "The mail-service refused the request as invalid."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.run(t, step{fn: "send", params: tc.params, upstream: tc.upstream, check: func(t *testing.T, res hosttest.Result) {
				wantFailure(t, res, tc.code, tc.message, false)
			}})
		})
	}

	// A send drops the cached listing of sent: the next one shows it.
	h.inboxView(t, map[string]any{"folder": "sent"}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
	res := h.Call("mail-client", "send", map[string]any{"to": "ann@x.example", "subject": "Listed", "body": "x"})
	ok(t, res, "Email sent to ann@x.example.")
	view := h.inboxView(t, map[string]any{"folder": "sent"}, map[string]int{"/v1/inbox": 1})
	if view.Messages[0].MessageID != hosttest.Data[mailclient.SentEmail](t, res).MessageID || view.Messages[0].Subject != "Listed" {
		t.Fatalf("sent after a send: %+v", view.Messages[0])
	}
}

// The same call retried, under the same request id, sends once; two calls
// with their own ids send twice, even with the same text.
func TestSendOncePerRequestID(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		var keysSent []string
		send := func(subject, requestID string) mailclient.SentEmail {
			t.Helper()
			res := h.run(t, step{fn: "send", params: map[string]any{"to": "ann@x.example", "subject": subject, "body": "Once only"},
				upstream: map[string]int{"/v1/send": 1}, event: "sent", panels: inboxPanel,
				check: func(t *testing.T, res hosttest.Result) { ok(t, res, "Email sent to ann@x.example.") }}, hosttest.RequestID(requestID))
			keysSent = append(keysSent, h.last("/v1/send").Header.Get("Idempotency-Key"))
			return hosttest.Data[mailclient.SentEmail](t, res)
		}
		inSent := func(subject string) []string {
			t.Helper()
			var out []string
			for _, m := range h.inboxView(t, map[string]any{"folder": "sent"}, nil).Messages {
				if m.Subject == subject {
					out = append(out, m.MessageID)
				}
			}
			return out
		}
		h.inboxView(t, map[string]any{"folder": "sent"}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})

		first, again := send("Retried", "r-1"), send("Retried", "r-1")
		if first != again {
			t.Fatalf("the retry answered %+v, the first call %+v", again, first)
		}
		if keysSent[0] != keysSent[1] || !idemKey.MatchString(keysSent[0]) {
			t.Fatalf("the retry sent Idempotency-Key %q, the first call %q", keysSent[1], keysSent[0])
		}
		h.run(t, step{fn: "inbox", params: map[string]any{"folder": "sent"}, upstream: map[string]int{"/v1/inbox": 1}})
		if got := inSent("Retried"); !slices.Equal(got, []string{first.MessageID}) {
			t.Fatalf("sent holds %v, want only %s", got, first.MessageID)
		}

		a, b := send("Twice", "r-2"), send("Twice", "r-3")
		if a.MessageID == b.MessageID || keysSent[2] == keysSent[3] {
			t.Fatalf("two calls sent one message %s under keys %q and %q", a.MessageID, keysSent[2], keysSent[3])
		}
		h.run(t, step{fn: "inbox", params: map[string]any{"folder": "sent"}, upstream: map[string]int{"/v1/inbox": 1}})
		if got := inSent("Twice"); !slices.Equal(got, []string{b.MessageID, a.MessageID}) {
			t.Fatalf("sent holds %v, want %s and %s", got, b.MessageID, a.MessageID)
		}
	})
}

// ── reply ───────────────────────────────────────────────────────────────────

// One backend: a reply drops what a send does (TestSendOncePerRequestID).
func TestReply(t *testing.T) {
	t.Parallel()
	h := newHost(t, "memory")
	seedAccounts(h)
	got := svcDeliver(t, h, "work", "",
		map[string]any{"from": "Ann <ann@x.example>", "subject": "Budget plan"},
		map[string]any{"from": "Bob <bob@x.example>", "subject": "Re: Budget plan"})
	plain, prefixed := got[0], got[1]
	thread := svcMessage(t, h, "work", plain).ThreadID
	threadOf := map[string]string{plain: thread, prefixed: svcMessage(t, h, "work", prefixed).ThreadID}
	if threadOf[prefixed] == thread {
		t.Fatal("two deliveries share a thread")
	}

	var firstReply string
	for _, tc := range []struct {
		name     string
		params   func() map[string]any
		summary  string
		to       string // the result's to
		original string // the message replied to
		subject  string
		body     string
	}{
		{"adds Re:", func() map[string]any { return map[string]any{"message_id": plain, "body": "Sounds good"} },
			"Reply sent.", "", plain, "Re: Budget plan", "Sounds good"},
		{"keeps one Re:", func() map[string]any { return map[string]any{"message_id": prefixed, "content": "Agreed"} },
			"Reply sent.", "", prefixed, "Re: Budget plan", "Agreed"},
		{"a reply to a reply", func() map[string]any { return map[string]any{"message_id": firstReply, "message": "Me again"} },
			"Reply sent.", "", "", "Re: Budget plan", "Me again"},
		{"to someone else", func() map[string]any {
			return map[string]any{"message_id": plain, "text": "FYI", "to": " carol@x.example "}
		}, "Reply sent to carol@x.example.", "carol@x.example", plain, "Re: Budget plan", "FYI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := tc.params()
			original := cmp.Or(tc.original, firstReply)
			h.run(t, step{fn: "reply", params: params, upstream: map[string]int{"/v1/messages/{id}/reply": 1}, event: "sent", panels: inboxPanel,
				check: func(t *testing.T, res hosttest.Result) {
					ok(t, res, tc.summary)
					sent := hosttest.Data[mailclient.SentEmail](t, res)
					newest := svcInbox(t, h, "work", "sent", 1, "").Messages[0]
					want := mailclient.SentEmail{Sent: true, MessageID: newest.ID, ThreadID: cmp.Or(threadOf[original], thread), Account: "work", To: tc.to, Subject: tc.subject}
					if sent != want || newest.Subject != tc.subject || newest.ThreadID != want.ThreadID {
						t.Fatalf("reply %+v, want %+v (newest in sent %+v)", sent, want, newest)
					}
					if firstReply == "" {
						firstReply = sent.MessageID
					}
				}})
			req := h.last("/v1/messages/" + original + "/reply")
			if want := `{"user_id":"demo","account_id":"work","to":"` + tc.to + `","cc":"","bcc":"","body":"` + tc.body + `","is_html":false}`; string(req.Body) != want {
				t.Fatalf("reply body %s, want %s", req.Body, want)
			}
			if !idemKey.MatchString(req.Header.Get("Idempotency-Key")) {
				t.Fatalf("Idempotency-Key %q", req.Header.Get("Idempotency-Key"))
			}
		})
	}

	for _, tc := range []struct {
		name          string
		params        map[string]any
		opts          []hosttest.CallOption
		upstream      map[string]int
		code, message string
	}{
		{"no body", map[string]any{"message_id": plain}, nil, nil, "VALIDATION", "Reply body is required."},
		{"blank body and aliases", map[string]any{"message_id": plain, "body": " ", "text": "\n"}, nil, nil, "VALIDATION", "Reply body is required."},
		{"nothing read yet", map[string]any{"body": "x"}, []hosttest.CallOption{hosttest.AsUser("zed")}, nil, "VALIDATION", "No message_id and no recently read email."},
		{"a dot", map[string]any{"message_id": ".", "body": "x"}, nil, nil, "NOT_FOUND", "Message not found in this account."},
		{"no such message", map[string]any{"message_id": "m-9999", "body": "x"}, nil, map[string]int{"/v1/messages/{id}/reply": 1},
			"NOT_FOUND", "Message not found in this account. If it belongs to a different account, switch accounts first."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.run(t, step{fn: "reply", params: tc.params, upstream: tc.upstream, check: func(t *testing.T, res hosttest.Result) {
				wantFailure(t, res, tc.code, tc.message, false)
			}}, tc.opts...)
		})
	}

	// Without message_id, the message read last, to its sender.
	ok(t, h.Call("mail-client", "read_email", map[string]any{"message_id": plain}), "Email: Budget plan")
	h.run(t, step{fn: "reply", params: map[string]any{"text": "On it"}, upstream: map[string]int{"/v1/messages/{id}/reply": 1}, event: "sent", panels: inboxPanel,
		check: func(t *testing.T, res hosttest.Result) {
			ok(t, res, "Reply sent to Ann <ann@x.example>.")
			if sent := hosttest.Data[mailclient.SentEmail](t, res); sent.Subject != "Re: Budget plan" || sent.To != "Ann <ann@x.example>" || sent.ThreadID != thread {
				t.Fatalf("reply %+v", sent)
			}
		}})
	reqs := h.Requests("mail-service")
	if last := reqs[len(reqs)-1]; last.Path != "/v1/messages/"+plain+"/reply" || string(last.Body) != `{"user_id":"demo","account_id":"work","to":"","cc":"","bcc":"","body":"On it","is_html":false}` {
		t.Fatalf("the reply went to %s with %s, want the message read last, %s", last.Path, last.Body, plain)
	}
}

// ── Writes when the mail-service fails ──────────────────────────────────────

// One backend: a failed write leaves the cache alone on both in
// TestUpstreamFailureIsAnErrorAndNotCached.
func TestWritesWhenTheMailServiceFails(t *testing.T) {
	t.Parallel()
	const notFound = "Message not found in this account. If it belongs to a different account, switch accounts first."
	const unconfirmed = "The mail-service did not confirm the email; retrying this very call sends it at most once."
	const limited = "The mail-service is rate limiting; try again shortly."
	type outcome struct {
		code, message string
		retryable     bool
	}
	backend5xx := outcome{runtime.CodeBackend5xx, "mail-service failed (HTTP 503).", true}
	type write struct {
		fn     string
		params map[string]any
		path   string
		by     map[int]outcome
	}
	writes := []write{
		// A send or a reply may have gone out: retryable, as its
		// idempotency key sends the same call once.
		{"send", map[string]any{"to": "ann@x.example", "body": "x"}, "/v1/send", map[int]outcome{
			503: {"SEND_UNCONFIRMED", unconfirmed, true}, 429: {runtime.CodeRateLimited, limited, true}, 404: {"NOT_FOUND", notFound, false}}},
		{"reply", map[string]any{"message_id": "m-0001", "body": "x"}, "/v1/messages/{id}/reply", map[int]outcome{
			503: {"SEND_UNCONFIRMED", unconfirmed, true}, 429: {runtime.CodeRateLimited, limited, true}, 404: {"NOT_FOUND", notFound, false}}},
		{"archive", map[string]any{"message_ids": "m-0001"}, "/v1/messages/batch", map[int]outcome{
			503: backend5xx, 429: {runtime.CodeRateLimited, limited, true}, 404: {"NOT_FOUND", notFound, false}}},
		{"star", map[string]any{"message_ids": "m-0001"}, "/v1/messages/batch", map[int]outcome{
			503: backend5xx, 429: {runtime.CodeRateLimited, limited, true}, 404: {"NOT_FOUND", notFound, false}}},
		{"move", map[string]any{"message_ids": "m-0001", "to_folder": "X"}, "/v1/messages/batch", map[int]outcome{
			503: backend5xx, 429: {runtime.CodeRateLimited, limited, true}, 404: {"NOT_FOUND", notFound, false}}},
		// mark_read's endpoint is DESIGN §7's: its refusals keep the
		// host's codes of DESIGN §6.
		{"mark_read", map[string]any{"account_id": "work", "message_ids": "m-0001"}, "/v1/messages/mark_read", map[int]outcome{
			503: backend5xx, 429: {runtime.CodeBackend4xx, "mail-service rejected the request (HTTP 429).", false},
			404: {runtime.CodeBackend4xx, "mail-service rejected the request (HTTP 404).", false}}},
		// A purge the user confirmed may be half done: never retryable.
		{"purge", map[string]any{"message_ids": "m-0001"}, "/v1/messages/batch", map[int]outcome{
			503: {"UNCONFIRMED", "The mail-service did not confirm the change; some of it may be done. Look before trying again.", false},
			429: {runtime.CodeRateLimited, limited, false}, 404: {"NOT_FOUND", notFound, false}}},
	}
	h := newHost(t, "memory")
	seedAccounts(h)
	h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
	for _, tc := range writes {
		for _, status := range []int{503, 429, 404} {
			t.Run(fmt.Sprintf("%s/%d", tc.fn, status), func(t *testing.T) {
				want := tc.by[status]
				h.mail.fail(status)
				defer h.mail.fail(0)
				var opts []hosttest.CallOption
				if tc.fn == "purge" {
					conf, held := h.Call("mail-client", "purge", tc.params).Confirmation()
					if !held {
						t.Fatal("purge ran unconfirmed")
					}
					opts = append(opts, hosttest.Confirming(conf.Token))
				}
				h.run(t, step{fn: tc.fn, params: tc.params, upstream: map[string]int{tc.path: 1}, check: func(t *testing.T, res hosttest.Result) {
					wantFailure(t, res, want.code, want.message, want.retryable)
				}}, opts...)
			})
		}
	}
	// The writes failed, but the pages went all the same: a failed write
	// may have happened, and a retry that finds nothing to change must not
	// leave the pages of one that changed it and died before dropping them.
	h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
}

// ── archive ─────────────────────────────────────────────────────────────────

func TestArchive(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		page := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		m := idsOf(page)
		for i, tc := range []struct {
			name      string
			selection any
			ids       []string // sent to the mail-service
			summary   string
		}{
			{"a list", []string{m[0], m[1]}, []string{m[0], m[1]}, "Archived 2 emails."},
			{"comma-separated", " " + m[2] + " ,, " + m[3] + " ", []string{m[2], m[3]}, "Archived 2 emails."},
			{"one id", m[4], []string{m[4]}, "Archived 1 email."},
			{"repeats", []string{m[5], " " + m[5], m[6], ""}, []string{m[5], m[6]}, "Archived 2 emails."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if i > 0 {
					h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1}) // dropped by the archive before
				}
				h.run(t, step{fn: "archive", params: map[string]any{"message_ids": tc.selection}, upstream: map[string]int{"/v1/messages/batch": 1},
					event: "archived", panels: inboxPanel, check: func(t *testing.T, res hosttest.Result) {
						ok(t, res, tc.summary)
						if want := fmt.Sprintf(`{"operation":"archive","succeeded":%d,"failed_count":0,"total":%d,"errors":[]}`, len(tc.ids), len(tc.ids)); string(res.Data) != want {
							t.Fatalf("data %s, want %s", res.Data, want)
						}
					}})
				if body, want := h.lastBody("/v1/messages/batch"), `{"user_id":"demo","account_id":"work","ops":["archive"],"ids":`+jsonOf(tc.ids)+`}`; body != want {
					t.Fatalf("batch body %s, want %s", body, want)
				}
				for _, key := range []string{"msgs:work:INBOX", "unread:work:INBOX"} {
					if slices.Contains(cacheKeys(h), key) {
						t.Fatalf("%s still cached after archiving: %v", key, cacheKeys(h))
					}
				}
			})
		}
		after := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		for _, id := range m[:7] {
			if find(after, id) != nil {
				t.Fatalf("archived %s still listed", id)
			}
		}
		if want := svcInbox(t, h, "work", "INBOX", 20, ""); !reflect.DeepEqual(after.Messages, previewsOf(want.Messages, "")) {
			t.Fatal("the inbox after archiving is not the mail-service's")
		}

		// Nothing archived now, and the pages go all the same: this could be
		// the retry of a call that archived and died before dropping them.
		h.run(t, step{fn: "archive", params: map[string]any{"message_ids": "m-9999"}, upstream: map[string]int{"/v1/messages/batch": 1},
			event: "archived", panels: inboxPanel, check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Archived 0 emails.")
				if want := `{"operation":"archive","succeeded":0,"failed_count":1,"total":1,"errors":["m-9999: not_found"]}`; string(res.Data) != want {
					t.Fatalf("data %s, want %s", res.Data, want)
				}
			}})
		h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})

		// By query: a background task, limited to the inbox.
		want := svcSearch(t, h, "work", "in:inbox from:ada", 1, false).Total
		if want == 0 {
			t.Fatal("no inbox message from ada: the test needs one")
		}
		res := h.Call("mail-client", "archive", map[string]any{"query": "from:ada"})
		ok(t, res, "Started 'archive' in background — the result will be sent to chat when it finishes.")
		task := h.WaitTask(mustTaskID(t, res))
		summary := fmt.Sprintf("Archived %d message(s) matching the query.", want)
		if task.Status != "success" || task.Function != "archive" || task.Result.Summary != summary {
			t.Fatalf("task %+v %s", task, task.Result.JSON)
		}
		if body := h.lastBody(batchByQuery); body != `{"user_id":"demo","account_id":"work","ops":["archive"],"q":"in:inbox from:ada","max":200}` {
			t.Fatalf("batch-by-query body %s", body)
		}
		if n := svcSearch(t, h, "work", "in:inbox from:ada", 1, false).Total; n != 0 {
			t.Fatalf("%d inbox messages from ada left", n)
		}
		if notes := h.Notifications(); len(notes) != 1 || notes[0].Message != summary {
			t.Fatalf("notifications %+v", notes)
		}
		h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
	})
}

// ── star ────────────────────────────────────────────────────────────────────

func TestStar(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		page := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		h.inboxView(t, map[string]any{"folder": "starred"}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		var two []string
		for _, m := range page.Messages {
			if !m.Starred && len(two) < 2 {
				two = append(two, m.MessageID)
			}
		}
		want := slices.Clone(page.Messages)
		setStar := func(id string, starred bool) {
			for i := range want {
				if want[i].MessageID == id {
					want[i].Starred = starred
				}
			}
		}

		for _, tc := range []struct {
			name    string
			params  map[string]any
			op      string
			ids     []string
			starred bool
			summary string
		}{
			{"star two", map[string]any{"message_ids": two}, "star", two, true, "Starred 2 emails."},
			{"unstar one, starred as a string", map[string]any{"message_ids": two[0], "starred": "false"}, "unstar", two[:1], false, "Unstarred 1 email."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h.run(t, step{fn: "star", params: tc.params, upstream: map[string]int{"/v1/messages/batch": 1}, event: "starred", panels: inboxPanel,
					check: func(t *testing.T, res hosttest.Result) {
						ok(t, res, tc.summary)
						if want := fmt.Sprintf(`{"operation":"%s","succeeded":%d,"failed_count":0,"total":%d,"errors":[]}`, tc.op, len(tc.ids), len(tc.ids)); string(res.Data) != want {
							t.Fatalf("data %s, want %s", res.Data, want)
						}
					}})
				if body, want := h.lastBody("/v1/messages/batch"), `{"user_id":"demo","account_id":"work","ops":["`+tc.op+`"],"ids":`+jsonOf(tc.ids)+`}`; body != want {
					t.Fatalf("batch body %s, want %s", body, want)
				}
				// The cached first page is patched in place: no request.
				for _, id := range tc.ids {
					setStar(id, tc.starred)
				}
				var view mailclient.InboxView
				h.run(t, step{fn: "inbox", params: map[string]any{}, upstream: map[string]int{}, check: func(t *testing.T, res hosttest.Result) {
					view = hosttest.Data[mailclient.InboxView](t, res)
					if res.Trace.CacheHits != 2 {
						t.Errorf("cache hits %d, want 2", res.Trace.CacheHits)
					}
				}})
				if !reflect.DeepEqual(view.Messages, want) {
					t.Fatalf("patched page\n got %+v\nwant %+v", view.Messages, want)
				}
				// The starred folder's listing changed: it is fetched anew.
				starred := h.inboxView(t, map[string]any{"folder": "starred"}, map[string]int{"/v1/inbox": 1})
				for _, id := range tc.ids {
					if (find(starred, id) != nil) != tc.starred {
						t.Fatalf("starred lists %v after %s of %v", idsOf(starred), tc.op, tc.ids)
					}
				}
			})
		}

		// By query: one round for star, every starred match for unstar;
		// every system folder's listing is dropped.
		for _, tc := range []struct {
			name    string
			params  map[string]any
			op, q   string
			summary func(n int) string
			count   string // what the mail-service counts beforehand
		}{
			{"star by query", map[string]any{"query": "from:ada"}, "star", "from:ada", func(n int) string { return "Starred " + emailsText(n) + "." }, "from:ada"},
			{"unstar by query", map[string]any{"query": "from:ada", "starred": false}, "unstar", "is:starred from:ada", func(n int) string { return "Unstarred " + emailsText(n) + "." }, "is:starred from:ada"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n := svcSearch(t, h, "work", tc.count, 1, false).Total
				if n < 2 {
					t.Fatalf("%d messages match %q: the test needs 2 or more", n, tc.count)
				}
				h.run(t, step{fn: "star", params: tc.params, upstream: map[string]int{batchByQuery: 1}, event: "starred", panels: inboxPanel,
					check: func(t *testing.T, res hosttest.Result) {
						ok(t, res, tc.summary(n))
						if want := fmt.Sprintf(`{"operation":"%s","succeeded":%d,"failed_count":0,"total":%d,"errors":[]}`, tc.op, n, n); string(res.Data) != want {
							t.Fatalf("data %s, want %s", res.Data, want)
						}
					}})
				if body, want := h.lastBody(batchByQuery), `{"user_id":"demo","account_id":"work","ops":["`+tc.op+`"],"q":"`+tc.q+`","max":1000}`; body != want {
					t.Fatalf("batch-by-query body %s, want %s", body, want)
				}
				h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1})
			})
		}
	})
}

// ── move ────────────────────────────────────────────────────────────────────

func TestMove(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		t.Run("into a custom folder", func(t *testing.T) { moveIntoACustomFolder(t, h) })
		page := h.inboxView(t, map[string]any{}, nil) // cached by the subtest's last call
		m := idsOf(page)

		// From a folder the message is not in: nothing moved, nothing dropped.
		h.run(t, step{fn: "move", params: map[string]any{"message_ids": m[0], "to_folder": "Elsewhere", "from_folder": "Archive"},
			upstream: map[string]int{"/v1/messages/batch": 1}, event: "moved", panels: inboxPanel, check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Moved 0 emails to Elsewhere.")
				if want := `{"operation":"move","succeeded":0,"failed_count":1,"total":1,"errors":["` + m[0] + `: not_in_folder"]}`; string(res.Data) != want {
					t.Fatalf("data %s, want %s", res.Data, want)
				}
			}})
		if body := h.lastBody("/v1/messages/batch"); body != `{"user_id":"demo","account_id":"work","ops":["move"],"ids":["`+m[0]+`"],"from_folder":"archive","to_folder":"Elsewhere"}` {
			t.Fatalf("batch body %s", body)
		}
		h.inboxView(t, map[string]any{}, nil)

		// To a system folder, named in any case.
		h.run(t, step{fn: "move", params: map[string]any{"message_ids": m[0], "to_folder": "SPAM"},
			upstream: map[string]int{"/v1/messages/batch": 1}, event: "moved", panels: inboxPanel, check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Moved 1 email to spam.")
			}})
		if f := svcMessage(t, h, "work", m[0]).Folder; f != "spam" {
			t.Fatalf("%s is in %s, want spam", m[0], f)
		}
		if after := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1}); find(after, m[0]) != nil {
			t.Fatalf("%s still in the inbox", m[0])
		}

		// By query: limited to from_folder, so it ends.
		n := svcSearch(t, h, "work", "in:inbox from:ada", 1, false).Total
		if n == 0 {
			t.Fatal("no inbox message from ada: the test needs one")
		}
		h.run(t, step{fn: "move", params: map[string]any{"query": "from:ada", "to_folder": "Ada"},
			upstream: map[string]int{batchByQuery: 1}, event: "moved", panels: inboxPanel, check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, fmt.Sprintf("Moved %s to Ada.", emailsText(n)))
			}})
		if body := h.lastBody(batchByQuery); body != `{"user_id":"demo","account_id":"work","ops":["move"],"q":"from:ada","max":1000,"from_folder":"INBOX","to_folder":"Ada"}` {
			t.Fatalf("batch-by-query body %s", body)
		}
		if ada := h.inboxView(t, map[string]any{"folder": "Ada"}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1}); len(ada.Messages) != min(n, 20) {
			t.Fatalf("Ada lists %d, want %d", len(ada.Messages), n)
		}

		for _, tc := range []struct {
			name          string
			params        map[string]any
			upstream      map[string]int
			code, message string
		}{
			{"no to_folder", map[string]any{"message_ids": m[1]}, nil, runtime.CodeValidationMissingField, "A required field is missing: to_folder"},
			{"a virtual folder", map[string]any{"message_ids": m[1], "to_folder": "starred"}, map[string]int{"/v1/messages/batch": 1}, "VALIDATION", "The mail-service refused the request as invalid."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h.run(t, step{fn: "move", params: tc.params, upstream: tc.upstream, check: func(t *testing.T, res hosttest.Result) {
					wantFailure(t, res, tc.code, tc.message, false)
				}})
			})
		}
	})
}

// moveIntoACustomFolder moves two inbox messages into "Work Projects",
// whose cached (empty) page the move drops: the folder then lists them.
func moveIntoACustomFolder(t *testing.T, h *mailHost) {
	const folder = "Work Projects"
	key := "msgs:work:" + encodedPart("Work_Projects", folder)
	inbox := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
	empty := h.inboxView(t, map[string]any{"folder": folder}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
	if len(empty.Messages) != 0 || empty.HasMore || empty.Cursor != "" || empty.Folder != folder {
		t.Fatalf("new folder %+v", empty)
	}
	h.entry(t, key)

	two := []string{inbox.Messages[2].MessageID, inbox.Messages[5].MessageID}
	h.run(t, step{fn: "move", params: map[string]any{"message_ids": two, "to_folder": folder}, upstream: map[string]int{"/v1/messages/batch": 1},
		event: "moved", panels: inboxPanel, check: func(t *testing.T, res hosttest.Result) {
			ok(t, res, "Moved 2 emails to Work Projects.")
			if want := `{"operation":"move","succeeded":2,"failed_count":0,"total":2,"errors":[]}`; string(res.Data) != want {
				t.Fatalf("data %s, want %s", res.Data, want)
			}
		}})
	if body, want := h.lastBody("/v1/messages/batch"), `{"user_id":"demo","account_id":"work","ops":["move"],"ids":["`+two[0]+`","`+two[1]+`"],"from_folder":"INBOX","to_folder":"Work Projects"}`; body != want {
		t.Fatalf("batch body %s, want %s", body, want)
	}
	if got := cacheKeys(h); slices.Contains(got, key) || slices.Contains(got, "msgs:work:INBOX") {
		t.Fatalf("pages of the folders moved between are still cached: %v", got)
	}

	moved := h.inboxView(t, map[string]any{"folder": folder}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
	if !slices.Equal(idsOf(moved), two) || moved.HasMore || moved.Cursor != "" {
		t.Fatalf("%s lists %v, want %v", folder, idsOf(moved), two)
	}
	for _, m := range moved.Messages {
		if !slices.Equal(m.Labels, []string{folder}) {
			t.Fatalf("moved message %+v", m)
		}
	}
	h.inboxView(t, map[string]any{"folder": folder}, nil)
	after := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
	if find(after, two[0]) != nil || find(after, two[1]) != nil {
		t.Fatalf("moved messages still in the inbox: %v", idsOf(after))
	}
}

// ── purge ───────────────────────────────────────────────────────────────────

func TestPurge(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		trashPage := h.inboxView(t, map[string]any{"folder": "trash"}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		if trashPage.HasMore {
			t.Fatal("the trash has more than a page: the test needs all of it on one")
		}
		trash := svcInbox(t, h, "work", "trash", 20, "")
		t1, t2 := trash.Messages[0].ID, trash.Messages[1].ID
		inboxID := svcInbox(t, h, "work", "INBOX", 1, "").Messages[0].ID

		// Every purge is held for confirmation, and reaches nothing.
		for _, tc := range []struct {
			name    string
			params  map[string]any
			summary string
		}{
			{"one id", map[string]any{"message_ids": t1}, "1 email will be deleted from trash for good."},
			{"two ids", map[string]any{"message_ids": []string{t1, t2}}, "2 emails will be deleted from trash for good."},
			{"another folder", map[string]any{"message_ids": inboxID, "from_folder": "Inbox"}, "1 email will be deleted from INBOX for good."},
			{"a query", map[string]any{"query": "is:read"}, "Every email in trash that the query matches will be deleted for good."},
		} {
			t.Run("held/"+tc.name, func(t *testing.T) {
				h.run(t, step{fn: "purge", params: tc.params, check: func(t *testing.T, res hosttest.Result) {
					conf, held := res.Confirmation()
					if !held || res.ErrorCode != runtime.CodeConfirmationRequired || res.Summary != tc.summary ||
						conf.Function != "purge" || conf.ActionType != runtime.Destructive || string(conf.Params) != jsonOf(tc.params) {
						t.Fatalf("purge unconfirmed = %s", res.JSON)
					}
				}})
			})
		}

		confirmed := func(params map[string]any, upstream map[string]int, summary, data string) {
			t.Helper()
			held := h.Call("mail-client", "purge", params)
			conf, isHeld := held.Confirmation()
			if !isHeld {
				t.Fatalf("purge ran unconfirmed: %s", held.JSON)
			}
			h.run(t, step{fn: "purge", params: params, upstream: upstream, event: "purged", panels: inboxPanel, check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, summary)
				if string(res.Data) != data {
					t.Fatalf("data %s, want %s", res.Data, data)
				}
			}}, hosttest.Confirming(conf.Token))
			// A token confirms one call.
			h.run(t, step{fn: "purge", params: params, check: func(t *testing.T, res hosttest.Result) {
				if res.ErrorCode != runtime.CodeConfirmationInvalid {
					t.Fatalf("replayed confirmation = %s", res.JSON)
				}
			}}, hosttest.Confirming(conf.Token))
		}

		confirmed(map[string]any{"message_ids": t1}, map[string]int{"/v1/messages/batch": 1}, "Deleted 1 email from trash for good.",
			`{"operation":"purge","succeeded":1,"failed_count":0,"total":1,"errors":[]}`)
		if body := h.lastBody("/v1/messages/batch"); body != `{"user_id":"demo","account_id":"work","ops":["purge"],"ids":["`+t1+`"],"from_folder":"trash"}` {
			t.Fatalf("batch body %s", body)
		}
		if status, _ := svcDo(t, h, http.MethodGet, "/v1/messages/"+t1+"?user_id=demo&account_id=work", nil); status != http.StatusNotFound {
			t.Fatalf("the purged message answers %d", status)
		}
		if left := svcSearch(t, h, "work", "in:trash", 1, false).Total; left != trash.Total-1 {
			t.Fatalf("trash holds %d, want %d", left, trash.Total-1)
		}
		// The trash's cached page is dropped: the next one lists the rest.
		if slices.Contains(cacheKeys(h), "msgs:work:trash") || slices.Contains(cacheKeys(h), "unread:work:trash") {
			t.Fatalf("trash still cached after the purge: %v", cacheKeys(h))
		}
		if after := h.inboxView(t, map[string]any{"folder": "trash"}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1}); !reflect.DeepEqual(after.Messages, trashPage.Messages[1:]) {
			t.Fatalf("trash after the purge: %v (before %v)", idsOf(after), idsOf(trashPage))
		}

		// An inbox message is not purged from the trash.
		confirmed(map[string]any{"message_ids": inboxID}, map[string]int{"/v1/messages/batch": 1}, "Deleted 0 emails from trash for good.",
			`{"operation":"purge","succeeded":0,"failed_count":1,"total":1,"errors":["`+inboxID+`: not_in_folder"]}`)

		// By query, limited to the trash.
		n := svcSearch(t, h, "work", "in:trash is:read", 1, false).Total
		if n < 2 {
			t.Fatalf("%d read messages in the trash: the test needs 2 or more", n)
		}
		confirmed(map[string]any{"query": "is:read"}, map[string]int{batchByQuery: 1}, "Deleted "+emailsText(n)+" from trash for good.",
			fmt.Sprintf(`{"operation":"purge","succeeded":%d,"failed_count":0,"total":%d,"errors":[]}`, n, n))
		if body := h.lastBody(batchByQuery); body != `{"user_id":"demo","account_id":"work","ops":["purge"],"q":"is:read","max":1000,"from_folder":"trash"}` {
			t.Fatalf("batch-by-query body %s", body)
		}
		if left := svcSearch(t, h, "work", "in:trash is:read", 1, false).Total; left != 0 {
			t.Fatalf("%d read messages left in the trash", left)
		}
	})
}

// ── mark_read: message_ids and query ────────────────────────────────────────

func TestMarkReadByIDsAndQuery(t *testing.T) {
	t.Parallel()
	sidebar := []string{"sidebar"}
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		seedAccounts(h)
		page := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
		u := unreadOn(t, page, 5)
		want := slices.Clone(page.Messages)
		unread := page.UnreadCount

		for _, tc := range []struct {
			name    string
			params  map[string]any
			ids     []string // marked, in the request's order
			read    bool
			summary string
			data    string
		}{
			{"a list", map[string]any{"account_id": "work", "message_ids": []string{u[0], u[1]}}, []string{u[0], u[1]}, true,
				"Marked 2 message(s) as read.", `{"updated":2,"message_id":"","read":true,"message_ids":["` + u[0] + `","` + u[1] + `"]}`},
			{"comma-separated", map[string]any{"account_id": "work", "message_ids": u[2] + ", " + u[3]}, []string{u[2], u[3]}, true,
				"Marked 2 message(s) as read.", `{"updated":2,"message_id":"","read":true,"message_ids":["` + u[2] + `","` + u[3] + `"]}`},
			{"one id", map[string]any{"account_id": "work", "message_ids": u[4]}, []string{u[4]}, true,
				"Marked 1 message(s) as read.", `{"updated":1,"message_id":"","read":true}`},
			{"message_id and message_ids, unread", map[string]any{"account_id": "work", "message_id": u[0], "message_ids": []string{u[1], u[0]}, "read": false},
				[]string{u[1], u[0]}, false, "Marked 2 message(s) as unread.", `{"updated":2,"message_id":"` + u[0] + `","read":false,"message_ids":["` + u[1] + `","` + u[0] + `"]}`},
			{"message_id beside other ids", map[string]any{"account_id": "work", "message_id": u[2], "message_ids": []string{u[3]}, "read": "false"},
				[]string{u[2], u[3]}, false, "Marked 2 message(s) as unread.", `{"updated":2,"message_id":"` + u[2] + `","read":false,"message_ids":["` + u[2] + `","` + u[3] + `"]}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h.run(t, step{fn: "mark_read", params: tc.params, upstream: map[string]int{"/v1/messages/mark_read": 1}, event: "email.marked_read", panels: sidebar,
					check: func(t *testing.T, res hosttest.Result) {
						ok(t, res, tc.summary)
						if string(res.Data) != tc.data {
							t.Fatalf("data %s, want %s", res.Data, tc.data)
						}
					}})
				if body, want := h.lastBody("/v1/messages/mark_read"), `{"user_id":"demo","account_id":"work","message_ids":`+jsonOf(tc.ids)+`,"read":`+strconv.FormatBool(tc.read)+`}`; body != want {
					t.Fatalf("mark_read body %s, want %s", body, want)
				}
				// The cached page is patched; only the count is fetched.
				for i := range want {
					if slices.Contains(tc.ids, want[i].MessageID) {
						if want[i].Unread == tc.read {
							unread += map[bool]int{true: -1, false: 1}[tc.read]
						}
						want[i].Unread = !tc.read
					}
				}
				view := h.inboxView(t, map[string]any{}, map[string]int{"/v1/unread": 1})
				if !reflect.DeepEqual(view.Messages, want) || view.UnreadCount != unread {
					t.Fatalf("patched page: unread %d (want %d)\n got %+v\nwant %+v", view.UnreadCount, unread, view.Messages, want)
				}
			})
		}

		// By query: what is marked stops matching; the listing is dropped.
		for _, tc := range []struct {
			name       string
			params     map[string]any
			op, q      string
			state      string
			precounted string
		}{
			{"query, read", map[string]any{"account_id": "work", "query": "from:ada"}, "read", "is:unread from:ada", "read", "in:inbox is:unread from:ada"},
			{"query, unread", map[string]any{"account_id": "work", "query": "from:ada", "read": false}, "unread", "is:read from:ada", "unread", "in:inbox is:read from:ada"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n := svcSearch(t, h, "work", tc.precounted, 1, false).Total
				if n == 0 {
					t.Fatalf("nothing matches %q: the test needs a match", tc.precounted)
				}
				h.run(t, step{fn: "mark_read", params: tc.params, upstream: map[string]int{batchByQuery: 1}, event: "email.marked_read", panels: sidebar,
					check: func(t *testing.T, res hosttest.Result) {
						ok(t, res, fmt.Sprintf("Marked %d message(s) as %s.", n, tc.state))
						if want := fmt.Sprintf(`{"updated":%d,"message_id":"","read":%v}`, n, tc.op == "read"); string(res.Data) != want {
							t.Fatalf("data %s, want %s", res.Data, want)
						}
					}})
				if body, want := h.lastBody(batchByQuery), `{"user_id":"demo","account_id":"work","ops":["`+tc.op+`"],"q":"`+tc.q+`","max":1000,"from_folder":"INBOX"}`; body != want {
					t.Fatalf("batch-by-query body %s, want %s", body, want)
				}
				if left := svcSearch(t, h, "work", tc.precounted, 1, false).Total; left != 0 {
					t.Fatalf("%d still match %q", left, tc.precounted)
				}
				h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
			})
		}
	})
}

// ── The selection rules every bulk write shares ─────────────────────────────

func TestSelectionValidation(t *testing.T) {
	t.Parallel()
	const (
		tooMany = "Too many message IDs: 201. Max per call: 200."
		provide = "Provide message_ids or query."
		shape   = "message_ids must be an id, comma-separated ids or a list of ids."
	)
	h := newHost(t, "memory")
	seedAccounts(h)
	for _, fn := range []struct {
		name   string
		params map[string]any // beside the selection
	}{
		{"archive", nil},
		{"star", nil},
		{"move", map[string]any{"to_folder": "X"}},
		{"purge", nil},
		{"mark_read", map[string]any{"account_id": "work"}},
	} {
		for _, tc := range []struct {
			name      string
			selection map[string]any
			code      string
			message   string
		}{
			{"201 ids in a list", map[string]any{"message_ids": manyIDs(201)}, "VALIDATION", tooMany},
			{"201 ids comma-separated", map[string]any{"message_ids": strings.Join(manyIDs(201), ",")}, "VALIDATION", tooMany},
			{"an empty list", map[string]any{"message_ids": []string{}}, "VALIDATION", provide},
			{"an empty string", map[string]any{"message_ids": ""}, "VALIDATION", provide},
			{"only commas and spaces", map[string]any{"message_ids": " , ,"}, "VALIDATION", provide},
			{"a blank query", map[string]any{"query": "   "}, "VALIDATION", provide},
			{"a number", map[string]any{"message_ids": 5}, "VALIDATION", shape},
			{"a list with a number", map[string]any{"message_ids": []any{"m-0001", 3}}, "VALIDATION", shape},
			{"an object", map[string]any{"message_ids": map[string]any{"id": "m-0001"}}, "VALIDATION", shape},
			{"nothing", map[string]any{}, "VALIDATION", provide},
		} {
			t.Run(fn.name+"/"+tc.name, func(t *testing.T) {
				params := map[string]any{}
				for k, v := range fn.params {
					params[k] = v
				}
				for k, v := range tc.selection {
					params[k] = v
				}
				code, message := tc.code, tc.message
				if fn.name == "mark_read" && slices.Contains([]string{"nothing", "a blank query", "an empty list", "an empty string"}, tc.name) {
					// mark_read's own check, before the selection's: these
					// name nothing, and it also takes message_id.
					code, message = runtime.CodeValidationMissingField, "Provide message_id, message_ids or query."
				}
				// purge too: a selection of nothing is refused before the
				// confirmation gate.
				h.run(t, step{fn: fn.name, params: params, check: func(t *testing.T, res hosttest.Result) {
					wantFailure(t, res, code, message, false)
				}})
			})
		}
	}
	if reqs := h.Requests("mail-service"); len(reqs) != 0 {
		t.Fatalf("invalid selections reached the mail-service: %+v", reqs)
	}

	// 201 entries that are 200 ids are not too many.
	list := append(manyIDs(200), "m-0007")
	h.run(t, step{fn: "archive", params: map[string]any{"message_ids": list}, upstream: map[string]int{"/v1/messages/batch": 1}, event: "archived", panels: inboxPanel,
		check: func(t *testing.T, res hosttest.Result) {
			if r := hosttest.Data[mailclient.BulkResult](t, res); !res.OK() || r.Total != 200 {
				t.Fatalf("archive of 200 distinct ids = %s", res.JSON)
			}
		}})
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(h.last("/v1/messages/batch").Body, &body); err != nil || !slices.Equal(body.IDs, manyIDs(200)) {
		t.Fatalf("batch ids %v", body.IDs)
	}
}

// ── Regressions: bugs these tests found ─────────────────────────────────────

// Two replies in one request (one X-Request-ID or corr_id) with the same
// text to two messages are two sends.
func TestReplyIdempotencyKeyNamesTheMessage(t *testing.T) {
	t.Parallel()
	h := newHost(t, "memory")
	seedAccounts(h)
	turn := hosttest.RequestID("turn-1")
	ok(t, h.Call("mail-client", "reply", map[string]any{"message_id": "m-0001", "body": "Thanks!"}, turn), "Reply sent.")
	ok(t, h.Call("mail-client", "reply", map[string]any{"message_id": "m-0002", "body": "Thanks!"}, turn), "Reply sent.")
}

// mark_read names its folder as inbox does, in any case: the page inbox
// cached is the one patched.
func TestMarkReadPatchesTheFolderInAnyCase(t *testing.T) {
	t.Parallel()
	h := newHost(t, "memory")
	seedAccounts(h)
	page := h.inboxView(t, map[string]any{}, map[string]int{"/v1/inbox": 1, "/v1/unread": 1})
	id := unreadOn(t, page, 1)[0]
	ok(t, h.Call("mail-client", "mark_read", map[string]any{"account_id": "work", "message_ids": id, "folder": "inbox"}), "Marked 1 message(s) as read.")
	if after := h.inboxView(t, map[string]any{}, map[string]int{"/v1/unread": 1}); find(after, id).Unread || after.UnreadCount != page.UnreadCount-1 {
		t.Fatalf("inbox still shows %s unread (count %d, was %d)", id, after.UnreadCount, page.UnreadCount)
	}
}

// A model's null for the optional message_ids does not hide message_id.
func TestMarkReadMessageIDWithNullMessageIDs(t *testing.T) {
	t.Parallel()
	h := newHost(t, "memory")
	seedAccounts(h)
	ok(t, h.Call("mail-client", "mark_read", map[string]any{"account_id": "work", "message_id": "m-0003", "message_ids": nil}), "Marked 1 message(s) as read.")
	ok(t, h.Call("mail-client", "mark_read", map[string]any{"account_id": "work", "message_id": "m-0003", "message_ids": []string{}}), "Marked 1 message(s) as read.")
}
