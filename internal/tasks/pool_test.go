package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imperalcloud/exthost/internal/tasks"
	"github.com/imperalcloud/exthost/runtime"
)

func mustJSON(t *testing.T, r runtime.Result) json.RawMessage {
	t.Helper()
	raw, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestStartRecordsTheOutcome(t *testing.T) {
	cases := []struct {
		name     string
		progress []tasks.Progress // reported before the work returns
		out      func(t *testing.T) tasks.Outcome
		status   tasks.Status
		want     tasks.Progress
	}{
		{
			name:     "success with progress",
			progress: []tasks.Progress{{Percent: 10, Message: "starting"}, {Percent: 90, Message: "almost"}},
			out: func(t *testing.T) tasks.Outcome {
				return tasks.Outcome{OK: true, Result: mustJSON(t, runtime.Success(map[string]any{"n": 3}, "purged 3"))}
			},
			status: tasks.Success,
			// A success is done: 100 %, with the last message reported.
			want: tasks.Progress{Percent: 100, Message: "almost"},
		},
		{
			name: "success without progress",
			out: func(t *testing.T) tasks.Outcome {
				return tasks.Outcome{OK: true, Result: mustJSON(t, runtime.Success(nil, "done"))}
			},
			status: tasks.Success,
			want:   tasks.Progress{Percent: 100},
		},
		{
			name:     "error result",
			progress: []tasks.Progress{{Percent: 50, Message: "half"}},
			out: func(t *testing.T) tasks.Outcome {
				return tasks.Outcome{Result: mustJSON(t, runtime.Fail("mailbox gone").WithCode("NOT_FOUND"))}
			},
			status: tasks.Error,
			want:   tasks.Progress{Percent: 50, Message: "half"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			fin := newFinished()
			p := newPool(t, tasks.Options{Now: clk.Now, Finished: fin.Func})
			g := newGate(t)
			out := tc.out(t)
			reportErrs := make(chan error, len(tc.progress))
			spec := tasks.Spec{
				AppID: "mail", UserID: "u1", TenantID: "t1", Function: "purge_trash", Name: "Purge trash",
				Timeout: time.Hour,
				Run: func(ctx context.Context, report func(tasks.Progress) error) tasks.Outcome {
					<-g.ch
					for _, pr := range tc.progress {
						reportErrs <- report(pr)
					}
					return out
				},
			}
			first, err := p.Start(spec)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			done := p.Done(first.TaskID)
			start := clk.Now()
			if !strings.HasPrefix(first.TaskID, "task_") || len(first.TaskID) < len("task_")+20 {
				t.Errorf("task id %q: want task_ and an unguessable suffix", first.TaskID)
			}
			if first.Status != tasks.Running || string(first.Result) != "null" || first.Progress != (tasks.Progress{}) {
				t.Errorf("first record %+v: want running, null result, no progress", first)
			}
			if first.AppID != "mail" || first.UserID != "u1" || first.TenantID != "t1" ||
				first.Function != "purge_trash" || first.Name != "Purge trash" {
				t.Errorf("first record %+v does not carry the spec", first)
			}
			if !first.CreatedAt.Equal(start) || !first.UpdatedAt.Equal(start) || !first.Deadline.Equal(start.Add(time.Hour)) {
				t.Errorf("times %v %v %v: want created and updated %v, deadline an hour on", first.CreatedAt, first.UpdatedAt, first.Deadline, start)
			}
			if got := get(t, p, first.TaskID); got.Status != tasks.Running {
				t.Errorf("stored record while running: %q", got.Status)
			}
			if n := p.Running(); n != 1 {
				t.Errorf("Running() = %d while the task runs", n)
			}
			select {
			case <-done:
				t.Fatal("Done closed before the task ended")
			default:
			}

			clk.Advance(time.Minute)
			g.Open()
			for range tc.progress {
				if err := waitClosed(t, reportErrs, "report"); err != nil {
					t.Errorf("report while running: %v", err)
				}
			}
			waitClosed(t, done, "Done")

			rec := get(t, p, first.TaskID)
			if rec.Status != tc.status {
				t.Errorf("status %q, want %q", rec.Status, tc.status)
			}
			if string(rec.Result) != string(out.Result) {
				t.Errorf("result %s, want %s", rec.Result, out.Result)
			}
			if rec.Progress != tc.want {
				t.Errorf("progress %+v, want %+v", rec.Progress, tc.want)
			}
			if !rec.CreatedAt.Equal(start) || !rec.UpdatedAt.Equal(start.Add(time.Minute)) || !rec.Deadline.Equal(first.Deadline) {
				t.Errorf("final times %v %v %v", rec.CreatedAt, rec.UpdatedAt, rec.Deadline)
			}
			f := fin.next(t)
			if f.TaskID != rec.TaskID || f.Status != rec.Status || string(f.Result) != string(rec.Result) {
				t.Errorf("Finished got %+v, want the final record %+v", f, rec)
			}
			waitGoroutines(t, p)
			if n := len(fin.of(rec.TaskID)); n != 1 {
				t.Errorf("Finished called %d times, want once", n)
			}
			if n := p.Running(); n != 0 {
				t.Errorf("Running() = %d after the task", n)
			}
		})
	}
}

func TestStartIDsAreUnique(t *testing.T) {
	p := newPool(t, tasks.Options{})
	seen := map[string]bool{}
	for range 50 {
		rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(context.Context, func(tasks.Progress) error) tasks.Outcome {
			return tasks.Outcome{OK: true, Result: json.RawMessage(`{}`)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if seen[rec.TaskID] {
			t.Fatalf("task id %s given twice", rec.TaskID)
		}
		seen[rec.TaskID] = true
	}
	waitGoroutines(t, p)
}

func TestDoneOfAnUnknownTaskIsClosed(t *testing.T) {
	p := newPool(t, tasks.Options{})
	select {
	case <-p.Done("task_nope"):
	default:
		t.Fatal("Done of an unknown task is not closed")
	}
}

func TestStartWhenFull(t *testing.T) {
	for _, max := range []int{1, 3} {
		t.Run(fmt.Sprintf("max %d", max), func(t *testing.T) {
			recs := &hooked{Records: tasks.NewMemory(tasks.MemoryOptions{})}
			p := newPool(t, tasks.Options{Records: recs, MaxRunning: max})
			g := newGate(t)
			block := func(context.Context, func(tasks.Progress) error) tasks.Outcome {
				<-g.ch
				return tasks.Outcome{OK: true, Result: json.RawMessage(`{}`)}
			}
			for i := range max {
				if _, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: block}); err != nil {
					t.Fatalf("Start %d: %v", i, err)
				}
			}
			writes := recs.writeCount()
			var ran atomic.Bool
			rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(context.Context, func(tasks.Progress) error) tasks.Outcome {
				ran.Store(true)
				return tasks.Outcome{OK: true}
			}})
			if !errors.Is(err, tasks.ErrFull) {
				t.Fatalf("Start on a full pool: %v, want ErrFull", err)
			}
			if rec.TaskID != "" || rec.Status != "" {
				t.Errorf("Start on a full pool returned record %+v", rec)
			}
			if n := recs.writeCount(); n != writes {
				t.Errorf("Start on a full pool wrote %d records", n-writes)
			}
			if n := p.Running(); n != max {
				t.Errorf("Running() = %d, want %d", n, max)
			}

			g.Open()
			waitGoroutines(t, p)
			if ran.Load() {
				t.Error("the refused task's work ran")
			}
			if _, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: block}); err != nil {
				t.Errorf("Start once the pool has room again: %v", err)
			}
		})
	}
}

