// Package calltoken implements the Python SDK's HMAC call token
// (imperal_sdk.security.call_token) for the host's call_token auth mode:
// minting byte-identical tokens, and verifying them in the SDK's order with
// single use of each jti enforced through Redis, or an in-process set.
//
// A token is base64url_nopad(payload) + "." +
// base64url_nopad(HMAC-SHA256(secret, payload)), the payload being the
// claims as compact JSON with sorted keys, non-ASCII escaped as \uXXXX.
package calltoken

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/imperalcloud/exthost/internal/pyjson"
)

const (
	// MaxTokenLen is the longest token Verify looks at, in bytes.
	MaxTokenLen = 2048
	// MinJTILen is the fewest characters a jti may have.
	MinJTILen = 16
	// HeaderScheme is the Authorization scheme of a call token.
	HeaderScheme = "ImperalCallToken"
	// ToolTypeChatFn is the tool_type of a chat function's token.
	ToolTypeChatFn = "chat_fn"
	// ReplayKeyPrefix prefixes the jti in the Redis key that claims it, as
	// in the SDK, so that Python and Go verifiers share one replay set.
	ReplayKeyPrefix = "imperal:calltoken:jti:"
)

// Reasons of an Error, worded as the SDK words them.
const (
	// ReasonMissing: no call token in the request.
	ReasonMissing = "missing call token"
	// ReasonTooLong: the token is longer than MaxTokenLen.
	ReasonTooLong = "token length exceeds limit"
	// ReasonMalformed: no "." or a part is not base64.
	ReasonMalformed = "malformed call token"
	// ReasonSignature: no configured secret signed the payload.
	ReasonSignature = "invalid call token signature"
	// ReasonPayload: the signed payload is not valid claims.
	ReasonPayload = "malformed call token payload"
	// ReasonExpired: exp is now or earlier.
	ReasonExpired = "call token expired"
	// ReasonReplayed: the jti was already used.
	ReasonReplayed = "call token replayed"
	// ReasonToolType: the token is for another kind of tool.
	ReasonToolType = "tool_type mismatch"
	// ReasonAppID: the token is for another app.
	ReasonAppID = "app_id mismatch"
	// ReasonUserID: the token is for another user.
	ReasonUserID = "user_id mismatch"
)

// Claims are the claims of a call token. Fields are in the payload's
// (sorted) key order.
type Claims struct {
	// AppID is the app the token was minted for.
	AppID string `json:"app_id"`
	// Exp is the expiry, in Unix seconds; the token is expired at Exp.
	Exp int64 `json:"exp"`
	// Iat is the minting time, in Unix seconds.
	Iat int64 `json:"iat"`
	// Jti is the token's unique id, at least MinJTILen characters.
	Jti string `json:"jti"`
	// ToolType is one of skeleton, panel, tool, chat_fn.
	ToolType string `json:"tool_type"`
	// UserID is the user the token was minted for.
	UserID string `json:"user_id"`
}

// Error is a refused token. Denied false means HTTP 401 (no valid token),
// true means 403 (a valid token for another app, user or tool type).
type Error struct {
	// Denied is true for a mismatch of tool_type, app_id or user_id.
	Denied bool
	// Reason is one of the Reason constants, the SDK's wording.
	Reason string

	detail string
}

// Error returns "calltoken: " and the reason, with detail when there is some.
func (e *Error) Error() string {
	if e.detail != "" {
		return "calltoken: " + e.Reason + ": " + e.detail
	}
	return "calltoken: " + e.Reason
}

// Status is the HTTP status for the error: 403 if Denied, else 401.
func (e *Error) Status() int {
	if e.Denied {
		return 403
	}
	return 401
}

func unauthorized(reason string, detail string) *Error {
	return &Error{Reason: reason, detail: detail}
}

func denied(reason string) *Error {
	return &Error{Denied: true, Reason: reason}
}

