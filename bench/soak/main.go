// Command soak is the whole-system proof: realistic conversations under
// load and faults, through every transport, with nothing lost.
//
// It starts, on loopback, a private redis-server (append-only, so that a
// restart keeps the stream and the records), a private PostgreSQL, the
// reference mail-service and two host replicas sharing them (Redis cache
// with its L1, the PostgreSQL store, the Fast-RPC worker, stateless MCP,
// dev auth). Then users — each a random walk over the mail client's
// functions with a chat's weights: mostly reads, some writes, the rare
// destructive call with its confirmation, the odd background task — call
// through the HTTP API, MCP and the Fast-RPC stream, a user's calls one
// after another, while faults are injected on a script: Redis restarted,
// PostgreSQL restarted, the mail-service answering 5 % 5xx and 1 % past
// the call timeout, one replica killed with SIGKILL and restarted, and the
// other killed while it runs stream calls.
//
// A call that fails with a retryable answer, or whose replica went away,
// is retried as a chat's orchestrator would: with the same request id (the
// same corr_id on the stream), on the other replica. At the end the
// invariants are checked against the mail-service's and the store's own
// records (see invariants.go), the figures are printed as a Markdown table,
// and the program exits 1 when an invariant fails.
//
//	soak -bin bin [-duration 10m] [-users 1000] [-sessions 48] [-max-calls 2000000]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
)

// options are the command's flags.
type options struct {
	bin       string
	duration  time.Duration
	users     int
	sessions  int
	maxCalls  int64
	seed      uint64
	keep      bool
	faultless bool
	sticky    bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin", "directory of the host and mailservice binaries")
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "length of the load, faults spread over it")
	flag.IntVar(&o.users, "users", 1000, "users, each a conversation")
	flag.IntVar(&o.sessions, "sessions", 48, "users in a conversation at once")
	flag.Int64Var(&o.maxCalls, "max-calls", 2_000_000, "bound on the calls made")
	flag.Uint64Var(&o.seed, "seed", 0, "seed of the walks (0: from the clock)")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (logs, configs)")
	flag.BoolVar(&o.faultless, "no-faults", false, "run the load without injecting faults")
	flag.BoolVar(&o.sticky, "sticky", false, "send each user's HTTP and MCP calls to one replica while it is up")
	flag.Parse()
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	// The load's own Redis client retries through the restart: its dial
	// errors are the fault, not news.
	redis.SetLogger(quiet{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// quiet is a go-redis logger that says nothing.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// run sets the system up, plays the load and the faults, checks the
// invariants and prints the figures; ok is false when an invariant failed.
func run(ctx context.Context, o options) (ok bool, err error) {
	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		return false, err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // PostgreSQL's user reaches its cluster inside
		return false, err
	}
	if o.keep {
		fmt.Println("working directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	sys, err := startSystem(o.bin, dir)
	if err != nil {
		return false, err
	}
	defer sys.stop()
	fmt.Printf("soak: %d users, %d at once, %s, seed %d; redis %s, postgres %s, mail-service %s, replicas %s %s\n",
		o.users, o.sessions, o.duration, o.seed, sys.redisAddr, sys.pgAddr, sys.mailAddr, sys.replicas[0].addr, sys.replicas[1].addr)

	rec := newRecorder()
	load := newLoad(sys, rec, o)
	script := faultScript(o.duration)
	if o.faultless {
		script = nil
	}
	load.script = script
	rss := sys.sampleRSS(ctx, rec.start, 2*time.Second)

	loadCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		load.run(loadCtx)
	}()
	faultErr := playFaults(loadCtx, sys, rec, script)
	<-done
	samples := rss()
	if faultErr != nil {
		return false, faultErr
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	fmt.Printf("soak: load ended after %s, %d calls; checking the invariants\n", time.Since(rec.start).Round(time.Second), rec.calls())

	violations, err := checkInvariants(context.Background(), sys, load)
	if err != nil {
		return false, err
	}
	report(os.Stdout, o, rec, script, samples, violations)
	if o.keep {
		if err := rec.dump(filepath.Join(dir, "failures.tsv"), violations, filepath.Join(dir, "violations.txt")); err != nil {
			return false, err
		}
	}
	return len(violations) == 0, nil
}
