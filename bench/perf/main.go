// Command perf measures the host's cache hits beside the framework ceiling
// in one run, and checks them against the performance goals.
//
// It starts a private redis-server, the reference mail-service (in this
// process, so that it can count the requests it serves), the host twice
// (dev auth, default logging; one with the Redis backend, one with the
// memory backend) and the baseline: a bare echo v4 handler that binds the
// same call envelope and answers the host's response bytes. Then, for each
// round, wrk drives the same list_inbox call at the baseline and at both
// hosts, one after the other with the baseline again after each host, and
// perf prints requests/s, p50 and p99 and each host's ratio to the mean of
// the two baseline runs around it (the machine's speed drifts within
// seconds). Last, 100 concurrent cold
// calls for one entry go to each host: exactly one upstream request each.
// With -soak, wrk then drives the Redis host for that long while perf
// samples its resident memory.
//
//	perf [-bin bin] [-connections 64] [-duration 8s] [-rounds 3] [-soak 0] [-profile DIR]
//
// With -profile, each host is profiled (CPU, then allocations) under one
// more wrk run after the measured rounds, so that profiling does not weigh
// on the figures.
//
// Two workloads are measured so: the hot entry (one user, one call, as
// above), and a rotating one that no memo can serve: 10 000 users in turn,
// every entry warm (each host is warmed just before its run), each call
// spelled differently from the last (key order, white space, the folder
// given or defaulted), with wrk's two threads.
//
// A third workload is the hot entry as an MCP tools/call at each host's
// /mcp (stateless, JSON answers) beside a bare server of the official MCP
// Go SDK, in the baseline process, whose tool answers the same result.
//
// It exits 1 when a goal is missed: an MCP median ratio below -min-mcp
// (0.9), a median ratio below -min-redis or
// -min-memory (0.8, the hot entry) or -min-rotating (0.75), a median p99
// above -max-p99 (1.5) times the baseline's, any non-2xx answer or socket
// error, a stampede that reached the upstream more or less than once or
// failed a call, or resident memory that grew by more than -max-growth
// during the soak.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// options are the command's flags.
type options struct {
	bin         string
	connections int
	threads     int
	duration    time.Duration
	rpcDuration time.Duration
	rounds      int
	soak        time.Duration
	minRedis    float64
	minMemory   float64
	minRotating float64
	minMCP      float64
	maxP99      float64
	maxGrowth   float64
	profileDir  string
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "directory holding the host and baseline binaries")
	flag.IntVar(&o.connections, "connections", 64, "wrk connections")
	flag.IntVar(&o.threads, "threads", 1, "wrk threads")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "length of each wrk run")
	flag.DurationVar(&o.rpcDuration, "rpc-duration", 5*time.Second, "length of each Go load run of the Fast-RPC round")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of baseline, Redis host, memory host")
	flag.DurationVar(&o.soak, "soak", 0, "length of the memory soak on the Redis host (0: none)")
	flag.Float64Var(&o.minRedis, "min-redis", 0.8, "goal: Redis host / baseline on the hot entry, median of the rounds")
	flag.Float64Var(&o.minMemory, "min-memory", 0.8, "goal: memory host / baseline on the hot entry, median of the rounds")
	flag.Float64Var(&o.minRotating, "min-rotating", 0.75, "goal: each host / baseline on the rotating workload, median of the rounds")
	flag.Float64Var(&o.minMCP, "min-mcp", 0.9, "goal: each host's /mcp / the bare SDK server on the hot entry, median of the rounds")
	flag.Float64Var(&o.maxP99, "max-p99", 1.5, "goal: each host's p99 / the baseline's, median of the rounds")
	flag.StringVar(&o.profileDir, "profile", "", "after the rounds, profile each host under one more wrk run into this directory")
	flag.Float64Var(&o.maxGrowth, "max-growth", 0.1, "goal: resident memory growth over the soak after its first minute, as a fraction")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

// errGoal reports that the run finished but missed a goal.
var errGoal = errors.New("below the goal")