func TestProgressIsClampedAndTruncated(t *testing.T) {
	long := strings.Repeat("x", 2000)
	accents := "a" + strings.Repeat("é", 700) // é is 2 bytes: byte 1024 is inside one
	emoji := "ab" + strings.Repeat("😀", 300)  // 4 bytes each: byte 1024 is inside one
	exact := strings.Repeat("y", 1024)        // kept whole
	cjk := strings.Repeat("字", 341) + "abc"   // 1023+3 bytes: cut between ASCII
	cases := []struct {
		name string
		in   tasks.Progress
		want tasks.Progress
	}{
		{"in range", tasks.Progress{Percent: 42.5, Message: "copying"}, tasks.Progress{Percent: 42.5, Message: "copying"}},
		{"zero", tasks.Progress{}, tasks.Progress{}},
		{"hundred", tasks.Progress{Percent: 100}, tasks.Progress{Percent: 100}},
		{"negative", tasks.Progress{Percent: -3}, tasks.Progress{Percent: 0}},
		{"over a hundred", tasks.Progress{Percent: 250}, tasks.Progress{Percent: 100}},
		{"NaN", tasks.Progress{Percent: math.NaN()}, tasks.Progress{Percent: 0}},
		{"+Inf", tasks.Progress{Percent: math.Inf(1)}, tasks.Progress{Percent: 100}},
		{"-Inf", tasks.Progress{Percent: math.Inf(-1)}, tasks.Progress{Percent: 0}},
		{"long ASCII", tasks.Progress{Percent: 1, Message: long}, tasks.Progress{Percent: 1, Message: long[:1024]}},
		{"exactly 1024 bytes", tasks.Progress{Message: exact}, tasks.Progress{Message: exact}},
		{"2-byte runes", tasks.Progress{Message: accents}, tasks.Progress{Message: accents[:1023]}},
		{"4-byte runes", tasks.Progress{Message: emoji}, tasks.Progress{Message: emoji[:1022]}},
		{"3-byte runes then ASCII", tasks.Progress{Message: cjk}, tasks.Progress{Message: cjk[:1024]}},
	}
	p := newPool(t, tasks.Options{})
	reqs := make(chan tasks.Progress)
	errs := make(chan error)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(ctx context.Context, report func(tasks.Progress) error) tasks.Outcome {
		for {
			select {
			case pr := <-reqs:
				errs <- report(pr)
			case <-stop:
				return tasks.Outcome{OK: true, Result: json.RawMessage(`{}`)}
			case <-ctx.Done():
				return tasks.Outcome{}
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reqs <- tc.in
			if err := waitClosed(t, errs, "report"); err != nil {
				t.Fatalf("report: %v", err)
			}
			got := get(t, p, rec.TaskID).Progress
			if got.Percent != tc.want.Percent {
				t.Errorf("percent %v, want %v", got.Percent, tc.want.Percent)
			}
			if got.Message != tc.want.Message {
				t.Errorf("message of %d bytes (%.20q…), want %d bytes", len(got.Message), got.Message, len(tc.want.Message))
			}
			if len(got.Message) > 1024 || !utf8.ValidString(got.Message) || !strings.HasPrefix(tc.in.Message, got.Message) {
				t.Errorf("message of %d bytes is not a valid UTF-8 prefix of at most 1024 bytes", len(got.Message))
			}
		})
	}
}

