package fastrpc

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The decoder accepts and refuses what the SDK's decode_request does, and
// names the same field (testdata/sdk_envelopes.json, written by the SDK
// itself through testdata/sdk_envelopes.py).
func TestDecodeRequestAgreesWithTheSDK(t *testing.T) {
	raw, err := os.ReadFile("testdata/sdk_envelopes.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name     string          `json:"name"`
		Payload  json.RawMessage `json:"payload"`
		Accepted bool            `json:"accepted"`
		Legacy   bool            `json:"legacy"`
		Field    string          `json:"field"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			req, err := DecodeRequest(tc.Payload)
			if !tc.Accepted {
				envErr, ok := err.(*EnvelopeError)
				if !ok {
					t.Fatalf("accepted (%v), the SDK refuses it at %s", err, tc.Field)
				}
				if top, _, _ := strings.Cut(envErr.Field, "."); top != tc.Field {
					t.Fatalf("refused at %s, the SDK at %s", envErr.Field, tc.Field)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v; the SDK accepts it", err)
			}
			if req.Legacy != tc.Legacy {
				t.Fatalf("legacy = %v, the SDK says %v", req.Legacy, tc.Legacy)
			}
			if req.Params[0] != '{' || req.Attributes[0] != '{' {
				t.Fatalf("params %s, attributes %s: want objects", req.Params, req.Attributes)
			}
		})
	}
}

func TestDecodeRequestFields(t *testing.T) {
	req, err := DecodeRequest([]byte(`{"v":1,"corr_id":"0123456789abcdef","user_id":"u","tenant_id":"t","email":"e",
		"role":"r","app_id":"a","function":"f","reply_list":"l","deadline_ns":"2000000000000000000","submitted_at_ns":5}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.Deadline.UnixNano() != 2e18 || req.Submitted.UnixNano() != 5 || string(req.Params) != "{}" || req.Scopes != nil {
		t.Fatalf("%+v", req)
	}
}

// Refusals name the field, never the value.
func TestEnvelopeErrorsDoNotEcho(t *testing.T) {
	const secret = "s3cr3t-value-xyz"
	for _, payload := range []string{
		`{"corr_id":"` + secret + `"}`,
		`{"v":"` + secret + `"}`,
		`not json ` + secret,
		`{"corr_id":"0123456789abcdef","user_id":"u","tenant_id":"t","email":"e","role":"r","app_id":"a","function":"f",
			"reply_list":"l","deadline_ns":"` + secret + `","submitted_at_ns":5}`,
	} {
		_, err := DecodeRequest([]byte(payload))
		envErr, ok := err.(*EnvelopeError)
		if !ok {
			t.Fatalf("%s: %v", payload, err)
		}
		if strings.Contains(envErr.Message(), secret) || strings.Contains(envErr.Error(), secret) {
			t.Fatalf("echoes the input: %s", envErr.Message())
		}
	}
}

func TestSealMessage(t *testing.T) {
	cases := []struct{ in, want string }{
		{"The call failed.", "The call failed."},
		{"workflow failed: WorkflowFailureError in task_queue x", "The call failed."},
		{"run_id=3", "The call failed."},
		{strings.Repeat("é", 600), strings.Repeat("é", MaxErrorMessage)},
		{strings.Repeat("a", 512), strings.Repeat("a", 512)},
	}
	for _, tc := range cases {
		if got := sealMessage(tc.in); got != tc.want {
			t.Errorf("sealMessage(%.20q) = %.20q (%d chars), want %.20q", tc.in, got, len([]rune(got)), tc.want)
		}
	}
}

// Cacheable is the SDK's should_cache_reply.
func TestCacheable(t *testing.T) {
	cases := []struct {
		reply Reply
		want  bool
	}{
		{Reply{Status: StatusSuccess}, true},
		{Reply{Status: StatusError, Error: &Error{Category: CategoryApplication}}, true},
		{Reply{Status: StatusError, Error: &Error{Category: CategoryTenantMismatch}}, true},
		{Reply{Status: StatusError, Error: &Error{Category: CategorySchema}}, true},
		{Reply{Status: StatusError, Error: &Error{Category: CategoryInfrastructure}}, false},
		{Reply{Status: StatusError, Error: &Error{Category: CategoryTimeout}}, false},
	}
	for _, tc := range cases {
		if got := tc.reply.Cacheable(); got != tc.want {
			t.Errorf("%+v: Cacheable = %v", tc.reply.Error, got)
		}
	}
}
