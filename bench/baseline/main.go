// Command baseline is the yardstick of the load scripts: a bare echo v4
// server that binds the same call envelope as the host and answers the same
// bytes, without running anything. The host's throughput is reported as a
// fraction of this one's, measured in the same run.
//
//	baseline -addr 127.0.0.1:8090 -response body.json
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"
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
	flag.Parse()
	response, err := os.ReadFile(*responseFile)
	if err != nil {
		log.Fatalf("baseline: %v", err)
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
