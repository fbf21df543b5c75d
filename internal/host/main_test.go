package host_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives its test: every host
// here is stopped or closed, so none of their goroutines (servers, Redis
// pools, publishers, cache clean-up) may remain.
func TestMain(m *testing.M) {
	if path := os.Getenv(workerProcessEnv); path != "" {
		os.Exit(serveWorkerProcess(path))
	}
	code := m.Run()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections() // the tests' own client
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
