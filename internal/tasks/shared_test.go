package tasks_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/tasks"
	"github.com/imperalcloud/exthost/internal/testredis"
	"github.com/imperalcloud/exthost/runtime"
)

// backend gives two Records sharing one store, as two replicas have.
type backend struct {
	name string
	pair func(t *testing.T) (a, b tasks.Records)
}

var backends = []backend{
	{"memory", func(t *testing.T) (tasks.Records, tasks.Records) {
		m := tasks.NewMemory(tasks.MemoryOptions{})
		return m, m
	}},
	{"redis", func(t *testing.T) (tasks.Records, tasks.Records) {
		rdb := testredis.Client(t)
		ns := testredis.UniqueID(t) + ":"
		t.Cleanup(func() { deleteNamespace(t, rdb, ns) })
		return tasks.NewRedis(rdb, tasks.RedisOptions{Namespace: ns}), tasks.NewRedis(rdb, tasks.RedisOptions{Namespace: ns})
	}},
}

// replicas returns two pools sharing records, telling fin of their ends.
func replicas(t *testing.T, be backend, fin *finished, wrapB func(tasks.Records) tasks.Records) (a, b *tasks.Pool) {
	t.Helper()
	ra, rb := be.pair(t)
	if wrapB != nil {
		rb = wrapB(rb)
	}
	return newPool(t, tasks.Options{Records: ra, Finished: fin.Func}), newPool(t, tasks.Options{Records: rb, Finished: fin.Func})
}

func TestReplicasShareRecords(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			fin := newFinished()
			a, b := replicas(t, be, fin, nil)
			reported := make(chan error, 1)
			release := newGate(t)
			rec, err := a.Start(tasks.Spec{AppID: "mail", UserID: "u1", Function: "archive", Name: "Archive", Timeout: time.Hour,
				Run: func(ctx context.Context, report func(tasks.Progress) error) tasks.Outcome {
					reported <- report(tasks.Progress{Percent: 40, Message: "halfway"})
					<-release.ch
					return tasks.Outcome{OK: true, Result: json.RawMessage(`{"status":"success","summary":"archived","data":{}}`)}
				}})
			if err != nil {
				t.Fatal(err)
			}
			if err := waitClosed(t, reported, "report"); err != nil {
				t.Fatalf("report: %v", err)
			}
			got := get(t, b, rec.TaskID)
			if got.Status != tasks.Running || got.AppID != "mail" || got.UserID != "u1" || got.Name != "Archive" ||
				got.Progress != (tasks.Progress{Percent: 40, Message: "halfway"}) || !got.Deadline.Equal(rec.Deadline) {
				t.Errorf("B reads %+v", got)
			}
			release.Open()
			f := fin.next(t)
			if f.TaskID != rec.TaskID || f.Status != tasks.Success {
				t.Errorf("Finished got %+v", f)
			}
			waitGoroutines(t, a)
			got = get(t, b, rec.TaskID)
			if got.Status != tasks.Success || decode(t, got.Result).Summary != "archived" {
				t.Errorf("B reads %+v after the end", got)
			}
			if n := len(fin.of(rec.TaskID)); n != 1 {
				t.Errorf("Finished called %d times across the pools", n)
			}
		})
	}
}

