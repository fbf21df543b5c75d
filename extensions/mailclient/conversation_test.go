package mailclient_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/runtime"
)

// forEachStack runs test on the four stacks: both cache backends, each
// with both store backends.
func forEachStack(t *testing.T, test func(t *testing.T, h *mailHost)) {
	for _, cacheBackend := range []string{"memory", "redis"} {
		for _, storeBackend := range []string{"memory", "postgres"} {
			t.Run(cacheBackend+"-cache/"+storeBackend+"-store", func(t *testing.T) {
				h := &mailHost{mail: newMailSwitch(), user: "demo"}
				h.Host = hosttest.New(t, hosttest.Options{
					Extensions: []*runtime.Extension{mailclient.Extension()},
					Upstreams:  map[string]http.Handler{"mail-service": h.mail},
					Redis:      cacheBackend == "redis",
					Postgres:   storeBackend == "postgres",
					User:       ctx.User{ImperalID: h.user, TenantID: "default"},
				})
				test(t, h)
			})
		}
	}
}

// step is one turn of a scripted conversation: a call and what it must
// have done.
type step struct {
	fn     string
	params any
	// upstream is how many requests reached each mail-service path
	// (ids in paths written {id}); paths not listed got none.
	upstream map[string]int
	// background says a task the call starts may reach the mail-service
	// at any moment: its requests are checked once it has finished.
	background bool
	event      string   // "" for none
	panels     []string // refresh_panels; nil for none asked
	check      func(t *testing.T, res hosttest.Result)
}

// run makes the step's call and checks its result, requests, event and
// panels.
func (h *mailHost) run(t *testing.T, s step, opts ...hosttest.CallOption) hosttest.Result {
	t.Helper()
	before := len(h.Requests("mail-service"))
	eventsBefore := len(h.Events())
	res := h.Call("mail-client", s.fn, s.params, opts...)
	got := map[string]int{}
	for _, r := range h.Requests("mail-service")[before:] {
		got[routeOf(r.Path)]++
	}
	want := s.upstream
	if want == nil {
		want = map[string]int{}
	}
	if !s.background && fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: upstream requests %v, want %v", s.fn, got, want)
	}
	var events []string
	for _, e := range h.Events()[eventsBefore:] {
		events = append(events, e.EventType)
	}
	if wantEvents := nonEmpty(s.event); !s.background && !slices.Equal(events, wantEvents) {
		t.Errorf("%s: events %v, want %v", s.fn, events, wantEvents)
	}
	if !slices.Equal(res.RefreshPanels, s.panels) {
		t.Errorf("%s: refresh_panels %v, want %v", s.fn, res.RefreshPanels, s.panels)
	}
	if s.check != nil {
		s.check(t, res)
	}
	if t.Failed() {
		t.Fatalf("%s(%v) = %s", s.fn, s.params, res.JSON)
	}
	return res
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// routeOf writes a mail-service path with its message id as {id}.
func routeOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/messages/")
	if !ok || rest == "batch" || rest == "batch-by-query" || rest == "archive" || rest == "mark_read" {
		return path
	}
	if strings.HasSuffix(rest, "/reply") {
		return "/v1/messages/{id}/reply"
	}
	return "/v1/messages/{id}"
}

func ok(t *testing.T, res hosttest.Result, summary string) {
	t.Helper()
	if !res.OK() {
		t.Fatalf("failed: %s", res.JSON)
	}
	if summary != "" && res.Summary != summary {
		t.Errorf("summary %q, want %q", res.Summary, summary)
	}
}

