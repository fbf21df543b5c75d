// Command host is the extension runtime host.
//
//	host serve [--config FILE]                      serve the HTTP API until SIGINT/SIGTERM, then drain
//	host call APP FUNCTION --user ID [--params JSON] [--tenant T] [--config FILE]
//	                                                run one call in-process and print its ActionResult
//	host manifest APP                               print an extension's imperal.json
//	host tools [--format openai]                    print the tool catalog
//	host version                                    print the version
//
// Without --config the embedded defaults apply: the dev server (memory
// cache, dev auth, 127.0.0.1:8080, mail-service at 127.0.0.1:8081).
// EXTHOST_* environment variables override both; see the README.
//
// The compiled-in extensions are wired below, by blank import.
package main

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
	"syscall"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/ctx"
	_ "github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage:
  host serve [--config FILE]
  host call APP FUNCTION --user ID [--params JSON] [--tenant T] [--config FILE]
  host manifest APP
  host tools [--format openai]
  host version`

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Environ())
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

func run(ctx context.Context, args []string, out io.Writer, environ []string) error {
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
		return printJSON(out, runtime.NewManifest(ext))
	case "tools":
		fs := flag.NewFlagSet("tools", flag.ContinueOnError)
		format := fs.String("format", "", `catalog format: "" or "openai"`)
		if err := fs.Parse(args); err != nil {
			return err
		}
		catalog := runtime.NewCatalog(registry.List())
		switch *format {
		case "":
			return printJSON(out, catalog)
		case "openai":
			return printJSON(out, catalog.OpenAITools())
		}
		return fmt.Errorf("unknown format %q", *format)
	case "version":
		_, err := fmt.Fprintf(out, "host %s (sdk contract %s)\n", version, runtime.SDKContractVersion)
		return err
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
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		h.Close()
		return fmt.Errorf("listen: %w", err)
	}
	return h.Run(ctx, l)
}

func call(parent context.Context, args []string, out io.Writer, environ []string) error {
	if len(args) < 2 {
		return errors.New("usage: host call APP FUNCTION --user ID [--params JSON] [--tenant T] [--config FILE]")
	}
	app, function := args[0], args[1]
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	user := fs.String("user", "", "the caller's user id (required)")
	tenant := fs.String("tenant", "default", "the caller's tenant id")
	params := fs.String("params", "{}", "the parameters, a JSON object")
	configPath := fs.String("config", "", "YAML configuration file (default: the embedded dev defaults)")
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
	res, _ := h.Dispatcher().Call(parent, runtime.Request{
		AppID: app, Function: function, Params: json.RawMessage(*params),
		User: ctx.User{ImperalID: *user, TenantID: *tenant},
	})
	body, err := res.MarshalJSON()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "%s\n", body); err != nil {
		return err
	}
	if !res.OK() {
		return &exitError{code: 1, err: errFailedCall}
	}
	return nil
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
	h, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: log, Version: version})
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
