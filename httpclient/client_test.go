package httpclient_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/httpclient"
)

// upstream is an httptest server that records what it received.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

func newUpstream(t *testing.T, handler http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.requests = append(u.requests, r)
		u.bodies = append(u.bodies, string(body))
		u.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) received() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.requests...)
}

func newClient(t *testing.T, cfg httpclient.Config) *httpclient.Client {
	t.Helper()
	c, err := httpclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonOK(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func TestLogicalServiceResolution(t *testing.T) {
	up := newUpstream(t, jsonOK(`{"ok":true}`))
	c := newClient(t, httpclient.Config{Services: map[string]string{
		"mail-service": up.URL,
		"prefixed":     up.URL + "/api/",
	}})
	ctx := context.Background()
	cases := []struct {
		url      string
		params   httpclient.Params
		wantPath string
		wantQry  string
	}{
		{"http://mail-service/v1/inbox", httpclient.Params{"user_id": "u-1", "account_id": "a1", "folder": "INBOX", "page": 0},
			"/v1/inbox", "account_id=a1&folder=INBOX&page=0&user_id=u-1"},
		{"http://mail-service/v1/x?keep=1", httpclient.Params{"add": true}, "/v1/x", "add=true&keep=1"},
		{"https://mail-service/v1/x", nil, "/v1/x", ""}, // the service map decides the scheme
		{"http://prefixed/v1/inbox", nil, "/api/v1/inbox", ""},
		{"http://mail-service/v1/messages/a%2Fb", nil, "/v1/messages/a/b", ""}, // RawPath below keeps a%2Fb
		{"http://mail-service/v1/folders/", nil, "/v1/folders/", ""},
		{"http://mail-service", nil, "/", ""},
		{"http://mail-service/v1/x", httpclient.Params{"q": "a&b=c d"}, "/v1/x", "q=a%26b%3Dc+d"},
	}
	for _, tc := range cases {
		before := len(up.received())
		var opts []httpclient.Option
		if tc.params != nil {
			opts = append(opts, tc.params)
		}
		resp, err := c.Get(ctx, tc.url, opts...)
		if err != nil || !resp.OK() {
			t.Fatalf("Get(%s) = %v, %v", tc.url, resp, err)
		}
		got := up.received()[before]
		if got.URL.Path != tc.wantPath || got.URL.RawQuery != tc.wantQry {
			t.Errorf("Get(%s) reached %s?%s, want %s?%s", tc.url, got.URL.Path, got.URL.RawQuery, tc.wantPath, tc.wantQry)
		}
	}
	if raw := up.received()[4].URL.RawPath; raw != "/v1/messages/a%2Fb" {
		t.Errorf("an escaped slash reached the upstream as %q", raw)
	}
	// Dot segments, even escaped, would reach another resource: refused.
	for _, u := range []string{"http://prefixed/../../etc/passwd", "http://mail-service/v1/a/./b", "http://mail-service/v1/%2e%2e/admin",
		"http://mail-service/v1/items/..%2F..%2Fadmin", "http://mail-service/v1/items/..%5C..%5Cadmin", "http://mail-service/v1/items/%2E%2E"} {
		before := len(up.received())
		_, err := c.Get(ctx, u)
		var e *httpclient.Error
		if !errors.As(err, &e) || e.Kind != httpclient.KindInvalid || len(up.received()) != before {
			t.Errorf("Get(%s) = %v, want KindInvalid and no request", u, err)
		}
	}
}

func TestUnknownServicesAreRefusedWithoutARequest(t *testing.T) {
	up := newUpstream(t, jsonOK(`{}`))
	c := newClient(t, httpclient.Config{Services: map[string]string{"mail-service": up.URL}})
	for _, u := range []string{
		"http://evil.example.com/steal",
		up.URL + "/v1/inbox",            // the real address is not a service name
		"http://mail-service:8081/v1/x", // nor is a service with a port
		"http://user:pw@mail-service/v1/x",
		"ftp://mail-service/x",
		"://bad",
	} {
		_, err := c.Get(context.Background(), u)
		var e *httpclient.Error
		if !errors.As(err, &e) || (e.Kind != httpclient.KindRefused && e.Kind != httpclient.KindInvalid) {
			t.Errorf("Get(%s) = %v, want a refused or invalid *Error", u, err)
		}
	}
	if n := len(up.received()); n != 0 {
		t.Fatalf("%d refused requests reached the upstream", n)
	}
	_, err := c.Get(context.Background(), "http://evil.example.com/x")
	var e *httpclient.Error
	if errors.As(err, &e); e.Kind != httpclient.KindRefused || e.Service != "evil.example.com" {
		t.Fatalf("unknown host: %v, want KindRefused naming the host", err)
	}
}

func TestConfigIsValidated(t *testing.T) {
	for name, cfg := range map[string]httpclient.Config{
		"relative base":    {Services: map[string]string{"s": "/v1"}},
		"base with query":  {Services: map[string]string{"s": "http://h/?a=1"}},
		"non-http base":    {Services: map[string]string{"s": "redis://h"}},
		"negative timeout": {Timeout: -time.Second},
		"timeout over cap": {Timeout: 181 * time.Second},
		"negative cap":     {MaxResponseBytes: -1},
	} {
		if _, err := httpclient.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRequestHeadersAndBody(t *testing.T) {
	up := newUpstream(t, jsonOK(`{"archived":1}`))
	c := newClient(t, httpclient.Config{Services: map[string]string{"mail-service": up.URL}})
	call := c.ForCall("req-123", nil)
	resp, err := call.Post(context.Background(), "http://mail-service/v1/messages/archive",
		httpclient.JSON(map[string]any{"message_ids": []string{"<m1>"}}), httpclient.Header("X-Extra", "yes"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Post = %v, %v", resp, err)
	}
	got := up.received()[0]
	for header, want := range map[string]string{
		"X-Request-Id": "req-123", "Content-Type": "application/json", "X-Extra": "yes", "Accept": "application/json",
	} {
		if v := got.Header.Get(header); v != want {
			t.Errorf("header %s = %q, want %q", header, v, want)
		}
	}
	if body := up.bodies[0]; body != `{"message_ids":["<m1>"]}` {
		t.Errorf("body = %s, want compact JSON without HTML escaping", body)
	}
	// The shared client carries no request id.
	_, _ = c.Get(context.Background(), "http://mail-service/v1/x")
	if v := up.received()[1].Header.Get("X-Request-ID"); v != "" {
		t.Errorf("shared client sent X-Request-ID %q", v)
	}
}

func TestResponse(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/list":
			_, _ = io.WriteString(w, `[{"id":1}]`)
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"no such message"}`)
		case "/broken":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/garbage":
			_, _ = io.WriteString(w, `{"truncated":`)
		case "/redirect":
			http.Redirect(w, r, "http://evil.example.com/", http.StatusFound)
		}
	})
	c := newClient(t, httpclient.Config{Services: map[string]string{"s": up.URL}})
	ctx := context.Background()

	resp, _ := c.Get(ctx, "http://s/list")
	var list []map[string]int
	if err := resp.Decode(&list); err != nil || list[0]["id"] != 1 || resp.Err() != nil {
		t.Fatalf("list body: %v %v", list, err)
	}

	resp, err := c.Get(ctx, "http://s/missing")
	if err != nil || resp.OK() || resp.StatusCode != 404 {
		t.Fatalf("a 404 must be a response, not an error: %v, %v", resp, err)
	}
	var status *httpclient.StatusError
	if !errors.As(resp.Err(), &status) || status.StatusCode != 404 || status.Service != "s" || !strings.Contains(string(status.Body), "no such") {
		t.Fatalf("Err() = %v, want a *StatusError for 404", resp.Err())
	}

	if err := resp.Decode(&list); !errors.As(err, &status) || status.StatusCode != 404 {
		t.Fatalf("Decode of a 404 = %v, want its *StatusError", err)
	}

	resp, _ = c.Get(ctx, "http://s/broken")
	if !errors.As(resp.Err(), &status) || status.StatusCode != 503 {
		t.Fatalf("Err() = %v, want 503", resp.Err())
	}

	resp, _ = c.Get(ctx, "http://s/garbage")
	var e *httpclient.Error
	if err := resp.JSON(&list); !errors.As(err, &e) || e.Kind != httpclient.KindMalformed {
		t.Fatalf("JSON of a truncated body = %v, want KindMalformed", err)
	}

	resp, err = c.Get(ctx, "http://s/redirect")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("redirect = %v, %v; want the 302 itself, not followed", resp, err)
	}
}

func TestTimeouts(t *testing.T) {
	// The upstream answers only when the client gives up: no sleeping.
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newClient(t, httpclient.Config{Services: map[string]string{"slow": up.URL}, Timeout: 50 * time.Millisecond})

	t.Run("default timeout", func(t *testing.T) {
		_, err := c.Get(context.Background(), "http://slow/x")
		var e *httpclient.Error
		if !errors.As(err, &e) || e.Kind != httpclient.KindTimeout || !e.Timeout() {
			t.Fatalf("Get = %v, want KindTimeout", err)
		}
	})
	t.Run("the call deadline bounds a longer timeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		_, err := c.Get(ctx, "http://slow/x", httpclient.Timeout(120*time.Second))
		var e *httpclient.Error
		if !errors.As(err, &e) || e.Kind != httpclient.KindTimeout {
			t.Fatalf("Get = %v, want KindTimeout from the call deadline", err)
		}
	})
	t.Run("caller gone", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Get(ctx, "http://slow/x")
		var e *httpclient.Error
		if !errors.As(err, &e) || e.Kind != httpclient.KindCanceled {
			t.Fatalf("Get = %v, want KindCanceled", err)
		}
	})
	t.Run("override range", func(t *testing.T) {
		for _, d := range []time.Duration{0, -time.Second, 181 * time.Second} {
			_, err := c.Get(context.Background(), "http://slow/x", httpclient.Timeout(d))
			var e *httpclient.Error
			if !errors.As(err, &e) || e.Kind != httpclient.KindInvalid {
				t.Errorf("Timeout(%s) = %v, want KindInvalid", d, err)
			}
		}
		fast := newUpstream(t, jsonOK(`{}`))
		c := newClient(t, httpclient.Config{Services: map[string]string{"fast": fast.URL}})
		if _, err := c.Get(context.Background(), "http://fast/x", httpclient.Timeout(180*time.Second)); err != nil {
			t.Errorf("Timeout(180s) = %v, want accepted", err)
		}
	})
}

func TestUnreachableAndOversized(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String()
	_ = l.Close()
	// "big" declares its length; "streamed" sends chunks, its length unknown
	// until the cap is passed.
	big := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 1025))
	})
	streamed := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 512))
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, strings.Repeat("x", 513))
	})
	c := newClient(t, httpclient.Config{
		Services:         map[string]string{"down": closed, "big": big.URL, "streamed": streamed.URL},
		MaxResponseBytes: 1024,
	})
	_, err := c.Get(context.Background(), "http://down/x")
	var e *httpclient.Error
	if !errors.As(err, &e) || e.Kind != httpclient.KindUnreachable || e.Service != "down" {
		t.Fatalf("refused connection = %v, want KindUnreachable", err)
	}
	for _, service := range []string{"big", "streamed"} {
		_, err = c.Get(context.Background(), "http://"+service+"/x")
		if !errors.As(err, &e) || e.Kind != httpclient.KindTooLarge {
			t.Fatalf("%s 1025-byte body with a 1024 cap = %v, want KindTooLarge", service, err)
		}
	}
}

type upstreamCounter struct {
	mu     sync.Mutex
	events []string
}

func (o *upstreamCounter) Upstream(service, method string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, service+" "+method+" "+http.StatusText(status))
}

func TestExchangesAreRecordedAndObserved(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	obs := &upstreamCounter{}
	c := newClient(t, httpclient.Config{Services: map[string]string{"s": up.URL}, Observer: obs})
	var got []httpclient.Exchange
	call := c.ForCall("r", func(ex httpclient.Exchange) { got = append(got, ex) })
	_, _ = call.Get(context.Background(), "http://s/ok")
	_, _ = call.Delete(context.Background(), "http://s/fail")
	_, _ = call.Get(context.Background(), "http://nope/x")
	if len(got) != 2 || got[0].Path != "/ok" || got[0].Status != 200 || got[1].Method != "DELETE" || got[1].Status != 502 {
		t.Fatalf("recorded %+v", got)
	}
	if strings.Join(obs.events, ",") != "s GET OK,s DELETE Bad Gateway" {
		t.Fatalf("observed %v", obs.events)
	}
	if names := c.Services(); len(names) != 1 || names[0] != "s" {
		t.Fatalf("Services() = %v", names)
	}
}
