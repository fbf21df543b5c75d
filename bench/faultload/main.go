// Command faultload is a bounded load run with Redis faults in the middle.
// It starts a private redis-server, the reference mail-service and the host
// (Redis cache backend, dev auth), drives list_inbox calls from concurrent
// clients for four phases of equal length — Redis up, Redis stalled (CLIENT
// PAUSE), Redis killed, Redis restarted — and prints, per phase, the calls,
// the errors and the p50/p99 latency. It exits 1 if any call failed.
//
//	faultload -host bin/host -mailservice bin/mailservice [-clients 16] [-phase 5s]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	hostBin := flag.String("host", "bin/host", "the host binary")
	mailBin := flag.String("mailservice", "bin/mailservice", "the mail-service binary")
	clients := flag.Int("clients", 16, "concurrent clients")
	phase := flag.Duration("phase", 5*time.Second, "length of each phase")
	users := flag.Int("users", 64, "distinct users the clients cycle through")
	flag.Parse()
	if err := run(*hostBin, *mailBin, *clients, *phase, *users); err != nil {
		fmt.Fprintln(os.Stderr, "faultload:", err)
		os.Exit(1)
	}
}

func run(hostBin, mailBin string, clients int, phase time.Duration, users int) error {
	dir, err := os.MkdirTemp("", "faultload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	redisAddr, mailAddr, hostAddr := freeAddr(), freeAddr(), freeAddr()

	redis := &proc{name: "redis-server", args: redisArgs(redisAddr, dir), ready: "Ready to accept connections"}
	if err := redis.start(); err != nil {
		return err
	}
	defer redis.stop()
	mail := &proc{name: mailBin, args: []string{"-addr", mailAddr}, ready: "listening"}
	if err := mail.start(); err != nil {
		return err
	}
	defer mail.stop()
	config := filepath.Join(dir, "host.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(
		"listen: %s\ncache: {backend: redis, redis: {url: redis://%s/0}}\nservices: {mail-service: http://%s}\nlog: {level: warn, format: json}\n",
		hostAddr, redisAddr, mailAddr)), 0o600); err != nil {
		return err
	}
	host := &proc{name: hostBin, args: []string{"serve", "--config", config}, ready: "", readyURL: "http://" + hostAddr + "/readyz"}
	if err := host.start(); err != nil {
		return err
	}
	defer host.stop()

	url := "http://" + hostAddr + "/v1/extensions/mail-client/call"
	fmt.Printf("list_inbox over %d users, %d clients, %s phases; host %s, Redis %s\n", users, clients, phase, hostAddr, redisAddr)
	fmt.Printf("%-22s %8s %7s %9s %9s %9s\n", "phase", "calls", "errors", "calls/s", "p50", "p99")
	failed := false
	for _, p := range []struct {
		name   string
		before func() error
	}{
		{"before (Redis up)", nil},
		{"Redis stalled", func() error { return pause(redisAddr, phase) }},
		{"Redis killed", redis.kill},
		{"Redis restarted", redis.start},
	} {
		if p.before != nil {
			if err := p.before(); err != nil {
				return err
			}
		}
		s := load(url, clients, users, phase)
		fmt.Printf("%-22s %8d %7d %9.0f %9s %9s\n", p.name, s.calls, s.errors, float64(s.calls)/phase.Seconds(),
			s.percentile(50).Round(10*time.Microsecond), s.percentile(99).Round(10*time.Microsecond))
		if s.errors > 0 {
			failed = true
			fmt.Printf("  first error: %s\n", s.firstError)
		}
	}
	if failed {
		return errors.New("some calls failed")
	}
	return nil
}

// pause stalls Redis for d with CLIENT PAUSE, spoken in RESP by hand: the
// load generator needs no Redis client for one command.
func pause(addr string, d time.Duration) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	ms := fmt.Sprint(d.Milliseconds())
	cmd := fmt.Sprintf("*4\r\n$6\r\nCLIENT\r\n$5\r\nPAUSE\r\n$%d\r\n%s\r\n$3\r\nALL\r\n", len(ms), ms)
	if _, err := io.WriteString(conn, cmd); err != nil {
		return err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(reply, "+OK") {
		return fmt.Errorf("CLIENT PAUSE: %q %v", reply, err)
	}
	return nil
}

func redisArgs(addr, dir string) []string {
	_, port, _ := net.SplitHostPort(addr)
	return []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", dir}
}

// stats are one phase's outcome.
type stats struct {
	calls, errors int
	firstError    string
	latencies     []time.Duration
}

func (s *stats) percentile(p int) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	slices.Sort(s.latencies)
	return s.latencies[(len(s.latencies)-1)*p/100]
}

// load calls url from clients goroutines until d has passed.
func load(url string, clients, users int, d time.Duration) *stats {
	var mu sync.Mutex
	s := &stats{}
	deadline := time.Now().Add(d)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				body := fmt.Sprintf(`{"user_id":"load-%d","function":"list_inbox","params":{"account_id":"work"}}`, (c+i*clients)%users)
				start := time.Now()
				resp, err := client.Post(url, "application/json", strings.NewReader(body))
				var failure string
				if err != nil {
					failure = err.Error()
				} else {
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(raw), `{"status":"success"`) {
						failure = fmt.Sprintf("%d %.120s", resp.StatusCode, raw)
					}
				}
				took := time.Since(start)
				mu.Lock()
				s.calls++
				s.latencies = append(s.latencies, took)
				if failure != "" {
					if s.errors == 0 {
						s.firstError = failure
					}
					s.errors++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return s
}

// proc is a child process that is ready once it logs a line (or, with
// readyURL, once that URL answers 200).
type proc struct {
	name     string
	args     []string
	ready    string
	readyURL string
	cmd      *exec.Cmd
}

func (p *proc) start() error {
	p.cmd = exec.Command(p.name, p.args...)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		signalled := p.ready == ""
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), p.ready) {
				signalled = true
				close(ready)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if p.readyURL != "" {
		for ctx.Err() == nil {
			if resp, err := http.Get(p.readyURL); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		return fmt.Errorf("%s: not ready", p.name)
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: not ready", p.name)
	}
}

// kill ends the process at once, as a crash would.
func (p *proc) kill() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
	return nil
}

// stop ends the process: SIGINT, then SIGKILL after 10 s.
func (p *proc) stop() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
	return nil
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}
