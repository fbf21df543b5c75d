package httpclient

import (
	"fmt"
	"net/http"
	"time"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

// Option shapes one request.
type Option interface {
	apply(*request) error
}

type request struct {
	query       map[string]any
	header      http.Header
	body        []byte
	contentType string
	timeout     time.Duration
}

// Params are query parameters, added to any already in the URL. Values are
// formatted with fmt.Sprint: Params{"page": 0} sends page=0.
type Params map[string]any

func (p Params) apply(r *request) error {
	if r.query == nil {
		r.query = make(map[string]any, len(p))
	}
	for k, v := range p {
		r.query[k] = v
	}
	return nil
}

type optionFunc func(*request) error

func (f optionFunc) apply(r *request) error { return f(r) }

// Timeout overrides the client's default timeout for one request. It must be
// in (0, 180s]; longer work belongs in a background task. The call's
// deadline still applies.
func Timeout(d time.Duration) Option {
	return optionFunc(func(r *request) error {
		switch {
		case d <= 0:
			return fmt.Errorf("timeout must be > 0; got %s", d)
		case d > MaxTimeout:
			return fmt.Errorf("timeout %s exceeds the %s cap", d, MaxTimeout)
		}
		r.timeout = d
		return nil
	})
}

// Header sets a request header.
func Header(key, value string) Option {
	return optionFunc(func(r *request) error {
		if r.header == nil {
			r.header = make(http.Header)
		}
		r.header.Set(key, value)
		return nil
	})
}

// JSON sends v, encoded as JSON, as the request body.
func JSON(v any) Option {
	return optionFunc(func(r *request) error {
		body, err := jsonx.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode body: %w", err)
		}
		r.body = body
		r.contentType = "application/json"
		return nil
	})
}
