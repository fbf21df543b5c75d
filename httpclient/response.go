package httpclient

import (
	"net/http"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

// Response is an upstream's complete answer: the body is read (up to the
// size cap) before the request returns, so there is nothing to close.
type Response struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Header holds the response headers.
	Header http.Header
	// Body is the whole response body.
	Body []byte

	service, method string
}

// OK reports whether the status is 2xx.
func (r *Response) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// Err returns a *StatusError when the status is not 2xx, and nil otherwise.
func (r *Response) Err() error {
	if r.OK() {
		return nil
	}
	return &StatusError{Service: r.service, Method: r.method, StatusCode: r.StatusCode, Body: r.Body[:min(len(r.Body), 200)]}
}

// Decode decodes a 2xx body into v. Any other status is its *StatusError:
// unlike decoding whatever came back, a failed request cannot pass for an
// empty answer.
func (r *Response) Decode(v any) error {
	if err := r.Err(); err != nil {
		return err
	}
	return r.JSON(v)
}

// JSON decodes the body into v. A body that is not valid JSON for v is an
// *Error of KindMalformed.
func (r *Response) JSON(v any) error {
	if err := jsonx.Unmarshal(r.Body, v); err != nil {
		return &Error{Kind: KindMalformed, Service: r.service, Method: r.method, Err: err}
	}
	return nil
}
