package mailclient_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/runtime"
)

const batchByQuery = "/v1/messages/batch-by-query"

// newHostWith is newHost with options of the test's own.
func newHostWith(t *testing.T, opts hosttest.Options) *mailHost {
	t.Helper()
	h := &mailHost{mail: newMailSwitch(), user: "demo"}
	opts.Extensions = []*runtime.Extension{mailclient.Extension()}
	opts.Upstreams = map[string]http.Handler{"mail-service": h.mail}
	opts.User = ctx.User{ImperalID: h.user, TenantID: "default"}
	h.Host = hosttest.New(t, opts)
	return h
}

// purge_trash runs only with a confirmation token issued for that very
// call: nothing reaches the mail-service before, or for any other call.
func TestPurgeTrashIsGated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		params := map[string]any{"account_id": "work"}
		held := h.CallHTTP("mail-client", "purge_trash", params)
		conf, ok := held.Confirmation()
		switch {
		case held.HTTPStatus != 200 || held.OK() || !ok:
			t.Fatalf("first call = %d %s", held.HTTPStatus, held.JSON)
		case held.Error != "Action requires user confirmation before execution.":
			t.Fatalf("error %q is not the SDK's", held.Error)
		case held.Summary != "Every message in this account's Trash will be deleted for good.":
			t.Fatalf("summary %q", held.Summary)
		case conf.Function != "purge_trash" || string(conf.Params) != `{"account_id":"work"}` || conf.ActionType != runtime.Destructive:
			t.Fatalf("confirmation %+v", conf)
		case conf.ExpiresAt != h.Now().Add(5*time.Minute).UTC().Format(time.RFC3339):
			t.Fatalf("expires_at %s, want five minutes from %s", conf.ExpiresAt, h.Now())
		case h.count(batchByQuery) != 0:
			t.Fatal("the held call reached the mail-service")
		}

		for name, refused := range map[string]hosttest.Result{
			"other params":   h.CallHTTP("mail-client", "purge_trash", map[string]any{"account_id": "personal"}, hosttest.Confirming(conf.Token)),
			"other user":     h.CallHTTP("mail-client", "purge_trash", params, hosttest.Confirming(conf.Token), hosttest.AsUser("mallory")),
			"other function": h.CallHTTP("mail-client", "archive_by_query", map[string]any{"account_id": "work", "query": "x"}, hosttest.Confirming(conf.Token)),
			"forged":         h.CallHTTP("mail-client", "purge_trash", params, hosttest.Confirming(conf.Token[:len(conf.Token)-2]+"AA")),
		} {
			if name == "other function" {
				// archive_by_query needs no confirmation: the token is ignored.
				if !refused.OK() {
					t.Fatalf("%s: %s", name, refused.JSON)
				}
				h.WaitTask(mustTaskID(t, refused))
				continue
			}
			if refused.ErrorCode != runtime.CodeConfirmationInvalid || refused.HTTPStatus != 200 {
				t.Fatalf("%s: %d %s", name, refused.HTTPStatus, refused.JSON)
			}
		}
		if n := h.count(batchByQuery); n != 1 { // the archive task's one request
			t.Fatalf("%d batch requests after the refusals, want 1 (the archive)", n)
		}

		done := h.CallHTTP("mail-client", "purge_trash", params, hosttest.Confirming(conf.Token))
		purged := hosttest.Data[mailclient.PurgeData](t, done)
		if !done.OK() || purged.Purged == 0 || strings.Join(done.RefreshPanels, ",") != "sidebar" {
			t.Fatalf("confirmed call = %s", done.JSON)
		}
		if body := string(h.last(batchByQuery).Body); !strings.Contains(body, `"q":"in:trash"`) || !strings.Contains(body, `"ops":["purge"]`) {
			t.Fatalf("upstream body %s", body)
		}
		if ev := h.Events(); len(ev) == 0 || ev[len(ev)-1].EventType != "purged" {
			t.Fatalf("events %+v, want purged last", ev)
		}

		replayed := h.CallHTTP("mail-client", "purge_trash", params, hosttest.Confirming(conf.Token))
		if replayed.ErrorCode != runtime.CodeConfirmationInvalid || h.count(batchByQuery) != 2 {
			t.Fatalf("replayed token = %s, %d upstream", replayed.JSON, h.count(batchByQuery))
		}

		late, _ := h.CallHTTP("mail-client", "purge_trash", params).Confirmation()
		h.Advance(5 * time.Minute)
		if expired := h.CallHTTP("mail-client", "purge_trash", params, hosttest.Confirming(late.Token)); expired.ErrorCode != runtime.CodeConfirmationInvalid {
			t.Fatalf("expired token = %s", expired.JSON)
		}
		if n := h.count(batchByQuery); n != 2 {
			t.Fatalf("%d batch requests, want 2", n)
		}
	})
}

func mustTaskID(t *testing.T, r hosttest.Result) string {
	t.Helper()
	id, ok := r.TaskID()
	if !ok {
		t.Fatalf("no task started: %s", r.JSON)
	}
	return id
}

