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
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imperalcloud/exthost/bench/internal/rig"
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
	var redisAddr, mailAddr, hostAddr string
	for _, addr := range []*string{&redisAddr, &mailAddr, &hostAddr} {
		if *addr, err = rig.FreeAddr(); err != nil {
			return err
		}
	}

	redis := rig.Redis(redisAddr, dir)
	if err := redis.Start(); err != nil {
		return err
	}
	defer redis.Stop()
	mail := &rig.Proc{Name: mailBin, Args: []string{"-addr", mailAddr}, Ready: "listening"}
	if err := mail.Start(); err != nil {
		return err
	}
	defer mail.Stop()
	config := filepath.Join(dir, "host.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(
		"listen: %s\ncache: {backend: redis, redis: {url: redis://%s/0}}\nservices: {mail-service: http://%s}\nlog: {level: warn, format: json}\n",
		hostAddr, redisAddr, mailAddr)), 0o600); err != nil {
		return err
	}
	host := &rig.Proc{Name: hostBin, Args: []string{"serve", "--config", config}, ReadyURL: "http://" + hostAddr + "/readyz"}
	if err := host.Start(); err != nil {
		return err
	}
	defer host.Stop()

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
		{"Redis killed", redis.Kill},
		{"Redis restarted", redis.Start},
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
