package dispatch_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: a handler
// abandoned at its deadline must still end, and every dispatcher is closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
