package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imperalcloud/exthost/ctx"
	_ "github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/internal/testredis"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

// slowExtension has one function that blocks until released.
func slowExtension(started chan<- struct{}, release <-chan struct{}) *runtime.Extension {
	ext := runtime.NewExtension(runtime.ExtensionInfo{AppID: "slow-app", Version: "1.0.0"})
	runtime.AddFunction(ext.ChatTool("tool_slow_chat", ""), runtime.Function[testkit.None, runtime.NoData]{
		Name: "slow", Description: "Blocks until released.",
		Handler: func(*ctx.Call, testkit.None) (runtime.Result, error) {
			started <- struct{}{}
			<-release
			return runtime.Success(nil, "finished"), nil
		},
	})
	return ext
}

// signalOn returns a logger that closes the returned channel when message is logged.
func signalOn(message string) (*zap.Logger, <-chan struct{}) {
	seen := make(chan struct{})
	var once sync.Once
	core, _ := observer.New(zapcore.InfoLevel)
	return zap.New(core, zap.Hooks(func(e zapcore.Entry) error {
		if e.Message == message {
			once.Do(func() { close(seen) })
		}
		return nil
	})), seen
}

func post(t *testing.T, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// running is a host serving on a loopback port.
type running struct {
	addr string
	stop context.CancelFunc // SIGTERM
	ran  chan error         // Run's result
}

func runHost(t *testing.T, cfg config.Config, opts host.Options) *running {
	t.Helper()
	h, err := host.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t, "127.0.0.1:0")
	ctx, stop := context.WithCancel(context.Background())
	r := &running{addr: l.Addr().String(), stop: stop, ran: make(chan error, 1)}
	go func() { r.ran <- h.Run(ctx, l) }()
	return r
}

type answer struct {
	status int
	body   string
	err    error
}

// callSlow calls slow-app's slow function in the background.
func (r *running) callSlow() <-chan answer {
	out := make(chan answer, 1)
	go func() {
		resp, err := http.Post("http://"+r.addr+"/v1/extensions/slow-app/call", "application/json",
			strings.NewReader(`{"user_id":"u-1","function":"slow"}`))
		if err != nil {
			out <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		out <- answer{status: resp.StatusCode, body: string(body)}
	}()
	return out
}

func TestGracefulDrainFinishesInFlightCalls(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	log, draining := signalOn("host draining")
	r := runHost(t, config.Default(), host.Options{Extensions: []*runtime.Extension{slowExtension(started, release)}, Logger: log})
	inFlight := r.callSlow()
	<-started
	r.stop()
	<-draining
	if _, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
		t.Error("the draining host still accepts connections")
	}
	close(release)
	if ans := <-inFlight; ans.status != 200 || !strings.Contains(ans.body, `"summary":"finished"`) {
		t.Fatalf("in-flight call = %d %s %v, want it to finish", ans.status, ans.body, ans.err)
	}
	if err := <-r.ran; err != nil {
		t.Fatalf("Run = %v, want a clean drain", err)
	}
}

func TestDrainTimeoutBoundsShutdown(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	cfg := config.Default()
	cfg.Limits.DrainTimeout = 50 * time.Millisecond
	r := runHost(t, cfg, host.Options{Extensions: []*runtime.Extension{slowExtension(started, release)}, Logger: zap.NewNop()})
	r.callSlow() // cut off by the drain timeout: its outcome does not matter
	<-started
	r.stop()
	if err := <-r.ran; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want the drain timeout to end it", err)
	}
}

// A host that trusts what a caller says, or shows every call to anyone,
// listens only on loopback.
func TestOpenHostsRefusePublicListener(t *testing.T) {
	consoleWithTokens := config.Default()
	consoleWithTokens.Auth = config.Auth{Mode: config.AuthCallToken, Secrets: []string{"s"}}
	consoleWithTokens.Console.CallToken = true
	for name, cfg := range map[string]config.Config{
		"dev auth":                   config.Default(),
		"console in call_token mode": consoleWithTokens,
	} {
		t.Run(name, func(t *testing.T) {
			h, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			l := listen(t, "0.0.0.0:0")
			defer l.Close()
			if err := h.Run(context.Background(), l); err == nil || !strings.Contains(err.Error(), "loopback") {
				t.Fatalf("Run on 0.0.0.0 = %v, want a refusal", err)
			}
		})
	}
}

// A console page left open does not hold the drain: its live tail ends
// when shutdown begins, and Run returns a clean drain.
func TestOpenConsoleDoesNotHoldShutdown(t *testing.T) {
	cfg := config.Default()
	cfg.Limits.DrainTimeout = 5 * time.Second
	r := runHost(t, cfg, host.Options{Extensions: registry.List(), Logger: zap.NewNop()})
	resp, err := http.Get("http://" + r.addr + "/console/api/calls/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream Content-Type = %q", ct)
	}
	r.stop()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("tail ended with %v, want a clean end", err)
	}
	if err := <-r.ran; err != nil {
		t.Fatalf("Run = %v, want a clean drain with a console open", err)
	}
}

