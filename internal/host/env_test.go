package host_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/host"
	"github.com/imperalcloud/exthost/internal/mailservice"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/registry"
	"github.com/imperalcloud/exthost/runtime"
)

// Start-up refuses a config the extension's type does not take, naming the
// full key and never the value.
func TestExtensionConfigIsDecodedStrictly(t *testing.T) {
	cases := []struct {
		name    string
		config  map[string]config.Extension
		wantErr string
	}{
		{"defaults", nil, ""},
		{"a value", map[string]config.Extension{"mail-client": {Config: map[string]any{"inbox_ttl_seconds": 30}}}, ""},
		{"unknown key", map[string]config.Extension{"mail-client": {Config: map[string]any{"inbox_ttl_secs": 30}}},
			"extensions.mail-client.config.inbox_ttl_secs: unknown key"},
		{"wrong type", map[string]config.Extension{"mail-client": {Config: map[string]any{"inbox_ttl_seconds": "sekrit-value"}}},
			"extensions.mail-client.config.inbox_ttl_seconds: must be int"},
		{"out of range", map[string]config.Extension{"mail-client": {Config: map[string]any{"inbox_ttl_seconds": 1000}}},
			"extensions.mail-client.config.inbox_ttl_seconds: must be within [5, 300]"},
		{"unknown extension", map[string]config.Extension{"no-such-app": {}}, "extensions.no-such-app"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Extensions = tc.config
			h, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: zap.NewNop()})
			if h != nil {
				h.Close()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New = %v, want %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "sekrit"):
				t.Fatalf("the error quotes the value: %v", err)
			}
		})
	}
}

