package mailclient_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/runtime"
)

// TestRecordedMailService runs on the mail-service's answers recorded in
// testdata, without the service: the way an extension's tests run without
// its backend. To record them afresh from the reference mail-service:
//
//	HOSTTEST_RECORD=1 go test -run TestRecordedMailService ./extensions/mailclient/
func TestRecordedMailService(t *testing.T) {
	var baseURL string
	if os.Getenv(hosttest.RecordEnv) != "" {
		service := httptest.NewServer(mailservice.New(mailservice.Options{}))
		t.Cleanup(service.Close)
		baseURL = service.URL
	}
	h := hosttest.New(t, hosttest.Options{
		Extensions: []*runtime.Extension{mailclient.Extension()},
		Upstreams:  map[string]http.Handler{"mail-service": hosttest.Cassette(t, "testdata/mail-service.json", baseURL)},
	})

	first := h.Call("mail-client", "list_inbox", map[string]any{"account_id": "work"})
	before := hosttest.Data[mailclient.InboxData](t, first)
	target := messageAt(t, before, 0).ID
	archived := h.Call("mail-client", "archive_message", map[string]any{"account_id": "work", "message_id": target})
	fresh := h.Call("mail-client", "list_inbox", map[string]any{"account_id": "work"})
	after := hosttest.Data[mailclient.InboxData](t, fresh)

	if first.Summary != "20 message(s) in INBOX." || archived.Summary != "Archived 1 message(s)." {
		t.Fatalf("answers: %s / %s", first.JSON, archived.JSON)
	}
	if fresh.Trace.CacheMisses != 1 || after.Total != before.Total-1 || messageAt(t, after, 0).ID == target {
		t.Fatalf("the read after archiving %s is not fresh: total %d → %d, trace %+v", target, before.Total, after.Total, fresh.Trace)
	}
}