// cancellable is a work that reports once, waits for its context to end,
// then for proceed, reports again and returns a success the pool must not
// record.
type cancellable struct {
	started   chan struct{}
	ctxEnded  chan error // ctx.Err() once the context ended
	proceed   *gate
	reportErr chan error // the report made after the context ended
}

func newCancellable(t *testing.T) *cancellable {
	return &cancellable{
		started: make(chan struct{}), ctxEnded: make(chan error, 1),
		proceed: newGate(t), reportErr: make(chan error, 1),
	}
}

func (c *cancellable) Run(ctx context.Context, report func(tasks.Progress) error) tasks.Outcome {
	if err := report(tasks.Progress{Percent: 40, Message: "halfway"}); err != nil {
		c.reportErr <- fmt.Errorf("first report failed: %w", err)
	}
	close(c.started)
	<-ctx.Done()
	c.ctxEnded <- ctx.Err()
	<-c.proceed.ch
	c.reportErr <- report(tasks.Progress{Percent: 99, Message: "too late"})
	return tasks.Outcome{OK: true, Result: json.RawMessage(`{"status":"success","summary":"late","data":{}}`)}
}

func TestCancelLocal(t *testing.T) {
	fin := newFinished()
	p := newPool(t, tasks.Options{Finished: fin.Func})
	w := newCancellable(t)
	rec, err := p.Start(tasks.Spec{AppID: "mail", Timeout: time.Hour, Run: w.Run})
	if err != nil {
		t.Fatal(err)
	}
	done := p.Done(rec.TaskID)
	waitClosed(t, w.started, "work start")

	got, ok, err := p.Cancel(context.Background(), rec.TaskID)
	if err != nil || !ok {
		t.Fatalf("Cancel = ok %v, err %v", ok, err)
	}
	checkEnded(t, got, tasks.Cancelled, runtime.CodeCanceled, false)
	if got.Progress != (tasks.Progress{Percent: 40, Message: "halfway"}) {
		t.Errorf("cancelled record lost its progress: %+v", got.Progress)
	}
	if err := waitClosed(t, w.ctxEnded, "work context"); !errors.Is(err, context.Canceled) {
		t.Errorf("work's ctx.Err() = %v, want context.Canceled", err)
	}
	waitClosed(t, done, "Done")
	if n := p.Running(); n != 1 {
		t.Errorf("Running() = %d: the work still holds its slot until it returns", n)
	}

	w.proceed.Open()
	if err := waitClosed(t, w.reportErr, "late report"); err == nil {
		t.Error("report after Cancel succeeded")
	}
	waitGoroutines(t, p)
	after := get(t, p, rec.TaskID)
	if after.Status != tasks.Cancelled || string(after.Result) != string(got.Result) || after.Progress != got.Progress {
		t.Errorf("the work's late result overwrote the cancelled record: %+v", after)
	}
	if fs := fin.of(rec.TaskID); len(fs) != 1 || fs[0].Status != tasks.Cancelled {
		t.Errorf("Finished calls %+v, want one, cancelled", fs)
	}
	again, ok, err := p.Cancel(context.Background(), rec.TaskID)
	if err != nil || !ok || again.Status != tasks.Cancelled || !again.UpdatedAt.Equal(got.UpdatedAt) {
		t.Errorf("second Cancel = %+v, ok %v, err %v: want the record unchanged", again, ok, err)
	}
	if n := len(fin.of(rec.TaskID)); n != 1 {
		t.Errorf("Finished called %d times after a second Cancel", n)
	}
}

