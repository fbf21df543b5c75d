package host_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/fastrpc"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/internal/testredis"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

// rpcConfig is a host configuration with the worker on a stream of the
// test's own in the shared Redis, and the mail client's service at mail.
func rpcConfig(t *testing.T, mail string) config.Config {
	t.Helper()
	rdb := testredis.Client(t) // skips or fails when Redis is missing
	cfg := config.Default()
	cfg.Services = map[string]string{"mail-service": mail}
	cfg.Cache.Redis.URL = testredis.URL()
	cfg.RPC.Enabled = true
	cfg.RPC.Stream = "test:rpc:" + testredis.UniqueID(t)
	cfg.Harness.Enabled = true
	t.Cleanup(func() { rdb.Del(context.Background(), cfg.RPC.Stream) })
	return cfg
}

// runWorkerHost runs a host of the compiled-in extensions until the test
// ends, and waits until its worker's group exists.
func runWorkerHost(t *testing.T, cfg config.Config) *host.Host {
	t.Helper()
	h, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t, "127.0.0.1:0")
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx, l) }()
	t.Cleanup(func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	select {
	case <-h.Worker().Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("worker not ready")
	}
	return h
}

// rpcCall sends a call of the mail client and returns its reply.
func rpcCall(t *testing.T, c *fastrpc.Client, user, function, params string) fastrpc.Reply {
	t.Helper()
	reply, err := c.Do(context.Background(), fastrpc.Call{AppID: "mail-client", Function: function, UserID: user,
		Params: json.RawMessage(params)})
	if err != nil {
		t.Fatalf("%s: %v", function, err)
	}
	return reply
}

// A call through the stream runs the whole pipeline: the cache (a miss,
// then a hit), the declared event and panel refresh, the confirmation gate.
func TestRPCRunsThePipeline(t *testing.T) {
	mail := httptest.NewServer(mailservice.New(mailservice.Options{}))
	defer mail.Close()
	cfg := rpcConfig(t, mail.URL)
	h := runWorkerHost(t, cfg)
	c := fastrpc.NewClient(testredis.Client(t), cfg.RPC.Stream)

	for i, want := range []int{0, 1} { // cache hits: a miss, then a hit
		reply := rpcCall(t, c, "rpc-user", "list_inbox", `{"account_id":"work"}`)
		if reply.Status != fastrpc.StatusSuccess || !strings.HasPrefix(string(reply.Result), `{"status":"success"`) {
			t.Fatalf("call %d: %+v %s", i, reply.Error, reply.Result)
		}
		if tr := h.Harness().Calls(1)[0]; tr.CacheHits != want || tr.RequestID != reply.CorrID {
			t.Fatalf("call %d: %d hits, request id %s; want %d, %s", i, tr.CacheHits, tr.RequestID, want, reply.CorrID)
		}
	}

	id := firstMessageID(t, string(rpcCall(t, c, "rpc-user", "list_inbox", `{"account_id":"work"}`).Result))
	archived := rpcCall(t, c, "rpc-user", "archive_message", `{"account_id":"work","message_id":"`+id+`"}`)
	var res struct {
		Status        string   `json:"status"`
		RefreshPanels []string `json:"refresh_panels"`
	}
	if err := json.Unmarshal(archived.Result, &res); err != nil || res.Status != "success" || len(res.RefreshPanels) == 0 {
		t.Fatalf("archive: %s", archived.Result)
	}
	if ev := h.Harness().Events(1); len(ev) != 1 || ev[0].EventType != "email.archived" || ev[0].UserID != "rpc-user" {
		t.Fatalf("events %+v", ev)
	}

	// Held at the gate, then confirmed with params.confirmation_token.
	held := rpcCall(t, c, "rpc-user", "purge_trash", `{"account_id":"work"}`)
	var gate struct {
		ErrorCode string `json:"error_code"`
		Data      struct {
			Confirmation struct {
				Token string `json:"token"`
			} `json:"confirmation"`
		} `json:"data"`
	}
	if err := json.Unmarshal(held.Result, &gate); err != nil || gate.ErrorCode != runtime.CodeConfirmationRequired {
		t.Fatalf("purge_trash unconfirmed: %s", held.Result)
	}
	confirmed := rpcCall(t, c, "rpc-user", "purge_trash", `{"account_id":"work","confirmation_token":"`+gate.Data.Confirmation.Token+`"}`)
	if !strings.HasPrefix(string(confirmed.Result), `{"status":"success"`) {
		t.Fatalf("purge_trash confirmed: %s", confirmed.Result)
	}

	// What the HTTP API answers 404 is an application error.
	unknown := rpcCall(t, c, "rpc-user", "no_such_function", `{}`)
	if unknown.Error == nil || unknown.Error.Category != fastrpc.CategoryApplication || unknown.Error.Message != "Sub-function not available." {
		t.Fatalf("unknown function: %+v", unknown.Error)
	}
	// Bad params are the function's validation error, in a success reply.
	bad := rpcCall(t, c, "rpc-user", "list_inbox", `{"account_id":3}`)
	if !strings.Contains(string(bad.Result), `"error_code":"VALIDATION_TYPE_ERROR"`) {
		t.Fatalf("bad params: %s", bad.Result)
	}
}