// Mint signs c with secret (its UTF-8 bytes are the HMAC key) and returns
// the token the Python SDK mints for the same claims, byte for byte. It
// checks nothing: tests use it to build invalid tokens too. Invalid UTF-8
// in a string is encoded as U+FFFD.
func Mint(c Claims, secret string) string {
	p := make([]byte, 0, 128+len(c.AppID)+len(c.Jti)+len(c.ToolType)+len(c.UserID))
	p = append(p, `{"app_id":`...)
	p = pyjson.AppendString(p, c.AppID)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, c.Exp, 10)
	p = append(p, `,"iat":`...)
	p = strconv.AppendInt(p, c.Iat, 10)
	p = append(p, `,"jti":`...)
	p = pyjson.AppendString(p, c.Jti)
	p = append(p, `,"tool_type":`...)
	p = pyjson.AppendString(p, c.ToolType)
	p = append(p, `,"user_id":`...)
	p = pyjson.AppendString(p, c.UserID)
	p = append(p, '}')
	return sign(p, []byte(secret))
}

func sign(payload, key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(mac.Sum(nil))
}

// NewJTI returns a fresh jti: 16 random bytes as 22 base64url characters,
// like Python's secrets.token_urlsafe(16).
func NewJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseHeader returns the token of an "Authorization: ImperalCallToken
// <token>" header value. The scheme is matched case-sensitively; spaces and
// tabs around the value and the token are trimmed. ok is false when h holds
// no call token.
func ParseHeader(h string) (token string, ok bool) {
	rest, found := strings.CutPrefix(strings.Trim(h, " \t"), HeaderScheme)
	if !found || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	token = strings.Trim(rest, " \t")
	return token, token != ""
}

