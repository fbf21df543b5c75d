package hostcmd_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/imperalcloud/exthost/extensions/mailclient"
	"github.com/imperalcloud/exthost/hostcmd"
	"github.com/imperalcloud/exthost/internal/mailservice"
)

// hostConfig writes a config that points the mail client at a reference
// mail-service of the test's own.
func hostConfig(t *testing.T) string {
	t.Helper()
	mail := httptest.NewServer(mailservice.New(mailservice.Options{}))
	t.Cleanup(mail.Close)
	path := filepath.Join(t.TempDir(), "host.yaml")
	cfg := "services: {mail-service: " + mail.URL + "}\nlog: {level: error}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// host call confirms a held call only with --yes, and waits for the task
// a call starts, printing its result.
func TestCallConfirmsAndWaitsForTasks(t *testing.T) {
	config := hostConfig(t)
	cases := []struct {
		name      string
		args      []string
		lines     []string // the answers printed, by their start
		wantError bool
	}{
		{"held without --yes", []string{"purge_trash", "--params", `{"account_id":"work"}`},
			[]string{`{"status":"error","summary":"Every message`}, true},
		{"confirmed with --yes", []string{"purge_trash", "--params", `{"account_id":"work"}`, "--yes"},
			[]string{`{"status":"success","summary":"Deleted `}, false},
		{"a background task, waited for", []string{"archive_by_query", "--params", `{"account_id":"work","query":"is:unread"}`},
			[]string{`{"status":"success","summary":"Started 'archive_by_query' in background`, `{"status":"success","summary":"Archived `}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"call", "mail-client"}, tc.args...)
			args = append(args, "--user", "demo", "--config", config)
			err := hostcmd.Run(context.Background(), args, &out, nil)
			if (err != nil) != tc.wantError {
				t.Fatalf("Run = %v\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != len(tc.lines) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.lines), out.String())
			}
			for i, prefix := range tc.lines {
				if !strings.HasPrefix(lines[i], prefix) {
					t.Fatalf("line %d = %s, want it to start %s", i, lines[i], prefix)
				}
			}
		})
	}
}
