package mcpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hosttest"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/runtime"
)

const app = "mail-client"

// modes are the endpoint's two ways of serving: the 2025-11-25 sessions
// with event streams, and the 2026-07-28 stateless requests with JSON.
var modes = []struct {
	name string
	opts hosttest.Options
}{
	{"sessions", hosttest.Options{}},
	{"stateless", hosttest.Options{MCPStateless: true, MCPJSONResponse: true}},
}

func newHost(t *testing.T, opts hosttest.Options) *hosttest.Host {
	opts.Extensions = []*runtime.Extension{mailclient.Extension()}
	opts.Upstreams = map[string]http.Handler{"mail-service": mailservice.New(mailservice.Options{})}
	opts.User = ctx.User{ImperalID: "demo", TenantID: "default"}
	return hosttest.New(t, opts)
}

func callTool(t *testing.T, s *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.CallTool(c, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	return res
}

// actionResult is the structured content of a tool result.
func actionResult(t *testing.T, res *mcp.CallToolResult) hosttest.Result {
	t.Helper()
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var out hosttest.Result
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("structured content %s: %v", raw, err)
	}
	out.JSON = raw
	return out
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// TestToolsList: one tool per function, with the catalog's description and
// input schema, hints from the action type, and an output schema for the
// functions that declare a result type.
func TestToolsList(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHost(t, mode.opts)
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			listed, err := h.MCP().ListTools(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			catalog := getCatalog(t, h.URL())
			if len(listed.Tools) != len(catalog) {
				t.Fatalf("%d tools, want one per function: %d", len(listed.Tools), len(catalog))
			}
			for _, tool := range listed.Tools {
				want, ok := catalog[tool.Name]
				switch {
				case !ok:
					t.Errorf("tool %s is no function of the catalog", tool.Name)
					continue
				case tool.Description != want.Description:
					t.Errorf("%s: description %q, want %q", tool.Name, tool.Description, want.Description)
				}
				input := tool.InputSchema.(map[string]any)
				props := input["properties"].(map[string]any)
				_, hasToken := props["confirmation_token"]
				if gated := want.ActionType == runtime.Destructive; hasToken != gated {
					t.Errorf("%s (%s): confirmation_token argument %v", tool.Name, want.ActionType, hasToken)
				}
				delete(props, "confirmation_token")
				if got, want := canonical(t, input), canonical(t, want.InputSchema); got != want {
					t.Errorf("%s: input schema\n%s\nwant the catalog's\n%s", tool.Name, got, want)
				}
				a := tool.Annotations
				destructive := a.DestructiveHint != nil && *a.DestructiveHint
				if a.ReadOnlyHint != (want.ActionType == runtime.Read) || destructive != (want.ActionType == runtime.Destructive) ||
					(want.ActionType == runtime.Write && a.DestructiveHint == nil) {
					t.Errorf("%s (%s): annotations %+v", tool.Name, want.ActionType, a)
				}
				if tool.OutputSchema == nil {
					t.Errorf("%s: no output schema, though every mail-client function declares its result", tool.Name)
				}
			}
		})
	}
}

type catalogTool struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	ActionType  runtime.ActionType `json:"action_type"`
	InputSchema json.RawMessage    `json:"input_schema"`
}

func getCatalog(t *testing.T, base string) map[string]catalogTool {
	t.Helper()
	resp, err := http.Get(base + "/v1/tools")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct{ Tools []catalogTool }
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	tools := map[string]catalogTool{}
	for _, tool := range c.Tools {
		tools[tool.Name] = tool
	}
	return tools
}

func canonical(t *testing.T, v any) string {
	t.Helper()
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(generic)
	return string(out)
}

// TestCallIsTheHTTPCall: a tools/call runs the pipeline of the HTTP API's
// calls: the same ActionResult byte for byte, the same cache (a miss over
// MCP is a hit over HTTP), the caller from the headers; the summary is the
// text.
func TestCallIsTheHTTPCall(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHost(t, mode.opts)
			session := h.MCP()
			args := map[string]any{"account_id": "work", "folder": "INBOX"}

			res := callTool(t, session, app+"__list_inbox", args)
			got := actionResult(t, res)
			if res.IsError || !got.OK() {
				t.Fatalf("list_inbox over MCP: %s %s", text(res), got.JSON)
			}
			if text(res) != got.Summary || got.Summary == "" {
				t.Errorf("text %q, want the summary %q", text(res), got.Summary)
			}
			traces := h.Traces()
			if last := traces[len(traces)-1]; last.CacheMisses != 1 || last.UserID != "demo" {
				t.Errorf("MCP call trace: %d misses, user %q; want 1 miss for demo", last.CacheMisses, last.UserID)
			}

			overHTTP := h.CallHTTP(app, "list_inbox", args)
			if overHTTP.Trace.CacheHits != 1 {
				t.Errorf("HTTP call after the MCP call: %d cache hits, want 1 (one cache for both)", overHTTP.Trace.CacheHits)
			}
			again := actionResult(t, callTool(t, session, app+"__list_inbox", args))
			if canonical(t, json.RawMessage(again.JSON)) != canonical(t, json.RawMessage(overHTTP.JSON)) {
				t.Errorf("MCP answer\n%s\nHTTP answer\n%s", again.JSON, overHTTP.JSON)
			}
		})
	}
}

