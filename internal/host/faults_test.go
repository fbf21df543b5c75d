package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/internal/testredis"
	"github.com/imperalcloud/exthost/registry"
)

// result is the outcome of one call made by a load client.
type result struct {
	status int
	body   string
	err    error
	took   time.Duration
}

// load is clients calling one function in a loop until stopped.
type load struct {
	calls   atomic.Int64
	mu      sync.Mutex
	results []result
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startLoad(client *http.Client, clients int, url string, body func(client int) string) *load {
	l := &load{stop: make(chan struct{})}
	for i := range clients {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				resp, err := client.Post(url, "application/json", strings.NewReader(body(i)))
				r := result{err: err}
				if err == nil {
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					r.status, r.body = resp.StatusCode, string(raw)
				}
				r.took = time.Since(start)
				l.mu.Lock()
				l.results = append(l.results, r)
				l.mu.Unlock()
				l.calls.Add(1)
			}
		})
	}
	return l
}

// waitCalls waits until n more calls have completed.
func (l *load) waitCalls(t *testing.T, n int64) {
	t.Helper()
	target := l.calls.Load() + n
	testkit.WaitFor(t, 30*time.Second, fmt.Sprintf("%d calls", n), func() bool { return l.calls.Load() >= target })
}

func (l *load) finish() []result {
	close(l.stop)
	l.wg.Wait()
	return l.results
}

func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(line, series+" "), &v)
			return v
		}
	}
	return 0
}

func readyz(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, raw)
}

// redisHost is a host on a private redis-server, behind httptest.
func redisHost(t *testing.T, server *testredis.Server, mail string, callTimeout time.Duration) (*httptest.Server, *observer.ObservedLogs) {
	t.Helper()
	cfg := config.Default()
	cfg.Cache.Backend = config.BackendRedis
	cfg.Cache.Redis.URL = "redis://" + server.Addr + "/0"
	cfg.Services = map[string]string{"mail-service": mail}
	cfg.Limits.CallTimeout = callTimeout
	core, logs := observer.New(zapcore.InfoLevel)
	_, srv := serveHost(t, cfg, zap.New(core))
	return srv, logs
}

// TestRedisKilledAndRestartedUnderLoad: 16 clients call continuously while
// Redis dies and comes back. Every call succeeds (served uncached during the
// outage), the outage is visible in /readyz, metrics and one log line, and
// cache hits resume once Redis is back.
func TestRedisKilledAndRestartedUnderLoad(t *testing.T) {
	server := testredis.Start(t)
	mail := httptest.NewServer(mailservice.New(mailservice.Options{}))
	defer mail.Close()
	srv, logs := redisHost(t, server, mail.URL, 5*time.Second)
	hits := `exthost_cache_lookups_total{app="mail-client",model="inbox_page",result="hit"}`

	l := startLoad(http.DefaultClient, 16, srv.URL+"/v1/extensions/mail-client/call", func(client int) string {
		return fmt.Sprintf(`{"user_id":"load-%d","function":"list_inbox","params":{"account_id":"work"}}`, client%4)
	})
	l.waitCalls(t, 200)
	if readyz(t, srv.URL) != `200 {"status":"ok","cache":"ok"}` || metricValue(t, srv.URL, hits) == 0 {
		t.Fatal("no cache hits before the outage")
	}

	server.Stop()
	l.waitCalls(t, 300)
	if got := readyz(t, srv.URL); got != `200 {"status":"ok","cache":"degraded"}` {
		t.Fatalf("readyz during the outage = %s", got)
	}
	if metricValue(t, srv.URL, "exthost_cache_degraded") != 1 || metricValue(t, srv.URL, `exthost_cache_backend_errors_total{op="get"}`) == 0 {
		t.Fatal("the outage is not in the metrics")
	}
	hitsDuring := metricValue(t, srv.URL, hits)

	server.Restart()
	testkit.WaitFor(t, 10*time.Second, "readyz ok after Redis came back", func() bool {
		return readyz(t, srv.URL) == `200 {"status":"ok","cache":"ok"}`
	})
	testkit.WaitFor(t, 10*time.Second, "cache hits after Redis came back", func() bool { return metricValue(t, srv.URL, hits) > hitsDuring })
	results := l.finish()

	for i, r := range results {
		if r.err != nil || r.status != 200 || !strings.HasPrefix(r.body, `{"status":"success"`) {
			t.Fatalf("call %d of %d failed: %d %v %.200s", i, len(results), r.status, r.err, r.body)
		}
	}
	if n := logs.FilterMessageSnippet("cache backend failing").Len(); n != 1 {
		t.Fatalf("the outage was logged %d times, want once", n)
	}
	if metricValue(t, srv.URL, "exthost_cache_degraded") != 0 {
		t.Fatal("still degraded after recovery")
	}
	t.Logf("%d calls, all successful, across the outage", len(results))
}