func TestCancelOnAnotherReplica(t *testing.T) {
	cases := []struct {
		name string
		// lost: B's announcement never reaches A, which learns of the
		// cancellation at its next progress report.
		lost bool
	}{
		{"announced", false},
		{"announcement lost", true},
	}
	for _, be := range backends {
		for _, tc := range cases {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				fin := newFinished()
				var wrap func(tasks.Records) tasks.Records
				if tc.lost {
					wrap = func(r tasks.Records) tasks.Records { return &hooked{Records: r, dropAnnounce: true} }
				}
				a, b := replicas(t, be, fin, wrap)
				ctxEnded := make(chan error, 1)
				reportNow := make(chan struct{})
				reportErr := make(chan error, 1)
				proceed := newGate(t)
				started := make(chan struct{})
				rec, err := a.Start(tasks.Spec{AppID: "mail", Timeout: time.Hour,
					Run: func(ctx context.Context, report func(tasks.Progress) error) tasks.Outcome {
						if err := report(tasks.Progress{Percent: 40, Message: "halfway"}); err != nil {
							t.Errorf("first report: %v", err)
						}
						close(started)
						select {
						case <-ctx.Done():
						case <-reportNow:
							reportErr <- report(tasks.Progress{Percent: 60, Message: "more"})
						}
						ctxEnded <- ctx.Err()
						<-proceed.ch
						return tasks.Outcome{OK: true, Result: json.RawMessage(`{"status":"success","summary":"late","data":{}}`)}
					}})
				if err != nil {
					t.Fatal(err)
				}
				done := a.Done(rec.TaskID)
				waitClosed(t, started, "work start")

				got, ok, err := b.Cancel(context.Background(), rec.TaskID)
				if err != nil || !ok {
					t.Fatalf("Cancel on B = ok %v, err %v", ok, err)
				}
				checkEnded(t, got, tasks.Cancelled, runtime.CodeCanceled, false)
				if got.Progress != (tasks.Progress{Percent: 40, Message: "halfway"}) {
					t.Errorf("cancelled record's progress %+v", got.Progress)
				}
				if f := fin.next(t); f.TaskID != rec.TaskID || f.Status != tasks.Cancelled {
					t.Errorf("Finished got %+v", f)
				}
				if tc.lost {
					close(reportNow)
					if err := waitClosed(t, reportErr, "report after the cancellation"); err == nil {
						t.Error("A's report after B's cancellation succeeded")
					}
				}
				if err := waitClosed(t, ctxEnded, "A's work context"); err == nil {
					t.Error("A's work context did not end")
				}
				waitClosed(t, done, "A's Done")

				proceed.Open()
				waitGoroutines(t, a)
				for name, p := range map[string]*tasks.Pool{"A": a, "B": b} {
					if after := get(t, p, rec.TaskID); after.Status != tasks.Cancelled || string(after.Result) != string(got.Result) {
						t.Errorf("%s reads %+v after A's work returned", name, after)
					}
				}
				again, ok, err := a.Cancel(context.Background(), rec.TaskID)
				if err != nil || !ok || again.Status != tasks.Cancelled {
					t.Errorf("Cancel on A afterwards = %+v, %v, %v", again, ok, err)
				}
				if n := len(fin.of(rec.TaskID)); n != 1 {
					t.Errorf("Finished called %d times across the pools, want once", n)
				}
			})
		}
	}
}

// TestCancelRacesTheEnd cancels on B as A's work returns: whichever wins,
// the record is final and Finished is told once, of that record.
func TestCancelRacesTheEnd(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			fin := newFinished()
			a, b := replicas(t, be, fin, nil)
			for range 20 {
				release := make(chan struct{})
				rec, err := a.Start(tasks.Spec{Timeout: time.Hour, Run: func(ctx context.Context, _ func(tasks.Progress) error) tasks.Outcome {
					<-release
					return tasks.Outcome{OK: true, Result: json.RawMessage(`{"status":"success","summary":"","data":{}}`)}
				}})
				if err != nil {
					t.Fatal(err)
				}
				close(release)
				got, ok, err := b.Cancel(context.Background(), rec.TaskID)
				if err != nil || !ok || !got.Status.Final() {
					t.Fatalf("Cancel = %+v, %v, %v: want a final record", got, ok, err)
				}
				f := fin.next(t)
				waitGoroutines(t, a)
				final := get(t, a, rec.TaskID)
				if fs := fin.of(rec.TaskID); len(fs) != 1 {
					t.Fatalf("Finished called %d times", len(fs))
				}
				if f.TaskID != rec.TaskID || f.Status != final.Status || got.Status != final.Status {
					t.Fatalf("Finished %q, Cancel %q, stored %q", f.Status, got.Status, final.Status)
				}
			}
		})
	}
}
