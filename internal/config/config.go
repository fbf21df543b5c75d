// Package config reads the host's configuration: YAML over built-in
// defaults, then EXTHOST_* environment variables over both. Unknown keys,
// unknown variables and bad values are errors that name the key, so a typo
// stops the host at start-up instead of being ignored.
//
// Environment variables are the key path in upper case, joined by "_", after
// the prefix EXTHOST_: EXTHOST_LISTEN, EXTHOST_AUTH_MODE,
// EXTHOST_CACHE_REDIS_URL, EXTHOST_LIMITS_CALL_TIMEOUT. Lists are
// comma-separated (EXTHOST_AUTH_SECRETS=new,old); the services map is
// name=url pairs (EXTHOST_SERVICES=mail-service=http://mail:8081) and
// replaces the map from the file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable the host reads.
const EnvPrefix = "EXTHOST_"

// Config is the host's configuration. The YAML keys are the contract of
// DESIGN §8; keys beyond it are marked as additions.
type Config struct {
	// Listen is the HTTP address, host:port.
	Listen string `yaml:"listen" env:"LISTEN"`
	// Auth says how callers prove who they are.
	Auth Auth `yaml:"auth" envPrefix:"AUTH_"`
	// Cache selects and configures the cache backend.
	Cache Cache `yaml:"cache" envPrefix:"CACHE_"`
	// Store selects and configures the document store (DESIGN §11).
	Store Store `yaml:"store" envPrefix:"STORE_"`
	// Extensions configures the served extensions, by app id (DESIGN §12).
	Extensions map[string]Extension `yaml:"extensions"`
	// Secrets says where extension secrets come from besides the
	// environment (DESIGN §12).
	Secrets Secrets `yaml:"secrets" envPrefix:"SECRETS_"`
	// Services maps the logical service names extensions use to base URLs.
	// It is also the egress allow-list: no other host can be reached.
	Services map[string]string `yaml:"services" env:"SERVICES" envKeyValSeparator:"="`
	// Limits bound what one call and the whole host may use.
	Limits Limits `yaml:"limits" envPrefix:"LIMITS_"`
	// Confirmation configures the confirmation gate (DESIGN §13; an
	// addition).
	Confirmation Confirmation `yaml:"confirmation" envPrefix:"CONFIRMATION_"`
	// Tasks configures background tasks (DESIGN §13; an addition).
	Tasks Tasks `yaml:"tasks" envPrefix:"TASKS_"`
	// Notifications configures ctx notify (DESIGN §13; an addition).
	Notifications Notifications `yaml:"notifications" envPrefix:"NOTIFICATIONS_"`
	// MCP configures the MCP endpoint (DESIGN §14).
	MCP MCP `yaml:"mcp" envPrefix:"MCP_"`
	// RPC configures the Fast-RPC worker (DESIGN §15).
	RPC RPC `yaml:"rpc" envPrefix:"RPC_"`
	// Console configures the dev console (an addition).
	Console Console `yaml:"console" envPrefix:"CONSOLE_"`
	// Log configures the logs.
	Log Log `yaml:"log" envPrefix:"LOG_"`
	// Debug configures the diagnostics listener (an addition).
	Debug Debug `yaml:"debug" envPrefix:"DEBUG_"`
	// Harness turns on the harness mode for tests driven over HTTP (an
	// addition).
	Harness Harness `yaml:"harness" envPrefix:"HARNESS_"`
}

// Auth configures authentication.
type Auth struct {
	// Mode is "dev" (identity from the request body, loopback only) or
	// "call_token" (the SDK's HMAC call token on every call).
	Mode string `yaml:"mode" env:"MODE"`
	// Secrets are the HMAC keys of call_token mode, each string's UTF-8
	// bytes; the first signs, all verify (rotation).
	Secrets []string `yaml:"secrets" env:"SECRETS"`
}

// The auth modes.
const (
	AuthDev       = "dev"
	AuthCallToken = "call_token"
)

// Cache configures the cache.
type Cache struct {
	// Backend is "memory" (per process) or "redis" (shared by replicas).
	Backend string `yaml:"backend" env:"BACKEND"`
	Redis   Redis  `yaml:"redis" envPrefix:"REDIS_"`
	Memory  Memory `yaml:"memory" envPrefix:"MEMORY_"`
}

// The cache backends.
const (
	BackendMemory = "memory"
	BackendRedis  = "redis"
)

// Redis says where Redis is.
type Redis struct {
	// URL is a redis:// or rediss:// URL (address, credentials, database).
	URL string `yaml:"url" env:"URL"`
	// Addrs, when set, are cluster seeds, or the sentinels with MasterName.
	Addrs []string `yaml:"addrs" env:"ADDRS"`
	// MasterName selects Sentinel (an addition to DESIGN §8).
	MasterName string `yaml:"master_name" env:"MASTER_NAME"`
	// Timeout bounds each Redis command; past it a read is a miss (an addition).
	Timeout time.Duration `yaml:"timeout" env:"TIMEOUT"`
	// L1MaxEntries bounds the in-process layer of decoded entries in front
	// of Redis, kept coherent by invalidation announcements; 0 turns it off
	// (an addition).
	L1MaxEntries int `yaml:"l1_max_entries" env:"L1_MAX_ENTRIES"`
}

// Extension configures one extension.
type Extension struct {
	// Config overlays the extension's config defaults; it is decoded
	// strictly into the extension's config type at start-up.
	Config map[string]any `yaml:"config"`
}

// Secrets configures where secrets are read.
type Secrets struct {
	// Dir holds a file <dir>/<app_id>/<name> per secret (a Kubernetes
	// secret mount); "" reads only the environment,
	// EXTHOST_SECRET_<APP>_<NAME>.
	Dir string `yaml:"dir" env:"DIR"`
}

// Store configures the document store.
type Store struct {
	// Backend is "memory" (per process, gone at exit) or "postgres".
	Backend  string   `yaml:"backend" env:"BACKEND"`
	Postgres Postgres `yaml:"postgres" envPrefix:"POSTGRES_"`
	// MaxDocumentBytes caps a document (an addition; default 256 KiB).
	MaxDocumentBytes int `yaml:"max_document_bytes" env:"MAX_DOCUMENT_BYTES"`
	// MaxDocuments caps the documents of one collection and user (an
	// addition; default 10 000).
	MaxDocuments int `yaml:"max_documents" env:"MAX_DOCUMENTS"`
	// Timeout bounds each store operation (an addition; default 5 s).
	Timeout time.Duration `yaml:"timeout" env:"TIMEOUT"`
}

// The store backends.
const (
	StoreMemory   = "memory"
	StorePostgres = "postgres"
)

// Postgres says where PostgreSQL is.
type Postgres struct {
	// URL is a postgres:// URL.
	URL string `yaml:"url" env:"URL"`
	// MaxConns caps the connection pool (an addition; default 10).
	MaxConns int `yaml:"max_conns" env:"MAX_CONNS"`
}

// Memory configures the in-process cache.
type Memory struct {
	// MaxEntries bounds the number of entries.
	MaxEntries int `yaml:"max_entries" env:"MAX_ENTRIES"`
}

// Limits bound the host's work.
type Limits struct {
	// CallTimeout is every call's deadline.
	CallTimeout time.Duration `yaml:"call_timeout" env:"CALL_TIMEOUT"`
	// MaxBodyBytes caps a request body; larger is 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes" env:"MAX_BODY_BYTES"`
	// MaxConcurrentCalls caps the calls running at once; past it a call
	// is answered 429 at once instead of queueing.
	MaxConcurrentCalls int `yaml:"max_concurrent_calls" env:"MAX_CONCURRENT_CALLS"`
	// DrainTimeout bounds how long a shutdown waits for in-flight calls
	// (an addition).
	DrainTimeout time.Duration `yaml:"drain_timeout" env:"DRAIN_TIMEOUT"`
	// OversizeDiscardBytes bounds how much of an oversized body is read
	// and discarded after its 413, so that a client that sends the whole
	// body before reading sees the answer instead of a reset.
	OversizeDiscardBytes int64 `yaml:"oversize_discard_bytes" env:"OVERSIZE_DISCARD_BYTES"`
	// OversizeDiscardTimeout bounds how long that discarding may take.
	OversizeDiscardTimeout time.Duration `yaml:"oversize_discard_timeout" env:"OVERSIZE_DISCARD_TIMEOUT"`
	// GCPercent is the garbage collector's target (GOGC) of a serving
	// host, unless GOGC is set in its environment: how far the heap may
	// grow past the live data before a collection, in percent. Above Go's
	// 100, a call's few kilobytes of garbage cost fewer collections (at
	// 400, cache hits took a sixth less CPU); the price is heap, up to five
	// times the live data. GOMEMLIMIT caps it; -1 turns collection off.
	GCPercent int `yaml:"gc_percent" env:"GC_PERCENT"`
}

