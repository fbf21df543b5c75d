package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/config"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "host.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestShippedConfigsLoad(t *testing.T) {
	dev, err := config.Load("../../configs/dev.yaml", nil)
	if err != nil {
		t.Fatalf("configs/dev.yaml: %v", err)
	}
	if dev.Listen != "127.0.0.1:8080" || dev.Auth.Mode != config.AuthDev || dev.Cache.Backend != config.BackendMemory ||
		dev.Services["mail-service"] != "http://127.0.0.1:8081" {
		t.Errorf("dev config = %+v", dev)
	}
	// The production example needs its secrets from the environment.
	if _, err := config.Load("../../configs/production.example.yaml", nil); err == nil || !strings.Contains(err.Error(), "auth.secrets") {
		t.Errorf("production example without secrets: %v, want an auth.secrets error", err)
	}
	prod, err := config.Load("../../configs/production.example.yaml", []string{"EXTHOST_AUTH_SECRETS=current,previous"})
	if err != nil {
		t.Fatalf("production example with secrets: %v", err)
	}
	if prod.Auth.Mode != config.AuthCallToken || strings.Join(prod.Auth.Secrets, ",") != "current,previous" ||
		prod.Cache.Backend != config.BackendRedis || prod.Log.Format != "json" {
		t.Errorf("production config = %+v", prod)
	}
	if dev.Harness.Enabled || prod.Harness.Enabled {
		t.Errorf("harness enabled in a shipped server config: dev %t, production %t", dev.Harness.Enabled, prod.Harness.Enabled)
	}
	harness, err := config.Load("../../configs/harness.yaml", nil)
	if err != nil {
		t.Fatalf("configs/harness.yaml: %v", err)
	}
	if !harness.Harness.Enabled || !config.IsLoopback(strings.Split(harness.Listen, ":")[0]) {
		t.Errorf("harness config = %+v", harness)
	}
}

func TestDefaultsAreTheDevServer(t *testing.T) {
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	if cfg.Listen != want.Listen || cfg.Limits != want.Limits || cfg.Cache.Backend != "memory" ||
		cfg.Limits.CallTimeout != 10*time.Second || cfg.Limits.MaxBodyBytes != 1<<20 || cfg.Limits.MaxConcurrentCalls != 1024 {
		t.Errorf("defaults = %+v", cfg)
	}
	if cfg, err := config.Load(writeConfig(t, ""), nil); err != nil || cfg.Listen != want.Listen {
		t.Errorf("an empty file: %+v, %v; want the defaults", cfg, err)
	}
}

