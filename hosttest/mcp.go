package hosttest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/buger/jsonparser"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/imperalcloud/exthost/internal/mcpserver"
)

// MCP connects the official MCP Go SDK's client to the host's /mcp
// endpoint as the user the options name (the host's user by default), and
// closes the session when the test ends. In dev mode every request says
// the user in the X-User-ID and X-Tenant-ID headers; on a host with
// Options.CallTokens every tools/call carries a fresh call token for the
// tool's app, as an orchestrator would send it, unless WithToken gives one.
func (h *Host) MCP(opts ...CallOption) *mcp.ClientSession {
	h.t.Helper()
	s := h.settings(opts)
	client := mcp.NewClient(&mcp.Implementation{Name: "hosttest", Version: "1"}, nil)
	endpoint := h.URL() + "/mcp"
	transport := &mcp.StreamableClientTransport{
		Endpoint: endpoint,
		HTTPClient: &http.Client{Transport: &identityTransport{
			h: h, settings: s, next: h.server.Client().Transport,
		}},
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	session, err := client.Connect(c, transport, nil)
	if err != nil {
		h.t.Fatalf("hosttest: MCP connect: %v", err)
	}
	h.t.Cleanup(func() { _ = session.Close() })
	return session
}

// identityTransport adds the caller's identity to each MCP HTTP request.
type identityTransport struct {
	h        *Host
	settings callSettings
	next     http.RoundTripper
}

func (t *identityTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(mcpserver.HeaderUserID, t.settings.user.ImperalID)
	req.Header.Set(mcpserver.HeaderTenantID, t.settings.user.TenantID)
	if t.settings.requestID != "" {
		req.Header.Set("X-Request-ID", t.settings.requestID)
	}
	switch {
	case t.settings.token != nil && *t.settings.token != "":
		req.Header.Set("Authorization", "ImperalCallToken "+*t.settings.token)
	case t.settings.token == nil && t.h.secret != "" && req.Body != nil:
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		if method, _ := jsonparser.GetString(body, "method"); method == "tools/call" {
			name, _ := jsonparser.GetString(body, "params", "name")
			app, _, _ := strings.Cut(name, "__")
			req.Header.Set("Authorization", "ImperalCallToken "+t.h.Token(app, t.settings.user.ImperalID, time.Minute))
		}
	}
	return t.next.RoundTrip(req)
}
