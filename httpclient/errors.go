package httpclient

import (
	"fmt"
	"net/http"
)

// Kind classifies why a request produced no usable response.
type Kind int

// The kinds of Error. The runtime maps them to ActionResult error codes.
const (
	// KindInvalid: the request itself is wrong (bad URL, timeout out of range).
	KindInvalid Kind = iota + 1
	// KindRefused: the URL names no configured service (egress allow-list).
	KindRefused
	// KindTimeout: the request's timeout or the call's deadline passed.
	KindTimeout
	// KindCanceled: the caller went away.
	KindCanceled
	// KindUnreachable: connection refused or reset, DNS failure, broken response.
	KindUnreachable
	// KindTooLarge: the response body exceeded the configured cap.
	KindTooLarge
	// KindMalformed: the response body is not the JSON the caller asked for.
	KindMalformed
)

var kindNames = map[Kind]string{
	KindInvalid:     "invalid request",
	KindRefused:     "refused",
	KindTimeout:     "timed out",
	KindCanceled:    "canceled",
	KindUnreachable: "unreachable",
	KindTooLarge:    "response too large",
	KindMalformed:   "malformed response",
}

// String returns the kind's name.
func (k Kind) String() string { return kindNames[k] }

// Error is a request that produced no usable response.
type Error struct {
	Kind Kind
	// Service is the logical service name, when the URL named one.
	Service string
	// Method is the HTTP method.
	Method string
	// Err is the underlying cause.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("httpclient: %s %s: %s: %v", e.Method, e.Service, e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the request timed out.
func (e *Error) Timeout() bool { return e.Kind == KindTimeout }

// StatusError is a response whose status is not 2xx, as returned by
// Response.Err. A non-2xx response is not an error by itself: the caller
// decides, as with the SDK's raise_for_status.
type StatusError struct {
	Service    string
	Method     string
	StatusCode int
	// Body is the start of the response body (at most 200 bytes), for logs.
	Body []byte
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("httpclient: %s %s: HTTP %d %s", e.Method, e.Service, e.StatusCode, http.StatusText(e.StatusCode))
}
