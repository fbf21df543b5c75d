package host_test

import (
	"os"
	"testing"

	"github.com/imperalcloud/exthost/internal/testkit"
)

// TestMain fails the package when a goroutine outlives its test: every host
// here is stopped or closed, so none of their goroutines (servers, Redis
// pools, publishers, cache clean-up) may remain.
func TestMain(m *testing.M) {
	if path := os.Getenv(workerProcessEnv); path != "" {
		os.Exit(serveWorkerProcess(path))
	}
	os.Exit(testkit.RunWithoutLeaks(m))
}
