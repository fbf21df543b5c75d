package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/internal/panics"
	"github.com/imperalcloud/exthost/runtime"
)

// Defaults of Options.
const (
	DefaultMaxRunning = 64
	DefaultResultTTL  = 24 * time.Hour
)

// maxMessageBytes bounds a progress message.
const maxMessageBytes = 1024

// Options configures a Pool.
type Options struct {
	// Records keeps the records. Default: NewMemory.
	Records Records
	// MaxRunning bounds the tasks running at once. Default DefaultMaxRunning.
	MaxRunning int
	// ResultTTL is how long a final record is kept. Default DefaultResultTTL.
	ResultTTL time.Duration
	// Now stamps the records. Default time.Now.
	Now func() time.Time
	// Logger receives panics and record failures. Default: none.
	Logger *zap.Logger
	// Finished is told of each task's final record, once per task across
	// the replicas sharing Records: by whichever wrote it.
	Finished func(Record)
}

// Spec describes a task to start.
type Spec struct {
	AppID, UserID, TenantID string
	// Function is the function whose call started the task; Name is the
	// task's own name.
	Function, Name string
	// Timeout is the task's deadline, from its start. Required.
	Timeout time.Duration
	// Run does the work on ctx, which ends at the deadline or when the
	// task is cancelled, reporting progress through report (which fails
	// once the task has been ended), and returns its result.
	Run func(ctx context.Context, report func(Progress) error) Outcome
}

// Outcome is how a task's work ended.
type Outcome struct {
	// OK says the result is a success.
	OK bool
	// Result is the ActionResult JSON.
	Result json.RawMessage
}

// Pool runs tasks. It is safe for concurrent use.
type Pool struct {
	opts    Options
	slots   chan struct{}
	mu      sync.Mutex
	running map[string]*task
	closed  bool
	wg      sync.WaitGroup
}

// task is a task this pool runs.
type task struct {
	rec    Record // as last written; guarded by the pool's mu
	cancel context.CancelCauseFunc
	ended  bool          // its final record is written, here or elsewhere
	done   chan struct{} // closed once ended
	failed error         // why its final record could not be written; set before done closes
}

// Why a task's context ended, besides its work returning.
var (
	errTimeout   = errors.New("tasks: deadline passed")
	errCancelled = errors.New("tasks: cancelled")
	errShutdown  = errors.New("tasks: host shutting down")
)

// The results of tasks the pool ends.
var (
	timedOut  = mustResult(runtime.Fail("The task ran past its deadline.").WithCode(runtime.CodeBackendTimeout).WithRetry())
	cancelled = mustResult(runtime.Fail("The task was cancelled.").WithCode(runtime.CodeCanceled))
	shutDown  = mustResult(runtime.Fail("The host shut down before the task finished.").WithCode(runtime.CodeCanceled).WithRetry())
	crashed   = mustResult(runtime.Fail("The task failed.").WithCode(runtime.CodeInternal))
)

func mustResult(r runtime.Result) json.RawMessage {
	out, err := r.MarshalJSON()
	if err != nil {
		panic(err)
	}
	return out
}

