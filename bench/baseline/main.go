// Command baseline is the yardstick of the load scripts: a bare echo v4
// server that binds the same call envelope as the host and answers the same
// bytes, without running anything. The host's throughput is reported as a
// fraction of this one's, measured in the same run. With -mcp-addr it also
// serves a bare MCP server of the official Go SDK (stateless, JSON answers,
// as the host's /mcp is measured) whose one tool, mail-client__list_inbox,
// answers those bytes as its structured content and their summary as text.
//
//	baseline -addr 127.0.0.1:8090 -response body.json [-mcp-addr 127.0.0.1:8091]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// envelope is the host's call envelope (DESIGN §3).
type envelope struct {
	UserID   string          `json:"user_id"`
	TenantID string          `json:"tenant_id"`
	Function string          `json:"function"`
	Params   json.RawMessage `json:"params"`
	Email    string          `json:"email"`
	Role     string          `json:"role"`
	Scopes   []string        `json:"scopes"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	responseFile := flag.String("response", "", "file holding the bytes to answer (required)")
	mcpAddr := flag.String("mcp-addr", "", "listen address of the bare MCP server (none when empty)")
	flag.Parse()
	response, err := os.ReadFile(*responseFile)
	if err != nil {
		log.Fatalf("baseline: %v", err)
	}
	if *mcpAddr != "" {
		ln, err := net.Listen("tcp", *mcpAddr)
		if err != nil {
			log.Fatalf("baseline: %v", err)
		}
		server := &http.Server{Handler: mcpHandler(response)}
		go func() { log.Fatal(server.Serve(ln)) }()
		log.Printf("baseline MCP server listening on %s", ln.Addr())
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/v1/extensions/:app/call", func(c echo.Context) error {
		var env envelope
		if err := c.Bind(&env); err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, response)
	})
	// Listening before saying so lets a load script start on that line.
	if e.Listener, err = net.Listen("tcp", *addr); err != nil {
		log.Fatalf("baseline: %v", err)
	}
	log.Printf("baseline listening on %s", e.Listener.Addr())
	log.Fatal(e.Start(""))
}

// mcpHandler is a bare SDK server whose list_inbox tool answers response.
func mcpHandler(response []byte) http.Handler {
	var answer struct {
		Summary string `json:"summary"`
	}
	if err := json.Unmarshal(response, &answer); err != nil {
		log.Fatalf("baseline: response: %v", err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "baseline", Version: "1"}, nil)
	server.AddTool(&mcp.Tool{Name: "mail-client__list_inbox", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{
				Content:           []mcp.Content{&mcp.TextContent{Text: answer.Summary}},
				StructuredContent: json.RawMessage(response),
			}, nil
		})
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
}
