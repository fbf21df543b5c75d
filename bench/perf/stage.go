package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imperalcloud/exthost/bench/internal/rig"
	"github.com/imperalcloud/exthost/internal/mailservice"
)

// upstreamLatency is the mail-service's delay per request: long enough that
// the stampede's calls overlap the one fetch, short enough not to matter to
// a warm-up.
const upstreamLatency = 20 * time.Millisecond

// callPath is the host's call endpoint for the mail client.
const callPath = "/v1/extensions/mail-client/call"

// mcpBody is the measured call as an MCP tools/call, which the hosts and
// the baseline's bare SDK server answer statelessly, in JSON.
const mcpBody = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"mail-client__list_inbox","arguments":{"account_id":"work"}}}`

// mcpHeaders are the headers of mcpBody's requests: what the Streamable
// HTTP transport requires, and the caller in dev mode.
var mcpHeaders = []string{"Accept", "application/json, text/event-stream", "X-User-ID", "perf-user"}

// stage is everything a run measures, started.
type stage struct {
	redisServer *rig.Proc
	mail        *mailservice.Service
	mailServer  *http.Server
	redis       *hostProc // the host with the Redis backend
	memory      *hostProc // the host with the memory backend
	baseline    *rig.Proc
	baselineURL string
	// baselineMCP is the baseline's bare MCP server.
	baselineMCP string
	client      *http.Client
	redisAddr   string // the Redis both hosts share
	mailAddr    string
	dir, bin    string
	body        string // the measured call's envelope
	response    []byte // the host's answer to it, which the baseline repeats
}

// hostProc is one host process.
type hostProc struct {
	backend  string
	url      string
	mcpURL   string // its /mcp
	debugURL string // its profiler
	proc     *rig.Proc
}

// startStage starts the processes with the binaries in bin and working
// files in dir, warms the measured entry in both hosts and checks that they
// answer alike.
func startStage(bin, dir string) (_ *stage, err error) {
	s := &stage{
		body: `{"user_id":"perf-user","function":"list_inbox","params":{"account_id":"work"}}`,
		// Enough idle connections for a stampede.
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}},
	}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	addrs := make([]string, 8)
	for i := range addrs {
		if addrs[i], err = rig.FreeAddr(); err != nil {
			return nil, err
		}
	}
	redisAddr, mailAddr, baselineAddr := addrs[0], addrs[1], addrs[2]
	s.redisAddr, s.mailAddr, s.dir, s.bin = redisAddr, mailAddr, dir, bin

	s.redisServer = rig.Redis(redisAddr, dir)
	if err := s.redisServer.Start(); err != nil {
		return nil, err
	}
	if err := s.serveMail(mailAddr); err != nil {
		return nil, err
	}
	for _, h := range []struct {
		into            **hostProc
		backend         string
		addr, debugAddr string
	}{{&s.redis, "redis", addrs[3], addrs[4]}, {&s.memory, "memory", addrs[5], addrs[6]}} {
		if *h.into, err = startHost(bin, dir, h.backend, h.backend, h.addr, h.debugAddr, redisAddr, mailAddr); err != nil {
			return nil, err
		}
	}

	if s.response, err = s.call(s.redis.url, s.body); err != nil {
		return nil, fmt.Errorf("warm-up, redis host: %w", err)
	}
	fromMemory, err := s.call(s.memory.url, s.body)
	if err != nil {
		return nil, fmt.Errorf("warm-up, memory host: %w", err)
	}
	if !bytes.Equal(fromMemory, s.response) {
		return nil, errors.New("the two hosts answer the same call differently")
	}
	responseFile := filepath.Join(dir, "response.json")
	if err := os.WriteFile(responseFile, s.response, 0o600); err != nil {
		return nil, err
	}
	s.baseline = &rig.Proc{Name: filepath.Join(bin, "baseline"),
		Args: []string{"-addr", baselineAddr, "-response", responseFile, "-mcp-addr", addrs[7]}, Ready: "baseline listening"}
	if err := s.baseline.Start(); err != nil {
		return nil, err
	}
	s.baselineURL = "http://" + baselineAddr + callPath
	if got, err := s.call(s.baselineURL, s.body); err != nil || !bytes.Equal(got, s.response) {
		return nil, fmt.Errorf("the baseline does not answer the host's bytes (%v)", err)
	}
	s.baselineMCP = "http://" + addrs[7] + "/mcp"
	want, err := s.callMCP(s.baselineMCP)
	if err != nil {
		return nil, fmt.Errorf("the baseline's MCP server: %w", err)
	}
	for _, h := range []*hostProc{s.redis, s.memory} {
		if got, err := s.callMCP(h.mcpURL); err != nil || got != want {
			return nil, fmt.Errorf("the %s host's /mcp does not answer the baseline's tool result (%v)", h.backend, err)
		}
	}
	return s, nil
}

// callMCP posts mcpBody to url and returns its tool result, which must be
// a success, in a canonical JSON spelling.
func (s *stage) callMCP(url string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(mcpBody))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(mcpHeaders); i += 2 {
		req.Header.Set(mcpHeaders[i], mcpHeaders[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var answer struct {
		Result *struct {
			Content           json.RawMessage `json:"content"`
			StructuredContent map[string]any  `json:"structuredContent"`
			IsError           bool            `json:"isError"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return "", fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if answer.Result == nil || answer.Result.IsError || answer.Result.StructuredContent["status"] != "success" {
		return "", fmt.Errorf("HTTP %d: no successful tool result", resp.StatusCode)
	}
	canonical, err := json.Marshal(answer.Result)
	return string(canonical), err
}

