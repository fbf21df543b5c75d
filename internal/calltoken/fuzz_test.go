package calltoken

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	fzApp  = "mail"
	fzUser = "u-1"
	fzJTI  = "jti-0123456789abcdef"
)

// fzVerifySeeds are meaningful FuzzVerify inputs, also committed (with a few
// more) under testdata/fuzz/FuzzVerify. With sign true the string is a
// payload, signed with testSecret before it is verified; else it is the
// token itself.
var fzVerifySeeds = []struct {
	token string
	sign  bool
}{
	{Mint(Claims{AppID: fzApp, Exp: testNow + 3600, Iat: testNow, Jti: fzJTI, ToolType: ToolTypeChatFn, UserID: fzUser}, testSecret), false},
	{Mint(Claims{AppID: "other", Exp: testNow + 3600, Iat: testNow, Jti: fzJTI + "-app", ToolType: ToolTypeChatFn, UserID: fzUser}, testSecret), false},
	{Mint(Claims{AppID: fzApp, Exp: testNow + 3600, Iat: testNow, Jti: fzJTI + "-tool", ToolType: "panel", UserID: fzUser}, testSecret), false},
	{Mint(Claims{AppID: fzApp, Exp: testNow, Iat: testNow - 60, Jti: fzJTI + "-exp", ToolType: ToolTypeChatFn, UserID: fzUser}, testSecret), false},
	{Mint(Claims{AppID: fzApp, Exp: testNow + 3600, Iat: testNow, Jti: fzJTI, ToolType: ToolTypeChatFn, UserID: fzUser}, "wrong-secret"), false},
	{Mint(Claims{AppID: fzApp, Exp: testNow + 3600, Iat: testNow, Jti: fzJTI + "-ü", ToolType: ToolTypeChatFn, UserID: "Zoë"}, testSecret), false},
	{"", false},
	{".", false},
	{"abc", false},
	{"e30.", false},
	{"e30=.AAAA", false},
	{"e30.AAAA=", false},
	{"e30.A", false},
	{"é.é", false},
	{"!!!.***", false},
	{strings.Repeat("A", MaxTokenLen) + ".", false},
	{`{"app_id":"mail","exp":1767229200,"iat":1767225600,"jti":"jti-0123456789abcdef-s","tool_type":"chat_fn","user_id":"u-1"}`, true},
	{`{"user_id":"u-1","tool_type":"chat_fn","jti":"jti-0123456789abcdef-r","iat":1,"exp":1767229200,"app_id":"mail"}`, true},
	{`{"app_id":"mail","exp":1.7672292e9,"iat":1,"jti":"jti-0123456789abcdef-f","tool_type":"chat_fn","user_id":"u-1"}`, true},
	{`{"app_id":"mail","exp":1e400,"iat":1,"jti":"jti-0123456789abcdef-e","tool_type":"chat_fn","user_id":"u-1"}`, true},
	{`{"app_id":"mail","exp":9223372036854775807,"iat":-9223372036854775808,"jti":"jti-0123456789abcdef-m","tool_type":"chat_fn","user_id":"u-1"}`, true},
	{`{"app_id":"mail","exp":1767229200,"iat":1,"jti":"short","tool_type":"chat_fn","user_id":"u-1"}`, true},
	{`{"app_id":"m\u0061il","exp":1767229200,"iat":1,"jti":"jti-0123456789abcdef-u","tool_type":"chat_fn","user_id":"u\u002d1"}`, true},
	{`{"app_id":"mail","exp":1767229200,"iat":1,"jti":"jti-0123456789abcdef-x","tool_type":"chat_fn","user_id":"\ud800"}`, true},
	{`{"app_id":"mail","exp":"1767229200","iat":1,"jti":"jti-0123456789abcdef-q","tool_type":"chat_fn","user_id":"u-1"}`, true},
	{`{"app_id":"mail","exp":-0,"iat":01,"jti":"jti-0123456789abcdef-z","tool_type":"chat_fn","user_id":"u-1"}`, true},
	{`{"app_id":"mail","app_id":"other","exp":1767229200,"iat":1,"jti":"jti-0123456789abcdef-d","tool_type":"chat_fn","user_id":"u-1"}`, true},
	{`[1,2]`, true},
	{`null`, true},
	{``, true},
	{"{\"app_id\":\"\xff\"}", true},
}

