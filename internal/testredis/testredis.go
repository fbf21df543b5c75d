// Package testredis gives tests a live Redis: the shared one at REDIS_URL,
// or a private redis-server process a test may stop and restart.
//
// When Redis is missing, a test fails under CI=true and is skipped, saying
// why, everywhere else.
package testredis

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/testkit"
)

// DefaultURL is used when REDIS_URL is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns REDIS_URL, or DefaultURL.
func URL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// TB is the test handle these helpers use (testkit.TB).
type TB = testkit.TB

// Unavailable ends a test that needs Redis when Redis is missing: a failure
// under CI=true, a skip elsewhere.
func Unavailable(t TB, format string, args ...any) {
	t.Helper()
	testkit.Missing(t, "Redis", "start Redis or set REDIS_URL", format, args...)
}

// Client returns a client of the shared Redis at URL(), built as the host
// builds its own, and closed when the test ends.
func Client(t TB) redis.UniversalClient {
	t.Helper()
	rdb, err := cache.NewRedisClient(cache.RedisConfig{URL: URL(), Timeout: time.Second})
	if err != nil {
		t.Fatalf("redis client: %v", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		Unavailable(t, "no Redis at %s: %v", URL(), err)
	}
	return rdb
}

// UniqueID returns an id no other test run uses, to namespace a test's keys
// in the shared Redis.
func UniqueID(t TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	return fmt.Sprintf("t-%s-%s", name[:min(len(name), 40)], hex.EncodeToString(b[:]))
}

// Server is a private redis-server process on a free loopback port.
type Server struct {
	// Addr is host:port.
	Addr  string
	t     testing.TB
	extra []string
	cmd   *exec.Cmd
}

// Start runs a private redis-server, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t)
}

// StartDurable runs a private redis-server that keeps its data across
// Restart: every write is in its append-only file before it is answered.
func StartDurable(t testing.TB) *Server {
	t.Helper()
	return start(t, "--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir())
}

// start runs a private redis-server with extra arguments.
func start(t testing.TB, extra ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		Unavailable(t, "redis-server is not installed: %v", err)
	}
	s := &Server{Addr: FreeAddr(t), t: t, extra: extra}
	s.run()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) run() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{"--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--loglevel", "notice",
		"--enable-debug-command", "local"}, // fault tests stall the server with DEBUG SLEEP
		s.extra...)
	cmd := exec.Command("redis-server", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				for sc.Scan() { // keep draining so the server never blocks on its log
				}
				return
			}
		}
		ready <- fmt.Errorf("redis-server exited before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Process.Kill()
			s.t.Fatalf("redis-server on %s: %v", s.Addr, err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		s.t.Fatalf("redis-server on %s: not ready after 10s", s.Addr)
	}
	s.cmd = cmd
}

// Stop kills the server and waits for it to exit. Stopping a stopped server
// does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the stopped server again on the same address.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.run()
}