func run(o options) error {
	if o.rounds < 1 || o.connections < 1 || o.threads < 1 || o.duration <= 0 {
		return errors.New("-rounds, -connections, -threads and -duration must be positive")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (apt-get install wrk)")
	}
	dir, err := os.MkdirTemp("", "perf")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	s, err := startStage(o.bin, dir)
	if err != nil {
		return err
	}
	defer s.stop()
	fmt.Printf("list_inbox cache hits, %d connections, %d wrk thread(s), %s per run, %d round(s); response %d bytes; %s\n",
		o.connections, o.threads, o.duration, o.rounds, len(s.response), time.Now().UTC().Format(time.DateTime+" UTC"))

	script := filepath.Join(dir, "call.lua")
	if err := writeScript(script, s.body); err != nil {
		return err
	}
	rotating := func(round int) string { return filepath.Join(dir, "rotating-"+strconv.Itoa(round)+".lua") }
	for round := 1; round <= o.rounds; round++ {
		if err := writeRotatingScript(rotating(round), round); err != nil {
			return err
		}
	}
	mcpScript := filepath.Join(dir, "mcp.lua")
	if err := writeScript(mcpScript, mcpBody, mcpHeaders...); err != nil {
		return err
	}
	w := wrk{connections: o.connections, threads: o.threads}
	missed := false
	hosts := []target{{"redis", s.redis.url}, {"memory", s.memory.url}}
	fmt.Println("workload: the hot entry")
	hot, err := measureRounds(w, s.baselineURL, hosts, func(int) string { return script }, o, nil)
	if err != nil {
		return err
	}
	fmt.Printf("workload: %d users rotating, calls spelled %d ways, every entry warm, 2 wrk threads\n", rotatingUsers, len(rotatingBodies))
	rot, err := measureRounds(wrk{connections: o.connections, threads: 2}, s.baselineURL, hosts, rotating, o, s.warm)
	if err != nil {
		return err
	}
	fmt.Println("workload: the hot entry as an MCP tools/call (stateless, JSON), beside a bare MCP Go SDK server")
	mcpHosts := []target{{"redis", s.redis.mcpURL}, {"memory", s.memory.mcpURL}}
	overMCP, err := measureRounds(w, s.baselineMCP, mcpHosts, func(int) string { return mcpScript }, o, nil)
	if err != nil {
		return err
	}
	for _, g := range []struct {
		workload, target string
		results          rounds
		min              float64
	}{{"hot", "redis", hot, o.minRedis}, {"hot", "memory", hot, o.minMemory},
		{"rotating", "redis", rot, o.minRotating}, {"rotating", "memory", rot, o.minRotating}} {
		ratio, p99 := g.results.medianRatio(g.target), g.results.medianP99Ratio(g.target)
		verdict := "ok"
		if ratio < g.min || p99 > o.maxP99 {
			verdict, missed = "BELOW GOAL", true
		}
		fmt.Printf("%-8s %-7s host / baseline = %.2f (median of %d; goal >= %.2f), p99 %.2fx the baseline's (goal <= %.2f) %s\n",
			g.workload, g.target, ratio, o.rounds, g.min, p99, o.maxP99, verdict)
	}
	for _, backend := range []string{"redis", "memory"} {
		ratio, p99 := overMCP.medianRatio(backend), overMCP.medianP99Ratio(backend)
		verdict := "ok"
		if ratio < o.minMCP {
			verdict, missed = "BELOW GOAL", true
		}
		fmt.Printf("mcp      %-7s host / bare SDK = %.2f (median of %d; goal >= %.2f), p99 %.2fx the bare SDK's %s\n",
			backend, ratio, o.rounds, o.minMCP, p99, verdict)
	}
	if err := rpcRound(s, o.rpcDuration); err != nil {
		fmt.Println(err)
		missed = true
	}
	if n := hot.failures() + rot.failures() + overMCP.failures(); n > 0 {
		fmt.Printf("non-2xx answers or socket errors: %d\n", n)
		missed = true
	}

	if o.profileDir != "" {
		for _, h := range []*hostProc{s.redis, s.memory} {
			if err := profile(w, h, script, o.duration, filepath.Join(o.profileDir, "hot")); err != nil {
				return err
			}
			// The rotating workload's users of a round past the measured ones.
			if err := s.warm(h.url, o.rounds+1); err != nil {
				return err
			}
			if err := writeRotatingScript(rotating(o.rounds+1), o.rounds+1); err != nil {
				return err
			}
			if err := profile(wrk{connections: o.connections, threads: 2}, h, rotating(o.rounds+1), o.duration,
				filepath.Join(o.profileDir, "rotating")); err != nil {
				return err
			}
		}
		fmt.Printf("profiles of both hosts under both workloads in %s/hot and %s/rotating\n", o.profileDir, o.profileDir)
	}

	for _, h := range []*hostProc{s.redis, s.memory} {
		st := s.stampede(h.url, 100)
		verdict := "ok"
		if st.upstream != 1 || st.succeeded != st.calls {
			verdict, missed = "FAILED", true
		}
		fmt.Printf("stampede, %-6s: %d concurrent cold calls, %d succeeded, %d upstream request(s) %s\n",
			h.backend, st.calls, st.succeeded, st.upstream, verdict)
		if st.firstErr != nil {
			fmt.Printf("  first failure: %v\n", st.firstErr)
		}
	}

	if o.soak > 0 {
		sk, err := soak(w, s.redis, filepath.Join(dir, "soak.lua"), o.soak)
		if err != nil {
			return err
		}
		growth := sk.growth()
		verdict := "ok"
		if growth > o.maxGrowth || sk.run.failed > 0 {
			verdict, missed = "FAILED", true
		}
		fmt.Printf("soak, redis: %s, %d calls, %d failed, %.0f req/s; resident memory %s at 1 min, %s at the end, %s at most (growth %+.1f%%; goal <= %.0f%%) %s\n",
			o.soak, sk.run.requests, sk.run.failed, sk.run.rate, mib(sk.afterWarmUp), mib(sk.last), mib(sk.peak),
			100*growth, 100*o.maxGrowth, verdict)
	}
	if missed {
		return errGoal
	}
	return nil
}

func mib(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }
