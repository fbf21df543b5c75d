package tasks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/tasks"
)

func rec(id string, status tasks.Status) tasks.Record {
	return tasks.Record{TaskID: id, Status: status, Result: json.RawMessage("null")}
}

func TestMemoryWriteAndExpiry(t *testing.T) {
	ctx := context.Background()
	type step struct {
		advance time.Duration // before the step
		write   *tasks.Record // written with ttl, or nil to only read
		ttl     time.Duration
		wrote   bool
		found   bool
		status  tasks.Status // of what Read finds
	}
	running, final, success := rec("task_a", tasks.Running), rec("task_a", tasks.Cancelled), rec("task_a", tasks.Success)
	cases := []struct {
		name  string
		steps []step
	}{
		{"unknown", []step{{found: false}}},
		{"running kept to its ttl", []step{
			{write: &running, ttl: time.Minute, wrote: true, found: true, status: tasks.Running},
			{advance: time.Minute - time.Nanosecond, found: true, status: tasks.Running},
			{advance: time.Nanosecond, found: false},
		}},
		{"running overwritten by running and by final", []step{
			{write: &running, ttl: time.Minute, wrote: true, found: true, status: tasks.Running},
			{write: &running, ttl: time.Minute, wrote: true, found: true, status: tasks.Running},
			{write: &final, ttl: time.Hour, wrote: true, found: true, status: tasks.Cancelled},
		}},
		{"final never overwritten while kept", []step{
			{write: &final, ttl: time.Hour, wrote: true, found: true, status: tasks.Cancelled},
			{write: &running, ttl: time.Hour, wrote: false, found: true, status: tasks.Cancelled},
			{advance: 59 * time.Minute, write: &success, ttl: time.Hour, wrote: false, found: true, status: tasks.Cancelled},
			{advance: time.Minute, found: false},
		}},
		{"an expired final record is forgotten", []step{
			{write: &final, ttl: time.Second, wrote: true, found: true, status: tasks.Cancelled},
			{advance: time.Second, write: &running, ttl: time.Minute, wrote: true, found: true, status: tasks.Running},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			m := tasks.NewMemory(tasks.MemoryOptions{Now: clk.Now})
			for i, s := range tc.steps {
				clk.Advance(s.advance)
				if s.write != nil {
					wrote, err := m.Write(ctx, *s.write, s.ttl)
					if err != nil || wrote != s.wrote {
						t.Fatalf("step %d: Write = %v, %v; want %v", i, wrote, err, s.wrote)
					}
				}
				got, found, err := m.Read(ctx, "task_a")
				if err != nil || found != s.found || found && got.Status != s.status {
					t.Fatalf("step %d: Read = %+v, %v, %v; want found %v, %q", i, got, found, err, s.found, s.status)
				}
			}
		})
	}
}

// TestMemoryForgetsExpiredRecords writes many records past their expiry, so
// that the periodic sweep runs, and checks the live ones survive it.
func TestMemoryForgetsExpiredRecords(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	m := tasks.NewMemory(tasks.MemoryOptions{Now: clk.Now})
	if _, err := m.Write(ctx, rec("task_live", tasks.Success), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if _, err := m.Write(ctx, rec(fmt.Sprintf("task_%d", i), tasks.Running), time.Second); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	if _, ok, _ := m.Read(ctx, "task_live"); !ok {
		t.Error("a live record was swept")
	}
	if _, ok, _ := m.Read(ctx, "task_0"); ok {
		t.Error("an expired record is still read")
	}
}

func TestMemoryAnnounceReachesEveryListener(t *testing.T) {
	m := tasks.NewMemory(tasks.MemoryOptions{})
	var mu sync.Mutex
	var heard []string
	for _, who := range []string{"a", "b"} {
		m.Listen(func(id string) {
			mu.Lock()
			heard = append(heard, who+":"+id)
			mu.Unlock()
		})
	}
	if err := m.Announce(context.Background(), "task_x"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(heard)
	if !slices.Equal(heard, []string{"a:task_x", "b:task_x"}) {
		t.Errorf("heard %v", heard)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestPoolRecordsExpire: a running record is kept to its deadline and a
// ResultTTL more; a final one for ResultTTL from its end. The pool's own
// Memory runs on Options.Now.
func TestPoolRecordsExpire(t *testing.T) {
	const timeout, ttl = time.Hour, 2 * time.Hour
	clk := newClock()
	p := newPool(t, tasks.Options{Now: clk.Now, ResultTTL: ttl})
	release := newGate(t)
	r, err := p.Start(tasks.Spec{Timeout: timeout, Run: func(context.Context, func(tasks.Progress) error) tasks.Outcome {
		<-release.ch
		return tasks.Outcome{OK: true, Result: json.RawMessage(`{}`)}
	}})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(timeout + ttl - time.Nanosecond)
	if got, ok, _ := p.Get(context.Background(), r.TaskID); !ok || got.Status != tasks.Running {
		t.Fatalf("running record gone before its deadline and a ResultTTL: %+v, %v", got, ok)
	}
	clk.Advance(time.Nanosecond)
	if _, ok, _ := p.Get(context.Background(), r.TaskID); ok {
		t.Fatal("running record kept past its deadline and a ResultTTL")
	}

	// A second task, ended: its record is kept ResultTTL from its end.
	r, err = p.Start(tasks.Spec{Timeout: timeout, Run: func(context.Context, func(tasks.Progress) error) tasks.Outcome {
		return tasks.Outcome{OK: true, Result: json.RawMessage(`{}`)}
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := p.Done(r.TaskID)
	waitClosed(t, done, "Done")
	clk.Advance(ttl - time.Nanosecond)
	if got, ok, _ := p.Get(context.Background(), r.TaskID); !ok || got.Status != tasks.Success {
		t.Fatalf("final record gone before ResultTTL: %+v, %v", got, ok)
	}
	clk.Advance(time.Nanosecond)
	if _, ok, _ := p.Get(context.Background(), r.TaskID); ok {
		t.Fatal("final record kept past ResultTTL")
	}
}
