package fastrpc_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// worker is shut down, and its loops and calls end with it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
