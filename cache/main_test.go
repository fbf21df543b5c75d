package cache_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: shared
// fetches must end when their callers have gone, and every backend is
// closed by its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
