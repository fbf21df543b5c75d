package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Key parts. Keys are built from values the caller does not choose: account
// ids, folder names such as "[Gmail]/All Mail", "Входящие" or "Work
// Projects". The key charset refuses most of them, so KeyPart turns any
// string into a part the charset accepts, leaving the ordinary ones alone
// so that the keys extensions already use (inbox:work:INBOX:0) keep their
// spelling.
const (
	// maxPlainPart is the longest part KeyPart keeps as it is.
	maxPlainPart = 64
	// maxSlug is how much of an encoded part stays readable.
	maxSlug = 24
	// partHashBytes is how much of an encoded part's SHA-256 it carries:
	// 16 hex digits, 64 bits.
	partHashBytes = 8
)

// KeyPart returns s as one ':'-separated part of a cache key. A plain part
// (1 to 64 characters from [A-Za-z0-9_-], not starting with '-') is
// returned unchanged. Anything else is encoded as '-', a readable slug of
// s (at most 24 characters, every run of other characters one '_'), '-'
// and 16 hex digits of s's SHA-256: "[Gmail]/All Mail" becomes
// "-_Gmail_All_Mail-" and its digest. An encoded part starts with '-', which
// no plain part does, so it never equals one; two encoded parts are equal
// only when their digests are, which in practice means never. The result
// always passes ValidateKey and never contains ':'.
func KeyPart(s string) string {
	if plainPart(s) {
		return s
	}
	var b strings.Builder
	b.Grow(2 + maxSlug + 2*partHashBytes)
	b.WriteByte('-')
	replaced := false
	for _, r := range s {
		if b.Len() > maxSlug {
			break
		}
		if r < 0x80 && r != '-' && r != ':' && keyByte(byte(r)) {
			b.WriteRune(r)
			replaced = false
		} else if !replaced {
			b.WriteByte('_')
			replaced = true
		}
	}
	b.WriteByte('-')
	sum := sha256.Sum256([]byte(s))
	b.WriteString(hex.EncodeToString(sum[:partHashBytes]))
	return b.String()
}

// Key joins parts into a key, each made safe with KeyPart:
// Key("inbox", account, folder, "0").
func Key(parts ...string) string {
	var buf [8]string
	safe := buf[:0] // the caller's slice is theirs
	n := len(parts)
	for _, p := range parts {
		safe = append(safe, KeyPart(p))
		n += len(safe[len(safe)-1])
	}
	var b strings.Builder
	b.Grow(n) // one allocation: keys are built on every call
	for i, p := range safe {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(p)
	}
	return b.String()
}

// plainPart reports whether KeyPart keeps s as it is.
func plainPart(s string) bool {
	if s == "" || len(s) > maxPlainPart || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' || !keyByte(s[i]) {
			return false
		}
	}
	return true
}
