package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// pyNotifications is testdata/notifications.json: for each case, the
// envelope's fields and what Python's json.dumps writes for the envelope
// dict; testdata/notifications.py wrote it.
type pyNotifications struct {
	Cases []struct {
		Name      string `json:"name"`
		UserID    string `json:"user_id"`
		TenantID  string `json:"tenant_id"`
		SourceApp string `json:"source_app"`
		Message   string `json:"message"`
		DataJSON  string `json:"data_json"`
		Timestamp string `json:"timestamp"`
		Envelope  string `json:"envelope"`
	} `json:"cases"`
}

func readNotifications(t *testing.T) pyNotifications {
	t.Helper()
	raw, err := os.ReadFile("testdata/notifications.json")
	if err != nil {
		t.Fatal(err)
	}
	var table pyNotifications
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Cases) < 10 {
		t.Fatalf("%d cases", len(table.Cases))
	}
	return table
}

// The notification envelope is what Python's json.dumps writes for the
// same dict in the same key order, byte for byte.
func TestNotificationEnvelopeIsPythons(t *testing.T) {
	for _, tc := range readNotifications(t).Cases {
		t.Run(tc.Name, func(t *testing.T) {
			n := events.Notification{UserID: tc.UserID, TenantID: tc.TenantID, SourceApp: tc.SourceApp,
				Message: tc.Message, Data: json.RawMessage(tc.DataJSON), Timestamp: tc.Timestamp}
			got, err := n.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.Envelope {
				t.Fatalf("envelope\n got %s\nwant %s", got, tc.Envelope)
			}
			if tc.DataJSON == "{}" { // no data is empty data
				n.Data = nil
				if got, err := n.Encode(); err != nil || string(got) != tc.Envelope {
					t.Fatalf("nil data: %s %v\nwant %s", got, err, tc.Envelope)
				}
			}
		})
	}
}

// Data that is not JSON does not encode.
func TestNotificationWithBrokenDataDoesNotEncode(t *testing.T) {
	for _, data := range []string{`{`, `{"a":}`, `nope`, `{"a":1`} {
		n := events.Notification{UserID: "u", TenantID: "t", Data: json.RawMessage(data)}
		if got, err := n.Encode(); err == nil {
			t.Errorf("data %s encoded as %s", data, got)
		}
	}
}

// The committed envelopes are what the committed script writes: rerun it
// when the machine has Python.
func TestPythonNotificationsAreCurrent(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skipf("skipping: no python3 (%v); the committed envelopes are used as they are", err)
	}
	out, err := exec.Command("python3", "testdata/notifications.py").Output()
	if err != nil {
		t.Fatalf("testdata/notifications.py: %v", err)
	}
	committed, err := os.ReadFile("testdata/notifications.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, committed) {
		t.Fatal("testdata/notifications.json is not what testdata/notifications.py writes now; regenerate it")
	}
}

// A notification goes out on the tenant's notify channel, in the
// publisher's namespace when it has one, as its envelope; events of the
// same publisher stay on their own channel.
func TestNotificationsArePublishedOnTheTenantNotifyChannel(t *testing.T) {
	rdb := testredis.Client(t)
	ctx := context.Background()
	tenant := testredis.UniqueID(t)
	for _, ns := range []string{"", testredis.UniqueID(t) + ":"} {
		channel := ns + events.NotifyChannelPrefix + tenant
		sub := rdb.Subscribe(ctx, channel)
		if _, err := sub.Receive(ctx); err != nil { // the subscription is live
			t.Fatal(err)
		}
		p := events.NewRedisPublisher(testredis.Client(t), events.RedisOptions{Namespace: ns})
		p.Publish(ctx, events.Event{EventType: "email.archived", Timestamp: "2026-01-01T00:00:00Z", UserID: "ann",
			TenantID: tenant, SourceApp: "mail-client", Data: json.RawMessage(`{"archived":1}`)})
		p.Notify(events.Notification{UserID: "ann", TenantID: tenant, SourceApp: "mail-client",
			Message: "Caf\u00e9 \U0001F600", Data: json.RawMessage(`{"count":3,"f":1.0}`), Timestamp: "2026-01-01T00:00:00Z"})
		bounded, cancel := context.WithTimeout(ctx, 5*time.Second)
		p.Close(bounded) // publishes what is queued
		msg, err := sub.ReceiveMessage(bounded)
		cancel()
		_ = sub.Close()
		want := `{"user_id": "ann", "tenant_id": "` + tenant + `", "source_app": "mail-client", ` +
			`"message": "Caf\u00e9 \ud83d\ude00", "data": {"count": 3, "f": 1.0}, "timestamp": "2026-01-01T00:00:00Z"}`
		if err != nil || msg.Channel != channel || msg.Payload != want {
			t.Fatalf("namespace %q: %v %+v, want %s on %s", ns, err, msg, want, channel)
		}
	}
}