// Confirmation configures the confirmation gate.
type Confirmation struct {
	// TTL is how long a confirmation token is good for.
	TTL time.Duration `yaml:"ttl" env:"TTL"`
	// Secrets are the HMAC keys of confirmation tokens, current first.
	// Empty: derived from auth.secrets in call_token mode, else a random
	// key of this process (one replica).
	Secrets []string `yaml:"secrets" env:"SECRETS"`
}

// Tasks configures background tasks.
type Tasks struct {
	// MaxRunning bounds the tasks running at once; past it a call that
	// starts one answers RATE_LIMITED.
	MaxRunning int `yaml:"max_running" env:"MAX_RUNNING"`
	// Timeout and LongTimeout are the deadlines of tasks, the latter for
	// long_running functions.
	Timeout     time.Duration `yaml:"timeout" env:"TIMEOUT"`
	LongTimeout time.Duration `yaml:"long_timeout" env:"LONG_TIMEOUT"`
	// ResultTTL is how long a finished task's record is kept.
	ResultTTL time.Duration `yaml:"result_ttl" env:"RESULT_TTL"`
}

// Notifications configures notifications.
type Notifications struct {
	// PerMinute is the rate a user's notifications may keep up; 0 turns
	// the limit off.
	PerMinute float64 `yaml:"per_minute" env:"PER_MINUTE"`
	// Burst is how many may come at once.
	Burst int `yaml:"burst" env:"BURST"`
}

// MCP configures the MCP endpoint at /mcp.
type MCP struct {
	// Enabled serves /mcp.
	Enabled bool `yaml:"enabled" env:"ENABLED"`
	// Stateless serves every MCP HTTP request on its own, with no session
	// (the 2026-07-28 protocol's way); false keeps the 2025-11-25 sessions
	// (Mcp-Session-Id), which server-to-client requests need.
	Stateless bool `yaml:"stateless" env:"STATELESS"`
	// JSONResponse answers a request with one application/json body
	// instead of an event stream.
	JSONResponse bool `yaml:"json_response" env:"JSON_RESPONSE"`
	// SessionTimeout closes a session idle this long (session mode).
	SessionTimeout time.Duration `yaml:"session_timeout" env:"SESSION_TIMEOUT"`
}

// RPC configures the Fast-RPC worker: the host serves the call envelopes
// of a Redis stream as one consumer of a group that every host shares. It
// reaches Redis with cache.redis's settings, whatever the cache backend.
type RPC struct {
	// Enabled runs the worker beside the HTTP API.
	Enabled bool `yaml:"enabled" env:"ENABLED"`
	// Stream is the stream the platform adds calls to.
	Stream string `yaml:"stream" env:"STREAM"`
	// Group is the consumer group the hosts share.
	Group string `yaml:"group" env:"GROUP"`
	// MaxInFlight bounds the stream's calls running at once in this
	// process; a full worker stops reading (an addition).
	MaxInFlight int `yaml:"max_in_flight" env:"MAX_IN_FLIGHT"`
	// ClaimIdle is how long an entry may stay pending with a consumer
	// before another host claims it; more than limits.call_timeout (an
	// addition).
	ClaimIdle time.Duration `yaml:"claim_idle" env:"CLAIM_IDLE"`
	// MaxDeliveries is how often an entry may be delivered before it is
	// answered as poison and dropped (an addition).
	MaxDeliveries int `yaml:"max_deliveries" env:"MAX_DELIVERIES"`
	// ReplyTTL is the expiry of a reply list (an addition).
	ReplyTTL time.Duration `yaml:"reply_ttl" env:"REPLY_TTL"`
	// RecordTTL is how long an answered corr_id is remembered, so that it
	// is never run twice (an addition).
	RecordTTL time.Duration `yaml:"record_ttl" env:"RECORD_TTL"`
	// Tenants, when set, are the only tenants served; others get a
	// tenant_mismatch reply (an addition).
	Tenants []string `yaml:"tenants" env:"TENANTS"`
}

