package console_test

import (
	"os"
	"testing"

	"github.com/imperalcloud/exthost/internal/testkit"
)

// TestMain fails the package when a goroutine outlives the tests: a live
// tail ends with its page, and every host and browser is closed.
func TestMain(m *testing.M) {
	os.Exit(testkit.RunWithoutLeaks(m))
}
