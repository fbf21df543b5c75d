// Command host is the extension runtime host. This build offers the
// declaration views of the compiled-in extensions; the HTTP server arrives
// with `host serve`.
//
//	host version
//	host manifest APP
//	host tools [--format openai]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	_ "github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "host:", err)
		os.Exit(2)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: host version | manifest APP | tools [--format openai]")
	}
	switch args[0] {
	case "version":
		_, err := fmt.Fprintf(out, "host %s (sdk contract %s)\n", version, runtime.SDKContractVersion)
		return err
	case "manifest":
		if len(args) != 2 {
			return errors.New("usage: host manifest APP")
		}
		ext, ok := registry.Lookup(args[1])
		if !ok {
			return fmt.Errorf("no extension %q", args[1])
		}
		return printJSON(out, runtime.NewManifest(ext))
	case "tools":
		fs := flag.NewFlagSet("tools", flag.ContinueOnError)
		format := fs.String("format", "", `catalog format: "" or "openai"`)
		if err := fs.Parse(args[1:]); err != nil {
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
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
