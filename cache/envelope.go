package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

// EnvelopeVersion is the only envelope version this host reads or writes;
// an entry of another version reads as a miss.
const EnvelopeVersion = 1

// StorageKey returns the backend key of one entry:
// extcache:{<app_id>:<user_id>}:<model>:<first 16 hex of sha256(key)>.
// The braces are a Redis Cluster hash tag, so one user's entries of one app
// share a slot and a multi-model delete is a single command. The user id is
// escaped (see EscapeID), so no id can break out of the tag; the raw key never
// reaches the backend.
func StorageKey(appID, userID, model, key string) string {
	return storageKey(storagePrefix(appID, EscapeID(userID)), model, key)
}

func storagePrefix(appID, escapedUserID string) string {
	return "extcache:{" + appID + ":" + escapedUserID + "}:"
}

// keyHashBytes is how much of a key's SHA-256 names its entry: 16 hex
// digits.
const keyHashBytes = 8

// storageKey is StorageKey under a prefix made by storagePrefix, built in
// one allocation: on a hit it is most of the cache's own work.
func storageKey(prefix, model, key string) string {
	var buf [160]byte
	sum := sha256.Sum256([]byte(key))
	b := append(append(append(buf[:0], prefix...), model...), ':')
	return string(hex.AppendEncode(b, sum[:keyHashBytes]))
}

// EscapeID makes a user id safe inside the keyspace: bytes that could end
// the hash tag ('{', '}'), act as glob patterns ('*', '?', '[', ']', '\'),
// or are not printable ASCII, and '%' itself, become %XX. Ordinary ids
// (imp_u_123, demo, alice@example.com) are unchanged.
func EscapeID(id string) string {
	if !strings.ContainsFunc(id, func(r rune) bool { return r > 0x7e || needsEscape(byte(r)) }) {
		return id
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsEscape(c byte) bool {
	return c <= ' ' || c >= 0x7f || strings.IndexByte("%{}*?[]\\", c) >= 0
}

// encodeEnvelope renders {"model","version","data","cached_at"} as compact
// JSON without HTML escaping (as Python's json.dumps writes it) and enforces
// I-CACHE-VALUE-SIZE-CAP-64KB on exactly those bytes.
func encodeEnvelope(model string, v any, now time.Time) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"model":"`)
	buf.WriteString(model) // registered names are snake_case: nothing to escape
	buf.WriteString(`","version":1,"data":`)
	data, err := jsonx.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cache: encode %s: %w", model, err)
	}
	buf.Write(data)
	buf.WriteString(`,"cached_at":"`)
	buf.WriteString(now.UTC().Format(time.RFC3339Nano))
	buf.WriteString(`"}`)
	if buf.Len() > MaxEnvelopeBytes {
		return nil, violation(InvariantValueSize, "cache value too large: %d > %d bytes", buf.Len(), MaxEnvelopeBytes)
	}
	return buf.Bytes(), nil
}

// decodeEnvelope reads an entry stored for model. An envelope of another
// model or version, without data, or whose data no longer fits T (a
// deployment changed the shape) is a miss, never an error.
//
// The value's json.RawMessage values are slices of raw, not copies
// (segmentio/encoding's zero-copy decoding): a forwarded page of messages
// is then one block of memory, next to nothing more to allocate, and a hit
// that writes it out reads it in one sweep. raw is never written to again
// (envelopes are made afresh and kept as they are), so sharing it is safe
// as long as cached values are treated as read-only: a RawMessage's spare
// capacity is the rest of the envelope, so even an append to one would
// overwrite the entry.
func decodeEnvelope[T any](raw []byte, model string) (T, bool) {
	var env struct {
		Model   string `json:"model"`
		Version int    `json:"version"`
		Data    *T     `json:"data"`
	}
	rest, err := json.Parse(raw, &env, json.DontCopyRawMessage)
	if err != nil || len(bytes.TrimSpace(rest)) > 0 ||
		env.Model != model || env.Version != EnvelopeVersion || env.Data == nil {
		var zero T
		return zero, false
	}
	return *env.Data, true
}
