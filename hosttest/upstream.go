package hosttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
)

// Request is one request an upstream service received.
type Request struct {
	Method string
	// Path is the request path, e.g. "/v1/inbox".
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

// upstreams is the host's transport: it hands each request to the stub of
// the service the URL names, in process, and keeps what each received.
type upstreams struct {
	t        TB
	handlers map[string]http.Handler

	mu       sync.Mutex
	requests map[string][]Request
}

func newUpstreams(t TB, handlers map[string]http.Handler) *upstreams {
	return &upstreams{t: t, handlers: handlers, requests: make(map[string][]Request)}
}

// RoundTrip implements http.RoundTripper. The stub runs on its own
// goroutine so that a call's deadline ends the exchange even when the stub
// does not watch the request's context; a panicking stub fails the exchange
// (BACKEND_UNAVAILABLE) and the test, not the test binary.
func (u *upstreams) RoundTrip(req *http.Request) (*http.Response, error) {
	service := req.URL.Hostname()
	handler, ok := u.handlers[service]
	if !ok {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, fmt.Errorf("hosttest: no stub for service %q", service)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	u.mu.Lock()
	u.requests[service] = append(u.requests[service], Request{
		Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Header: req.Header.Clone(), Body: body,
	})
	u.mu.Unlock()

	served := req.Clone(req.Context())
	served.Body = io.NopCloser(bytes.NewReader(body))
	served.RequestURI = served.URL.RequestURI()
	type outcome struct {
		resp *http.Response
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				err := fmt.Errorf("hosttest: the %s stub panicked on %s %s: %v", service, req.Method, req.URL.Path, r)
				u.t.Errorf("%v", err)
				done <- outcome{err: err}
			}
		}()
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, served)
		done <- outcome{resp: rec.Result()}
	}()
	select {
	case o := <-done:
		if o.resp != nil {
			o.resp.Request = req
		}
		return o.resp, o.err
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

func (u *upstreams) received(service string) []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Request(nil), u.requests[service]...)
}

// Reply is a canned answer with a status other than 200, for JSON.
type Reply struct {
	Status int
	// Body is encoded as JSON, unless it is a json.RawMessage.
	Body any
}

// JSON returns a stub that answers each route with canned JSON. Routes are
// http.ServeMux patterns ("GET /v1/inbox", "/v1/unread"); each answer is
// encoded as JSON with status 200, unless it is a json.RawMessage (sent as
// it is) or a Reply. Other requests are answered 404.
func JSON(routes map[string]any) http.Handler {
	mux := http.NewServeMux()
	for pattern, answer := range routes {
		status, body := http.StatusOK, answer
		if r, ok := answer.(Reply); ok {
			status, body = r.Status, r.Body
		}
		raw, ok := body.(json.RawMessage)
		if !ok {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				panic(fmt.Sprintf("hosttest: JSON: the answer of %q does not encode: %v", pattern, err))
			}
		}
		mux.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(raw)
		})
	}
	return mux
}
