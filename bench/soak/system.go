package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/imperalcloud/exthost/bench/internal/rig"
	"github.com/imperalcloud/exthost/internal/fastrpc"
)

// Limits of the hosts under test, short so that faults show within a run.
const (
	callTimeout = 2 * time.Second // limits.call_timeout
	claimIdle   = 6 * time.Second // rpc.claim_idle: a dead worker's calls are answered this long after
	// slowUpstream is how long a slow mail-service answer takes: past the
	// call timeout.
	slowUpstream = 3 * time.Second
)

// system is what the load runs against.
type system struct {
	dir, bin                    string
	redisAddr, pgAddr, mailAddr string
	redis, pg, mail             *rig.Proc
	replicas                    [2]*replica
	rdb                         *redis.Client // the load's own client: stream calls, checks
	rpc                         *fastrpc.Client
	replies                     *replyBook    // the reply lists of stream calls
	pool                        *pgxpool.Pool // the checks' view of the store
	http                        *http.Client
}

// replica is one host process.
type replica struct {
	name, addr string

	mu   sync.Mutex
	proc *rig.Proc
}

// url is the replica's base URL.
func (r *replica) url() string { return "http://" + r.addr }

// pid is the replica's process id, 0 while it is down.
func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc.Pid()
}

// startSystem starts every process, with working files in dir.
func startSystem(bin, dir string) (_ *system, err error) {
	s := &system{dir: dir, bin: bin, replies: &replyBook{lists: map[string]bool{}}, http: &http.Client{
		Timeout:   callTimeout + 10*time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
	}}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	addrs := make([]string, 5)
	for i := range addrs {
		if addrs[i], err = rig.FreeAddr(); err != nil {
			return nil, err
		}
	}
	s.redisAddr, s.pgAddr, s.mailAddr = addrs[0], addrs[1], addrs[2]

	s.redis = rig.PersistentRedis(s.redisAddr, dir)
	s.redis.Output = s.logFile("redis")
	if err := s.redis.Start(); err != nil {
		return nil, err
	}
	pgDir := filepath.Join(dir, "pg")
	if err := os.Mkdir(pgDir, 0o755); err != nil {
		return nil, err
	}
	if s.pg, err = rig.Postgres(s.pgAddr, pgDir); err != nil {
		return nil, err
	}
	s.pg.Output = s.logFile("postgres")
	if err := s.pg.Start(); err != nil {
		return nil, err
	}
	s.mail = &rig.Proc{Name: filepath.Join(bin, "mailservice"), Args: []string{"-addr", s.mailAddr},
		Ready: "listening", Output: s.logFile("mailservice")}
	if err := s.mail.Start(); err != nil {
		return nil, err
	}
	s.rdb = redis.NewClient(&redis.Options{Addr: s.redisAddr, PoolSize: 256, MaxRetries: -1})
	s.rpc = fastrpc.NewClient(s.rdb, "")
	if s.pool, err = pgxpool.New(context.Background(), s.pgURL()); err != nil {
		return nil, err
	}
	for i, name := range []string{"a", "b"} {
		s.replicas[i] = &replica{name: name, addr: addrs[3+i]}
		if err := s.writeConfig(s.replicas[i]); err != nil {
			return nil, err
		}
		if err := s.startReplica(s.replicas[i]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *system) pgURL() string {
	return "postgres://postgres@" + s.pgAddr + "/postgres?sslmode=disable"
}

// logFile is an append-only log of a process in the working directory
// (a restarted process appends to its log).
func (s *system) logFile(name string) *os.File {
	f, err := os.OpenFile(filepath.Join(s.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil
	}
	return f
}

// writeConfig writes a replica's configuration: both share Redis, the
// store and the confirmation secret, and serve the stream.
func (s *system) writeConfig(r *replica) error {
	config := fmt.Sprintf(`listen: %s
auth: {mode: dev}
cache: {backend: redis, redis: {url: "redis://%s/0"}}
store: {backend: postgres, postgres: {url: %q}}
services: {mail-service: "http://%s"}
limits: {call_timeout: %s, drain_timeout: 5s}
confirmation: {secrets: [soak-confirmation-secret]}
mcp: {stateless: true, json_response: true}
rpc: {enabled: true, claim_idle: %s, reply_ttl: 1h}
console: {enabled: false}
log: {level: warn}
`, r.addr, s.redisAddr, s.pgURL(), s.mailAddr, callTimeout, claimIdle)
	return os.WriteFile(filepath.Join(s.dir, "host-"+r.name+".yaml"), []byte(config), 0o600)
}

// startReplica starts r and waits until it is ready.
func (s *system) startReplica(r *replica) error {
	p := &rig.Proc{Name: filepath.Join(s.bin, "host"), Args: []string{"serve", "--config", filepath.Join(s.dir, "host-"+r.name+".yaml")},
		ReadyURL: r.url() + "/readyz", Output: s.logFile("host-" + r.name)}
	if err := p.Start(); err != nil {
		return err
	}
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	return nil
}

// killReplica ends r with SIGKILL, as a crash would.
func (s *system) killReplica(r *replica) {
	r.mu.Lock()
	p := r.proc
	r.mu.Unlock()
	_ = p.Kill()
}

// restart stops p gracefully, leaves it down for down, and starts it again.
func restart(p *rig.Proc, down time.Duration) error {
	p.Stop()
	time.Sleep(down) // the outage itself: a fault, not synchronisation
	return p.Start()
}

// setMailFaults sets the mail-service's injected faults.
func (s *system) setMailFaults(failRate, slowRate float64) error {
	body := fmt.Sprintf(`{"fail_rate": %g, "slow_rate": %g, "slow_ms": %d}`, failRate, slowRate, slowUpstream.Milliseconds())
	req, _ := http.NewRequest(http.MethodPut, "http://"+s.mailAddr+"/v1/_faults", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("mail-service faults: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mail-service faults: status %d", resp.StatusCode)
	}
	return nil
}

// stop ends everything that started.
func (s *system) stop() {
	for _, r := range s.replicas {
		if r != nil && r.proc != nil {
			r.proc.Stop()
		}
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	for _, p := range []*rig.Proc{s.mail, s.pg, s.redis} {
		if p != nil {
			p.Stop()
		}
	}
}

// rssSample is the resident memory of each replica at one moment.
type rssSample struct {
	at  time.Duration
	kib [2]int64 // 0 while the replica is down
}

// sampleRSS samples the replicas' resident memory every interval until ctx
// ends; the returned function stops and returns the samples.
func (s *system) sampleRSS(ctx context.Context, start time.Time, interval time.Duration) func() []rssSample {
	ctx, cancel := context.WithCancel(ctx)
	var samples []rssSample
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			sample := rssSample{at: time.Since(start)}
			for i, r := range s.replicas {
				sample.kib[i] = rssKiB(r.pid())
			}
			samples = append(samples, sample)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() []rssSample {
		cancel()
		<-done
		return samples
	}
}

// rssKiB is the resident memory of process pid, 0 when it cannot be read.
func rssKiB(pid int) int64 {
	if pid == 0 {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
