// Package httpclient is ctx.HTTP: the HTTP client extensions use to reach
// their upstreams. URLs name logical services (http://mail-service/v1/inbox)
// that a service map resolves to real base URLs; any other host is refused,
// so the map is the host's egress allow-list. Requests share one keep-alive
// transport, carry the call's request id, stay within the call's deadline
// and read at most a capped body.
package httpclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults and caps, as in the SDK.
const (
	// DefaultTimeout applies to a request that sets no Timeout option.
	DefaultTimeout = 30 * time.Second
	// MaxTimeout caps the Timeout option.
	MaxTimeout = 180 * time.Second
	// DefaultMaxResponseBytes caps a response body when Config leaves it unset.
	DefaultMaxResponseBytes = 8 << 20
	// RequestIDHeader carries the call's request id to upstreams.
	RequestIDHeader = "X-Request-ID"
)

// Config configures a Client.
type Config struct {
	// Services maps logical service names to base URLs, e.g.
	// "mail-service" → "http://127.0.0.1:8081". A base URL's path prefixes
	// every request path.
	Services map[string]string
	// Timeout is the default per-request timeout, in (0, 180s]. Default 30s.
	Timeout time.Duration
	// MaxResponseBytes caps a response body. Default 8 MiB.
	MaxResponseBytes int64
	// Transport carries the requests. Default: a shared keep-alive transport.
	Transport http.RoundTripper
	// Observer receives one event per exchange, for metrics. Optional.
	Observer Observer
	// UserAgent is sent with every request. Default "exthost".
	UserAgent string
}

// Observer receives one event per upstream exchange. It is called on the
// request path and must not block.
type Observer interface {
	// Upstream reports one exchange; status is 0 when there was no response.
	Upstream(service, method string, status int, elapsed time.Duration)
}

// Exchange records one upstream request of a call, for its trace.
type Exchange struct {
	Service  string
	Method   string
	Path     string
	Status   int // 0 when there was no response
	Duration time.Duration
	Err      error
}

// Client sends requests to configured services. The client New returns is
// shared; ForCall derives the per-call client that carries a request id.
// A Client is safe for concurrent use.
type Client struct {
	shared    *shared
	requestID string
	record    func(Exchange)
}

type shared struct {
	services  map[string]*url.URL
	http      *http.Client
	timeout   time.Duration
	maxBody   int64
	observer  Observer
	userAgent string
}

// New returns a client for cfg, or an error naming the first bad setting.
func New(cfg Config) (*Client, error) {
	s := &shared{
		services:  make(map[string]*url.URL, len(cfg.Services)),
		timeout:   cfg.Timeout,
		maxBody:   cfg.MaxResponseBytes,
		observer:  cfg.Observer,
		userAgent: cfg.UserAgent,
	}
	for name, base := range cfg.Services {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("httpclient: service %q: base URL %q must be http(s)://host[:port][/path]", name, base)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = ""
		s.services[name] = u
	}
	switch {
	case s.timeout == 0:
		s.timeout = DefaultTimeout
	case s.timeout < 0 || s.timeout > MaxTimeout:
		return nil, fmt.Errorf("httpclient: timeout %s is outside (0, %s]", s.timeout, MaxTimeout)
	}
	switch {
	case s.maxBody == 0:
		s.maxBody = DefaultMaxResponseBytes
	case s.maxBody < 0:
		return nil, fmt.Errorf("httpclient: max response bytes must be positive, got %d", s.maxBody)
	}
	if s.userAgent == "" {
		s.userAgent = "exthost"
	}
	transport := cfg.Transport
	if transport == nil {
		transport = newTransport()
	}
	s.http = &http.Client{
		Transport: transport,
		// Upstream redirects could lead outside the allow-list; they are
		// answers for the extension to read, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Client{shared: s}, nil
}

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}

// ForCall returns a client for one call: requests carry requestID in
// X-Request-ID and, when record is not nil, are reported to it.
func (c *Client) ForCall(requestID string, record func(Exchange)) *Client {
	return &Client{shared: c.shared, requestID: requestID, record: record}
}