func TestCancelEndedOrUnknown(t *testing.T) {
	success := json.RawMessage(`{"status":"success","summary":"ok","data":{}}`)
	failure := json.RawMessage(`{"status":"error","summary":"","data":{},"error":"no","error_code":"NOT_FOUND"}`)
	cases := []struct {
		name   string
		run    func(ctx context.Context, report func(tasks.Progress) error) tasks.Outcome
		status tasks.Status
	}{
		{"succeeded", func(context.Context, func(tasks.Progress) error) tasks.Outcome {
			return tasks.Outcome{OK: true, Result: success}
		}, tasks.Success},
		{"failed", func(context.Context, func(tasks.Progress) error) tasks.Outcome {
			return tasks.Outcome{Result: failure}
		}, tasks.Error},
		{"panicked", func(context.Context, func(tasks.Progress) error) tasks.Outcome {
			panic("boom")
		}, tasks.Error},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fin := newFinished()
			p := newPool(t, tasks.Options{Finished: fin.Func})
			rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: tc.run})
			if err != nil {
				t.Fatal(err)
			}
			waitClosed(t, fin.ch, "Finished")
			before := get(t, p, rec.TaskID)
			got, ok, err := p.Cancel(context.Background(), rec.TaskID)
			if err != nil || !ok {
				t.Fatalf("Cancel = ok %v, err %v", ok, err)
			}
			if got.Status != tc.status || string(got.Result) != string(before.Result) || !got.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("Cancel of an ended task changed it: %+v, was %+v", got, before)
			}
			waitGoroutines(t, p)
			if n := len(fin.of(rec.TaskID)); n != 1 {
				t.Errorf("Finished called %d times", n)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		p := newPool(t, tasks.Options{})
		rec, ok, err := p.Cancel(context.Background(), "task_unknown")
		if err != nil || ok || rec.TaskID != "" {
			t.Errorf("Cancel of an unknown task = %+v, ok %v, err %v", rec, ok, err)
		}
	})
}