// slowMail is a mail-service whose inbox requests wait until released,
// saying when one arrives.
func slowMail(t *testing.T) (url string, arrived <-chan struct{}, release func()) {
	t.Helper()
	svc := mailservice.New(mailservice.Options{})
	in := make(chan struct{}, 16)
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/inbox") {
			in <- struct{}{}
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		svc.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, in, sync.OnceFunc(func() { close(gate) })
}

// A running call is cut at its envelope's deadline: a timeout reply.
func TestRPCDeadlineCutsARunningCall(t *testing.T) {
	mail, arrived, release := slowMail(t)
	defer release()
	cfg := rpcConfig(t, mail)
	runWorkerHost(t, cfg)
	c := fastrpc.NewClient(testredis.Client(t), cfg.RPC.Stream)
	p, err := c.Send(context.Background(), fastrpc.Call{AppID: "mail-client", Function: "list_inbox", UserID: "slow",
		Params: json.RawMessage(`{"account_id":"work"}`), Deadline: time.Now().Add(500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	<-arrived
	reply, err := c.Wait(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Error == nil || reply.Error.Category != fastrpc.CategoryTimeout || !reply.Error.Retryable {
		t.Fatalf("reply %+v %+v", reply, reply.Error)
	}
	if finished := time.Unix(0, reply.FinishedAtNs); finished.Before(p.Deadline) || finished.After(p.Deadline.Add(time.Second)) {
		t.Fatalf("answered at %s, the deadline was %s", finished, p.Deadline)
	}
}

// workerProcessEnv names the config file of a worker process: the test
// binary, run again, serves as a host until it is killed (TestMain).
const workerProcessEnv = "EXTHOST_TEST_WORKER_CONFIG"

// serveWorkerProcess is the body of a worker process.
func serveWorkerProcess(path string) int {
	cfg, err := config.Load(path, nil)
	if err == nil {
		var h *host.Host
		if h, err = host.New(cfg, host.Options{Extensions: registry.List()}); err == nil {
			var l net.Listener
			if l, err = net.Listen("tcp", "127.0.0.1:0"); err == nil {
				err = h.Run(context.Background(), l)
			}
		}
	}
	os.Stderr.WriteString("worker process: " + err.Error() + "\n")
	return 1
}

// A worker killed with SIGKILL in the middle of a call: its entry is
// claimed by the other worker and answered once.
func TestRPCWorkerKilledMidCall(t *testing.T) {
	mail, arrived, release := slowMail(t)
	cfg := rpcConfig(t, mail)
	cfg.Harness.Enabled = false
	cfg.Limits.CallTimeout = 2 * time.Second
	cfg.RPC.ClaimIdle = 3 * time.Second
	cfg.Log.Level = "error"

	path := filepath.Join(t.TempDir(), "worker.yaml")
	raw := "services: {mail-service: " + mail + "}\nlimits: {call_timeout: 2s}\nlog: {level: error}\n" +
		"cache: {redis: {url: \"" + cfg.Cache.Redis.URL + "\"}}\n" +
		"rpc: {enabled: true, stream: \"" + cfg.RPC.Stream + "\", claim_idle: 3s}\n"
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	rdb := testredis.Client(t)
	c := fastrpc.NewClient(rdb, cfg.RPC.Stream)
	// The group exists before the call is sent, so the process reads it.
	if err := rdb.XGroupCreateMkStream(context.Background(), cfg.RPC.Stream, cfg.RPC.Group, "$").Err(); err != nil {
		t.Fatal(err)
	}
	proc := exec.Command(os.Args[0], "-test.run=^$")
	proc.Env = append(os.Environ(), workerProcessEnv+"="+path)
	proc.Stderr = os.Stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := c.Send(context.Background(), fastrpc.Call{AppID: "mail-client", Function: "list_inbox", UserID: "killed",
		Params: json.RawMessage(`{"account_id":"work"}`), Deadline: time.Now().Add(30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	<-arrived // the process is in the middle of the call
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	release()

	runWorkerHost(t, cfg) // the survivor
	reply, err := c.Wait(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Status != fastrpc.StatusSuccess || !strings.HasPrefix(string(reply.Result), `{"status":"success"`) {
		t.Fatalf("reply %+v %s", reply.Error, reply.Result)
	}
	testkit.WaitFor(t, 10*time.Second, "the entry acknowledged", func() bool {
		pending, err := rdb.XPending(context.Background(), cfg.RPC.Stream, cfg.RPC.Group).Result()
		return err == nil && pending.Count == 0
	})
	if n, _ := rdb.LLen(context.Background(), p.ReplyList).Result(); n != 0 {
		t.Fatalf("%d more replies", n)
	}
}
