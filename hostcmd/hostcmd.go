// Package hostcmd is the extension runtime host's command line, for host
// binaries to call, as a Caddy binary calls caddycmd.Main. A host binary is
// a main package of blank imports, one per extension, and one call:
//
//	package main
//
//	import (
//		_ "github.com/imperalcloud/exthost/extensions/mailclient"
//		_ "example.com/notes/notes" // a team's own extension module
//
//		"github.com/imperalcloud/exthost/hostcmd"
//	)
//
//	func main() { hostcmd.Main() }
//
// The commands serve the extensions the binary registered (package
// registry):
//
//	host serve [--config FILE]                      serve the HTTP API until SIGINT/SIGTERM, then drain
//	host call APP FUNCTION --user ID [--params JSON] [--tenant T] [--yes] [--config FILE]
//	                                                run one call in-process and print its ActionResult
//	host manifest APP                               print an extension's imperal.json
//	host tools [--format openai]                    print the tool catalog
//	host version                                    print the versions: the binary's, the host module's, each extension's
//
// Without --config the embedded defaults apply: the dev server (memory
// cache, dev auth, 127.0.0.1:8080, mail-service at 127.0.0.1:8081).
// EXTHOST_* environment variables override both; see the README.
package hostcmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/catalog"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/internal/tasks"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

// version is the binary's version: set at build time with -ldflags
// "-X github.com/imperalcloud/exthost/hostcmd.version=...", else the main
// module's version from the build information.
var version = ""

// modulePath is this module's path, to find its version in a binary built
// by another module.
const modulePath = "github.com/imperalcloud/exthost"

// versions returns the binary's version and the host module's: the same
// for this repository's binary, the team's and this module's for a team's.
func versions() (binary, module string) {
	binary, module = version, ""
	info, ok := debug.ReadBuildInfo()
	if ok {
		if binary == "" {
			binary = info.Main.Version
		}
		if info.Main.Path == modulePath {
			module = binary
		}
		for _, dep := range info.Deps {
			if dep.Path == modulePath {
				module = dep.Version
				if dep.Replace != nil { // a checkout, as go.mod's replace names it
					module += " => " + dep.Replace.Path
				}
			}
		}
	}
	if binary == "" || binary == "(devel)" {
		binary = "dev"
	}
	if module == "" || module == "(devel)" {
		module = binary
	}
	return binary, module
}

func hostVersion() string {
	binary, _ := versions()
	return binary
}

const usage = `usage:
  host serve [--config FILE]
  host call APP FUNCTION --user ID [--params JSON] [--tenant T] [--yes] [--config FILE]
  host manifest APP
  host tools [--format openai]
  host version`

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// Main runs the command line of os.Args with the extensions registered in
// the binary, until the command ends or SIGINT or SIGTERM stops it, and
// exits: 0 on success, 1 when `host call` printed an error result, 2 on any
// other failure.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Environ())
	stop()
	if err != nil {
		code := 2
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if ee == nil || ee.err != errFailedCall {
			fmt.Fprintln(os.Stderr, "host:", err)
		}
		os.Exit(code)
	}
}

// errFailedCall makes `host call` exit 1 when the call's result is an error,
// after printing it.
var errFailedCall = errors.New("the call failed")

// Run runs one command, args without the program name, writing its output
// to out, with environ for the EXTHOST_* overrides. It returns when the
// command is done or, for serve, when ctx ends and the host has drained.
func Run(ctx context.Context, args []string, out io.Writer, environ []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, args, environ)
	case "call":
		return call(ctx, args, out, environ)
	case "manifest":
		if len(args) != 1 {
			return errors.New("usage: host manifest APP")
		}
		ext, ok := registry.Lookup(args[0])
		if !ok {
			return fmt.Errorf("no extension %q", args[0])
		}
		return printJSON(out, catalog.NewManifest(ext))
	case "tools":
		fs := flag.NewFlagSet("tools", flag.ContinueOnError)
		format := fs.String("format", "", `catalog format: "" or "openai"`)
		if err := fs.Parse(args); err != nil {
			return err
		}
		tools := catalog.NewCatalog(registry.List())
		switch *format {
		case "":
			return printJSON(out, tools)
		case "openai":
			return printJSON(out, tools.OpenAITools())
		}
		return fmt.Errorf("unknown format %q", *format)
	case "version":
		binary, module := versions()
		if _, err := fmt.Fprintf(out, "host %s (exthost %s, sdk contract %s)\n", binary, module, catalog.SDKContractVersion); err != nil {
			return err
		}
		for _, ext := range registry.List() {
			if _, err := fmt.Fprintf(out, "  %s %s\n", ext.AppID(), ext.Info().Version); err != nil {
				return err
			}
		}
		return nil
	case "help", "-h", "--help":
		_, err := fmt.Fprintln(out, usage)
		return err
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func serve(ctx context.Context, args []string, environ []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML configuration file (default: the embedded dev defaults)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, cfg, err := newHost(*configPath, environ)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(environ, func(kv string) bool { return strings.HasPrefix(kv, "GOGC=") }) {
		debug.SetGCPercent(cfg.Limits.GCPercent) // the process's: only serve sets it
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		h.Close()
		return fmt.Errorf("listen: %w", err)
	}
	return h.Run(ctx, l)
}