func TestDeadline(t *testing.T) {
	const timeout = 20 * time.Millisecond
	cases := []struct {
		name string
		// honour: the work returns at once when its context ends (with a
		// success, which the pool must not record); else it ignores it
		// until released.
		honour bool
	}{
		{"work ignores its context", false},
		{"work returns when its context ends", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fin := newFinished()
			p := newPool(t, tasks.Options{Finished: fin.Func})
			release := newGate(t)
			ctxErr := make(chan error, 1)
			reportErr := make(chan error, 1)
			// Timed from before Start: the deadline's timer starts inside it,
			// and a test goroutine descheduled after Start would time less.
			start := time.Now()
			rec, err := p.Start(tasks.Spec{Timeout: timeout, Run: func(ctx context.Context, report func(tasks.Progress) error) tasks.Outcome {
				if tc.honour {
					<-ctx.Done()
				} else {
					<-release.ch
				}
				ctxErr <- ctx.Err()
				reportErr <- report(tasks.Progress{Percent: 100, Message: "done"})
				return tasks.Outcome{OK: true, Result: json.RawMessage(`{"status":"success","summary":"","data":{}}`)}
			}})
			if err != nil {
				t.Fatal(err)
			}
			done := p.Done(rec.TaskID)
			waitClosed(t, done, "Done at the deadline")
			elapsed := time.Since(start)
			if elapsed < timeout-time.Millisecond || elapsed > waitLimit/2 {
				t.Errorf("ended after %v, want right after the %v deadline", elapsed, timeout)
			}
			got := get(t, p, rec.TaskID)
			checkEnded(t, got, tasks.Error, runtime.CodeBackendTimeout, true)
			if f := fin.next(t); f.TaskID != rec.TaskID || f.Status != tasks.Error {
				t.Errorf("Finished got %+v", f)
			}

			release.Open()
			if err := waitClosed(t, ctxErr, "work"); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("work's ctx.Err() = %v, want context.DeadlineExceeded", err)
			}
			if err := waitClosed(t, reportErr, "report"); err == nil {
				t.Error("report after the deadline succeeded")
			}
			waitGoroutines(t, p)
			after := get(t, p, rec.TaskID)
			if after.Status != tasks.Error || string(after.Result) != string(got.Result) || after.Progress != (tasks.Progress{}) {
				t.Errorf("the work's late result overwrote the timed-out record: %+v", after)
			}
			if n := len(fin.of(rec.TaskID)); n != 1 {
				t.Errorf("Finished called %d times", n)
			}
		})
	}
}

