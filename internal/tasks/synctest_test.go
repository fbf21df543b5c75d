package tasks_test

import (
	"context"
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imperalcloud/exthost/internal/tasks"
	"github.com/imperalcloud/exthost/runtime"
)

// TestCancelWhileTheTaskEnds cancels a task whose work has returned and
// whose final record is being written: Cancel answers with that final
// record, never the running one it would read before the write lands.
func TestCancelWhileTheTaskEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		recs := &hooked{Records: tasks.NewMemory(tasks.MemoryOptions{})}
		recs.beforeWrite = func(rec tasks.Record) {
			if rec.Status.Final() {
				<-release // the store is slow to take the final record
			}
		}
		fin := newFinished()
		p := tasks.NewPool(tasks.Options{Records: recs, Finished: fin.Func})
		rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(context.Context, func(tasks.Progress) error) tasks.Outcome {
			return tasks.Outcome{OK: true, Result: json.RawMessage(`{"status":"success","summary":"","data":{}}`)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the work has returned; its final record is on its way

		answer := make(chan tasks.Record, 1)
		go func() {
			got, _, err := p.Cancel(context.Background(), rec.TaskID)
			if err != nil {
				t.Errorf("Cancel: %v", err)
			}
			answer <- got
		}()
		synctest.Wait()
		select {
		case got := <-answer:
			t.Errorf("Cancel answered %q before the task's final record was written", got.Status)
			close(release)
		default:
			close(release)
			if got := <-answer; got.Status != tasks.Success {
				t.Errorf("Cancel answered %q, want the task's own success", got.Status)
			}
		}
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		if err := p.Wait(context.Background()); err != nil {
			t.Error(err)
		}
		if n := len(fin.of(rec.TaskID)); n != 1 {
			t.Errorf("Finished called %d times", n)
		}
	})
}

// TestDeadlineOnAFakeClock: in a bubble, the deadline is exact.
func TestDeadlineOnAFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		p := tasks.NewPool(tasks.Options{})
		start := time.Now()
		rec, err := p.Start(tasks.Spec{Timeout: 90 * time.Second, Run: func(context.Context, func(tasks.Progress) error) tasks.Outcome {
			<-release
			return tasks.Outcome{OK: true, Result: json.RawMessage(`{}`)}
		}})
		if err != nil {
			t.Fatal(err)
		}
		<-p.Done(rec.TaskID)
		if d := time.Since(start); d != 90*time.Second {
			t.Errorf("ended after %v, want exactly the 90s deadline", d)
		}
		got := get(t, p, rec.TaskID)
		checkEnded(t, got, tasks.Error, runtime.CodeBackendTimeout, true)
		if !got.UpdatedAt.Equal(got.Deadline) {
			t.Errorf("ended at %v, deadline %v", got.UpdatedAt, got.Deadline)
		}
		close(release)
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		if err := p.Wait(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// A final record that fails to be written is tried again; one that never
// lands fails Cancel, rather than answering a record that says running.
func TestFinalWriteIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failures  int
		wantError bool
	}{
		{"a blip", 2, false},
		{"an outage", 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				recs := &hooked{Records: tasks.NewMemory(tasks.MemoryOptions{}), failFinal: tc.failures}
				p := tasks.NewPool(tasks.Options{Records: recs})
				rec, err := p.Start(tasks.Spec{Timeout: time.Hour, Run: func(ctx context.Context, _ func(tasks.Progress) error) tasks.Outcome {
					<-ctx.Done()
					return tasks.Outcome{}
				}})
				if err != nil {
					t.Fatal(err)
				}
				got, _, err := p.Cancel(context.Background(), rec.TaskID)
				switch {
				case tc.wantError && err == nil:
					t.Fatalf("Cancel = %q, nil; want the store's error", got.Status)
				case !tc.wantError && (err != nil || got.Status != tasks.Cancelled):
					t.Fatalf("Cancel = %q, %v; want cancelled after the retries", got.Status, err)
				}
				if err := p.Close(); err != nil {
					t.Error(err)
				}
				if err := p.Wait(context.Background()); err != nil {
					t.Error(err)
				}
			})
		})
	}
}