// Services returns the configured service names, sorted.
func (c *Client) Services() []string {
	names := make([]string, 0, len(c.shared.services))
	for name := range c.shared.services {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Get sends a GET request.
func (c *Client) Get(ctx context.Context, rawURL string, opts ...Option) (*Response, error) {
	return c.Do(ctx, http.MethodGet, rawURL, opts...)
}

// Post sends a POST request; give its body with JSON.
func (c *Client) Post(ctx context.Context, rawURL string, opts ...Option) (*Response, error) {
	return c.Do(ctx, http.MethodPost, rawURL, opts...)
}

// Put sends a PUT request.
func (c *Client) Put(ctx context.Context, rawURL string, opts ...Option) (*Response, error) {
	return c.Do(ctx, http.MethodPut, rawURL, opts...)
}

// Patch sends a PATCH request.
func (c *Client) Patch(ctx context.Context, rawURL string, opts ...Option) (*Response, error) {
	return c.Do(ctx, http.MethodPatch, rawURL, opts...)
}

// Delete sends a DELETE request.
func (c *Client) Delete(ctx context.Context, rawURL string, opts ...Option) (*Response, error) {
	return c.Do(ctx, http.MethodDelete, rawURL, opts...)
}

// Do sends one request to the service rawURL names and reads the whole
// response. Any status is a Response; an error is an *Error saying why there
// is no response.
func (c *Client) Do(ctx context.Context, method, rawURL string, opts ...Option) (*Response, error) {
	var r request
	for _, o := range opts {
		if err := o.apply(&r); err != nil {
			return nil, &Error{Kind: KindInvalid, Method: method, Err: err}
		}
	}
	service, target, err := c.shared.resolve(rawURL, r.query)
	if err != nil {
		return nil, &Error{Kind: kindOf(err), Service: service, Method: method, Err: err}
	}
	timeout := c.shared.timeout
	if r.timeout > 0 {
		timeout = r.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := time.Now()
	resp, err := c.exchange(ctx, method, target, &r)
	status := 0
	if resp != nil {
		status = resp.StatusCode
		resp.service, resp.method = service, method
	}
	var failure *Error
	if err != nil {
		failure = &Error{Kind: classify(ctx, err), Service: service, Method: method, Err: err}
		resp = nil
	}
	elapsed := time.Since(start)
	if c.shared.observer != nil {
		c.shared.observer.Upstream(service, method, status, elapsed)
	}
	if c.record != nil {
		ex := Exchange{Service: service, Method: method, Path: target.Path, Status: status, Duration: elapsed}
		if failure != nil {
			ex.Err = failure
		}
		c.record(ex)
	}
	if failure != nil {
		return nil, failure
	}
	return resp, nil
}

func (c *Client) exchange(ctx context.Context, method string, target *url.URL, r *request) (*Response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return nil, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", c.shared.userAgent)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if c.requestID != "" {
		req.Header.Set(RequestIDHeader, c.requestID)
	}
	resp, err := c.shared.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > c.shared.maxBody { // declared too large: refuse it unread
		return &Response{StatusCode: resp.StatusCode}, &tooLargeError{limit: c.shared.maxBody}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.shared.maxBody+1))
	if err != nil {
		return &Response{StatusCode: resp.StatusCode}, err
	}
	if int64(len(data)) > c.shared.maxBody {
		return &Response{StatusCode: resp.StatusCode}, &tooLargeError{limit: c.shared.maxBody}
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string { return fmt.Sprintf("response body exceeds %d bytes", e.limit) }

var (
	errRefused = errors.New("not a configured service (egress allow-list)")
	errBadURL  = errors.New("bad URL")
)

// resolve maps a logical URL to the service's real URL: the base URL's
// path, then the logical path as given (escapes and trailing slash kept).
// Dot segments, encoded or not, are refused, so no path can climb out of
// the base or reach another resource than the one it names.
func (s *shared) resolve(rawURL string, query map[string]any) (string, *url.URL, error) {
	logical, err := url.Parse(rawURL)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", errBadURL, err)
	}
	if logical.Scheme != "http" && logical.Scheme != "https" || logical.User != nil || logical.Port() != "" {
		return "", nil, fmt.Errorf("%w: %q must be http://<service>/<path>", errBadURL, rawURL)
	}
	service := logical.Hostname()
	base, ok := s.services[service]
	if !ok {
		return service, nil, fmt.Errorf("%q: %w", service, errRefused)
	}
	escaped := logical.EscapedPath()
	for _, seg := range strings.Split(escaped, "/") {
		if dotSegment(seg) {
			return service, nil, fmt.Errorf("%w: %q has a dot segment", errBadURL, rawURL)
		}
	}
	if !strings.HasPrefix(escaped, "/") {
		escaped = "/" + escaped
	}
	target := *base
	target.RawPath = base.EscapedPath() + escaped
	if target.Path, err = url.PathUnescape(target.RawPath); err != nil {
		return service, nil, fmt.Errorf("%w: %v", errBadURL, err)
	}
	q := logical.Query()
	for k, v := range query {
		q.Set(k, fmt.Sprint(v))
	}
	target.RawQuery = q.Encode()
	return service, &target, nil
}

// dotSegment reports whether a path segment is, or once decoded contains, a
// "." or ".." element: an upstream that decodes before it normalises would
// read "..%2F..%2Fadmin" as a climb out of the path it was given.
func dotSegment(seg string) bool {
	decoded, err := url.PathUnescape(seg)
	if err != nil {
		return true
	}
	for _, elem := range strings.FieldsFunc(decoded, func(r rune) bool { return r == '/' || r == '\\' }) {
		if elem == "." || elem == ".." {
			return true
		}
	}
	return decoded == "." || decoded == ".."
}

func kindOf(resolveErr error) Kind {
	if errors.Is(resolveErr, errRefused) {
		return KindRefused
	}
	return KindInvalid
}

func classify(ctx context.Context, err error) Kind {
	var tooLarge *tooLargeError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return KindTooLarge
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return KindTimeout
	case errors.Is(err, context.Canceled):
		return KindCanceled
	case errors.As(err, &netErr) && netErr.Timeout():
		return KindTimeout
	}
	return KindUnreachable
}