// b64Table maps a byte to its base64 value for both alphabets, as Python's
// urlsafe_b64decode sees them after it turns '-' and '_' into '+' and '/';
// 0xff for the bytes base64 discards.
var b64Table = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(std) {
		t[std[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

// pyB64Decode decodes s exactly as the SDK's _b64d does:
// base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), that is
// binascii.a2b_base64 in its non-strict mode. Bytes outside the alphabet
// are skipped, a complete pad sequence ends the input, and non-ASCII input
// is an error. (The token is taken as bytes, as the gateway's latin-1
// header strings are.)
func pyB64Decode(s string) ([]byte, error) {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return nil, errors.New("string argument should contain only ASCII characters")
		}
	}
	n := len(s) + (4-len(s)%4)%4
	out := make([]byte, 0, n/4*3)
	quad, pads := 0, 0
	var left byte
	for i := range n {
		c := byte('=')
		if i < len(s) {
			c = s[i]
		}
		if c == '=' {
			if quad >= 2 {
				pads++
				if quad+pads >= 4 {
					return out, nil
				}
			}
			continue
		}
		v := b64Table[c]
		if v == 0xff {
			continue
		}
		pads = 0
		switch quad {
		case 0:
			left = v
		case 1:
			out = append(out, left<<2|v>>4)
			left = v & 0x0f
		case 2:
			out = append(out, left<<4|v>>2)
			left = v & 0x03
		case 3:
			out = append(out, left<<6|v)
		}
		quad = (quad + 1) % 4
	}
	switch quad {
	case 0:
		return out, nil
	case 1:
		return nil, fmt.Errorf("invalid base64-encoded string: number of data characters (%d) cannot be 1 more than a multiple of 4", len(out)/3*4+1)
	default:
		return nil, errors.New("incorrect padding")
	}
}

// parseClaims validates the payload as the SDK's pydantic model does: a JSON
// object with the six claims (other keys ignored), strings for the string
// claims, integers for iat and exp, a jti of MinJTILen characters or more
// and a known tool_type. Deliberately stricter than pydantic's lax mode in
// three corners no SDK minter produces: iat/exp given as strings or
// booleans, integers beyond int64, and non-UTF-8 JSON (UTF-16/32) are
// refused.
func parseClaims(payload []byte) (Claims, error) {
	if c, ok := parseCanonical(payload); ok {
		if err := checkClaims(c); err != nil {
			return Claims{}, err
		}
		return c, nil
	}
	return parseClaimsJSON(payload)
}

// parseClaimsJSON is the general path of parseClaims.
func parseClaimsJSON(payload []byte) (Claims, error) {
	var c Claims
	if !utf8.Valid(payload) {
		return c, errors.New("payload is not utf-8")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return c, err
	}
	var err error
	str := func(key string) string {
		s, e := claimString(m, key)
		if e != nil && err == nil {
			err = e
		}
		return s
	}
	num := func(key string) int64 {
		n, e := claimInt(m, key)
		if e != nil && err == nil {
			err = e
		}
		return n
	}
	// pydantic's field order, so the first error named is the SDK's.
	c.ToolType = str("tool_type")
	c.AppID = str("app_id")
	c.UserID = str("user_id")
	c.Iat = num("iat")
	c.Exp = num("exp")
	c.Jti = str("jti")
	if err != nil {
		return Claims{}, err
	}
	if err := checkClaims(c); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// checkClaims checks the constraints beyond the JSON types.
func checkClaims(c Claims) error {
	switch c.ToolType {
	case "skeleton", "panel", "tool", ToolTypeChatFn:
	default:
		return fmt.Errorf("tool_type: unknown %q", c.ToolType)
	}
	if utf8.RuneCountInString(c.Jti) < MinJTILen {
		return fmt.Errorf("jti: shorter than %d characters", MinJTILen)
	}
	return nil
}

// parseCanonical is the fast path of parseClaims: it reads a payload only
// if it is byte for byte what Mint (and the SDK) writes for claims whose
// strings are printable ASCII without '"' and '\\' (no escapes), and
// reports false for anything else, which then takes the general path.
func parseCanonical(p []byte) (c Claims, ok bool) {
	s := string(p) // one copy; the claims' strings share it
	str := func(prefix string) string {
		if !ok {
			return ""
		}
		if s, ok = strings.CutPrefix(s, prefix); !ok {
			return ""
		}
		for i := 0; i < len(s); i++ {
			switch b := s[i]; {
			case b == '"':
				v := s[:i]
				s = s[i+1:]
				return v
			case b < ' ' || b > '~' || b == '\\':
				ok = false
				return ""
			}
		}
		ok = false
		return ""
	}
	num := func(prefix string) int64 {
		if !ok {
			return 0
		}
		if s, ok = strings.CutPrefix(s, prefix); !ok {
			return 0
		}
		i := 0
		if i < len(s) && s[i] == '-' {
			i++
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		// Canonical only: no "-0", no leading zeros.
		if ok = err == nil && strconv.FormatInt(n, 10) == s[:i]; !ok {
			return 0
		}
		s = s[i:]
		return n
	}
	ok = true
	c.AppID = str(`{"app_id":"`)
	c.Exp = num(`,"exp":`)
	c.Iat = num(`,"iat":`)
	c.Jti = str(`,"jti":"`)
	c.ToolType = str(`,"tool_type":"`)
	c.UserID = str(`,"user_id":"`)
	if !ok || s != "}" {
		return Claims{}, false
	}
	return c, true
}

func claimString(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok {
		return "", fmt.Errorf("%s: field required", key)
	}
	if raw[0] != '"' {
		return "", fmt.Errorf("%s: not a string", key)
	}
	if hasLoneSurrogate(raw) { // pydantic refuses them; encoding/json would make them U+FFFD
		return "", fmt.Errorf("%s: lone surrogate", key)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return s, nil
}

// claimInt accepts a JSON integer, or a JSON float with no fraction as
// pydantic does (4102444800.0), within int64.
func claimInt(m map[string]json.RawMessage, key string) (int64, error) {
	raw, ok := m[key]
	if !ok {
		return 0, fmt.Errorf("%s: field required", key)
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, fmt.Errorf("%s: not an integer", key)
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, fmt.Errorf("%s: not an int64 integer", key)
	}
	return int64(f), nil
}

// hasLoneSurrogate reports whether the JSON string literal raw has a \u
// escape of a UTF-16 surrogate that is not part of a high-low pair.
func hasLoneSurrogate(raw []byte) bool {
	hex4 := func(i int) rune {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return -1
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		if err != nil {
			return -1
		}
		return rune(n)
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r := hex4(i)
		switch {
		case r >= 0xd800 && r < 0xdc00:
			if lo := hex4(i + 6); lo < 0xdc00 || lo > 0xdfff {
				return true
			}
			i += 11
		case r >= 0xdc00 && r <= 0xdfff:
			return true
		case r >= 0:
			i += 5
		default:
			i++ // a short escape: skip the escaped byte
		}
	}
	return false
}
