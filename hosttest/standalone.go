package hosttest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Standalone is a TB for code that runs a host outside a test: runnable
// examples, scripts, a main package. Fatalf, FailNow and Skipf panic with
// their message; errors are kept, and Done panics with them after the
// cleanups, which run last registered first.
type Standalone struct {
	mu       sync.Mutex
	cleanups []func()
	errors   []string
	failed   bool
}

// NewStandalone returns a Standalone; defer its Done.
func NewStandalone() *Standalone { return &Standalone{} }

// Done runs the cleanups, which stop the hosts started with s, then
// panics if an error was reported.
func (s *Standalone) Done() {
	s.mu.Lock()
	cleanups := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for _, f := range slices.Backward(cleanups) {
		f()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errors) > 0 {
		panic(strings.Join(s.errors, "\n"))
	}
}

// Helper implements TB.
func (*Standalone) Helper() {}

// Name implements TB.
func (*Standalone) Name() string { return "standalone" }

// Cleanup implements TB.
func (s *Standalone) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// Logf implements TB: the host's logs are dropped.
func (*Standalone) Logf(string, ...any) {}

// Errorf implements TB: Done reports the error.
func (s *Standalone) Errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = true
	s.errors = append(s.errors, fmt.Sprintf(format, args...))
}

// Fatalf implements TB: it panics.
func (s *Standalone) Fatalf(format string, args ...any) {
	s.Fail()
	panic(fmt.Sprintf(format, args...))
}

// Skipf implements TB: it panics, since there is no test to skip.
func (s *Standalone) Skipf(format string, args ...any) { s.Fatalf("skipped: "+format, args...) }

// Fail implements TB.
func (s *Standalone) Fail() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = true
}

// FailNow implements TB: it panics.
func (s *Standalone) FailNow() { s.Fatalf("failed") }

// Failed implements TB.
func (s *Standalone) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}