// NewPool returns a pool for opts and starts listening for tasks ended on
// other replicas.
func NewPool(opts Options) *Pool {
	if opts.Records == nil {
		opts.Records = NewMemory(MemoryOptions{Now: opts.Now})
	}
	if opts.MaxRunning <= 0 {
		opts.MaxRunning = DefaultMaxRunning
	}
	if opts.ResultTTL <= 0 {
		opts.ResultTTL = DefaultResultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	p := &Pool{opts: opts, slots: make(chan struct{}, opts.MaxRunning), running: make(map[string]*task)}
	opts.Records.Listen(p.endedElsewhere)
	return p
}

// Start starts spec's task and returns its first record. A full pool is
// ErrFull and a draining one ErrClosed; either way nothing starts.
func (p *Pool) Start(spec Spec) (Record, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		return Record{}, ErrFull
	}
	now := p.opts.Now()
	rec := Record{
		TaskID: newID(), AppID: spec.AppID, UserID: spec.UserID, TenantID: spec.TenantID,
		Function: spec.Function, Name: spec.Name, Status: Running, Result: json.RawMessage("null"),
		CreatedAt: now, UpdatedAt: now, Deadline: now.Add(spec.Timeout),
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	ctx, stopTimer := context.WithDeadlineCause(ctx, time.Now().Add(spec.Timeout), errTimeout)
	t := &task{rec: rec, cancel: cancel, done: make(chan struct{})}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		cancel(nil)
		stopTimer()
		return Record{}, ErrClosed
	}
	p.running[rec.TaskID] = t
	p.wg.Add(1)
	p.mu.Unlock()

	if _, err := p.opts.Records.Write(ctx, rec, p.keep(rec)); err != nil {
		p.forget(t)
		<-p.slots
		p.wg.Done()
		cancel(nil)
		stopTimer()
		return Record{}, fmt.Errorf("tasks: %w", err)
	}
	context.AfterFunc(ctx, func() {
		if errors.Is(context.Cause(ctx), errTimeout) {
			p.end(t, Outcome{Result: timedOut}, Error, errTimeout)
		}
	})
	go func() {
		defer p.wg.Done()
		defer func() { <-p.slots }()
		defer stopTimer()
		// Another may be ending the task (its deadline's AfterFunc, say):
		// Wait and Drain count it running until its final record is written.
		defer func() { <-t.done }()
		out := p.work(ctx, t, spec)
		if errors.Is(context.Cause(ctx), errTimeout) {
			// The deadline passed first: the task timed out, whatever its
			// work returned since, and however that races the AfterFunc.
			p.end(t, Outcome{Result: timedOut}, Error, errTimeout)
			return
		}
		status := Error
		if out.OK {
			status = Success
		}
		p.end(t, out, status, nil)
	}()
	return rec, nil
}

// work runs the task's work; a panic there ends it as INTERNAL.
func (p *Pool) work(ctx context.Context, t *task, spec Spec) (out Outcome) {
	var err error
	func() {
		defer panics.Recover(&err)
		out = spec.Run(ctx, func(pr Progress) error { return p.report(ctx, t, pr) })
	}()
	var pe *panics.Error
	if errors.As(err, &pe) {
		p.opts.Logger.Error("task panicked", zap.String("task_id", t.rec.TaskID), zap.String("app", spec.AppID),
			zap.String("function", spec.Function), zap.String("panic", fmt.Sprint(pe.Value)), zap.ByteString("stack", pe.Stack))
		return Outcome{Result: crashed}
	}
	return out
}

// report records progress. It fails once the task has been ended, here or
// on another replica, and ends the task's context then.
func (p *Pool) report(ctx context.Context, t *task, pr Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case math.IsNaN(pr.Percent) || pr.Percent < 0:
		pr.Percent = 0
	case pr.Percent > 100:
		pr.Percent = 100
	}
	pr.Message = truncate(pr.Message, maxMessageBytes)
	p.mu.Lock()
	if t.ended {
		p.mu.Unlock()
		return context.Canceled
	}
	t.rec.Progress, t.rec.UpdatedAt = pr, p.opts.Now()
	rec := t.rec
	p.mu.Unlock()
	wrote, err := p.opts.Records.Write(ctx, rec, p.keep(rec))
	switch {
	case err != nil:
		// Progress is advice: a record store failing must not fail the work.
		p.opts.Logger.Warn("task progress not recorded", zap.String("task_id", rec.TaskID), zap.Error(err))
	case !wrote:
		p.stop(t, errCancelled) // ended on another replica
		return context.Canceled
	}
	return nil
}

// end writes t's final record, unless it has one already, and stops it.
func (p *Pool) end(t *task, out Outcome, status Status, cause error) {
	p.mu.Lock()
	if t.ended {
		p.mu.Unlock()
		return
	}
	t.ended = true
	rec := t.rec
	p.mu.Unlock()
	rec.Status, rec.Result, rec.UpdatedAt = status, out.Result, p.opts.Now()
	if status == Success {
		rec.Progress.Percent = 100
	}
	defer close(t.done)
	defer p.forget(t)
	defer t.cancel(cause)
	var wrote bool
	var err error
	for attempt, backoff := 1, 50*time.Millisecond; ; attempt, backoff = attempt+1, backoff*4 {
		if wrote, err = p.opts.Records.Write(context.Background(), rec, p.opts.ResultTTL); err == nil || attempt == finalWriteAttempts {
			break
		}
		// A record store blip must not leave the record saying running
		// until it expires: try again, a little later.
		time.Sleep(backoff)
	}
	if err != nil {
		t.failed = err
		p.opts.Logger.Error("task result not recorded; its record says running until it expires",
			zap.String("task_id", rec.TaskID), zap.Error(err))
		return
	}
	if wrote && p.opts.Finished != nil {
		p.opts.Finished(rec)
	}
}

