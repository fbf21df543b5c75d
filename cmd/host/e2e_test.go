package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// TestEndToEnd builds the real binaries, starts the reference mail-service
// and the host on the shared Redis, drives the API over HTTP, and stops the
// host with SIGTERM.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the end-to-end test in -short mode")
	}
	testredis.Client(t) // fails under CI=true, skips elsewhere, when Redis is missing
	bin := buildBinaries(t)
	mailAddr, hostAddr := testredis.FreeAddr(t), testredis.FreeAddr(t)
	mail := start(t, filepath.Join(bin, "mailservice"), nil, "-addr", mailAddr)
	defer mail.stop(t)
	mail.waitFor(t, "listening")

	config := filepath.Join(t.TempDir(), "host.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`
listen: %s
cache: {backend: redis, redis: {url: %s}}
services: {mail-service: http://%s}
log: {level: info, format: json}
`, hostAddr, testredis.URL(), mailAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	h := start(t, filepath.Join(bin, "host"), nil, "serve", "--config", config)
	defer h.stop(t)
	h.waitFor(t, "host serving")

	base := "http://" + hostAddr
	if status, body := get(t, base+"/readyz"); status != 200 || body != `{"status":"ok","cache":"ok"}` {
		t.Fatalf("readyz = %d %s", status, body)
	}
	user := testredis.UniqueID(t)
	list := `{"user_id":"` + user + `","function":"list_inbox","params":{"account_id":"work"}}`
	status, first := postJSON(t, base+"/v1/extensions/mail-client/call", list)
	if status != 200 || !strings.HasPrefix(first, `{"status":"success","summary":"20 message(s) in INBOX.","data":{"messages":[`) {
		t.Fatalf("list_inbox = %d %s", status, first)
	}
	if status, second := postJSON(t, base+"/v1/extensions/mail-client/call", list); status != 200 || second != first {
		t.Fatalf("second list_inbox = %d, differs", status)
	}
	h.waitFor(t, `"cache_hits":1`) // the second call is a hit, and the log says so
	status, body := postJSON(t, base+"/v1/extensions/mail-client/call",
		`{"user_id":"`+user+`","function":"archive_message","params":{"account_id":"work","message_id":"m-0001"}}`)
	if status != 200 || !strings.HasSuffix(body, `"refresh_panels":["sidebar"]}`) {
		t.Fatalf("archive_message = %d %s", status, body)
	}
	if _, metrics := get(t, base+"/metrics"); !strings.Contains(metrics, `exthost_cache_lookups_total{app="mail-client",model="inbox_page",result="hit"} 1`) {
		t.Fatalf("/metrics lacks the hit")
	}

	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := h.wait(); err != nil {
		t.Fatalf("host exited with %v after SIGTERM, want 0\n%s", err, h.output())
	}
	if out := h.output(); !strings.Contains(out, "host stopped") || strings.Contains(out, `"level":"error"`) {
		t.Fatalf("host log:\n%s", out)
	}
}

// TestTwoHostProcesses runs two host processes on one Redis, in call_token
// mode: a cache entry stored by one is a hit on the other, a write on one
// invalidates for the other, and a token used on one is refused as replayed
// on the other.
func TestTwoHostProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the end-to-end test in -short mode")
	}
	testredis.Client(t)
	bin := buildBinaries(t)
	mailAddr := testredis.FreeAddr(t)
	mail := start(t, filepath.Join(bin, "mailservice"), nil, "-addr", mailAddr)
	defer mail.stop(t)
	mail.waitFor(t, "listening")

	env := []string{"EXTHOST_AUTH_MODE=call_token", "EXTHOST_AUTH_SECRETS=e2e-current,e2e-previous",
		"EXTHOST_CACHE_BACKEND=redis", "EXTHOST_CACHE_REDIS_URL=" + testredis.URL(),
		"EXTHOST_SERVICES=mail-service=http://" + mailAddr}
	var hosts, bases []string
	for range 2 {
		addr := testredis.FreeAddr(t)
		p := start(t, filepath.Join(bin, "host"), append(env, "EXTHOST_LISTEN="+addr), "serve")
		defer p.stop(t)
		p.waitFor(t, "host serving")
		hosts = append(hosts, "http://"+addr)
		bases = append(bases, "http://"+addr+"/v1/extensions/mail-client/call")
	}
	user := testredis.UniqueID(t)
	token := func(secret string) string {
		now := time.Now()
		return calltoken.Mint(calltoken.Claims{AppID: "mail-client", UserID: user, ToolType: "chat_fn",
			Iat: now.Unix(), Exp: now.Add(time.Minute).Unix(), Jti: calltoken.NewJTI()}, secret)
	}
	list := `{"user_id":"` + user + `","function":"list_inbox","params":{"account_id":"work"}}`

	status, first := postToken(t, bases[0], list, token("e2e-current"))
	if status != 200 || !strings.HasPrefix(first, `{"status":"success"`) {
		t.Fatalf("list_inbox on host A = %d %s", status, first)
	}
	if status, second := postToken(t, bases[1], list, token("e2e-previous")); status != 200 || second != first {
		t.Fatalf("list_inbox on host B = %d, want A's cached answer", status)
	}
	if requests := upstreamGets(t, hosts); requests != 1 {
		t.Fatalf("the mail-service served %d inbox requests, want 1: B must hit A's entry", requests)
	}
	status, body := postToken(t, bases[1], `{"user_id":"`+user+`","function":"archive_message","params":{"account_id":"work","message_id":"m-0001"}}`, token("e2e-current"))
	if status != 200 || !strings.Contains(body, `"refresh_panels":["sidebar"]`) {
		t.Fatalf("archive on host B = %d %s", status, body)
	}
	// A's L1 drops its copy when B's announcement arrives (about a
	// millisecond): from then on A reads the fresh page.
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, after := postToken(t, bases[0], list, token("e2e-current"))
		if !strings.Contains(after, `"id":"m-0001"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("host A still serves the page host B's write made stale")
		}
	}
	replayed := token("e2e-current")
	if status, _ := postToken(t, bases[0], list, replayed); status != 200 {
		t.Fatalf("a fresh token on A = %d", status)
	}
	if status, body := postToken(t, bases[1], list, replayed); status != 401 || !strings.Contains(body, "call token replayed") {
		t.Fatalf("the same token on B = %d %s, want 401 replayed", status, body)
	}
}

// upstreamGets sums the successful upstream GETs the hosts report.
func upstreamGets(t *testing.T, hosts []string) int {
	t.Helper()
	const series = `exthost_upstream_requests_total{method="GET",service="mail-service",status="200"} `
	total := 0
	for _, h := range hosts {
		_, metrics := get(t, h+"/metrics")
		for _, line := range strings.Split(metrics, "\n") {
			if n, ok := strings.CutPrefix(line, series); ok {
				var v int
				fmt.Sscan(n, &v)
				total += v
			}
		}
	}
	return total
}

func postToken(t *testing.T, url, body, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "ImperalCallToken "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// process is a started binary whose output the test can wait on.
type process struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   bytes.Buffer
	lines chan string   // closed when the output ends
	done  chan struct{} // closed when the process has exited
	err   error         // the exit status, once done is closed
}

// buildBinaries builds the host and the mail-service for one test.
func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, cmd := range []string{"host", "mailservice"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "../"+cmd)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", cmd, err, out)
		}
	}
	return bin
}