// TestDeadlineWinsOverALateResult: a work that returns when its context
// ends at the deadline races the pool's own ending of the task; the task
// timed out all the same, every time, and once Wait returns its final
// record is written and Finished told.
func TestDeadlineWinsOverALateResult(t *testing.T) {
	const n = 100
	fin := newFinished()
	fin.ch = make(chan tasks.Record, n)
	p := newPool(t, tasks.Options{Finished: fin.Func, MaxRunning: n})
	ids := make([]string, 0, n)
	for range n {
		rec, err := p.Start(tasks.Spec{Timeout: time.Millisecond, Run: func(ctx context.Context, _ func(tasks.Progress) error) tasks.Outcome {
			<-ctx.Done()
			return tasks.Outcome{OK: true, Result: json.RawMessage(`{"status":"success","summary":"","data":{}}`)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.TaskID)
	}
	waitGoroutines(t, p)
	late := 0
	for _, id := range ids {
		if rec := get(t, p, id); rec.Status != tasks.Error || decode(t, rec.Result).ErrorCode != runtime.CodeBackendTimeout {
			late++
		}
		if c := len(fin.of(id)); c != 1 {
			t.Errorf("task %s: Finished called %d times", id, c)
		}
	}
	if late > 0 {
		t.Errorf("%d of %d tasks whose work returned after the deadline were not recorded as timed out", late, n)
	}
}

func TestPanicIsInternal(t *testing.T) {
	cases := []struct {
		name  string
		value any
	}{
		{"string", "boom"},
		{"error", errors.New("nil map")},
		{"nil", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.ErrorLevel)
			fin := newFinished()
			p := newPool(t, tasks.Options{Finished: fin.Func, Logger: zap.New(core)})
			rec, err := p.Start(tasks.Spec{AppID: "mail", Function: "purge", Timeout: time.Hour,
				Run: func(ctx context.Context, report func(tasks.Progress) error) tasks.Outcome {
					_ = report(tasks.Progress{Percent: 5, Message: "going"})
					panic(tc.value)
				}})
			if err != nil {
				t.Fatal(err)
			}
			waitClosed(t, p.Done(rec.TaskID), "Done")
			got := get(t, p, rec.TaskID)
			checkEnded(t, got, tasks.Error, runtime.CodeInternal, false)
			if strings.Contains(string(got.Result), "boom") || strings.Contains(string(got.Result), "nil map") {
				t.Errorf("the panic value reached the result: %s", got.Result)
			}
			if got.Progress.Message != "going" {
				t.Errorf("progress %+v lost", got.Progress)
			}
			if f := fin.next(t); f.Status != tasks.Error {
				t.Errorf("Finished got %+v", f)
			}
			waitGoroutines(t, p)
			entries := logs.FilterMessage("task panicked").All()
			if len(entries) != 1 || entries[0].ContextMap()["task_id"] != rec.TaskID {
				t.Errorf("panic logs %+v, want one naming the task", entries)
			}
		})
	}
}

func TestDrain(t *testing.T) {
	t.Run("ctx already ended", func(t *testing.T) {
		fin := newFinished()
		p := newPool(t, tasks.Options{Finished: fin.Func})
		release := newGate(t)
		ctxErr := make(chan error, 1)
		rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(ctx context.Context, report func(tasks.Progress) error) tasks.Outcome {
			_ = report(tasks.Progress{Percent: 30, Message: "a third"})
			<-release.ch
			ctxErr <- ctx.Err()
			return tasks.Outcome{OK: true, Result: json.RawMessage(`{}`)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		done := p.Done(rec.TaskID)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if n := p.Drain(ctx); n != 1 {
			t.Errorf("Drain = %d, want 1", n)
		}
		waitClosed(t, done, "Done")
		got := get(t, p, rec.TaskID)
		checkEnded(t, got, tasks.Cancelled, runtime.CodeCanceled, true)
		if r := decode(t, got.Result); !strings.Contains(r.Error, "host shut down") {
			t.Errorf("result %s does not say the host shut down", got.Result)
		}
		if f := fin.next(t); f.Status != tasks.Cancelled {
			t.Errorf("Finished got %+v", f)
		}
		if _, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(context.Context, func(tasks.Progress) error) tasks.Outcome {
			t.Error("work started after Drain")
			return tasks.Outcome{}
		}}); !errors.Is(err, tasks.ErrClosed) {
			t.Errorf("Start after Drain: %v, want ErrClosed", err)
		}
		release.Open()
		if err := waitClosed(t, ctxErr, "work"); !errors.Is(err, context.Canceled) {
			t.Errorf("work's ctx.Err() = %v, want context.Canceled", err)
		}
		waitGoroutines(t, p)
		if after := get(t, p, rec.TaskID); after.Status != tasks.Cancelled {
			t.Errorf("late result overwrote the drained record: %+v", after)
		}
		if n := len(fin.of(rec.TaskID)); n != 1 {
			t.Errorf("Finished called %d times", n)
		}
	})

	t.Run("ctx ends while waiting", func(t *testing.T) {
		p := newPool(t, tasks.Options{})
		release := newGate(t)
		rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(ctx context.Context, _ func(tasks.Progress) error) tasks.Outcome {
			<-release.ch
			return tasks.Outcome{OK: true, Result: json.RawMessage(`{}`)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if n := p.Drain(ctx); n != 1 {
			t.Errorf("Drain = %d, want 1", n)
		}
		checkEnded(t, get(t, p, rec.TaskID), tasks.Cancelled, runtime.CodeCanceled, true)
	})

	t.Run("finishes in time", func(t *testing.T) {
		fin := newFinished()
		p := newPool(t, tasks.Options{Finished: fin.Func})
		release := newGate(t)
		started := make(chan struct{})
		rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(ctx context.Context, _ func(tasks.Progress) error) tasks.Outcome {
			close(started)
			<-release.ch
			return tasks.Outcome{OK: true, Result: json.RawMessage(`{"status":"success","summary":"","data":{}}`)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		waitClosed(t, started, "work start")
		drained := make(chan int, 1)
		go func() { drained <- p.Drain(context.Background()) }()
		release.Open()
		if n := waitClosed(t, drained, "Drain"); n != 0 {
			t.Errorf("Drain = %d, want 0", n)
		}
		if got := get(t, p, rec.TaskID); got.Status != tasks.Success {
			t.Errorf("status %q, want success", got.Status)
		}
		if _, err := p.Start(tasks.Spec{Timeout: time.Hour}); !errors.Is(err, tasks.ErrClosed) {
			t.Errorf("Start after Drain: %v, want ErrClosed", err)
		}
		if n := len(fin.of(rec.TaskID)); n != 1 {
			t.Errorf("Finished called %d times", n)
		}
	})

	t.Run("empty pool", func(t *testing.T) {
		p := newPool(t, tasks.Options{})
		if n := p.Drain(context.Background()); n != 0 {
			t.Errorf("Drain = %d, want 0", n)
		}
		if _, err := p.Start(tasks.Spec{Timeout: time.Hour}); !errors.Is(err, tasks.ErrClosed) {
			t.Errorf("Start after Drain: %v, want ErrClosed", err)
		}
	})
}

func TestCloseEndsRunningTasks(t *testing.T) {
	fin := newFinished()
	p := tasks.NewPool(tasks.Options{Finished: fin.Func})
	release := newGate(t)
	rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(ctx context.Context, _ func(tasks.Progress) error) tasks.Outcome {
		<-release.ch
		return tasks.Outcome{OK: true, Result: json.RawMessage(`{}`)}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkEnded(t, get(t, p, rec.TaskID), tasks.Cancelled, runtime.CodeCanceled, true)
	if _, err := p.Start(tasks.Spec{Timeout: time.Hour}); !errors.Is(err, tasks.ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
	release.Open()
	waitGoroutines(t, p)
	if n := len(fin.of(rec.TaskID)); n != 1 {
		t.Errorf("Finished called %d times", n)
	}
}