func TestFileOverridesDefaults(t *testing.T) {
	cfg, err := config.Load(writeConfig(t, `
listen: 127.0.0.1:9090
cache:
  memory: {max_entries: 10}
services:
  calendar: http://127.0.0.1:9000/api
limits:
  call_timeout: 2s
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9090" || cfg.Cache.Memory.MaxEntries != 10 || cfg.Limits.CallTimeout != 2*time.Second ||
		cfg.Limits.MaxBodyBytes != 1<<20 {
		t.Errorf("merged config = %+v", cfg)
	}
	if len(cfg.Services) != 1 || cfg.Services["calendar"] == "" {
		t.Errorf("services = %v, want the file's map to replace the default one", cfg.Services)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	path := writeConfig(t, "limits: {call_timeout: 2s}\n")
	cfg, err := config.Load(path, []string{
		"EXTHOST_LIMITS_CALL_TIMEOUT=3s",
		"EXTHOST_CACHE_BACKEND=redis",
		"EXTHOST_CACHE_REDIS_ADDRS=10.0.0.1:6379,10.0.0.2:6379",
		"EXTHOST_SERVICES=mail-service=http://mail:8081,calendar=http://cal:9000",
		"EXTHOST_LOG_LEVEL=debug",
		"EXTHOST_DEBUG_LISTEN=127.0.0.1:6060",
		"PATH=/usr/bin", // not ours: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Limits.CallTimeout != 3*time.Second || cfg.Cache.Backend != "redis" || len(cfg.Cache.Redis.Addrs) != 2 ||
		cfg.Services["calendar"] != "http://cal:9000" || cfg.Services["mail-service"] != "http://mail:8081" || cfg.Log.Level != "debug" ||
		cfg.Debug.Listen != "127.0.0.1:6060" {
		t.Errorf("config = %+v", cfg)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		want       string
	}{
		{"unknown key", "auth:\n  mode: dev\n  sekrets: [x]\n", nil, "auth.sekrets: unknown key (line 3)"},
		{"unknown top-level key", "listn: 127.0.0.1:1\n", nil, "listn: unknown key"},
		{"bad duration", "limits:\n  call_timeout: ten\n", nil, "limits.call_timeout: cannot unmarshal"},
		{"bad number", "limits:\n  max_body_bytes: lots\n", nil, "limits.max_body_bytes"},
		{"not YAML", "listen: [\n", nil, "config: yaml"},
		{"zero timeout", "limits: {call_timeout: 0s}\n", nil, "limits.call_timeout: must be positive"},
		{"negative body", "limits: {max_body_bytes: -1}\n", nil, "limits.max_body_bytes"},
		{"zero concurrency", "limits: {max_concurrent_calls: 0}\n", nil, "limits.max_concurrent_calls"},
		{"zero gc percent", "limits: {gc_percent: 0}\n", nil, "limits.gc_percent"},
		{"gc percent below off", "", []string{"EXTHOST_LIMITS_GC_PERCENT=-2"}, "limits.gc_percent"},
		{"bad auth mode", "auth: {mode: none}\n", nil, `auth.mode: "none"`},
		{"dev on a public address", "listen: 0.0.0.0:8080\n", nil, "auth.mode: dev"},
		{"dev on an empty host", "listen: :8080\n", nil, "auth.mode: dev"},
		{"call_token without secrets", "auth: {mode: call_token}\n", nil, "auth.secrets"},
		{"empty secret", "auth: {mode: call_token, secrets: [a, '']}\n", nil, "auth.secrets[1]"},
		{"bad backend", "cache: {backend: disk}\n", nil, "cache.backend"},
		{"redis without address", "cache: {backend: redis, redis: {url: ''}}\n", nil, "cache.redis"},
		{"redis bad url", "cache: {backend: redis, redis: {url: 'http://x'}}\n", nil, "cache.redis.url"},
		{"bad service url", "services: {mail-service: 'mail:8081'}\n", nil, "services.mail-service"},
		{"bad service name", "services: {Mail_Service: 'http://x'}\n", nil, "services.Mail_Service"},
		{"bad log level", "log: {level: loud}\n", nil, "log.level"},
		{"bad log format", "log: {format: xml}\n", nil, "log.format"},
		{"bad listen", "listen: nowhere\n", nil, "listen"},
		{"negative sampling", "log: {sample_success: {first: -1}}\n", nil, "log.sample_success"},
		{"public profiler", "debug: {listen: '0.0.0.0:6060'}\n", nil, "debug.listen"},
		{"public harness", "listen: '0.0.0.0:8080'\nauth: {mode: call_token, secrets: [s]}\nharness: {enabled: true}\n", nil, "harness.enabled"},
		{"public harness from the environment", "auth: {mode: call_token, secrets: [s]}\n", []string{"EXTHOST_LISTEN=0.0.0.0:8080", "EXTHOST_HARNESS_ENABLED=true"}, "harness.enabled"},
		{"profiler without port", "", []string{"EXTHOST_DEBUG_LISTEN=localhost"}, "debug.listen"},
		{"zero confirmation ttl", "confirmation: {ttl: 0s}\n", nil, "confirmation.ttl"},
		{"short confirmation secret", "confirmation: {secrets: [short]}\n", nil, "confirmation.secrets"},
		{"no task slots", "tasks: {max_running: 0}\n", nil, "tasks.max_running"},
		{"zero task timeout", "tasks: {timeout: 0s}\n", nil, "tasks.timeout"},
		{"long timeout below the short", "tasks: {timeout: 10m, long_timeout: 5m}\n", nil, "tasks.long_timeout"},
		{"zero result ttl", "tasks: {result_ttl: 0s}\n", nil, "tasks.result_ttl"},
		{"negative notification rate", "notifications: {per_minute: -1}\n", nil, "notifications.per_minute"},
		{"not-a-number notification rate", "notifications: {per_minute: .nan}\n", nil, "notifications.per_minute"},
		{"infinite notification rate", "notifications: {per_minute: .inf}\n", nil, "notifications.per_minute"},
		{"rate without burst", "notifications: {per_minute: 5, burst: 0}\n", nil, "notifications.burst"},
		{"claim before a call can end", "limits: {call_timeout: 10s}\nrpc: {claim_idle: 10s}\n", nil, "rpc.claim_idle: must exceed limits.call_timeout"},
		{"no rpc slots", "rpc: {max_in_flight: 0}\n", nil, "rpc.max_in_flight"},
		{"no rpc stream", "rpc: {stream: ''}\n", nil, "rpc.stream"},
		{"no deliveries", "", []string{"EXTHOST_RPC_MAX_DELIVERIES=0"}, "rpc.max_deliveries"},
		{"zero reply ttl", "rpc: {reply_ttl: 0s}\n", nil, "rpc.reply_ttl"},
		{"tasks from the environment", "", []string{"EXTHOST_TASKS_MAX_RUNNING=none"}, "TASKS_MAX_RUNNING"},
		{"unknown variable", "", []string{"EXTHOST_CACHE_REDIS_ULR=redis://x"}, "unknown environment variable EXTHOST_CACHE_REDIS_ULR"},
		{"bad variable value", "", []string{"EXTHOST_LIMITS_CALL_TIMEOUT=soon"}, "LIMITS_CALL_TIMEOUT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, tc.yaml), tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	_, err := config.Load(writeConfig(t, "auth: {mode: call_token, secrets: [s3cr3t-value]}\nlog: {level: loud}\n"), nil)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error %v leaks a secret", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "::1": true, "localhost": true,
		"0.0.0.0": false, "": false, "10.0.0.1": false, "example.com": false, "::": false,
	} {
		if got := config.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// Secrets' variables are the host's to read, not config keys: they load.
func TestSecretVariablesAreNotConfig(t *testing.T) {
	if _, err := config.Load("", []string{"EXTHOST_SECRET_MAIL_CLIENT_MAIL_SERVICE_TOKEN=x", "EXTHOST_LISTEN=127.0.0.1:9"}); err != nil {
		t.Fatalf("Load with a secret's variable = %v", err)
	}
	if _, err := config.Load("", []string{"EXTHOST_SECRETS_DIRR=/x"}); err == nil {
		t.Fatal("a misspelt variable loads")
	}
}
