package calltoken

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSDKCases ports tests/test_call_token.py (sdk-contract §12 cases
// 61-62) to Verify, which requires tool_type chat_fn.
func TestSDKCases(t *testing.T) {
	type step struct {
		app, user string
		want      string
	}
	cases := []struct {
		name    string
		secrets []string
		token   func(clk *fakeClock) string
		steps   []step // verifications of the same token, in order
	}{
		{name: "round trip, second verify replayed",
			token: func(c *fakeClock) string { return Mint(c.claims("chat_fn", "mail", "u-123", 120), testSecret) },
			steps: []step{{"mail", "u-123", ""}, {"mail", "u-123", ReasonReplayed}}},
		{name: "tampered signature",
			token: func(c *fakeClock) string {
				tok := Mint(c.claims("chat_fn", "mail", "u-123", 120), testSecret)
				p, s, _ := strings.Cut(tok, ".")
				tamper := "Y"
				if s[0] == 'Y' {
					tamper = "Z"
				}
				return p + "." + tamper + s[1:]
			},
			steps: []step{{"mail", "u-123", ReasonSignature}}},
		{name: "tool_type panel mismatch consumes the jti",
			token: func(c *fakeClock) string { return Mint(c.claims("panel", "mail", "u-123", 120), testSecret) },
			steps: []step{{"mail", "u-123", ReasonToolType}, {"mail", "u-123", ReasonReplayed}}},
		{name: "tool_type skeleton mismatch",
			token: func(c *fakeClock) string { return Mint(c.claims("skeleton", "mail", "u-123", 120), testSecret) },
			steps: []step{{"mail", "u-123", ReasonToolType}}},
		{name: "tool_type tool mismatch",
			token: func(c *fakeClock) string { return Mint(c.claims("tool", "mail", "u-123", 120), testSecret) },
			steps: []step{{"mail", "u-123", ReasonToolType}}},
		{name: "app_id mismatch consumes the jti",
			token: func(c *fakeClock) string { return Mint(c.claims("chat_fn", "mail", "u-123", 120), testSecret) },
			steps: []step{{"sharelock-v2", "u-123", ReasonAppID}, {"mail", "u-123", ReasonReplayed}}},
		{name: "user_id mismatch consumes the jti",
			token: func(c *fakeClock) string { return Mint(c.claims("chat_fn", "mail", "u-123", 120), testSecret) },
			steps: []step{{"mail", "u-999", ReasonUserID}, {"mail", "u-123", ReasonReplayed}}},
		{name: "expired",
			token: func(c *fakeClock) string { return Mint(c.claims("chat_fn", "mail", "u-123", -1), testSecret) },
			steps: []step{{"mail", "u-123", ReasonExpired}}},
		{name: "exp equal to now is expired",
			token: func(c *fakeClock) string { return Mint(c.claims("chat_fn", "mail", "u-123", 0), testSecret) },
			steps: []step{{"mail", "u-123", ReasonExpired}}},
		{name: "exp one second ahead is valid",
			token: func(c *fakeClock) string { return Mint(c.claims("chat_fn", "mail", "u-123", 1), testSecret) },
			steps: []step{{"mail", "u-123", ""}}},
		{name: "empty token malformed",
			token: func(*fakeClock) string { return "" },
			steps: []step{{"mail", "u-1", ReasonMalformed}}},
		{name: "no dot malformed",
			token: func(*fakeClock) string { return "not-a-token" },
			steps: []step{{"mail", "u-1", ReasonMalformed}}},
		{name: "oversized",
			token: func(*fakeClock) string { return strings.Repeat("a", 5000) + "." + strings.Repeat("b", 5000) },
			steps: []step{{"mail", "u-1", ReasonTooLong}}},
		{name: "2049 bytes oversized",
			token: func(*fakeClock) string { return strings.Repeat("a", 2049) },
			steps: []step{{"mail", "u-1", ReasonTooLong}}},
		{name: "2048 bytes not oversized",
			token: func(*fakeClock) string { return strings.Repeat("a", 2048) },
			steps: []step{{"mail", "u-1", ReasonMalformed}}},
		{name: "second rotation secret accepted", secrets: []string{newSecret, testSecret},
			token: func(c *fakeClock) string { return Mint(c.claims("chat_fn", "mail", "u-123", 120), testSecret) },
			steps: []step{{"mail", "u-123", ""}}},
		{name: "retired secret refused", secrets: []string{newSecret},
			token: func(c *fakeClock) string { return Mint(c.claims("chat_fn", "mail", "u-123", 120), testSecret) },
			steps: []step{{"mail", "u-123", ReasonSignature}}},
		{name: "malformed base64 payload",
			token: func(*fakeClock) string { return "a.YWJj" },
			steps: []step{{"mail", "u-1", ReasonMalformed}}},
		{name: "malformed base64 signature",
			token: func(c *fakeClock) string {
				p, _, _ := strings.Cut(Mint(c.claims("chat_fn", "mail", "u-1", 120), testSecret), ".")
				return p + ".abcde"
			},
			steps: []step{{"mail", "u-1", ReasonMalformed}}},
		{name: "valid signature over a payload that is not JSON",
			token: func(*fakeClock) string { return signRaw("not-json-garbage", testSecret) },
			steps: []step{{"mail", "u-1", ReasonPayload}}},
		{name: "missing claims",
			token: func(*fakeClock) string { return signRaw(`{"tool_type": "skeleton"}`, testSecret) },
			steps: []step{{"mail", "u-1", ReasonPayload}}},
		{name: "jti of 15 characters too short",
			token: func(c *fakeClock) string {
				cl := c.claims("chat_fn", "mail", "u-1", 120)
				cl.Jti = "abcdefghijklmno"
				return Mint(cl, testSecret)
			},
			steps: []step{{"mail", "u-1", ReasonPayload}}},
		{name: "jti of 16 characters accepted",
			token: func(c *fakeClock) string {
				cl := c.claims("chat_fn", "mail", "u-1", 120)
				cl.Jti = "abcdefghijklmnop"
				return Mint(cl, testSecret)
			},
			steps: []step{{"mail", "u-1", ""}}},
		{name: "unknown tool_type",
			token: func(c *fakeClock) string { return Mint(c.claims("widget", "mail", "u-1", 120), testSecret) },
			steps: []step{{"mail", "u-1", ReasonPayload}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock(testNow)
			v := newTestVerifier(t, clk, Options{Secrets: tc.secrets})
			tok := tc.token(clk)
			for i, s := range tc.steps {
				c, err := verify(t, v, tok, s.app, s.user)
				if got, _ := reasonOf(t, err); got != s.want {
					t.Fatalf("verification %d: reason %q (err %v), want %q", i+1, got, err, s.want)
				}
				wantReason(t, err, s.want)
				if err == nil && (c.AppID != s.app || c.UserID != s.user || c.ToolType != ToolTypeChatFn) {
					t.Fatalf("claims %+v", c)
				}
			}
		})
	}
}

// TestMintedPayload: the payload is the claims as sorted-key compact JSON.
func TestMintedPayload(t *testing.T) {
	c := Claims{AppID: "mail", Exp: 200, Iat: 80, Jti: "jti-0123456789abc", ToolType: "chat_fn", UserID: "u-123"}
	p, _, _ := strings.Cut(Mint(c, testSecret), ".")
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"app_id":"mail","exp":200,"iat":80,"jti":"jti-0123456789abc","tool_type":"chat_fn","user_id":"u-123"}`
	if string(payload) != want {
		t.Fatalf("payload %s\nwant    %s", payload, want)
	}
}

func TestPayloadEdgeCases(t *testing.T) {
	const rest = `"iat":1,"jti":"jti-0123456789abc","tool_type":"chat_fn"`
	cases := []struct {
		name, payload, want string
	}{
		{"float exp without fraction", `{"app_id":"mail","exp":4.1024448e9,` + rest + `,"user_id":"u"}`, ""},
		{"float exp with fraction", `{"app_id":"mail","exp":4102444800.5,` + rest + `,"user_id":"u"}`, ReasonPayload},
		{"exp beyond float range", `{"app_id":"mail","exp":1e400,` + rest + `,"user_id":"u"}`, ReasonPayload},
		{"exp beyond int64", `{"app_id":"mail","exp":9223372036854775808,` + rest + `,"user_id":"u"}`, ReasonPayload},
		// pydantic's lax mode would coerce these; no SDK minter writes them.
		{"exp as a string", `{"app_id":"mail","exp":"4102444800",` + rest + `,"user_id":"u"}`, ReasonPayload},
		{"exp as a boolean", `{"app_id":"mail","exp":true,` + rest + `,"user_id":"u"}`, ReasonPayload},
		{"app_id as a number", `{"app_id":7,"exp":4102444800,` + rest + `,"user_id":"u"}`, ReasonPayload},
		{"user_id null", `{"app_id":"mail","exp":4102444800,` + rest + `,"user_id":null}`, ReasonPayload},
		{"extra key ignored", `{"app_id":"mail","exp":4102444800,"scope":[1],` + rest + `,"user_id":"u"}`, ""},
		{"duplicate key, last wins", `{"app_id":"other","app_id":"mail","exp":4102444800,` + rest + `,"user_id":"u"}`, ""},
		{"keys are case-sensitive", `{"APP_ID":"mail","exp":4102444800,` + rest + `,"user_id":"u"}`, ReasonPayload},
		{"escaped key", `{"app\u005fid":"mail","exp":4102444800,` + rest + `,"user_id":"u"}`, ""},
		{"surrogate pair", `{"app_id":"mail","exp":4102444800,` + rest + `,"user_id":"\ud83d\ude00"}`, ReasonUserID},
		{"lone surrogate", `{"app_id":"mail","exp":4102444800,` + rest + `,"user_id":"\ud83d"}`, ReasonPayload},
		{"escaped backslash before u", `{"app_id":"mail","exp":4102444800,` + rest + `,"user_id":"\\ud83d"}`, ReasonUserID},
		{"invalid utf-8", `{"app_id":"mail","exp":4102444800,` + rest + ",\"user_id\":\"\xff\"}", ReasonPayload},
		{"array", `[1,2]`, ReasonPayload},
		{"null", `null`, ReasonPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock(testNow), Options{})
			_, err := verify(t, v, signRaw(tc.payload, testSecret), "mail", "u")
			wantReason(t, err, tc.want)
		})
	}
}

func TestParseHeader(t *testing.T) {
	cases := []struct {
		in, token string
		ok        bool
	}{
		{"ImperalCallToken abc.def", "abc.def", true},
		{"  ImperalCallToken   abc.def  ", "abc.def", true},
		{"ImperalCallToken\tabc.def", "abc.def", true},
		{"imperalcalltoken abc.def", "", false},
		{"Bearer abc.def", "", false},
		{"ImperalCallTokenabc.def", "", false},
		{"ImperalCallToken", "", false},
		{"ImperalCallToken   ", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		tok, ok := ParseHeader(c.in)
		if tok != c.token || ok != c.ok {
			t.Errorf("ParseHeader(%q) = %q, %v; want %q, %v", c.in, tok, ok, c.token, c.ok)
		}
	}
}

func TestVerifyHeader(t *testing.T) {
	clk := newFakeClock(testNow)
	v := newTestVerifier(t, clk, Options{})
	_, err := v.VerifyHeader(context.Background(), "", "mail", "u")
	wantReason(t, err, ReasonMissing)
	if e := err.(*Error); e.Status() != 401 || e.Error() != "calltoken: missing call token" {
		t.Fatalf("status %d, message %q", e.Status(), e.Error())
	}
	tok := Mint(clk.claims("chat_fn", "mail", "u", 60), testSecret)
	if _, err := v.VerifyHeader(context.Background(), HeaderScheme+" "+tok, "mail", "u"); err != nil {
		t.Fatal(err)
	}
	_, err = v.VerifyHeader(context.Background(), HeaderScheme+" "+tok, "other", "u")
	wantReason(t, err, ReasonReplayed)
	if s := (&Error{Denied: true, Reason: ReasonAppID}).Status(); s != 403 {
		t.Fatalf("denied status %d", s)
	}
}

func TestNewVerifierRefusesBadSecrets(t *testing.T) {
	for _, secrets := range [][]string{nil, {}, {""}, {testSecret, ""}} {
		if _, err := NewVerifier(Options{Secrets: secrets}); err == nil {
			t.Errorf("secrets %q accepted", secrets)
		} else if !strings.HasPrefix(err.Error(), "calltoken: ") {
			t.Errorf("error %q lacks the prefix", err)
		}
	}
}

func TestNewJTI(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		j := NewJTI()
		if len(j) != 22 || strings.Trim(j, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("jti %q", j)
		}
		if seen[j] {
			t.Fatalf("jti %q twice", j)
		}
		seen[j] = true
	}
}

// TestConcurrentReplayLocal: of many simultaneous verifications of one
// token, exactly one succeeds.
func TestConcurrentReplayLocal(t *testing.T) {
	clk := newFakeClock(testNow)
	v := newTestVerifier(t, clk, Options{})
	tok := Mint(clk.claims("chat_fn", "mail", "u", 60), testSecret)
	var wg sync.WaitGroup
	var mu sync.Mutex
	okCount := 0
	for range 8 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok, "mail", "u")
			if err == nil {
				mu.Lock()
				okCount++
				mu.Unlock()
			} else if e, _ := err.(*Error); e == nil || e.Reason != ReasonReplayed {
				t.Errorf("unexpected %v", err)
			}
		})
	}
	wg.Wait()
	if okCount != 1 {
		t.Fatalf("%d verifications succeeded, want 1", okCount)
	}
}

// TestLocalReplayExpiryFollowsClock: the in-process entry lives until the
// token's exp on the Verifier's clock.
func TestLocalReplayExpiryFollowsClock(t *testing.T) {
	clk := newFakeClock(testNow)
	v := newTestVerifier(t, clk, Options{})
	short := clk.claims("chat_fn", "mail", "u", 10)
	long := short
	long.Exp = clk.Unix() + 1000 // same jti, later exp
	shortTok, longTok := Mint(short, testSecret), Mint(long, testSecret)

	if _, err := verify(t, v, shortTok, "mail", "u"); err != nil {
		t.Fatal(err)
	}
	_, err := verify(t, v, longTok, "mail", "u")
	wantReason(t, err, ReasonReplayed)

	clk.Advance(9 * time.Second)
	_, err = verify(t, v, shortTok, "mail", "u")
	wantReason(t, err, ReasonReplayed)

	clk.Advance(2 * time.Second) // past exp: expired, not replayed
	_, err = verify(t, v, shortTok, "mail", "u")
	wantReason(t, err, ReasonExpired)
	// The jti's entry went with the clock, so the same jti can be claimed again.
	if _, err := verify(t, v, longTok, "mail", "u"); err != nil {
		t.Fatalf("jti still remembered after its ttl: %v", err)
	}
}

// TestCanonicalFastPath: the fast path reads only canonical payloads, and
// reads them as the general path does.
func TestCanonicalFastPath(t *testing.T) {
	canonical := []Claims{
		{AppID: "mail", Exp: 4102444800, Iat: -5, Jti: "jti-0123456789abc", ToolType: "chat_fn", UserID: "u-123"},
		{AppID: "a b<>&/'~", Exp: 0, Iat: 0, Jti: "x", ToolType: "widget", UserID: ""},
	}
	for _, c := range canonical {
		p, _, _ := strings.Cut(Mint(c, testSecret), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(p)
		got, ok := parseCanonical(payload)
		if !ok || got != c {
			t.Errorf("%s: fast path %v, %+v", payload, ok, got)
		}
		if slow, _ := parseClaimsJSON(payload); checkClaims(c) == nil && slow != got {
			t.Errorf("%s: general path %+v", payload, slow)
		}
	}
	const tail = `,"iat":1,"jti":"jti-0123456789abc","tool_type":"chat_fn","user_id":"u"}`
	for _, p := range []string{
		`{"app_id":"m\"x","exp":5` + tail,
		`{"app_id":"m\u0041","exp":5` + tail,
		`{"app_id":"é","exp":5` + tail,
		`{"app_id":"m","exp":-0` + tail,
		`{"app_id":"m","exp":05` + tail,
		`{"app_id":"m","exp":5.0` + tail,
		`{"app_id":"m","exp":5e0` + tail,
		`{"app_id":"m","exp":99999999999999999999` + tail,
		`{"app_id":"m", "exp":5` + tail,
		`{"app_id":"m","exp":5` + tail + ` `,
		`{"app_id":"m","exp":5,"iat":1,"jti":"jti-0123456789abc","tool_type":"chat_fn","user_id":"u","x":1}`,
		`{"app_id":"m","exp":5,"iat":1,"jti":"jti-0123456789abc","tool_type":"chat_fn"}`,
		`{"app_id":"m","exp":5,"iat":1,"jti":"jti-0123456789abc","tool_type":"chat_fn","user_id":"u`,
	} {
		if c, ok := parseCanonical([]byte(p)); ok {
			t.Errorf("%s: fast path took a non-canonical payload: %+v", p, c)
		}
	}
}
