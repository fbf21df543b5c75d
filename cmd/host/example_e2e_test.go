package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/internal/testredis"
)

// TestOutOfTreeHost builds the example module in examples/notes, a module
// of its own that uses this one through a replace, as a team's extension
// module would: its host binary links its notes extension beside the mail
// client with blank imports and hostcmd.Main. The test drives the built
// binary over HTTP.
func TestOutOfTreeHost(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the end-to-end test in -short mode")
	}
	bin := t.TempDir()
	for _, cmd := range []string{"notes-host", "notes-service"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "./cmd/"+cmd)
		build.Dir = "../../examples/notes"
		build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s in examples/notes: %v\n%s", cmd, err, out)
		}
	}
	notesAddr, hostAddr := testredis.FreeAddr(t), testredis.FreeAddr(t)
	notes := start(t, filepath.Join(bin, "notes-service"), nil, "-addr", notesAddr)
	defer notes.stop(t)
	notes.waitFor(t, "listening")
	config := filepath.Join(t.TempDir(), "notes.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`
listen: %s
services: {notes-service: http://%s, mail-service: http://127.0.0.1:1}
log: {level: info, format: json}
`, hostAddr, notesAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	h := start(t, filepath.Join(bin, "notes-host"), nil, "serve", "--config", config)
	defer h.stop(t)
	h.waitFor(t, "host serving")
	base := "http://" + hostAddr

	if _, body := get(t, base+"/v1/extensions"); !strings.Contains(body, `"app_id":"mail-client"`) ||
		!strings.Contains(body, `"app_id":"notes"`) || !strings.Contains(body, `"functions":["list_notes","add_note"]`) {
		t.Fatalf("extensions = %s", body)
	}
	call := func(function, params string) (int, map[string]any) {
		t.Helper()
		status, body := postJSON(t, base+"/v1/extensions/notes/call",
			`{"user_id":"ann","function":"`+function+`","params":`+params+`}`)
		var res map[string]any
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatalf("%s: %d %s", function, status, body)
		}
		return status, res
	}
	if status, res := call("list_notes", `{}`); status != 200 || res["summary"] != "0 of 0 note(s) in inbox." {
		t.Fatalf("first list_notes = %d %v", status, res)
	}
	h.waitFor(t, `"cache_misses":1`)
	for _, text := range []string{"buy milk", "call Ann"} {
		status, res := call("add_note", `{"text":"`+text+`"}`)
		if status != 200 || res["summary"] != "Note added." || fmt.Sprint(res["refresh_panels"]) != "[notes]" {
			t.Fatalf("add_note = %d %v", status, res)
		}
		h.waitFor(t, `"event":"note.added"`)
	}
	// The write invalidated the list: the next read is fresh, the one
	// after it a hit; "1" for an integer is taken, as the SDK's models do.
	for range 2 {
		status, res := call("list_notes", `{"limit":"1"}`)
		data, _ := res["data"].(map[string]any)
		if status != 200 || res["summary"] != "1 of 2 note(s) in inbox." || !strings.Contains(fmt.Sprint(data["notes"]), "call Ann") {
			t.Fatalf("list_notes after the writes = %d %v", status, res)
		}
	}
	h.waitFor(t, `"cache_hits":1`)
	if status, res := call("add_note", `{"text":""}`); status != 200 || res["error_code"] != "VALIDATION_TYPE_ERROR" {
		t.Fatalf("an empty note = %d %v", status, res)
	}
	if status, body := get(t, base+"/v1/extensions/notes/manifest"); status != 200 ||
		!strings.Contains(body, `"event":"note.added"`) || !strings.Contains(body, `"owner_chat_tool":"tool_notes_chat"`) {
		t.Fatalf("manifest = %d %s", status, body)
	}
	version, err := exec.Command(filepath.Join(bin, "notes-host"), "version").Output()
	if err != nil || !strings.HasPrefix(string(version), "host ") {
		t.Fatalf("notes-host version = %q, %v", version, err)
	}
}