// finalWriteAttempts is how often a final record is tried.
const finalWriteAttempts = 3

// stop ends t's context without writing: its final record was written
// elsewhere.
func (p *Pool) stop(t *task, cause error) {
	p.mu.Lock()
	ended := t.ended
	t.ended = true
	p.mu.Unlock()
	if ended {
		return
	}
	p.forget(t)
	t.cancel(cause)
	close(t.done)
}

// Done returns a channel closed once task id has ended, if this pool runs
// it; for any other id it is closed already.
func (p *Pool) Done(id string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.running[id]; t != nil {
		return t.done
	}
	return closed
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (p *Pool) forget(t *task) {
	p.mu.Lock()
	delete(p.running, t.rec.TaskID)
	p.mu.Unlock()
}

func (p *Pool) endedElsewhere(id string) {
	p.mu.Lock()
	t := p.running[id]
	p.mu.Unlock()
	if t != nil {
		p.stop(t, errCancelled)
	}
}

// Get returns the record of task id, and whether there is one.
func (p *Pool) Get(ctx context.Context, id string) (Record, bool, error) {
	rec, ok, err := p.opts.Records.Read(ctx, id)
	if err != nil {
		return Record{}, false, fmt.Errorf("tasks: %w", err)
	}
	return rec, ok, nil
}

// Cancel ends task id as cancelled, on whichever replica runs it, and
// returns its record: final, and cancelled unless it had ended before.
// The caller checks whose task it is first.
func (p *Pool) Cancel(ctx context.Context, id string) (Record, bool, error) {
	p.mu.Lock()
	t := p.running[id]
	p.mu.Unlock()
	if t != nil {
		p.end(t, Outcome{Result: cancelled}, Cancelled, errCancelled)
		// Its end may have begun before (its work returned, say): wait for
		// that end's final record to be written before reading it.
		select {
		case <-t.done:
			if t.failed != nil {
				return Record{}, false, fmt.Errorf("tasks: %w", t.failed)
			}
		case <-ctx.Done():
		}
		return p.Get(ctx, id)
	}
	rec, ok, err := p.Get(ctx, id)
	if err != nil || !ok || rec.Status.Final() {
		return rec, ok, err
	}
	rec.Status, rec.Result, rec.UpdatedAt = Cancelled, cancelled, p.opts.Now()
	wrote, err := p.opts.Records.Write(ctx, rec, p.opts.ResultTTL)
	if err != nil {
		return Record{}, false, fmt.Errorf("tasks: %w", err)
	}
	if !wrote { // it ended meanwhile
		return p.Get(ctx, id)
	}
	if err := p.opts.Records.Announce(ctx, id); err != nil {
		p.opts.Logger.Warn("task cancellation not announced; its runner stops at its next progress report",
			zap.String("task_id", id), zap.Error(err))
	}
	if p.opts.Finished != nil {
		p.opts.Finished(rec)
	}
	return rec, true, nil
}

// Running returns how many tasks this pool runs.
func (p *Pool) Running() int { return len(p.slots) }

// Drain stops the pool taking tasks and waits for the running ones until
// ctx ends; then it ends those still running as cancelled by the
// shutdown, and returns how many it ended so.
func (p *Pool) Drain(ctx context.Context) int {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
	}
	p.mu.Lock()
	left := make([]*task, 0, len(p.running))
	for _, t := range p.running {
		left = append(left, t)
	}
	p.mu.Unlock()
	for _, t := range left {
		p.end(t, Outcome{Result: shutDown}, Cancelled, errShutdown)
	}
	return len(left)
}

// Close ends the tasks still running as a drain past its timeout does,
// and stops listening. It does not wait for their goroutines.
func (p *Pool) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.Drain(ctx)
	return p.opts.Records.Close()
}

// Wait waits for the goroutines of every task started to return, until
// ctx ends.
func (p *Pool) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// keep is how long a record is kept while its task runs: to its deadline
// and then as long as a result.
func (p *Pool) keep(rec Record) time.Duration {
	return rec.Deadline.Sub(rec.UpdatedAt) + p.opts.ResultTTL
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
