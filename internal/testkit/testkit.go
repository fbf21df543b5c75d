// Package testkit is what the host's tests repeat: the test handle they
// share, waiting for a condition nothing announces, a cache backend that
// records what reaches it, and fixture extensions.
package testkit

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/goleak"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/runtime"
)

// TB is the part of testing.TB the kits use, so that harnesses with a test
// handle of their own (hosttest.TB, hosttest.Standalone) can use them too.
type TB interface {
	Helper()
	Name() string
	Cleanup(func())
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Missing ends a test whose service is missing: a failure under CI=true,
// where every service must be there, and elsewhere a skip that says why
// and how to provide it (hint).
func Missing(t TB, service, hint, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %s", service, msg)
	}
	t.Skipf("skipping: %s (%s; under CI=true this fails)", msg, hint)
}

// WaitFor polls cond every 10 ms until it holds, failing t with what after
// timeout. It is for conditions nothing announces, such as a client
// library's reconnection or a log line of another process; anything the
// test can be told about, it should wait for on a channel.
func WaitFor(t TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not after %s", what, timeout)
		}
	}
}

// Recorder records the operations that reach a cache backend: "GET <key>",
// "SET <key>", "DEL <key> <key>…", in order.
type Recorder struct {
	mu  sync.Mutex
	ops []string
}

// Record wraps backend so that every operation is recorded, and returns
// the backend to use and its recorder. A backend that keeps decoded values
// (cache.ValueBackend) keeps doing so through the wrapper.
func Record(backend cache.Backend) (cache.Backend, *Recorder) {
	r := &Recorder{}
	b := &recording{Backend: backend, r: r}
	if values, ok := backend.(cache.ValueBackend); ok {
		return &recordingValues{recording: b, values: values}, r
	}
	return b, r
}

// Ops returns the recorded operations.
func (r *Recorder) Ops() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

// Written returns the keys of the recorded writes, in order.
func (r *Recorder) Written() []string {
	var keys []string
	for _, op := range r.Ops() {
		if key, ok := strings.CutPrefix(op, "SET "); ok {
			keys = append(keys, key)
		}
	}
	return keys
}

func (r *Recorder) add(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

type recording struct {
	cache.Backend
	r *Recorder
}

func (b *recording) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b.r.add("GET " + key)
	return b.Backend.Get(ctx, key)
}

func (b *recording) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	b.r.add("SET " + key)
	return b.Backend.Set(ctx, key, value, ttl)
}

func (b *recording) Delete(ctx context.Context, keys []string) error {
	b.r.add("DEL " + strings.Join(keys, " "))
	return b.Backend.Delete(ctx, keys)
}

// Scan lists the entries of a backend that can (cache.Scanner); for one
// that cannot, it lists none.
func (b *recording) Scan(ctx context.Context, prefix string) ([]cache.Stored, error) {
	if s, ok := b.Backend.(cache.Scanner); ok {
		return s.Scan(ctx, prefix)
	}
	return nil, nil
}

type recordingValues struct {
	*recording
	values cache.ValueBackend
}

// Resident records a read it answers; one it does not goes on to GetValue,
// which records it.
func (b *recordingValues) Resident(ctx context.Context, key string) (any, bool) {
	v, ok := b.values.Resident(ctx, key)
	if ok {
		b.r.add("GET " + key)
	}
	return v, ok
}

func (b *recordingValues) GetValue(ctx context.Context, key string) (cache.Entry, bool, error) {
	b.r.add("GET " + key)
	return b.values.GetValue(ctx, key)
}

func (b *recordingValues) SetValue(ctx context.Context, key string, envelope []byte, value any, ttl time.Duration) error {
	b.r.add("SET " + key)
	return b.values.SetValue(ctx, key, envelope, value, ttl)
}

// None is the parameters, or the data, of a fixture function that has none.
type None = struct{}

// NewApp returns a fixture extension called appID, with well-formed
// metadata, and its chat tool "tool_test_chat", to declare functions on.
func NewApp(appID, description string) (*runtime.Extension, *runtime.ChatTool) {
	ext := runtime.NewExtension(runtime.ExtensionInfo{
		AppID: appID, Version: "0.1.0", DisplayName: appID, Description: description, ActionsExplicit: true,
	})
	return ext, ext.ChatTool("tool_test_chat", description)
}

// RunWithoutLeaks runs a package's tests and fails them when a goroutine
// outlives them, after closing the idle connections of the tests' own
// HTTP client (http.DefaultTransport's, which keep-alive holds open). It
// returns the exit code, for TestMain to pass to os.Exit.
func RunWithoutLeaks(m interface{ Run() int }) int {
	code := m.Run()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}