func call(parent context.Context, args []string, out io.Writer, environ []string) error {
	if len(args) < 2 {
		return errors.New("usage: host call APP FUNCTION --user ID [--params JSON] [--tenant T] [--yes] [--config FILE]")
	}
	app, function := args[0], args[1]
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	user := fs.String("user", "", "the caller's user id (required)")
	tenant := fs.String("tenant", "default", "the caller's tenant id")
	params := fs.String("params", "{}", "the parameters, a JSON object")
	configPath := fs.String("config", "", "YAML configuration file (default: the embedded dev defaults)")
	yes := fs.Bool("yes", false, "confirm a call that requires confirmation: whoever runs it is the user confirming")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("call: --user is required")
	}
	if !json.Valid([]byte(*params)) {
		return errors.New("call: --params is not valid JSON")
	}
	h, _, err := newHost(*configPath, environ)
	if err != nil {
		return err
	}
	defer h.Close()
	req := dispatch.Request{
		AppID: app, Function: function, Params: json.RawMessage(*params),
		User: ctx.User{ImperalID: *user, TenantID: *tenant},
	}
	body, res, _ := h.Dispatcher().Call(parent, req, nil)
	if held, ok := res.Data.(dispatch.ConfirmationData); ok && *yes {
		req.ConfirmationToken = held.Confirmation.Token
		body, res, _ = h.Dispatcher().Call(parent, req, nil)
	}
	if _, err := fmt.Fprintf(out, "%s\n", body); err != nil {
		return err
	}
	if started, ok := res.Data.(runtime.TaskStarted); ok && res.OK() {
		// The process is the task's host: wait for the task's result,
		// which is the call's outcome.
		if body, res, err = waitTask(parent, h, started.TaskID); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "%s\n", body); err != nil {
			return err
		}
	}
	if !res.OK() {
		return &exitError{code: 1, err: errFailedCall}
	}
	return nil
}

// waitTask waits for task id to end and returns its result.
func waitTask(parent context.Context, h *host.Host, id string) ([]byte, runtime.Result, error) {
	select {
	case <-h.Dispatcher().Tasks().Done(id):
	case <-parent.Done():
		return nil, runtime.Result{}, fmt.Errorf("call: stopped while task %s ran", id)
	}
	rec, ok, err := h.Dispatcher().Tasks().Get(parent, id)
	if err != nil || !ok {
		return nil, runtime.Result{}, fmt.Errorf("call: task %s: record not found (%v)", id, err)
	}
	var res runtime.Result
	if rec.Status == tasks.Success {
		res.Status = runtime.StatusSuccess
	} else {
		res.Status = runtime.StatusError
	}
	return rec.Result, res, nil
}

// newHost loads the configuration and assembles a host of the compiled-in
// extensions.
func newHost(configPath string, environ []string) (*host.Host, config.Config, error) {
	cfg, err := config.Load(configPath, environ)
	if err != nil {
		return nil, cfg, err
	}
	log, err := host.NewLogger(cfg.Log)
	if err != nil {
		return nil, cfg, err
	}
	redis.SetLogger(redisLogger{log.Named("redis")})
	h, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: log, Version: hostVersion(), Environ: environ})
	return h, cfg, err
}

// redisLogger sends go-redis's own messages (each failed dial during an
// outage, say) to the debug level: the cache reports outages once per
// incident itself.
type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
