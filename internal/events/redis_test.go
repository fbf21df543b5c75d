package events_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// An event goes out on the SDK's channel for its tenant, in the
// publisher's namespace when it has one, as the SDK's envelope.
func TestEventsArePublishedOnTheTenantChannel(t *testing.T) {
	rdb := testredis.Client(t)
	ctx := context.Background()
	tenant := testredis.UniqueID(t)
	for _, ns := range []string{"", testredis.UniqueID(t) + ":"} {
		channel := ns + events.ChannelPrefix + tenant
		sub := rdb.Subscribe(ctx, channel)
		if _, err := sub.Receive(ctx); err != nil { // the subscription is live
			t.Fatal(err)
		}
		p := events.NewRedisPublisher(testredis.Client(t), events.RedisOptions{Namespace: ns})
		ev := events.Event{EventType: "email.archived", Timestamp: "2026-01-01T00:00:00Z", UserID: "ann",
			TenantID: tenant, SourceApp: "mail-client", Data: json.RawMessage(`{"archived":1}`)}
		p.Publish(ctx, ev)
		bounded, cancel := context.WithTimeout(ctx, 5*time.Second)
		p.Close(bounded) // publishes what is queued
		msg, err := sub.ReceiveMessage(bounded)
		cancel()
		_ = sub.Close()
		want := `{"event_type": "email.archived", "data": {"archived": 1}, "source_app": "mail-client", "user_id": "ann", "tenant_id": "` +
			tenant + `", "timestamp": "2026-01-01T00:00:00Z"}`
		if err != nil || msg.Channel != channel || msg.Payload != want {
			t.Fatalf("namespace %q: %v %+v, want %s on %s", ns, err, msg, want, channel)
		}
	}
}