// Console configures the dev console, a web page at / for extension
// developers.
type Console struct {
	// Enabled serves the console in dev mode.
	Enabled bool `yaml:"enabled" env:"ENABLED"`
	// CallToken serves it in call_token mode too, where its calls still
	// need tokens; it lists every call's parameters and answers without
	// one, so it is off there unless this says otherwise, and a host that
	// serves it listens only on loopback.
	CallToken bool `yaml:"call_token" env:"CALL_TOKEN"`
}

// Serves reports whether the console is served under auth mode mode.
func (c Console) Serves(mode string) bool {
	return c.Enabled && (mode == AuthDev || c.CallToken)
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level" env:"LEVEL"`
	// Format is json (one JSON object per line) or console (for people).
	Format string `yaml:"format" env:"FORMAT"`
	// SampleSuccess thins the call lines of successful calls (an addition).
	SampleSuccess Sampling `yaml:"sample_success" envPrefix:"SAMPLE_SUCCESS_"`
}

// Sampling keeps, each second, the first First lines of a kind, then one in
// Thereafter (none when Thereafter is 0). First 0 keeps every line.
type Sampling struct {
	First      int `yaml:"first" env:"FIRST"`
	Thereafter int `yaml:"thereafter" env:"THEREAFTER"`
}

// Debug configures diagnostics.
type Debug struct {
	// Listen, when set, serves Go's profiler (/debug/pprof/) on this
	// loopback host:port, apart from the API; empty serves nothing.
	Listen string `yaml:"listen" env:"LISTEN"`
}

// Harness configures the harness mode: /v1/harness/ endpoints that move the
// host's clock, list recent call traces and events, and drop cache entries.
// It is for tests only: it listens on loopback or not at all.
type Harness struct {
	// Enabled turns the harness mode on.
	Enabled bool `yaml:"enabled" env:"ENABLED"`
}

// Default returns the embedded defaults: the dev server, with the memory
// cache, dev auth on loopback and the reference mail-service.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:8080",
		Auth:   Auth{Mode: AuthDev},
		Cache: Cache{
			Backend: BackendMemory,
			Redis:   Redis{URL: "redis://127.0.0.1:6379/0", Timeout: 250 * time.Millisecond, L1MaxEntries: 10_000},
			Memory:  Memory{MaxEntries: 100_000},
		},
		Store: Store{
			Backend:          StoreMemory,
			Postgres:         Postgres{URL: "postgres://127.0.0.1:5432/exthost", MaxConns: 10},
			MaxDocumentBytes: 256 << 10,
			MaxDocuments:     10_000,
			Timeout:          5 * time.Second,
		},
		Services: map[string]string{"mail-service": "http://127.0.0.1:8081"},
		Limits: Limits{
			CallTimeout:            10 * time.Second,
			MaxBodyBytes:           1 << 20,
			MaxConcurrentCalls:     1024,
			DrainTimeout:           15 * time.Second,
			OversizeDiscardBytes:   16 << 20,
			OversizeDiscardTimeout: 5 * time.Second,
			GCPercent:              400,
		},
		MCP:     MCP{Enabled: true, SessionTimeout: 30 * time.Minute},
		Console: Console{Enabled: true},
		RPC: RPC{
			Stream: "imperal:rpc:extension_call", Group: "exthost", MaxInFlight: 64, ClaimIdle: 30 * time.Second,
			MaxDeliveries: 3, ReplyTTL: 5 * time.Minute, RecordTTL: 24 * time.Hour,
		},
		Log:           Log{Level: "info", Format: "json", SampleSuccess: Sampling{First: 100, Thereafter: 100}},
		Confirmation:  Confirmation{TTL: 5 * time.Minute},
		Tasks:         Tasks{MaxRunning: 64, Timeout: 180 * time.Second, LongTimeout: 1800 * time.Second, ResultTTL: 24 * time.Hour},
		Notifications: Notifications{PerMinute: 30, Burst: 10},
	}
}