// The conversation of issue 14: a user checks their accounts, reads the
// inbox, opens and answers a message, tidies up by id and by query,
// empties what they no longer want, and looks again; every answer, every
// upstream request, every event and every panel refresh is checked.
func TestConversation(t *testing.T) {
	forEachStack(t, func(t *testing.T, h *mailHost) {
		inboxPanel := []string{"inbox"}

		// status: the accounts come from the mail-service the first
		// time, into the store; each inbox's unread count into the cache.
		var unreadWork int
		h.run(t, step{fn: "status", params: map[string]any{},
			upstream: map[string]int{"/v1/accounts": 1, "/v1/unread": 2},
			check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "2 account(s) connected.")
				data := hosttest.Data[mailclient.StatusData](t, res)
				if len(data.Accounts) != 2 || data.Accounts[0].AccountID != "personal" || data.Accounts[1].AccountID != "work" ||
					!data.Accounts[1].Active || data.Accounts[0].Active || data.Accounts[1].UnreadCount == nil {
					t.Fatalf("accounts %+v", data.Accounts)
				}
				unreadWork = *data.Accounts[1].UnreadCount
			}})
		if docs := h.Documents(h.user); len(docs) != 2 {
			t.Fatalf("store holds %d documents after status, want the 2 accounts", len(docs))
		}

		// inbox: page 1 of the active account; the unread count is the
		// one status cached.
		var page1 mailclient.InboxView
		h.run(t, step{fn: "inbox", params: map[string]any{}, upstream: map[string]int{"/v1/inbox": 1},
			check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "20 message(s) in INBOX.")
				page1 = hosttest.Data[mailclient.InboxView](t, res)
				if page1.Account != "work" || page1.Page != 1 || page1.Total != nil || !page1.HasMore || page1.Cursor == "" || page1.UnreadCount != unreadWork {
					t.Fatalf("page 1: %+v", page1)
				}
				if !strings.Contains(string(res.Data), `"total":null`) {
					t.Fatalf("total is not null: %s", res.Data)
				}
			}})
		// The next page through the cursor, then page 1 again from the cache.
		h.run(t, step{fn: "inbox", params: map[string]any{"cursor": page1.Cursor}, upstream: map[string]int{"/v1/inbox": 1},
			check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "20 message(s) in INBOX.")
				page2 := hosttest.Data[mailclient.InboxView](t, res)
				if page2.Page != 2 || page2.Messages[0].MessageID == page1.Messages[0].MessageID {
					t.Fatalf("page 2: %+v", page2)
				}
			}})
		h.run(t, step{fn: "inbox", params: map[string]any{"folder": "inbox"}, check: func(t *testing.T, res hosttest.Result) {
			ok(t, res, "20 message(s) in INBOX.")
		}})

		// read_email: the first unread message; reading marks it read,
		// patches the cached page and drops the counts.
		target := firstUnread(t, page1)
		h.run(t, step{fn: "read_email", params: map[string]any{"message_id": target.MessageID},
			upstream: map[string]int{"/v1/messages/{id}": 1},
			check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Email: "+target.Subject)
				msg := hosttest.Data[mailclient.EmailMessage](t, res)
				if msg.MessageID != target.MessageID || msg.Unread || msg.Body == "" || msg.Account != "work" || msg.Folder != "INBOX" {
					t.Fatalf("read_email: %+v", msg)
				}
			}})
		h.run(t, step{fn: "inbox", params: map[string]any{}, upstream: map[string]int{"/v1/unread": 1},
			check: func(t *testing.T, res hosttest.Result) {
				view := hosttest.Data[mailclient.InboxView](t, res)
				if m := find(view, target.MessageID); m == nil || m.Unread || view.UnreadCount != unreadWork-1 {
					t.Fatalf("after read_email the page shows %+v, unread %d (was %d)", m, view.UnreadCount, unreadWork)
				}
			}})

		// reply: no message id, so the one just read; sent, filed in Sent.
		h.run(t, step{fn: "reply", params: map[string]any{"content": "Thanks, will do."},
			upstream: map[string]int{"/v1/messages/{id}/reply": 1}, event: "sent", panels: inboxPanel,
			check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Reply sent to "+target.From+".")
				sent := hosttest.Data[mailclient.SentEmail](t, res)
				if !sent.Sent || sent.ThreadID != target.ThreadID || !strings.HasPrefix(sent.Subject, "Re: ") {
					t.Fatalf("reply: %+v", sent)
				}
			}})

		// archive three by id: one batch; the inbox page is dropped.
		three := []string{page1.Messages[1].MessageID, page1.Messages[2].MessageID, page1.Messages[3].MessageID}
		h.run(t, step{fn: "archive", params: map[string]any{"message_ids": three},
			upstream: map[string]int{"/v1/messages/batch": 1}, event: "archived", panels: inboxPanel,
			check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Archived 3 emails.")
				if r := hosttest.Data[mailclient.BulkResult](t, res); r.Succeeded != 3 || r.Total != 3 || r.FailedCount != 0 {
					t.Fatalf("archive: %+v", r)
				}
			}})
		var afterArchive mailclient.InboxView
		h.run(t, step{fn: "inbox", params: map[string]any{}, upstream: map[string]int{"/v1/inbox": 1, "/v1/unread": 1},
			check: func(t *testing.T, res hosttest.Result) {
				afterArchive = hosttest.Data[mailclient.InboxView](t, res)
				for _, id := range three {
					if find(afterArchive, id) != nil {
						t.Fatalf("archived %s still listed", id)
					}
				}
			}})

		// search: no cache, every account, the true total.
		h.run(t, step{fn: "search", params: map[string]any{"query": "in:inbox", "max_results": 5},
			upstream: map[string]int{"/v1/search": 2},
			check: func(t *testing.T, res hosttest.Result) {
				page := hosttest.Data[mailclient.SearchPage](t, res)
				if len(page.Messages) != 5 || page.Total <= 5 || !page.HasMore || res.Summary != fmt.Sprintf("%d result(s) for 'in:inbox'.", page.Total) {
					t.Fatalf("search: %d messages, total %d, summary %q", len(page.Messages), page.Total, res.Summary)
				}
			}})

		// star: state only, so the cached page is patched, not refetched.
		starred := afterArchive.Messages[0].MessageID
		h.run(t, step{fn: "star", params: map[string]any{"message_ids": starred},
			upstream: map[string]int{"/v1/messages/batch": 1}, event: "starred", panels: inboxPanel,
			check: func(t *testing.T, res hosttest.Result) { ok(t, res, "Starred 1 email.") }})
		h.run(t, step{fn: "inbox", params: map[string]any{}, check: func(t *testing.T, res hosttest.Result) {
			if m := find(hosttest.Data[mailclient.InboxView](t, res), starred); m == nil || !m.Starred {
				t.Fatalf("the starred message shows %+v", m)
			}
		}})

		// archive by query: a background task, which notifies when done.
		before, eventsBefore := len(h.Requests("mail-service")), len(h.Events())
		started := h.run(t, step{fn: "archive", params: map[string]any{"query": "is:read"}, panels: []string{}, background: true,
			check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "Started 'archive' in background — the result will be sent to chat when it finishes.")
			}})
		task := h.WaitTask(mustTaskID(t, started))
		if task.Status != "success" || !strings.HasPrefix(task.Result.Summary, "Archived ") {
			t.Fatalf("archive task: %+v", task)
		}
		if n := h.Notifications(); len(n) != 1 || n[0].Message != task.Result.Summary {
			t.Fatalf("notifications %+v", n)
		}
		// The task publishes the function's event before its record is final.
		if !slices.ContainsFunc(h.Events()[eventsBefore:], func(e hosttest.Event) bool { return e.EventType == "archived" }) {
			t.Fatal("the archive task published no archived event")
		}
		for _, r := range h.Requests("mail-service")[before:] {
			if r.Path != "/v1/messages/batch-by-query" || !strings.Contains(string(r.Body), `"q":"in:inbox is:read"`) {
				t.Fatalf("the archive task sent %s %s", r.Path, r.Body)
			}
		}

		// purge: held at the gate, then confirmed.
		purge := map[string]any{"query": "is:read"}
		held := h.run(t, step{fn: "purge", params: purge, check: func(t *testing.T, res hosttest.Result) {
			if res.ErrorCode != runtime.CodeConfirmationRequired {
				t.Fatalf("purge ran unconfirmed: %s", res.JSON)
			}
		}})
		confirmation, _ := held.Confirmation()
		h.run(t, step{fn: "purge", params: purge, upstream: map[string]int{"/v1/messages/batch-by-query": 1},
			event: "purged", panels: inboxPanel, check: func(t *testing.T, res hosttest.Result) {
				ok(t, res, "")
				if r := hosttest.Data[mailclient.BulkResult](t, res); r.Succeeded == 0 || !strings.HasPrefix(res.Summary, "Deleted ") {
					t.Fatalf("purge: %+v", res.Summary)
				}
			}}, hosttest.Confirming(confirmation.Token))

		// inbox: fresh after the task archived every read message.
		h.run(t, step{fn: "inbox", params: map[string]any{}, upstream: map[string]int{"/v1/inbox": 1, "/v1/unread": 1},
			check: func(t *testing.T, res hosttest.Result) {
				for _, m := range hosttest.Data[mailclient.InboxView](t, res).Messages {
					if !m.Unread {
						t.Fatalf("a read message is still in the inbox after archiving is:read: %+v", m)
					}
				}
			}})
	})
}

func firstUnread(t *testing.T, v mailclient.InboxView) mailclient.MessagePreview {
	t.Helper()
	for _, m := range v.Messages {
		if m.Unread {
			return m
		}
	}
	t.Fatal("no unread message on page 1")
	return mailclient.MessagePreview{}
}

func find(v mailclient.InboxView, id string) *mailclient.MessagePreview {
	for i := range v.Messages {
		if v.Messages[i].MessageID == id {
			return &v.Messages[i]
		}
	}
	return nil
}
