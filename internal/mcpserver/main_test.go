package mcpserver_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// MCP session, its streams and the hosts behind them end with their test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