// replica is one host process's worth of host, on the shared Redis.
func replica(t *testing.T, mail string) (*host.Host, *httptest.Server) {
	t.Helper()
	testredis.Client(t) // skips or fails when Redis is missing
	cfg := config.Default()
	cfg.Auth = config.Auth{Mode: config.AuthCallToken, Secrets: []string{"current", "previous"}}
	cfg.Cache.Backend = config.BackendRedis
	cfg.Cache.Redis.URL = testredis.URL()
	cfg.Services = map[string]string{"mail-service": mail}
	return serveHost(t, cfg, zap.NewNop())
}

// serveHost assembles a host of the compiled-in extensions from cfg and
// serves its API behind httptest; both are closed when the test ends.
func serveHost(t testing.TB, cfg config.Config, log *zap.Logger) (*host.Host, *httptest.Server) {
	t.Helper()
	h, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return h, srv
}

// firstMessageID returns the id of the first message of a list_inbox answer.
func firstMessageID(t *testing.T, answer string) string {
	t.Helper()
	var page struct {
		Data struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(answer), &page); err != nil || len(page.Data.Messages) == 0 {
		t.Fatalf("no message in %.200s", answer)
	}
	return page.Data.Messages[0].ID
}

func mintFor(user, secret string) map[string]string {
	now := time.Now()
	return map[string]string{"Authorization": "ImperalCallToken " + calltoken.Mint(calltoken.Claims{
		AppID: "mail-client", UserID: user, ToolType: "chat_fn", Iat: now.Unix(), Exp: now.Add(time.Minute).Unix(), Jti: calltoken.NewJTI(),
	}, secret)}
}

func TestReplicasShareCacheInvalidationAndReplaySet(t *testing.T) {
	mail := httptest.NewServer(mailservice.New(mailservice.Options{}))
	defer mail.Close()
	a, srvA := replica(t, mail.URL)
	_, srvB := replica(t, mail.URL)
	user := testredis.UniqueID(t)
	callURL := func(s *httptest.Server) string { return s.URL + "/v1/extensions/mail-client/call" }
	list := `{"user_id":"` + user + `","function":"list_inbox","params":{"account_id":"work"}}`

	status, first := post(t, callURL(srvA), list, mintFor(user, "current"))
	if status != 200 || !strings.Contains(first, `"status":"success"`) {
		t.Fatalf("list_inbox on A = %d %s", status, first)
	}
	// B hits the entry A stored (the same bytes), with a token signed by the previous secret.
	status, second := post(t, callURL(srvB), list, mintFor(user, "previous"))
	if status != 200 || second != first {
		t.Fatalf("list_inbox on B = %d, differs from A's:\n%s\n%s", status, second, first)
	}
	archived := firstMessageID(t, first)

	// Archive on A; B's next read is fresh and no longer lists the message.
	status, body := post(t, callURL(srvA), `{"user_id":"`+user+`","function":"archive_message","params":{"account_id":"work","message_id":"`+archived+`"}}`, mintFor(user, "current"))
	if status != 200 || !strings.Contains(body, `"refresh_panels":["sidebar"]`) {
		t.Fatalf("archive on A = %d %s", status, body)
	}
	// B's L1 drops its copy when A's announcement arrives (about a
	// millisecond): from then on B reads the fresh page.
	testkit.WaitFor(t, 2*time.Second, "B to drop the page A's write made stale", func() bool {
		_, after := post(t, callURL(srvB), list, mintFor(user, "current"))
		return !strings.Contains(after, `"id":"`+archived+`"`)
	})
	if ev := a.Events(); len(ev) != 1 || ev[0].EventType != "email.archived" {
		t.Fatalf("A's events = %+v", ev)
	}

	// A token verifies once across the replicas.
	header := mintFor(user, "current")
	if status, body := post(t, callURL(srvA), list, header); status != 200 {
		t.Fatalf("fresh token on A = %d %s", status, body)
	}
	if status, body := post(t, callURL(srvB), list, header); status != 401 || !strings.Contains(body, "replayed") {
		t.Fatalf("the same token on B = %d %s, want 401 replayed", status, body)
	}
}

