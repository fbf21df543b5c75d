package events_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// sdkDir is the unmodified Python SDK the envelopes are checked against;
// IMPERAL_SDK names another copy.
func sdkDir() string {
	if dir := os.Getenv("IMPERAL_SDK"); dir != "" {
		return dir
	}
	return "/work/shared/reference/imperal-sdk-5.11.0"
}

// The committed envelopes are what the SDK's own fallback publisher
// builds: rerun the script on the SDK when the machine has it.
func TestSDKEnvelopesAreCurrent(t *testing.T) {
	dir := sdkDir()
	if _, err := os.Stat(filepath.Join(dir, "imperal_sdk")); err != nil {
		t.Skipf("skipping: no imperal-sdk at %s (set IMPERAL_SDK); the committed envelopes are used as they are", dir)
	}
	cmd := exec.Command("python3", "testdata/sdk_events.py")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("testdata/sdk_events.py: %v", err)
	}
	committed, err := os.ReadFile("testdata/sdk_events.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, committed) {
		t.Fatal("testdata/sdk_events.json is not what the SDK publishes now; regenerate it (see testdata/sdk_events.py)")
	}
}