// TestSlowRedisDoesNotSlowCalls: a Redis that does not answer (DEBUG SLEEP,
// CLIENT PAUSE) costs a call at most the command timeout, well within the
// call deadline, and calls still succeed.
func TestSlowRedisDoesNotSlowCalls(t *testing.T) {
	server := testredis.Start(t)
	mail := httptest.NewServer(mailservice.New(mailservice.Options{}))
	defer mail.Close()
	const callTimeout = 2 * time.Second
	srv, _ := redisHost(t, server, mail.URL, callTimeout)
	admin, err := cache.NewRedisClient(cache.RedisConfig{Addrs: []string{server.Addr}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	for _, stall := range [][]any{{"DEBUG", "SLEEP", "3"}, {"CLIENT", "PAUSE", "3000", "ALL"}} {
		t.Run(fmt.Sprint(stall[:2]...), func(t *testing.T) {
			stalled := make(chan error, 1)
			go func() { stalled <- admin.Do(context.Background(), stall...).Err() }()
			if stall[0] == "DEBUG" {
				// DEBUG SLEEP holds Redis from the moment it runs; give it the
				// server first by waiting until a PING cannot get through.
				probe, _ := cache.NewRedisClient(cache.RedisConfig{Addrs: []string{server.Addr}, Timeout: 50 * time.Millisecond})
				defer probe.Close()
				testkit.WaitFor(t, 5*time.Second, "Redis stalled", func() bool { return probe.Ping(context.Background()).Err() != nil })
			} else if err := <-stalled; err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				start := time.Now()
				resp, err := http.Post(srv.URL+"/v1/extensions/mail-client/call", "application/json",
					strings.NewReader(fmt.Sprintf(`{"user_id":"slow-%d","function":"list_inbox","params":{"account_id":"work"}}`, i)))
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				took := time.Since(start)
				if resp.StatusCode != 200 || !strings.HasPrefix(string(raw), `{"status":"success"`) || took >= callTimeout {
					t.Fatalf("call %d with Redis stalled: %d in %s: %.200s", i, resp.StatusCode, took, raw)
				}
			}
			if stall[0] == "DEBUG" {
				<-stalled
			}
		})
	}
}

// faultyUpstream answers by the path's last segment: slow, 503, 404,
// truncated, huge, reset, ok.
func faultyUpstream(t *testing.T, mode *atomic.Value, requests *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		switch mode.Load().(string) {
		case "slow":
			<-r.Context().Done()
		case "503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "404":
			w.WriteHeader(http.StatusNotFound)
		case "truncated":
			_, _ = io.WriteString(w, `{"messages":[{"id":"m-1","subject":"cut`)
		case "huge":
			// Declared: the host refuses it from the headers, so the case does
			// not hang on moving 9 MiB through a loaded machine in time.
			w.Header().Set("Content-Length", strconv.Itoa(len(hugeBody)))
			_, _ = io.WriteString(w, hugeBody)
		case "reset":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				if tcp, ok := conn.(*net.TCPConn); ok {
					_ = tcp.SetLinger(0) // close with RST
				}
				conn.Close()
			}
		case "html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<html>Bad gateway</html>`)
		default:
			_, _ = io.WriteString(w, `{"messages":[{"id":"m-1"}],"total":1,"has_more":false}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// hugeBody is an upstream answer past the 8 MiB cap.
var hugeBody = `{"messages":["` + strings.Repeat("x", 9<<20) + `"]}`

// TestUpstreamFaults: every way an upstream can fail is a clear, coded error
// result with HTTP 200, arrives within the call deadline, and is not cached.
func TestUpstreamFaults(t *testing.T) {
	var mode atomic.Value
	var requests atomic.Int64
	upstream := faultyUpstream(t, &mode, &requests)
	const callTimeout = 500 * time.Millisecond
	cfg := config.Default()
	cfg.Services = map[string]string{"mail-service": upstream.URL}
	cfg.Limits.CallTimeout = callTimeout
	_, srv := serveHost(t, cfg, zap.NewNop())

	cases := []struct {
		mode, code string
		retryable  bool
	}{
		{"slow", "BACKEND_TIMEOUT", true},
		{"503", "BACKEND_5XX", true},
		{"404", "BACKEND_4XX", false},
		{"truncated", "BACKEND_BAD_RESPONSE", false},
		{"html", "BACKEND_BAD_RESPONSE", false},
		{"huge", "BACKEND_BAD_RESPONSE", false},
		{"reset", "BACKEND_UNAVAILABLE", true},
	}
	for i, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			mode.Store(tc.mode)
			user := fmt.Sprintf("fault-%d", i)
			body := `{"user_id":"` + user + `","function":"list_inbox","params":{"account_id":"work"}}`
			for attempt := range 2 { // the second attempt proves the failure was not cached
				before := requests.Load()
				start := time.Now()
				resp, err := http.Post(srv.URL+"/v1/extensions/mail-client/call", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				var res struct {
					Status    string `json:"status"`
					Error     string `json:"error"`
					ErrorCode string `json:"error_code"`
					Retryable bool   `json:"retryable"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&res)
				resp.Body.Close()
				took := time.Since(start)
				if resp.StatusCode != 200 || res.Status != "error" || res.ErrorCode != tc.code || res.Retryable != tc.retryable {
					t.Fatalf("attempt %d: %d %+v, want 200 %s retryable=%v", attempt, resp.StatusCode, res, tc.code, tc.retryable)
				}
				if tc.mode != "slow" && !strings.HasPrefix(res.Error, "mail-service ") {
					t.Errorf("error %q does not name the service", res.Error)
				}
				if took > callTimeout+250*time.Millisecond {
					t.Errorf("attempt %d took %s, past the %s deadline and its margin", attempt, took, callTimeout)
				}
				if requests.Load() == before {
					t.Fatalf("attempt %d did not reach the upstream: a failure was cached", attempt)
				}
			}
		})
	}
	mode.Store("ok")
	resp, err := http.Post(srv.URL+"/v1/extensions/mail-client/call", "application/json",
		strings.NewReader(`{"user_id":"fault-0","function":"list_inbox","params":{"account_id":"work"}}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(raw), `{"status":"success","summary":"1 message(s) in INBOX."`) {
		t.Fatalf("after the faults: %s", raw)
	}
}

// TestShutdownUnderLoadDropsNothing: SIGTERM while 16 clients call. Every
// call the host started is finished and answered; later requests are refused
// (503, or no connection). A request still in the kernel's accept queue when
// the listener closes is dropped unanswered (the client sees EOF): the host
// never saw it, and a client retries it like a refused connection.
func TestShutdownUnderLoadDropsNothing(t *testing.T) {
	mail := httptest.NewServer(mailservice.New(mailservice.Options{Latency: 5 * time.Millisecond}))
	defer mail.Close()
	cfg := config.Default()
	cfg.Services = map[string]string{"mail-service": mail.URL}
	cfg.Log.SampleSuccess = config.Sampling{} // the test counts every call's line
	core, logs := observer.New(zapcore.InfoLevel)
	r := runHost(t, cfg, host.Options{Extensions: registry.List(), Logger: zap.New(core)})
	// One connection per request, so that no request rides on a kept-alive
	// connection the server is closing as idle (the client's to retry).
	noKeepAlive := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	l := startLoad(noKeepAlive, 16, "http://"+r.addr+"/v1/extensions/mail-client/call", func(client int) string {
		// A new folder each call keeps every call a miss that waits on the upstream.
		return fmt.Sprintf(`{"user_id":"drain-%d","function":"list_inbox","params":{"account_id":"work","folder":"f%d"}}`,
			client, time.Now().UnixNano())
	})
	l.waitCalls(t, 100)
	r.stop()
	if err := <-r.ran; err != nil {
		t.Fatalf("Run = %v, want a clean drain", err)
	}
	results := l.finish()
	var served, refused, unanswered int
	for _, res := range results {
		var opErr *net.OpError
		switch {
		case res.err != nil && asDialError(res.err, &opErr):
			refused++ // the listener had closed
		case res.err != nil && (errors.Is(res.err, io.EOF) || errors.Is(res.err, syscall.ECONNRESET)):
			unanswered++
		case res.err != nil:
			t.Fatalf("a call failed during the drain: %v", res.err)
		case res.status == 200 && strings.HasPrefix(res.body, `{"status":"success"`):
			served++
		case res.status == 503 && strings.Contains(res.body, `"error_code":"UNAVAILABLE"`):
			refused++
		default:
			t.Fatalf("a call got %d %.200s during the drain", res.status, res.body)
		}
	}
	// Every call the host ran (one log line each) reached its client.
	if ran := logs.FilterMessage("call").Len(); ran != served {
		t.Fatalf("the host ran %d calls but %d answers arrived: some were cut off", ran, served)
	}
	if served < 100 {
		t.Fatalf("only %d calls served", served)
	}
	t.Logf("%d calls served, %d refused, %d unanswered from the accept queue", served, refused, unanswered)
}

func asDialError(err error, target **net.OpError) bool {
	for err != nil {
		if op, ok := err.(*net.OpError); ok && op.Op == "dial" {
			*target = op
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
