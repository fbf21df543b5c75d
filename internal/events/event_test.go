package events_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/internal/events"
)

// sdkEvents is what the SDK's publish_event_fallback published for each
// case: testdata/sdk_events.py ran the SDK itself to write it.
type sdkEvents struct {
	Cases []struct {
		Name      string `json:"name"`
		EventType string `json:"event_type"`
		DataJSON  string `json:"data_json"`
		SourceApp string `json:"source_app"`
		UserID    string `json:"user_id"`
		TenantID  string `json:"tenant_id"`
		Channel   string `json:"channel"`
		Message   string `json:"message"`
	} `json:"cases"`
}

// The envelope is the SDK's, byte for byte, with our timestamp as its
// last key.
func TestEnvelopeIsTheSDKs(t *testing.T) {
	raw, err := os.ReadFile("testdata/sdk_events.json")
	if err != nil {
		t.Fatal(err)
	}
	var table sdkEvents
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Cases) < 10 {
		t.Fatalf("%d cases", len(table.Cases))
	}
	const ts = "2026-01-01T00:00:00Z"
	for _, tc := range table.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			ev := events.Event{EventType: tc.EventType, Data: json.RawMessage(tc.DataJSON), SourceApp: tc.SourceApp,
				UserID: tc.UserID, TenantID: tc.TenantID, Timestamp: ts}
			got, err := ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSuffix(tc.Message, "}") + `, "timestamp": "` + ts + `"}`
			if string(got) != want {
				t.Fatalf("envelope\n got %s\nwant %s", got, want)
			}
			if tc.Channel != events.ChannelPrefix+tc.TenantID {
				t.Fatalf("the SDK published on %q", tc.Channel)
			}
		})
	}
}
