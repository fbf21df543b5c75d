// Package mcpserver serves the host's functions as MCP tools over
// Streamable HTTP (DESIGN §14). The official Go SDK speaks the protocol;
// every tools/call runs through the host's own call pipeline, the one the
// HTTP API's calls take: one pipeline, two transports.
//
// The split of errors is the protocol's: a call that ran and failed, bad
// arguments, a refused identity or a held confirmation is a tool result
// with isError; only a call that cannot be routed (an unknown tool, a
// malformed request) is a JSON-RPC error, which the SDK answers itself.
package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/buger/jsonparser"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/imperalcloud/exthost/internal/catalog"
	"github.com/imperalcloud/exthost/runtime"
)

// The headers that name the caller in dev mode (DESIGN §14).
const (
	HeaderUserID   = "X-User-ID"
	HeaderTenantID = "X-Tenant-ID"
)

// Call is one tools/call, for the host's pipeline.
type Call struct {
	AppID, Function   string
	Params            json.RawMessage
	ConfirmationToken string
	// Header holds the headers of the MCP HTTP request: the caller
	// (HeaderUserID and HeaderTenantID, or Authorization) and its
	// X-Request-ID.
	Header http.Header
}

// Pipeline runs a call as the host runs every call, admission and
// identity included, and returns its ActionResult, encoded and as a value.
type Pipeline func(ctx context.Context, call Call) (answer []byte, res runtime.Result)

// Options configures New.
type Options struct {
	// Extensions are served, one tool per function.
	Extensions []*runtime.Extension
	// Run runs each call.
	Run Pipeline
	// RequireUserHeader refuses an MCP HTTP request without HeaderUserID
	// (dev mode, where that header is the caller).
	RequireUserHeader bool
	// Stateless serves each HTTP request on its own, with no session.
	Stateless bool
	// JSONResponse answers with application/json instead of an event stream.
	JSONResponse bool
	// SessionTimeout closes idle sessions; zero keeps them.
	SessionTimeout time.Duration
	// MaxBodyBytes bounds a request's body.
	MaxBodyBytes int64
	// Version is the host's, for the initialize answer.
	Version string
	Logger  *zap.Logger
}

// Endpoint is the MCP endpoint, an http.Handler.
type Endpoint struct {
	http.Handler
	server *mcp.Server
}

// CloseSessions ends every open session, and with them their event
// streams, which would otherwise hold a draining server's connections
// open to its drain timeout. A client opens a new session when it next
// calls.
func (e *Endpoint) CloseSessions() {
	for session := range e.server.Sessions() {
		_ = session.Close()
	}
}

// New returns the MCP endpoint.
func New(opts Options) (*Endpoint, error) {
	if opts.Run == nil {
		return nil, errors.New("mcpserver: no pipeline")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	tools, err := catalog.MCPTools(opts.Extensions)
	if err != nil {
		return nil, fmt.Errorf("mcpserver: %w", err)
	}
	logger := slog.New(atMostWarn{zapslog.NewHandler(opts.Logger.Named("mcp").Core())})
	srv := mcp.NewServer(&mcp.Implementation{Name: "exthost", Version: opts.Version}, &mcp.ServerOptions{
		Logger: logger,
	})
	for _, t := range tools {
		tool := &mcp.Tool{
			Name:        t.Name,
			Description: t.Description,
			InputSchema: t.InputSchema,
			Annotations: &mcp.ToolAnnotations{
				ReadOnlyHint: t.Annotations.ReadOnlyHint, DestructiveHint: t.Annotations.DestructiveHint,
				IdempotentHint: t.Annotations.IdempotentHint,
			},
		}
		if t.OutputSchema != nil {
			tool.OutputSchema = t.OutputSchema
		}
		srv.AddTool(tool, handler(t, opts.Run))
	}
	h := http.Handler(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:           opts.Stateless,
		JSONResponse:        opts.JSONResponse,
		SessionTimeout:      opts.SessionTimeout,
		MaxRequestBodyBytes: opts.MaxBodyBytes,
		Logger:              logger,
		// A call ends with the request that carries it: nobody is left to
		// read its answer.
		PropagateRequestCancellation: true,
	}))
	if opts.RequireUserHeader {
		h = requireUser(h)
	}
	return &Endpoint{Handler: h, server: srv}, nil
}

// handler runs the tool t's calls.
func handler(t catalog.MCPTool, run Pipeline) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		call := Call{AppID: t.AppID, Function: t.Function}
		if req.Extra != nil {
			call.Header = req.Extra.Header
		}
		var ok bool
		call.Params, call.ConfirmationToken, ok = catalog.SplitConfirmation(req.Params.Arguments, t.Confirmed)
		if !ok {
			res := runtime.Fail(catalog.ConfirmationTokenArgument + " must be a string.").WithCode(runtime.CodeValidationTypeError)
			answer, _ := res.AppendJSON(nil)
			return toolResult(t, answer, res), nil
		}
		answer, res := run(ctx, call)
		return toolResult(t, answer, res), nil
	}
}

// toolResult is a call's answer as an MCP tool result: the ActionResult as
// structured content, and as text its summary, or for an error its code
// and message (and, for a held call, how to confirm it).
func toolResult(t catalog.MCPTool, answer []byte, res runtime.Result) *mcp.CallToolResult {
	var text string
	switch {
	case res.OK() && res.Summary != "":
		text = res.Summary
	case res.OK():
		text = string(answer)
	default:
		text = res.ErrorCode + ": " + res.Error
		if res.Summary != "" {
			text += " " + res.Summary
		}
		if res.ErrorCode == runtime.CodeConfirmationRequired {
			token, _ := jsonparser.GetString(answer, "data", "confirmation", "token")
			text += fmt.Sprintf(" Once the user agrees, call %s again with the same arguments and %q: %q.",
				t.Name, catalog.ConfirmationTokenArgument, token)
		}
		if res.Retryable {
			text += " Retrying later may succeed."
		}
	}
	return &mcp.CallToolResult{
		Content:           []mcp.Content{&mcp.TextContent{Text: text}},
		StructuredContent: json.RawMessage(answer),
		IsError:           !res.OK(),
	}
}

// requireUser refuses a request that does not say who calls.
func requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimSpace(r.Header.Get(HeaderUserID)) == "" {
			refuse(w, http.StatusBadRequest, "The "+HeaderUserID+" header is required: in dev mode it names the caller.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers an HTTP request the endpoint will not read, as a JSON-RPC
// error with no id (its message was not read).
func refuse(w http.ResponseWriter, status int, message string) {
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": nil,
		"error": map[string]any{"code": -32600, "message": message},
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// atMostWarn logs the SDK's records at warn level at most: the SDK logs a
// client's malformed or outdated request at error level, with a stack
// trace, and a client's mistake is no error of the host's.
type atMostWarn struct{ slog.Handler }

func (h atMostWarn) Handle(c context.Context, r slog.Record) error {
	r.Level = min(r.Level, slog.LevelWarn)
	return h.Handler.Handle(c, r)
}

func (h atMostWarn) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atMostWarn{h.Handler.WithAttrs(attrs)}
}

func (h atMostWarn) WithGroup(name string) slog.Handler { return atMostWarn{h.Handler.WithGroup(name)} }