// archive_by_query answers at once with the SDK's task shape; the task
// archives every match, reports progress, notifies the user and ends in a
// stored result published as task.finished.
func TestArchiveByQueryRunsInBackground(t *testing.T) {
	forEachBackend(t, func(t *testing.T, h *mailHost) {
		before := h.unread(t)
		started := h.CallHTTP("mail-client", "archive_by_query", map[string]any{"account_id": "work", "query": "is:unread"})
		if started.Summary != "Started 'archive_by_query' in background — the result will be sent to chat when it finishes." {
			t.Fatalf("summary %q", started.Summary)
		}
		task := h.WaitTask(mustTaskID(t, started))
		archived := hosttest.Data[mailclient.ArchivedByQuery](t, task.Result)
		switch {
		case task.Status != "success" || task.Function != "archive_by_query":
			t.Fatalf("task %+v %s", task, task.Result.JSON)
		case archived.Archived == 0 || archived.Batches == 0:
			t.Fatalf("archived %+v", archived)
		case task.Percent != 100 || task.Message == "":
			t.Fatalf("progress %v %q", task.Percent, task.Message)
		}
		if after := h.unread(t); after != before-archived.Archived {
			t.Fatalf("unread %d → %d after archiving %d: the unread summary was not invalidated", before, after, archived.Archived)
		}
		notes := h.Notifications()
		if len(notes) != 1 || notes[0].UserID != "demo" || notes[0].SourceApp != "mail-client" || !strings.Contains(notes[0].Message, "Archived") {
			t.Fatalf("notifications %+v", notes)
		}
		var kinds []string
		for _, ev := range h.Events() {
			kinds = append(kinds, ev.EventType)
		}
		if got := strings.Join(kinds, ","); got != "archived,task.finished" {
			t.Fatalf("events %s", got)
		}
		var finished struct {
			TaskID string          `json:"task_id"`
			Status string          `json:"status"`
			Result json.RawMessage `json:"result"`
		}
		_ = json.Unmarshal(h.Events()[1].Data, &finished)
		if finished.TaskID != task.TaskID || finished.Status != "success" || string(finished.Result) != string(task.Result.JSON) {
			t.Fatalf("task.finished %s", h.Events()[1].Data)
		}
	})
}

// A cancelled task ends cancelled at once, whatever its work does later;
// with the pool full, a call that would start a task answers RATE_LIMITED
// and starts nothing.
func TestArchiveByQueryCancelAndFullPool(t *testing.T) {
	h := newHostWith(t, hosttest.Options{MaxTasks: 1})
	release := h.mail.hold()
	started := h.CallHTTP("mail-client", "archive_by_query", map[string]any{"account_id": "work", "query": "is:unread"})
	id := mustTaskID(t, started)
	if path := <-h.mail.held(); path != batchByQuery {
		t.Fatalf("held %s", path)
	}
	if running := h.Task(id); running.Status != "running" || len(running.Result.JSON) != 0 {
		t.Fatalf("task %+v", running)
	}

	full := h.CallHTTP("mail-client", "archive_by_query", map[string]any{"account_id": "work", "query": "is:read"})
	if full.ErrorCode != runtime.CodeRateLimited || !full.Retryable {
		t.Fatalf("second task = %s", full.JSON)
	}

	cancelled := h.CancelTask(id)
	if cancelled.Status != "cancelled" || cancelled.Result.ErrorCode != runtime.CodeCanceled {
		t.Fatalf("cancelled = %+v %s", cancelled, cancelled.Result.JSON)
	}
	close(release)
	if final := h.WaitTask(id); final.Status != "cancelled" {
		t.Fatalf("after the work returned: %+v", final)
	}
	if n := len(h.Notifications()); n != 0 {
		t.Fatalf("%d notifications from a cancelled task", n)
	}
	for _, ev := range h.Events() {
		if ev.EventType == "archived" {
			t.Fatal("a cancelled task published its success event")
		}
	}
}

// A Trash larger than one request's bound is emptied in as many requests
// as it takes: the user confirmed all of it.
func TestPurgeTrashEmptiesALargeTrash(t *testing.T) {
	left := 2300
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := min(left, 1000)
		fmt.Fprintf(w, `{"succeeded":%d,"total":%d,"failed":[],"matched":%d}`, n, n, left)
		left -= n
	})
	h := hosttest.New(t, hosttest.Options{
		Extensions: []*runtime.Extension{mailclient.Extension()},
		Upstreams:  map[string]http.Handler{"mail-service": stub},
	})
	conf, _ := h.Call("mail-client", "purge_trash", map[string]any{"account_id": "work"}).Confirmation()
	done := h.Call("mail-client", "purge_trash", map[string]any{"account_id": "work"}, hosttest.Confirming(conf.Token))
	if got := hosttest.Data[mailclient.PurgeData](t, done); !done.OK() || got.Purged != 2300 || len(h.Requests("mail-service")) != 3 {
		t.Fatalf("purge = %s after %d requests", done.JSON, len(h.Requests("mail-service")))
	}
}