// start runs the binary at path with args and, added to this process's
// environment, env.
func start(t *testing.T, path string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(path, args...), lines: make(chan string, 4096), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody is waiting for that many lines
			}
		}
		close(p.lines)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// waitFor reads the output until a line contains s.
func (p *process) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s exited before logging %q:\n%s", p.cmd.Path, s, p.output())
			}
			if strings.Contains(line, s) {
				return
			}
		case <-timeout:
			t.Fatalf("%s did not log %q in 30s:\n%s", p.cmd.Path, s, p.output())
		}
	}
}

// wait waits for the process to exit and returns its exit status.
func (p *process) wait() error {
	<-p.done
	return p.err
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop kills the process unless it has exited.
func (p *process) stop(*testing.T) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// TestHarnessMode serves configs/harness.yaml, as a test written in another
// language would, and drives the host through the /v1/harness/ endpoints:
// an entry cached for 60 s is gone once the clock is moved 61 s, the calls
// are listed newest first, and the cache can be emptied.
func TestHarnessMode(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the end-to-end test in -short mode")
	}
	bin := buildBinaries(t)
	mailAddr, hostAddr := testredis.FreeAddr(t), testredis.FreeAddr(t)
	mail := start(t, filepath.Join(bin, "mailservice"), nil, "-addr", mailAddr)
	defer mail.stop(t)
	mail.waitFor(t, "listening")
	h := start(t, filepath.Join(bin, "host"), []string{"EXTHOST_LISTEN=" + hostAddr, "EXTHOST_SERVICES=mail-service=http://" + mailAddr},
		"serve", "--config", "../../configs/harness.yaml")
	defer h.stop(t)
	h.waitFor(t, "host serving")

	base := "http://" + hostAddr
	list := `{"user_id":"ann","function":"list_inbox","params":{"account_id":"work"}}`
	for range 2 {
		if status, body := postJSON(t, base+"/v1/extensions/mail-client/call", list); status != 200 {
			t.Fatalf("list_inbox = %d %s", status, body)
		}
	}
	if status, body := postJSON(t, base+"/v1/harness/clock", `{"advance":"61s"}`); status != 200 || !strings.Contains(body, `"now":"`) {
		t.Fatalf("advance = %d %s", status, body)
	}
	postJSON(t, base+"/v1/extensions/mail-client/call", list)
	_, body := get(t, base+"/v1/harness/calls?limit=3")
	var answer struct {
		Calls []struct {
			Function string `json:"function"`
			Cache    struct{ Hits, Misses int }
			Upstream []struct{ Path string }
		} `json:"calls"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil || len(answer.Calls) != 3 {
		t.Fatalf("calls = %s (%v)", body, err)
	}
	expired, hit, first := answer.Calls[0], answer.Calls[1], answer.Calls[2]
	if expired.Cache.Misses != 1 || len(expired.Upstream) != 1 || expired.Upstream[0].Path != "/v1/inbox" ||
		hit.Cache.Hits != 1 || len(hit.Upstream) != 0 || first.Cache.Misses != 1 {
		t.Fatalf("calls, newest first = %+v", answer.Calls)
	}
	req, _ := http.NewRequest(http.MethodDelete, base+"/v1/harness/cache?user_id=ann", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	purged, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(purged) != `{"removed":1}` {
		t.Fatalf("purge = %d %s", resp.StatusCode, purged)
	}
}
