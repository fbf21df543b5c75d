package tasks_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imperalcloud/exthost/internal/tasks"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// deleteNamespace removes the keys a test wrote under ns.
func deleteNamespace(t *testing.T, rdb redis.UniversalClient, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	keys, err := rdb.Keys(ctx, ns+"*").Result()
	if err != nil {
		t.Logf("cleanup of %s: %v", ns, err)
		return
	}
	if len(keys) > 0 {
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			t.Logf("cleanup of %s: %v", ns, err)
		}
	}
}

func newRedis(t *testing.T) (*tasks.Redis, redis.UniversalClient, string) {
	rdb := testredis.Client(t)
	ns := testredis.UniqueID(t) + ":"
	t.Cleanup(func() { deleteNamespace(t, rdb, ns) })
	r := tasks.NewRedis(rdb, tasks.RedisOptions{Namespace: ns})
	t.Cleanup(func() { _ = r.Close() })
	return r, rdb, ns
}

func TestRedisFinalRecordIsNotOverwritten(t *testing.T) {
	ctx := context.Background()
	r, rdb, ns := newRedis(t)
	id := "task_" + testredis.UniqueID(t)
	if _, ok, err := r.Read(ctx, id); err != nil || ok {
		t.Fatalf("Read of an unknown task = %v, %v", ok, err)
	}
	running := tasks.Record{TaskID: id, AppID: "mail", Status: tasks.Running, Result: json.RawMessage("null"),
		Progress:  tasks.Progress{Percent: 10, Message: "héllo"},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Deadline: time.Date(2025, 1, 2, 4, 4, 5, 0, time.UTC)}
	cancelled := running
	cancelled.Status, cancelled.Result = tasks.Cancelled, json.RawMessage(`{"status":"error","summary":"","data":{},"error":"x","error_code":"CANCELED"}`)
	success := running
	success.Status, success.Result = tasks.Success, json.RawMessage(`{"status":"success","summary":"","data":{}}`)

	steps := []struct {
		write tasks.Record
		wrote bool
		want  tasks.Status
	}{
		{running, true, tasks.Running},
		{running, true, tasks.Running},
		{cancelled, true, tasks.Cancelled},
		{running, false, tasks.Cancelled},
		{success, false, tasks.Cancelled},
	}
	for i, s := range steps {
		wrote, err := r.Write(ctx, s.write, time.Hour)
		if err != nil || wrote != s.wrote {
			t.Fatalf("step %d: Write(%s) = %v, %v; want %v", i, s.write.Status, wrote, err, s.wrote)
		}
		got, ok, err := r.Read(ctx, id)
		if err != nil || !ok || got.Status != s.want {
			t.Fatalf("step %d: Read = %+v, %v, %v; want %q", i, got, ok, err, s.want)
		}
		if got.Progress != running.Progress || !got.CreatedAt.Equal(running.CreatedAt) || got.AppID != "mail" {
			t.Fatalf("step %d: record does not round-trip: %+v", i, got)
		}
	}
	ttl, err := rdb.PTTL(ctx, ns+"exthost:task:"+id).Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("key TTL %v, %v: want at most the hour written", ttl, err)
	}

	// Another namespace does not see it.
	other := tasks.NewRedis(rdb, tasks.RedisOptions{Namespace: ns + "other:"})
	if _, ok, err := other.Read(ctx, id); err != nil || ok {
		t.Errorf("another namespace reads the record: %v, %v", ok, err)
	}
}

func TestRedisAnnounceReachesTheOtherReplica(t *testing.T) {
	ctx := context.Background()
	a, rdb, ns := newRedis(t)
	b := tasks.NewRedis(rdb, tasks.RedisOptions{Namespace: ns})
	t.Cleanup(func() { _ = b.Close() })
	other := tasks.NewRedis(rdb, tasks.RedisOptions{Namespace: ns + "other:"})

	heard := make(chan string, 4)
	a.Listen(func(id string) { heard <- id })
	a.Listen(func(id string) { t.Errorf("a second listener heard %s", id) }) // ignored
	if err := other.Announce(ctx, "task_elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := b.Announce(ctx, "task_1"); err != nil {
		t.Fatal(err)
	}
	if id := waitClosed(t, heard, "announcement"); id != "task_1" {
		t.Errorf("heard %q, want task_1 (another namespace's announcement leaked?)", id)
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestRedisListenAfterClose: a closed Redis may listen again.
func TestRedisListenAfterClose(t *testing.T) {
	ctx := context.Background()
	a, rdb, ns := newRedis(t)
	b := tasks.NewRedis(rdb, tasks.RedisOptions{Namespace: ns})
	var mu sync.Mutex
	first := 0
	a.Listen(func(string) { mu.Lock(); first++; mu.Unlock() })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	heard := make(chan string, 1)
	a.Listen(func(id string) { heard <- id })
	if err := b.Announce(ctx, "task_2"); err != nil {
		t.Fatal(err)
	}
	if id := waitClosed(t, heard, "announcement"); id != "task_2" {
		t.Errorf("heard %q", id)
	}
	mu.Lock()
	defer mu.Unlock()
	if first != 0 {
		t.Errorf("the closed listener heard %d announcements", first)
	}
}
