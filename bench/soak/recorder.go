package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// The transports a call goes through.
const (
	overHTTP = "http"
	overMCP  = "mcp"
	overRPC  = "rpc"
)

var transports = []string{overHTTP, overMCP, overRPC}

// The function classes figures are given by.
const (
	classRead        = "read"
	classWrite       = "write"
	classDestructive = "destructive (with its confirmation)"
	classTask        = "background task"
)

var classes = []string{classRead, classWrite, classDestructive, classTask}

// failure is one attempt that did not succeed.
type failure struct {
	began, at time.Duration // when the attempt began and ended
	transport string
	function  string
	// code is the answer's error_code, or what stood instead of an answer:
	// "HTTP 503", "connection refused", "no reply".
	code      string
	retryable bool
	status    int // the HTTP status, 0 when none came
}

// maxFailures bounds the failures kept: a broken system must not exhaust
// the load program's memory.
const maxFailures = 200_000

// recorder keeps what the load saw. Safe for concurrent use.
type recorder struct {
	start time.Time

	mu         sync.Mutex
	ok         map[string]int           // successful attempts by transport
	latency    map[string][]float64     // successful attempts' latencies in ms, by class
	failures   []failure                // in time order, at most maxFailures
	dropped    int                      // failures past maxFailures
	violations []string                 // what the load saw break (stale reads, unexpected answers)
	perSecond  map[int64]map[string]int // successful attempts by second and transport
}

func newRecorder() *recorder {
	return &recorder{start: time.Now(), ok: map[string]int{}, latency: map[string][]float64{},
		perSecond: map[int64]map[string]int{}}
}

// since is the time from the start of the load.
func (r *recorder) since() time.Duration { return time.Since(r.start) }

// success records a successful attempt.
func (r *recorder) success(transport, class string, began time.Time) {
	took := time.Since(began)
	sec := int64(time.Since(r.start) / time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ok[transport]++
	r.latency[class] = append(r.latency[class], float64(took.Microseconds())/1000)
	if r.perSecond[sec] == nil {
		r.perSecond[sec] = map[string]int{}
	}
	r.perSecond[sec][transport]++
}

// fail records an attempt begun at began that did not succeed.
func (r *recorder) fail(f failure, began time.Time) {
	f.began, f.at = began.Sub(r.start), r.since()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) == maxFailures {
		r.dropped++
		return
	}
	r.failures = append(r.failures, f)
}

// violation records something that must never happen.
func (r *recorder) violation(format string, args ...any) {
	msg := fmt.Sprintf("%7.1fs ", r.since().Seconds()) + fmt.Sprintf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) < 1000 {
		r.violations = append(r.violations, msg)
	}
}

// calls is how many attempts succeeded.
func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.ok {
		n += c
	}
	return n
}

// dump writes every failure, a line each, to failures and violations to
// another file, for a look after a run.
func (r *recorder) dump(failures string, violations []string, to string) error {
	r.mu.Lock()
	var b strings.Builder
	for _, f := range r.failures {
		fmt.Fprintf(&b, "%.3f\t%s\t%s\t%s\t%v\t%d\n", f.at.Seconds(), f.transport, f.function, f.code, f.retryable, f.status)
	}
	r.mu.Unlock()
	if err := os.WriteFile(failures, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(to, []byte(strings.Join(violations, "\n")+"\n"), 0o644)
}

// percentile is the p-th percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