// TestToolErrors: whatever goes wrong in a call that could be routed is a
// tool result with isError, its code in the text and the ActionResult; an
// unknown tool is a protocol error.
func TestToolErrors(t *testing.T) {
	h := newHost(t, hosttest.Options{MCPStateless: true, MCPJSONResponse: true})
	session := h.MCP()
	for _, tc := range []struct {
		name, tool string
		args       any
		code       string
	}{
		{"wrong type", "list_inbox", map[string]any{"account_id": 3}, runtime.CodeValidationTypeError},
		{"missing field", "connect_account", map[string]any{}, runtime.CodeValidationMissingField},
		{"arguments not an object", "list_inbox", []any{1}, runtime.CodeValidationTypeError},
		{"function's own error", "read_email", map[string]any{"message_id": "no-such-message"}, ""},
		{"held for confirmation", "purge_trash", map[string]any{"account_id": "work"}, runtime.CodeConfirmationRequired},
		{"token not a string", "purge_trash", map[string]any{"account_id": "work", "confirmation_token": 5}, runtime.CodeValidationTypeError},
		{"bad confirmation token", "purge_trash", map[string]any{"account_id": "work", "confirmation_token": "forged"}, runtime.CodeConfirmationInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := callTool(t, session, app+"__"+tc.tool, tc.args)
			got := actionResult(t, res)
			if !res.IsError || got.OK() {
				t.Fatalf("isError %v, status %s: %s", res.IsError, got.Status, got.JSON)
			}
			if tc.code != "" && got.ErrorCode != tc.code {
				t.Errorf("error_code %s, want %s (%s)", got.ErrorCode, tc.code, got.Error)
			}
			if !strings.HasPrefix(text(res), got.ErrorCode+": "+got.Error) {
				t.Errorf("text %q does not start with the code and the error", text(res))
			}
		})
	}

	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := session.CallTool(c, &mcp.CallToolParams{Name: app + "__no_such_function"}); err == nil {
		t.Error("an unknown tool answered a result, want a protocol error")
	}
}

// TestConfirmation: a destructive tool answers CONFIRMATION_REQUIRED with
// the token in its text and structured content; the same call with the
// token as its confirmation_token argument runs, once.
func TestConfirmation(t *testing.T) {
	h := newHost(t, hosttest.Options{})
	session := h.MCP()
	args := map[string]any{"account_id": "work"}
	held := callTool(t, session, app+"__purge_trash", args)
	confirmation, ok := actionResult(t, held).Confirmation()
	if !ok || !held.IsError {
		t.Fatalf("purge_trash: %s", text(held))
	}
	if !strings.Contains(text(held), confirmation.Token) {
		t.Errorf("text %q does not give the token", text(held))
	}
	confirmed := map[string]any{"confirmation_token": confirmation.Token, "account_id": "work"}
	if res := callTool(t, session, app+"__purge_trash", confirmed); res.IsError {
		t.Fatalf("confirmed purge_trash: %s", text(res))
	}
	if res := actionResult(t, callTool(t, session, app+"__purge_trash", confirmed)); res.ErrorCode != runtime.CodeConfirmationInvalid {
		t.Errorf("a token used twice: %s, want %s", res.ErrorCode, runtime.CodeConfirmationInvalid)
	}
}

// TestIdentity: in dev mode an MCP request without X-User-ID is refused;
// with call tokens, tools/call needs a token of the tool's app, whose user
// is the caller.
func TestIdentity(t *testing.T) {
	t.Run("dev mode without X-User-ID", func(t *testing.T) {
		h := newHost(t, hosttest.Options{MCPStateless: true, MCPJSONResponse: true})
		status, body := post(t, h.URL()+"/mcp", nil, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		if status != http.StatusBadRequest || !strings.Contains(body, "X-User-ID") {
			t.Errorf("%d %s, want 400 naming the header", status, body)
		}
	})
	t.Run("call tokens", func(t *testing.T) {
		h := newHost(t, hosttest.Options{CallTokens: true})
		args := map[string]any{"account_id": "work", "folder": "INBOX"}
		if res := callTool(t, h.MCP(), app+"__list_inbox", args); res.IsError {
			t.Fatalf("with a token: %s", text(res))
		}
		for _, tc := range []struct {
			name, token, code string
		}{
			{"no token", "", runtime.CodeUnauthenticated},
			{"forged token", "not.a-token", runtime.CodeUnauthenticated},
			{"token of another app", h.Token("other-app", "demo", time.Minute), runtime.CodePermissionDenied},
		} {
			t.Run(tc.name, func(t *testing.T) {
				opts := []hosttest.CallOption{hosttest.WithToken(tc.token)}
				if tc.token == "" {
					opts = []hosttest.CallOption{hosttest.WithToken("")}
				}
				res := callTool(t, h.MCP(opts...), app+"__list_inbox", args)
				if got := actionResult(t, res); !res.IsError || got.ErrorCode != tc.code {
					t.Errorf("%s: isError %v, %s; want %s", tc.name, res.IsError, got.JSON, tc.code)
				}
			})
		}
	})
}

func post(t *testing.T, url string, header http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(bytes.TrimSpace(got))
}