// serveMail serves the reference mail-service in this process.
func (s *stage) serveMail(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mail-service: %w", err)
	}
	s.mail = mailservice.New(mailservice.Options{Latency: upstreamLatency})
	s.mailServer = &http.Server{Handler: s.mail, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.mailServer.Serve(ln) }()
	return nil
}

// rpcStream is the stream the Redis-backed hosts serve.
const rpcStream = "perf:rpc:extension_call"

// startHost starts a host called name with the given cache backend, its
// profiler on debugAddr and the default logging (info, JSON), its log
// going to a file in dir. A Redis-backed host serves rpcStream too.
func startHost(bin, dir, name, backend, addr, debugAddr, redisAddr, mailAddr string) (*hostProc, error) {
	config := filepath.Join(dir, "host-"+name+".yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(
		// The L1 holds every user of the rotating workload.
		"listen: %s\nauth: {mode: dev}\ncache: {backend: %s, redis: {url: redis://%s/0, l1_max_entries: 40000}}\nservices: {mail-service: http://%s}\ndebug: {listen: %s}\nmcp: {stateless: true, json_response: true}\nconsole: {enabled: false}\nrpc: {enabled: %t, stream: %q}\n",
		addr, backend, redisAddr, mailAddr, debugAddr, backend == "redis", rpcStream)), 0o600); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "host-"+name+".log"))
	if err != nil {
		return nil, err
	}
	p := &rig.Proc{Name: filepath.Join(bin, "host"), Args: []string{"serve", "--config", config},
		ReadyURL: "http://" + addr + "/readyz", Output: log}
	err = p.Start()
	_ = log.Close() // the child holds its own descriptor
	if err != nil {
		return nil, err
	}
	return &hostProc{backend: backend, url: "http://" + addr + callPath, mcpURL: "http://" + addr + "/mcp", debugURL: "http://" + debugAddr + "/debug/pprof/", proc: p}, nil
}

// stop stops what started.
func (s *stage) stop() {
	for _, p := range []*rig.Proc{s.baseline, hostOf(s.memory), hostOf(s.redis)} {
		if p != nil {
			p.Stop()
		}
	}
	if s.mailServer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.mailServer.Shutdown(ctx)
	}
	if s.redisServer != nil {
		s.redisServer.Stop()
	}
}

func hostOf(h *hostProc) *rig.Proc {
	if h == nil {
		return nil
	}
	return h.proc
}

// warm makes every entry of the rotating workload's round warm in the host
// at url: one call per user, 64 at a time (the mail-service takes 20 ms a
// request).
func (s *stage) warm(url string, round int) error {
	users := make(chan int)
	errs := make(chan error, 64)
	for range 64 {
		go func() {
			var first error
			for u := range users {
				if _, err := s.call(url, fmt.Sprintf(rotatingBodies[0], rotatingUser(round, u))); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for u := range rotatingUsers {
		users <- u
	}
	close(users)
	var err error
	for range 64 {
		err = errors.Join(err, <-errs)
	}
	return err
}

// call posts body to url and returns the answer, which must be a success.
func (s *stage) call(url, body string) ([]byte, error) {
	resp, err := s.client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(raw, []byte(`{"status":"success"`)) {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, raw)
	}
	return raw, nil
}