// A required secret that is missing stops start-up, naming it; one set in
// the environment or in a file under secrets.dir is read.
func TestSecretsComeFromTheEnvironmentOrFiles(t *testing.T) {
	ext, tool := testkit.NewApp("vault-app", "An extension with a required secret.")
	key := runtime.DeclareSecret(ext, "api_key", true)
	runtime.AddFunction(tool, runtime.Function[testkit.None, map[string]bool]{
		Name: "has_key", Description: "Says whether the key is set.",
		Handler: func(c *ctx.Call, _ testkit.None) (runtime.Result, error) {
			v, ok := key.Value(c)
			return runtime.Success(map[string]bool{"set": ok && v == "from-somewhere"}, "checked"), nil
		},
	})
	newHost := func(cfg config.Config, environ []string) (*host.Host, error) {
		return host.New(cfg, host.Options{Extensions: []*runtime.Extension{ext}, Logger: zap.NewNop(), Environ: environ})
	}
	if _, err := newHost(config.Default(), nil); err == nil || !strings.Contains(err.Error(), "api_key") ||
		!strings.Contains(err.Error(), "EXTHOST_SECRET_VAULT_APP_API_KEY") {
		t.Fatalf("New without the secret = %v, want it named", err)
	}
	fromEnv, err := newHost(config.Default(), []string{"EXTHOST_SECRET_VAULT_APP_API_KEY=from-somewhere"})
	if err != nil {
		t.Fatal(err)
	}
	fromEnv.Close()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "vault-app"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vault-app", "api_key"), []byte("from-somewhere\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Secrets.Dir = filepath.Join(dir, "missing")
	if _, err := newHost(cfg, []string{"EXTHOST_SECRET_VAULT_APP_API_KEY=from-somewhere"}); err == nil || !strings.Contains(err.Error(), "secrets.dir") {
		t.Fatalf("New with a secrets.dir that is not there = %v", err)
	}
	cfg.Secrets.Dir = dir
	fromFile, err := newHost(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fromFile.Close()
	srv := httptest.NewServer(fromFile.Handler())
	defer srv.Close()
	body := postCall(t, srv.URL+"/v1/extensions/vault-app/call", `{"user_id":"u","function":"has_key"}`)
	if !strings.Contains(body, `"set":true`) {
		t.Fatalf("has_key = %s", body)
	}
}

// Two secrets read from one variable (app aa-bb's c and app aa's bb_c) are
// refused at start-up.
func TestSecretVariablesCannotCollide(t *testing.T) {
	one, _ := testkit.NewApp("aa-bb", "One app.")
	runtime.DeclareSecret(one, "c", false)
	two, _ := testkit.NewApp("aa", "Another app.")
	runtime.DeclareSecret(two, "bb_c", false)
	_, err := host.New(config.Default(), host.Options{Extensions: []*runtime.Extension{one, two}, Logger: zap.NewNop()})
	if err == nil || !strings.Contains(err.Error(), "EXTHOST_SECRET_AA_BB_C") {
		t.Fatalf("New = %v, want the collision named", err)
	}
}

// A planted secret reaches the upstream it is for and nothing else: not a
// log line (at debug level), a trace, an answer, an error, the manifest,
// the catalog or the harness.
func TestPlantedSecretIsFoundNowhere(t *testing.T) {
	const planted = "planted-7f3a9c-secret"
	mail := httptest.NewServer(mailservice.New(mailservice.Options{Token: planted}))
	defer mail.Close()
	wrongMail := httptest.NewServer(mailservice.New(mailservice.Options{Token: "another-token"}))
	defer wrongMail.Close()

	core, logs := observer.New(zapcore.DebugLevel)
	cfg := config.Default()
	cfg.Harness.Enabled = true
	cfg.Services = map[string]string{"mail-service": mail.URL}
	h, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: zap.New(core),
		Environ: []string{"EXTHOST_SECRET_MAIL_CLIENT_MAIL_SERVICE_TOKEN=" + planted}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()

	var seen bytes.Buffer
	call := func(body string) string {
		out := postCall(t, srv.URL+"/v1/extensions/mail-client/call", body)
		seen.WriteString(out)
		return out
	}
	if out := call(`{"user_id":"ann","function":"list_inbox","params":{"account_id":"work"}}`); !strings.Contains(out, `"status":"success"`) {
		t.Fatalf("list_inbox with the token = %s", out)
	}
	call(`{"user_id":"ann","function":"archive_message","params":{"account_id":"work","message_id":"m-0001"}}`)
	call(`{"user_id":"ann","function":"connect_account","params":{"account_id":"work","email":"ann@x.io"}}`)
	call(`{"user_id":"ann","function":"list_inbox","params":{"account_id":"work","folder":"` + planted[:3] + `"}}`)

	// The same host against a mail-service that wants another token: the
	// refusal's answer and logs must not carry ours either.
	cfg.Services = map[string]string{"mail-service": wrongMail.URL}
	h2, err := host.New(cfg, host.Options{Extensions: registry.List(), Logger: zap.New(core),
		Environ: []string{"EXTHOST_SECRET_MAIL_CLIENT_MAIL_SERVICE_TOKEN=" + planted}})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	srv2 := httptest.NewServer(h2.Handler())
	defer srv2.Close()
	if out := postCall(t, srv2.URL+"/v1/extensions/mail-client/call", `{"user_id":"ann","function":"list_inbox","params":{"account_id":"work"}}`); !strings.Contains(out, "BACKEND_4XX") {
		t.Fatalf("list_inbox with a refused token = %s", out)
	} else {
		seen.WriteString(out)
	}

	for _, path := range []string{"/v1/extensions", "/v1/extensions/mail-client/manifest", "/v1/tools", "/v1/harness/calls", "/v1/harness/events", "/metrics", "/readyz"} {
		seen.WriteString(get(t, srv.URL+path))
	}
	for _, e := range logs.All() {
		seen.WriteString(e.Message)
		for k, v := range e.ContextMap() {
			seen.WriteString(k + "=" + toString(v))
		}
	}
	for _, tr := range h.Harness().Calls(0) {
		seen.WriteString(toString(tr))
	}
	if seen.Len() < 1000 || logs.Len() == 0 {
		t.Fatalf("only %d bytes and %d log lines were looked at", seen.Len(), logs.Len())
	}
	if i := strings.Index(seen.String(), planted); i >= 0 {
		t.Fatalf("the secret leaked: …%s…", seen.String()[max(0, i-200):i])
	}
}

func toString(v any) string { return fmt.Sprintf("%+v", v) }

// postCall posts a call body and returns the answer.
func postCall(t *testing.T, url, body string) string {
	t.Helper()
	_, out := post(t, url, body, map[string]string{"Content-Type": "application/json"})
	return out
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}
