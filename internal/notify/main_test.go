package notify_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// Sender is closed, and its buckets' cache keeps no goroutine after.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