// FuzzVerify gives arbitrary tokens (or arbitrary payloads, correctly
// signed) to Verify with the in-process replay set. It never panics; every
// refusal is a *Error with a known reason, 403 exactly for the mismatch
// reasons; a token that verifies is a chat_fn token for the requested app
// and user, unexpired, with a long enough jti, and is refused as replayed
// the second time. For signed payloads the canonical fast path agrees with
// the general JSON path.
func FuzzVerify(f *testing.F) {
	for _, s := range fzVerifySeeds {
		f.Add(s.token, s.sign)
	}
	clk := newFakeClock(testNow)
	v, err := NewVerifier(Options{Secrets: []string{testSecret, newSecret}, Now: clk.Now})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)
	reasons := map[string]bool{ReasonTooLong: false, ReasonMalformed: false, ReasonSignature: false, ReasonPayload: false,
		ReasonExpired: false, ReasonReplayed: false, ReasonToolType: true, ReasonAppID: true, ReasonUserID: true}

	f.Fuzz(func(t *testing.T, token string, sign bool) {
		if sign {
			payload := token
			token = signRaw(payload, testSecret)
			if canon, ok := parseCanonical([]byte(payload)); ok {
				general, err := parseClaimsJSON([]byte(payload))
				if cerr := checkClaims(canon); (cerr == nil) != (err == nil) || (err == nil && general != canon) {
					t.Fatalf("payload %q: canonical path %+v (%v), general path %+v (%v)", payload, canon, cerr, general, err)
				}
			}
		}
		c, err := v.Verify(context.Background(), token, fzApp, fzUser)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not a *Error", err, err)
			}
			denied, known := reasons[e.Reason]
			switch {
			case !known:
				t.Fatalf("unknown reason %q (%v)", e.Reason, err)
			case e.Denied != denied:
				t.Fatalf("reason %q with Denied %v", e.Reason, e.Denied)
			case e.Status() != 401 && e.Status() != 403, (e.Status() == 403) != denied:
				t.Fatalf("reason %q with status %d", e.Reason, e.Status())
			case c != Claims{}:
				t.Fatalf("refused token returned claims %+v", c)
			case !strings.HasPrefix(e.Error(), "calltoken: "+e.Reason):
				t.Fatalf("message %q", e.Error())
			}
			return
		}
		switch {
		case c.ToolType != ToolTypeChatFn || c.AppID != fzApp || c.UserID != fzUser:
			t.Fatalf("verified claims %+v are not a chat_fn token for %s/%s", c, fzApp, fzUser)
		case c.Exp <= clk.Unix():
			t.Fatalf("verified an expired token: %+v", c)
		case utf8.RuneCountInString(c.Jti) < MinJTILen:
			t.Fatalf("verified a short jti: %+v", c)
		case len(token) > MaxTokenLen:
			t.Fatalf("verified a token of %d bytes", len(token))
		}
		_, err = v.Verify(context.Background(), token, fzApp, fzUser)
		if e := (*Error)(nil); !errors.As(err, &e) || e.Reason != ReasonReplayed {
			t.Fatalf("second use of a verified token: %v", err)
		}
	})
}

// FuzzParseHeader: ParseHeader never panics; a token it finds is non-empty,
// trimmed, taken from the header after the scheme and a space or tab, and
// found again in a canonical header; VerifyHeader answers "missing call
// token" exactly when there is none.
func FuzzParseHeader(f *testing.F) {
	for _, h := range []string{"ImperalCallToken abc.def", "  ImperalCallToken \t abc.def \t", "ImperalCallToken\tabc.def",
		"imperalcalltoken abc.def", "Bearer abc.def", "ImperalCallTokenabc.def", "ImperalCallToken", "ImperalCallToken   ",
		"", "ImperalCallToken a b", "ImperalCallToken\x00a", "ImperalCallToken \u00a0x\u00a0", "ImperalCallToken ImperalCallToken x"} {
		f.Add(h)
	}
	v, err := NewVerifier(Options{Secrets: []string{testSecret}, Now: newFakeClock(testNow).Now})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := ParseHeader(h)
		_, verr := v.VerifyHeader(context.Background(), h, fzApp, fzUser)
		var e *Error
		if !errors.As(verr, &e) {
			t.Fatalf("VerifyHeader(%q) = %v, not a *Error", h, verr)
		}
		if (e.Reason == ReasonMissing) != !ok {
			t.Fatalf("ParseHeader(%q) ok=%v but VerifyHeader says %q", h, ok, e.Reason)
		}
		if !ok {
			if tok != "" {
				t.Fatalf("ParseHeader(%q) = %q with ok false", h, tok)
			}
			return
		}
		rest, found := strings.CutPrefix(strings.Trim(h, " \t"), HeaderScheme)
		switch {
		case tok == "" || strings.Trim(tok, " \t") != tok:
			t.Fatalf("ParseHeader(%q) = %q: empty or untrimmed", h, tok)
		case !found || (rest[0] != ' ' && rest[0] != '\t') || strings.Trim(rest, " \t") != tok:
			t.Fatalf("ParseHeader(%q) = %q: not the value after the scheme", h, tok)
		}
		if again, ok := ParseHeader(HeaderScheme + " " + tok); !ok || again != tok {
			t.Fatalf("ParseHeader(canonical header of %q) = %q, %v", tok, again, ok)
		}
	})
}
