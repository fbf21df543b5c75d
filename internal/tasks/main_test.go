package tasks_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// pool is closed, every work released and every Redis subscription ended.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