// Load returns the defaults, overlaid by the YAML file at path (none when
// path is empty), overlaid by the EXTHOST_* variables of environ (as
// os.Environ returns them), and validated.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeYAML decodes data strictly over cfg. Errors name the key path
// ("limits.call_timeout") rather than only a line.
func decodeYAML(data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	paths := keyPaths(&doc)
	if slices.Contains(paths.top, "services") {
		cfg.Services = nil // a services map in the file replaces the default one
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	var typeErr *yaml.TypeError
	switch {
	case err == nil || errors.Is(err, io.EOF): // an empty file means the defaults
		return nil
	case errors.As(err, &typeErr):
		msgs := make([]string, len(typeErr.Errors))
		for i, e := range typeErr.Errors {
			msgs[i] = paths.explain(e)
		}
		return fmt.Errorf("config: %s", strings.Join(msgs, "; "))
	}
	return fmt.Errorf("config: %w", err)
}

// yamlPaths maps the line of every key in a YAML document to its path.
type yamlPaths struct {
	top    []string
	byLine map[int]string
}

func keyPaths(doc *yaml.Node) yamlPaths {
	p := yamlPaths{byLine: map[int]string{}}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			walk(n.Content[0], prefix)
			return
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			path := key.Value
			if prefix != "" {
				path = prefix + "." + key.Value
			} else {
				p.top = append(p.top, key.Value)
			}
			p.byLine[key.Line] = path
			if value.Line != key.Line {
				if _, taken := p.byLine[value.Line]; !taken {
					p.byLine[value.Line] = path
				}
			}
			walk(value, path)
		}
	}
	walk(doc, "")
	return p
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// explain rewrites "line 4: field sekrets not found in type config.Auth"
// as "auth.sekrets: unknown key (line 4)".
func (p yamlPaths) explain(msg string) string {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	path, ok := p.byLine[line]
	if !ok {
		return msg
	}
	detail := m[2]
	if strings.HasPrefix(detail, "field ") && strings.Contains(detail, " not found in type ") {
		detail = "unknown key"
	}
	return fmt.Sprintf("%s: %s (line %d)", path, detail, line)
}

// SecretEnvPrefix starts the variables of extension secrets,
// EXTHOST_SECRET_<APP>_<NAME>: the host reads them, not the config.
const SecretEnvPrefix = EnvPrefix + "SECRET_"

// applyEnv overlays the EXTHOST_* variables of environ on cfg. A variable
// with the prefix that names no key is an error: it is a typo. Secrets'
// variables (SecretEnvPrefix) are not config, and left to the host.
func applyEnv(cfg *Config, environ []string) error {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) && !strings.HasPrefix(k, SecretEnvPrefix) {
			vars[k] = v
		}
	}
	if len(vars) == 0 {
		return nil
	}
	opts := env.Options{Prefix: EnvPrefix, Environment: vars}
	params, err := env.GetFieldParamsWithOptions(cfg, opts)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	known := map[string]bool{}
	for _, p := range params {
		known[p.Key] = true
	}
	for k := range vars {
		if !known[k] {
			return fmt.Errorf("config: unknown environment variable %s", k)
		}
	}
	// One variable at a time first, so that an error names the variable.
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		var probe Config
		if err := env.ParseWithOptions(&probe, env.Options{Prefix: EnvPrefix, Environment: map[string]string{k: vars[k]}}); err != nil {
			return fmt.Errorf("config: %s: %w", k, err)
		}
	}
	if _, ok := vars[EnvPrefix+"SERVICES"]; ok {
		cfg.Services = nil
	}
	if err := env.ParseWithOptions(cfg, opts); err != nil {
		return fmt.Errorf("config: environment: %w", err)
	}
	return nil
}

