package cache

import (
	"errors"
	"fmt"
	"time"
)

// The limits of the cache contract, shared with the Python SDK.
const (
	// MaxKeyLen is the longest key a caller may use (I-CACHE-KEY-SAFETY).
	MaxKeyLen = 128
	// MinTTL and MaxTTL bound every entry's lifetime (I-CACHE-TTL-CAP-300S).
	MinTTL = 5 * time.Second
	MaxTTL = 300 * time.Second
	// MaxEnvelopeBytes caps the stored envelope, compact JSON in UTF-8
	// (I-CACHE-VALUE-SIZE-CAP-64KB).
	MaxEnvelopeBytes = 64 << 10
)

// Invariant identifiers, as the SDK names them. Every ContractError carries one.
const (
	InvariantKeySafety    = "I-CACHE-KEY-SAFETY"
	InvariantTTL          = "I-CACHE-TTL-CAP-300S"
	InvariantRegistration = "I-CACHE-MODEL-REGISTRATION-REQUIRED"
	InvariantValueSize    = "I-CACHE-VALUE-SIZE-CAP-64KB"
)

// ErrContractViolation matches every *ContractError with errors.Is.
var ErrContractViolation = errors.New("cache contract violation")

// ContractError reports a call that breaks one of the cache invariants. It is
// always returned before any I/O: a broken call never reaches the backend.
type ContractError struct {
	// Invariant is one of the Invariant* identifiers.
	Invariant string
	// Reason says what was wrong, in the SDK's words where it has them.
	Reason string
}

// Error implements error.
func (e *ContractError) Error() string {
	return "cache: " + e.Reason + " (" + e.Invariant + ")"
}

// Is reports whether target is ErrContractViolation.
func (e *ContractError) Is(target error) bool { return target == ErrContractViolation }

func violation(invariant, format string, args ...any) error {
	return &ContractError{Invariant: invariant, Reason: fmt.Sprintf(format, args...)}
}

// ValidateKey checks a caller's key against I-CACHE-KEY-SAFETY: 1 to 128
// characters from [A-Za-z0-9_-:], with ':' as the conventional separator.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return violation(InvariantKeySafety, "cache key must be a non-empty string")
	case len(key) > MaxKeyLen:
		return violation(InvariantKeySafety, "cache key too long: %d > %d", len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if !keyByte(key[i]) {
			return violation(InvariantKeySafety,
				"cache key has forbidden characters; allowed: alphanumerics, '_', '-', ':'")
		}
	}
	return nil
}

func keyByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '_' || b == '-' || b == ':'
}

// ValidateTTL checks I-CACHE-TTL-CAP-300S: a whole number of seconds in [5, 300].
func ValidateTTL(ttl time.Duration) error {
	if ttl%time.Second != 0 {
		return violation(InvariantTTL, "ttl must be a whole number of seconds (got %s)", ttl)
	}
	if ttl < MinTTL || ttl > MaxTTL {
		return violation(InvariantTTL, "ttl must be in [5, 300] seconds (got %d)", int64(ttl/time.Second))
	}
	return nil
}
