package hostcmd_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives its test: a call
// closes the host it assembled, tasks and all.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