var serviceName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Validate checks every value, naming the first bad key.
func (c Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil || port == "" {
		return fmt.Errorf("config: listen: %q is not host:port", c.Listen)
	}
	if c.Harness.Enabled && !IsLoopback(host) {
		return fmt.Errorf("config: harness.enabled: the harness moves the clock and drops cache entries, so it only listens on loopback, not %q", c.Listen)
	}
	switch c.Auth.Mode {
	case AuthDev:
		if !IsLoopback(host) {
			return fmt.Errorf("config: auth.mode: dev takes the caller's identity from the request body, so it only listens on loopback, not %q", c.Listen)
		}
	case AuthCallToken:
		if len(c.Auth.Secrets) == 0 {
			return errors.New("config: auth.secrets: call_token needs at least one secret")
		}
		for i, s := range c.Auth.Secrets {
			if s == "" {
				return fmt.Errorf("config: auth.secrets[%d]: empty secret", i)
			}
		}
	default:
		return fmt.Errorf("config: auth.mode: %q is not dev or call_token", c.Auth.Mode)
	}
	switch c.Store.Backend {
	case StoreMemory:
	case StorePostgres:
		if u, err := url.Parse(c.Store.Postgres.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return fmt.Errorf("config: store.postgres.url: must be a postgres:// URL")
		}
		if c.Store.Postgres.MaxConns <= 0 {
			return fmt.Errorf("config: store.postgres.max_conns: must be positive, got %d", c.Store.Postgres.MaxConns)
		}
	default:
		return fmt.Errorf("config: store.backend: %q is not memory or postgres", c.Store.Backend)
	}
	switch {
	case c.Store.MaxDocumentBytes <= 0:
		return fmt.Errorf("config: store.max_document_bytes: must be positive, got %d", c.Store.MaxDocumentBytes)
	case c.Store.MaxDocuments <= 0:
		return fmt.Errorf("config: store.max_documents: must be positive, got %d", c.Store.MaxDocuments)
	case c.Store.Timeout <= 0:
		return fmt.Errorf("config: store.timeout: must be positive, got %s", c.Store.Timeout)
	}
	switch c.Cache.Backend {
	case BackendMemory:
		if c.Cache.Memory.MaxEntries <= 0 {
			return fmt.Errorf("config: cache.memory.max_entries: must be positive, got %d", c.Cache.Memory.MaxEntries)
		}
	case BackendRedis:
		if c.Cache.Redis.URL == "" && len(c.Cache.Redis.Addrs) == 0 {
			return errors.New("config: cache.redis: the redis backend needs url or addrs")
		}
		if c.Cache.Redis.URL != "" {
			if u, err := url.Parse(c.Cache.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
				return errors.New("config: cache.redis.url: not a redis:// or rediss:// URL")
			}
		}
		if c.Cache.Redis.Timeout <= 0 {
			return fmt.Errorf("config: cache.redis.timeout: must be positive, got %s", c.Cache.Redis.Timeout)
		}
		if c.Cache.Redis.L1MaxEntries < 0 {
			return fmt.Errorf("config: cache.redis.l1_max_entries: must not be negative, got %d", c.Cache.Redis.L1MaxEntries)
		}
	default:
		return fmt.Errorf("config: cache.backend: %q is not memory or redis", c.Cache.Backend)
	}
	for name, base := range c.Services {
		if !serviceName.MatchString(name) {
			return fmt.Errorf("config: services.%s: a service name is a lower-case host label", name)
		}
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("config: services.%s: %q is not an http(s)://host[:port][/path] URL", name, base)
		}
	}
	switch {
	case c.Limits.CallTimeout <= 0:
		return fmt.Errorf("config: limits.call_timeout: must be positive, got %s", c.Limits.CallTimeout)
	case c.Limits.MaxBodyBytes <= 0:
		return fmt.Errorf("config: limits.max_body_bytes: must be positive, got %d", c.Limits.MaxBodyBytes)
	case c.Limits.MaxConcurrentCalls <= 0:
		return fmt.Errorf("config: limits.max_concurrent_calls: must be positive, got %d", c.Limits.MaxConcurrentCalls)
	case c.Limits.DrainTimeout < 0:
		return fmt.Errorf("config: limits.drain_timeout: must not be negative, got %s", c.Limits.DrainTimeout)
	case c.Limits.OversizeDiscardBytes < 0:
		return fmt.Errorf("config: limits.oversize_discard_bytes: must not be negative, got %d", c.Limits.OversizeDiscardBytes)
	case c.Limits.OversizeDiscardTimeout < 0:
		return fmt.Errorf("config: limits.oversize_discard_timeout: must not be negative, got %s", c.Limits.OversizeDiscardTimeout)
	case c.Limits.GCPercent < -1 || c.Limits.GCPercent == 0:
		return fmt.Errorf("config: limits.gc_percent: must be positive, or -1 for off, got %d", c.Limits.GCPercent)
	}
	if c.MCP.SessionTimeout < 0 {
		return fmt.Errorf("config: mcp.session_timeout: must not be negative, got %s", c.MCP.SessionTimeout)
	}
	if err := c.RPC.validate(c.Limits.CallTimeout); err != nil {
		return err
	}
	switch {
	case c.Confirmation.TTL <= 0:
		return fmt.Errorf("config: confirmation.ttl: must be positive, got %s", c.Confirmation.TTL)
	case slices.ContainsFunc(c.Confirmation.Secrets, func(s string) bool { return len(s) < 16 }):
		return errors.New("config: confirmation.secrets: every secret needs at least 16 bytes")
	case c.Tasks.MaxRunning <= 0:
		return fmt.Errorf("config: tasks.max_running: must be positive, got %d", c.Tasks.MaxRunning)
	case c.Tasks.Timeout <= 0:
		return fmt.Errorf("config: tasks.timeout: must be positive, got %s", c.Tasks.Timeout)
	case c.Tasks.LongTimeout < c.Tasks.Timeout:
		return fmt.Errorf("config: tasks.long_timeout: must be at least tasks.timeout, got %s", c.Tasks.LongTimeout)
	case c.Tasks.ResultTTL <= 0:
		return fmt.Errorf("config: tasks.result_ttl: must be positive, got %s", c.Tasks.ResultTTL)
	case !(c.Notifications.PerMinute >= 0) || math.IsInf(c.Notifications.PerMinute, 0): // NaN too
		return fmt.Errorf("config: notifications.per_minute: must be a finite number, not negative, got %g", c.Notifications.PerMinute)
	case c.Notifications.PerMinute > 0 && c.Notifications.Burst <= 0:
		return fmt.Errorf("config: notifications.burst: must be positive with a rate, got %d", c.Notifications.Burst)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		return fmt.Errorf("config: log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		return fmt.Errorf("config: log.format: %q is not json or console", c.Log.Format)
	}
	if c.Log.SampleSuccess.First < 0 || c.Log.SampleSuccess.Thereafter < 0 {
		return fmt.Errorf("config: log.sample_success: first and thereafter must not be negative, got %+v", c.Log.SampleSuccess)
	}
	if c.Debug.Listen != "" {
		// The profiler shows the process's insides: it never faces the network.
		if host, _, err := net.SplitHostPort(c.Debug.Listen); err != nil || !IsLoopback(host) {
			return fmt.Errorf("config: debug.listen: %q is not a loopback host:port", c.Debug.Listen)
		}
	}
	return nil
}

// IsLoopback reports whether host (of a listen address) can only be reached
// from this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validate checks the worker's settings, whether or not it is enabled.
func (r RPC) validate(callTimeout time.Duration) error {
	switch {
	case r.Stream == "":
		return errors.New("config: rpc.stream: must not be empty")
	case r.Group == "":
		return errors.New("config: rpc.group: must not be empty")
	case r.MaxInFlight <= 0:
		return fmt.Errorf("config: rpc.max_in_flight: must be positive, got %d", r.MaxInFlight)
	case r.ClaimIdle <= callTimeout:
		return fmt.Errorf("config: rpc.claim_idle: must exceed limits.call_timeout (%s), or running calls are claimed, got %s",
			callTimeout, r.ClaimIdle)
	case r.MaxDeliveries <= 0:
		return fmt.Errorf("config: rpc.max_deliveries: must be positive, got %d", r.MaxDeliveries)
	case r.ReplyTTL < time.Second:
		return fmt.Errorf("config: rpc.reply_ttl: must be at least 1s, got %s", r.ReplyTTL)
	case r.RecordTTL < time.Second:
		return fmt.Errorf("config: rpc.record_ttl: must be at least 1s, got %s", r.RecordTTL)
	}
	return nil
}
