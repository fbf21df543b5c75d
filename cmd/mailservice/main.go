// Command mailservice serves the reference mail-service (see
// internal/mailservice for its endpoints and answers) for the dev loop and
// test harnesses:
//
//	mailservice [-addr 127.0.0.1:8081] [-latency 0s] [-fail-rate 0] [-fail-status 503] [-slow-rate 0] [-slow 0s] [-page-size 25]
//
// -fail-rate, -slow-rate and -slow are the faults injected from the start:
// a request fails with -fail-status at -fail-rate, or first waits -slow
// (at most 10m) at -slow-rate. PUT /v1/_faults changes them while it runs.
//
// Besides the endpoints a mail client uses (inbox with cursors, accounts,
// folders, counts, message details, send, reply, batches), it takes the
// control endpoints, which are spared the latency and the faults: POST
// /v1/_deliver to make mail arrive during a session, PUT (and GET)
// /v1/_faults to switch faults on for a window of a load test and off
// again, and GET /v1/_sent to read every message sent or replied, for
// example:
//
//	curl -d '{"user_id":"demo","account_id":"work","messages":[{"from":"Ada <ada@analytical.example>","subject":"Hi"}]}' localhost:8081/v1/_deliver
//	curl -X PUT -d '{"fail_rate":0.05,"slow_rate":0.01,"slow_ms":3000}' localhost:8081/v1/_faults
//	curl -X PUT -d '{}' localhost:8081/v1/_faults
//	curl localhost:8081/v1/_sent
//
// With MAILSERVICE_TOKEN set, every request needs Authorization: Bearer
// <token>.
//
// It logs "mail-service listening on ADDR" once it accepts connections
// (with -addr 127.0.0.1:0, ADDR is the port the system chose), and stops
// gracefully on SIGINT or SIGTERM, exiting 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/imperalcloud/exthost/internal/mailservice"
)

// shutdownTimeout bounds how long in-flight requests may finish after a
// signal.
const shutdownTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mailservice:", err)
		os.Exit(2)
	}
}

// run serves until ctx ends, then shuts the server down.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mailservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	var opts mailservice.Options
	fs.DurationVar(&opts.Latency, "latency", 0, "delay before every request is handled")
	fs.Float64Var(&opts.FailRate, "fail-rate", 0, "probability, 0 to 1, that a request fails with -fail-status")
	fs.IntVar(&opts.FailStatus, "fail-status", http.StatusServiceUnavailable, "HTTP status of injected failures, 400 to 599")
	fs.Float64Var(&opts.SlowRate, "slow-rate", 0, "probability, 0 to 1, that a request waits -slow before it is handled")
	fs.DurationVar(&opts.Slow, "slow", 0, "how long a request slowed by -slow-rate waits, at most "+mailservice.MaxSlow.String())
	fs.IntVar(&opts.PageSize, "page-size", 25, "messages per inbox page when the request gives no limit")
	// The token comes from the environment, never a flag: flags show in ps.
	opts.Token = os.Getenv("MAILSERVICE_TOKEN")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case opts.Latency < 0:
		return errors.New("-latency must not be negative")
	case !(opts.FailRate >= 0 && opts.FailRate <= 1):
		return errors.New("-fail-rate must be between 0 and 1")
	case opts.FailStatus < 400 || opts.FailStatus > 599:
		return errors.New("-fail-status must be between 400 and 599")
	case !(opts.SlowRate >= 0 && opts.SlowRate <= 1):
		return errors.New("-slow-rate must be between 0 and 1")
	case opts.Slow < 0 || opts.Slow > mailservice.MaxSlow:
		return fmt.Errorf("-slow must be between 0s and %s", mailservice.MaxSlow)
	case opts.PageSize < 1:
		return errors.New("-page-size must be at least 1")
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Requests see a context that ends at shutdown, so one waiting out a
	// long -latency does not hold the shutdown up.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           mailservice.New(opts),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          log.New(stderr, "mail-service: ", log.LstdFlags),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.New(stderr, "", log.LstdFlags).Printf("mail-service listening on %s", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	cancelBase()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