func TestRedisOutageIsDegradedNotDown(t *testing.T) {
	l := listen(t, "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	mail := httptest.NewServer(mailservice.New(mailservice.Options{}))
	defer mail.Close()
	cfg := config.Default()
	cfg.Cache.Backend = config.BackendRedis
	cfg.Cache.Redis.URL = "redis://" + dead + "/0"
	cfg.Services = map[string]string{"mail-service": mail.URL}
	_, srv := serveHost(t, cfg, zap.NewNop())

	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"status":"ok","cache":"degraded"}` {
		t.Fatalf("readyz with Redis down = %d %s", resp.StatusCode, body)
	}
	for range 2 {
		status, body := post(t, srv.URL+"/v1/extensions/mail-client/call", `{"user_id":"u-1","function":"list_inbox","params":{"account_id":"work"}}`, nil)
		if status != 200 || !strings.Contains(body, `"status":"success"`) {
			t.Fatalf("list_inbox with Redis down = %d %s", status, body)
		}
	}
}

func TestEventsArePublishedToRedis(t *testing.T) {
	rdb := testredis.Client(t)
	mail := httptest.NewServer(mailservice.New(mailservice.Options{}))
	defer mail.Close()
	h, srv := replica(t, mail.URL)
	_ = h
	tenant := testredis.UniqueID(t)
	sub := rdb.Subscribe(context.Background(), "imperal:events:"+tenant)
	defer sub.Close()
	if _, err := sub.Receive(context.Background()); err != nil { // the subscription is live
		t.Fatal(err)
	}
	user := testredis.UniqueID(t)
	status, body := post(t, srv.URL+"/v1/extensions/mail-client/call",
		`{"user_id":"`+user+`","tenant_id":"`+tenant+`","function":"mark_read","params":{"account_id":"work","message_id":"m-0001","read":true}}`,
		mintFor(user, "current"))
	if status != 200 {
		t.Fatalf("mark_read = %d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.Event
	if err := json.Unmarshal([]byte(msg.Payload), &ev); err != nil || ev.EventType != "email.marked_read" ||
		ev.UserID != user || ev.TenantID != tenant || !strings.HasPrefix(msg.Payload,
		`{"event_type": "email.marked_read", "data": {"updated": 1, "message_id": "m-0001", "read": true}, "source_app": "mail-client", "user_id": "`) {
		t.Fatalf("published %s", msg.Payload)
	}
}

func TestDebugListenerServesTheProfilerOnly(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	serving := make(chan struct{})
	log := zap.New(core, zap.Hooks(func(e zapcore.Entry) error {
		if e.Message == "host serving" {
			close(serving)
		}
		return nil
	}))
	cfg := config.Default()
	cfg.Debug.Listen = "127.0.0.1:0"
	r := runHost(t, cfg, host.Options{Extensions: registry.List(), Logger: log})
	<-serving
	debug, _ := logs.FilterMessage("host serving").All()[0].ContextMap()["debug"].(string)
	if debug == "" {
		t.Fatal(`"host serving" does not name the debug address`)
	}
	get := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("http://" + debug + "/debug/pprof/heap"); code != http.StatusOK {
		t.Errorf("heap profile: HTTP %d", code)
	}
	if code := get("http://" + debug + "/v1/extensions"); code != http.StatusNotFound {
		t.Errorf("the API on the debug listener: HTTP %d, want 404", code)
	}
	if code := get("http://" + r.addr + "/debug/pprof/"); code == http.StatusOK {
		t.Error("the API listener serves the profiler")
	}
	r.stop()
	if err := <-r.ran; err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", debug, time.Second); err == nil {
		t.Error("the debug listener outlives the host")
	}
}

// TestDrainEndsMCPSessions: an MCP session's open event stream does not
// hold a draining host to its drain timeout: the drain ends the sessions
// and Run returns cleanly.
func TestDrainEndsMCPSessions(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	r := runHost(t, config.Default(), host.Options{Extensions: []*runtime.Extension{slowExtension(started, release)}, Logger: zap.NewNop()})
	endpoint := "http://" + r.addr + "/mcp"
	mcpRequest := func(method, sessionID, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("X-User-ID", "u-1")
		if sessionID != "" {
			req.Header.Set("Mcp-Session-Id", sessionID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s /mcp: %v", method, err)
		}
		return resp
	}
	initialized := mcpRequest(http.MethodPost, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":`+
		`{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"drain-test","version":"1"}}}`)
	_, _ = io.Copy(io.Discard, initialized.Body)
	initialized.Body.Close()
	session := initialized.Header.Get("Mcp-Session-Id")
	if session == "" {
		t.Fatalf("initialize: HTTP %d and no session", initialized.StatusCode)
	}
	mcpRequest(http.MethodPost, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()
	stream := mcpRequest(http.MethodGet, session, "")
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("GET /mcp: HTTP %d, want the session's event stream", stream.StatusCode)
	}
	r.stop()
	if err := <-r.ran; err != nil {
		t.Fatalf("Run = %v, want a clean drain with the event stream open", err)
	}
}
