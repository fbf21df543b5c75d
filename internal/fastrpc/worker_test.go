package fastrpc_test

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/internal/fastrpc"
	"github.com/imperalcloud/exthost/internal/testkit"
	"github.com/imperalcloud/exthost/internal/testredis"
)

// rig is a stream of a test's own in a Redis, and a producer of calls.
type rig struct {
	rdb    redis.UniversalClient
	stream string
	group  string
	prefix string
	run    string // in every corr_id: unique to the rig
	seq    atomic.Int64
}

func newRig(t *testing.T, rdb redis.UniversalClient) *rig {
	id := testredis.UniqueID(t)
	r := &rig{rdb: rdb, stream: "test:rpc:{" + id + "}:calls", group: "exthost", prefix: "test:" + id + ":", run: crand.Text()[:16]}
	t.Cleanup(func() { rdb.Del(context.Background(), r.stream) })
	return r
}

// worker starts a worker on the rig's stream and waits until its group
// exists; it is shut down when the test ends.
func (r *rig) worker(t *testing.T, opts fastrpc.Options) *fastrpc.Worker {
	t.Helper()
	opts.Redis, opts.Stream, opts.Group, opts.KeyPrefix = r.rdb, r.stream, r.group, r.prefix
	if opts.Block == 0 {
		opts.Block = 50 * time.Millisecond
	}
	w, err := fastrpc.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- w.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != fastrpc.ErrWorkerClosed {
			t.Errorf("Serve = %v", err)
		}
	})
	select {
	case <-w.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("worker not ready")
	}
	return w
}

// envelope returns a valid call envelope with a fresh corr_id, changed by
// the given fields (nil deletes one).
func (r *rig) envelope(changes map[string]any) map[string]any {
	corr := fmt.Sprintf("corr-%s-%08d", r.run, r.seq.Add(1))
	env := map[string]any{
		"v": 1, "corr_id": corr, "user_id": "u-1", "tenant_id": "default", "agency_id": nil, "email": "u@example.com",
		"role": "user", "scopes": []string{}, "attributes": map[string]any{}, "app_id": "mail-client",
		"function": "list_inbox", "params": map[string]any{"account_id": "work"},
		"reply_list": r.prefix + "reply:" + corr, "deadline_ns": time.Now().Add(10 * time.Second).UnixNano(),
		"submitted_at_ns": time.Now().UnixNano(),
	}
	for k, v := range changes {
		if v == nil {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return env
}

// send adds env to the stream and returns its entry id.
func (r *rig) send(t *testing.T, env map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(env)
	return r.sendRaw(t, map[string]any{"payload": string(payload)})
}

func (r *rig) sendRaw(t *testing.T, values map[string]any) string {
	t.Helper()
	id, err := r.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: r.stream, Values: values}).Result()
	if err != nil {
		t.Fatalf("XADD: %v", err)
	}
	return id
}

// reply waits for the reply pushed to list.
func (r *rig) reply(t *testing.T, list string) fastrpc.Reply {
	t.Helper()
	out, err := r.rdb.BRPop(context.Background(), 10*time.Second, list).Result()
	if err != nil {
		t.Fatalf("no reply on %s: %v", list, err)
	}
	var reply fastrpc.Reply
	if err := json.Unmarshal([]byte(out[1]), &reply); err != nil {
		t.Fatalf("reply %s: %v", out[1], err)
	}
	return reply
}

// pending is the number of the group's entries not yet acknowledged.
func (r *rig) pending(t *testing.T) int64 {
	t.Helper()
	p, err := r.rdb.XPending(context.Background(), r.stream, r.group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

// acknowledged waits until no entry is pending: acknowledgements follow
// the replies, in batches.
func (r *rig) acknowledged(t *testing.T) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "every entry acknowledged", func() bool { return r.pending(t) == 0 })
}

// echo answers every call with an ActionResult naming its function.
func echo(calls *atomic.Int64) fastrpc.Handler {
	return func(_ context.Context, req fastrpc.Request) fastrpc.Answer {
		calls.Add(1)
		return fastrpc.Answer{Result: []byte(`{"status":"success","summary":"` + req.Function + `","data":{}}`)}
	}
}

func TestServesACallAndAcknowledgesIt(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	var calls atomic.Int64
	w := r.worker(t, fastrpc.Options{Handler: echo(&calls)})
	env := r.envelope(nil)
	r.send(t, env)
	reply := r.reply(t, env["reply_list"].(string))
	if reply.Status != fastrpc.StatusSuccess || reply.Error != nil || reply.CorrID != env["corr_id"] ||
		reply.WorkerID != w.ID() || string(reply.Result) != `{"status":"success","summary":"list_inbox","data":{}}` ||
		reply.StartedAtNs == 0 || reply.FinishedAtNs < reply.StartedAtNs {
		t.Fatalf("reply %+v", reply)
	}
	r.acknowledged(t)
	if n := w.InFlight(); n != 0 { // its read is waiting, holding slots: none of them is a call
		t.Fatalf("%d calls in flight on an idle worker", n)
	}
	ttl, _ := r.rdb.PTTL(context.Background(), env["reply_list"].(string)).Result()
	if ttl != -2 { // popped; an unpopped list expires
		t.Fatalf("reply list TTL %s", ttl)
	}
}

// Three workers share one group: with one call in flight each, three
// calls that wait for one another can only finish if each worker took one.
func TestThreeWorkersShareTheGroup(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	var running sync.WaitGroup
	running.Add(3)
	served := make(map[string]*atomic.Int64)
	for i := range 3 {
		id := fmt.Sprintf("w%d", i)
		served[id] = new(atomic.Int64)
		count := served[id]
		first := sync.OnceFunc(running.Done)
		r.worker(t, fastrpc.Options{WorkerID: id, MaxInFlight: 1, Handler: func(_ context.Context, req fastrpc.Request) fastrpc.Answer {
			count.Add(1)
			first()
			running.Wait()
			return fastrpc.Answer{Result: []byte(`{"status":"success","summary":"","data":{}}`)}
		}})
	}
	var lists []string
	for range 30 {
		env := r.envelope(nil)
		r.send(t, env)
		lists = append(lists, env["reply_list"].(string))
	}
	byWorker := map[string]int{}
	for _, l := range lists {
		byWorker[r.reply(t, l).WorkerID]++
		if n, _ := r.rdb.LLen(context.Background(), l).Result(); n != 0 {
			t.Fatalf("%s holds %d more replies", l, n)
		}
	}
	var total int64
	for id, n := range served {
		total += n.Load()
		if byWorker[id] == 0 || int64(byWorker[id]) != n.Load() {
			t.Fatalf("worker %s ran %d calls and replied to %d", id, n.Load(), byWorker[id])
		}
	}
	if total != 30 {
		t.Fatalf("%d calls run for 30 entries", total)
	}
}

func TestExpiredDeadlineIsNotRun(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	var calls atomic.Int64
	r.worker(t, fastrpc.Options{Handler: echo(&calls)})
	env := r.envelope(map[string]any{"deadline_ns": time.Now().Add(-time.Second).UnixNano()})
	r.send(t, env)
	reply := r.reply(t, env["reply_list"].(string))
	if reply.Status != fastrpc.StatusError || reply.Error.Category != fastrpc.CategoryTimeout || !reply.Error.Retryable ||
		reply.Result != nil && string(reply.Result) != "null" {
		t.Fatalf("reply %+v %+v", reply, reply.Error)
	}
	if calls.Load() != 0 {
		t.Fatal("an expired call ran")
	}
}

func TestHandlerGetsTheDeadline(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	deadline := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	got := make(chan time.Time, 1)
	r.worker(t, fastrpc.Options{Handler: func(c context.Context, req fastrpc.Request) fastrpc.Answer {
		d, _ := c.Deadline()
		got <- d
		return fastrpc.Answer{Result: []byte(`{}`)}
	}})
	env := r.envelope(map[string]any{"deadline_ns": deadline.UnixNano()})
	r.send(t, env)
	r.reply(t, env["reply_list"].(string))
	if d := <-got; !d.Equal(deadline) {
		t.Fatalf("handler deadline %s, want %s", d, deadline)
	}
}

// Malformed entries are answered schema_violation when they can be
// addressed, dropped when not, acknowledged either way; the worker goes on.
func TestPoisonEntriesAreAnsweredAndAcknowledged(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	var calls atomic.Int64
	r.worker(t, fastrpc.Options{Handler: echo(&calls)})
	cases := []struct {
		name   string
		values func(env map[string]any) map[string]any
		field  string // "" for an entry that cannot be answered
	}{
		{"version 2", func(env map[string]any) map[string]any { env["v"] = 2; return payload(env) }, "v"},
		{"params a string", func(env map[string]any) map[string]any { env["params"] = `{"a":1}`; return payload(env) }, "params"},
		{"no tenant", func(env map[string]any) map[string]any { delete(env, "tenant_id"); return payload(env) }, "tenant_id"},
		{"deadline a fraction", func(env map[string]any) map[string]any { env["deadline_ns"] = 1.5; return payload(env) }, "deadline_ns"},
		{"short corr_id", func(env map[string]any) map[string]any { env["corr_id"] = "short"; return payload(env) }, ""},
		{"non-JSON payload", func(map[string]any) map[string]any { return map[string]any{"payload": "{not json"} }, ""},
		{"no payload field", func(map[string]any) map[string]any { return map[string]any{"body": "x"} }, ""},
		{"a reply list that shares no slot", func(env map[string]any) map[string]any { env["reply_list"] = "a{}b"; return payload(env) }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := r.envelope(nil)
			r.sendRaw(t, tc.values(env))
			if tc.field == "" {
				return
			}
			reply := r.reply(t, env["reply_list"].(string))
			if reply.Status != fastrpc.StatusError || reply.Error.Category != fastrpc.CategorySchema ||
				!strings.Contains(reply.Error.Message, tc.field) {
				t.Fatalf("reply %+v %+v", reply, reply.Error)
			}
		})
	}
	// The worker still serves, and left nothing pending.
	env := r.envelope(nil)
	r.send(t, env)
	if reply := r.reply(t, env["reply_list"].(string)); reply.Status != fastrpc.StatusSuccess {
		t.Fatalf("reply %+v", reply)
	}
	r.acknowledged(t)
	if calls.Load() != 1 {
		t.Fatalf("%d calls ran, want only the good one", calls.Load())
	}
}

func payload(env map[string]any) map[string]any {
	raw, _ := json.Marshal(env)
	return map[string]any{"payload": string(raw)}
}

// A corr_id sent again is answered from its record, not run again, and a
// refused envelope of that corr_id does not replace the record: it gets
// the recorded reply too.
func TestACorrIDIsAnsweredFromItsRecord(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	var calls atomic.Int64
	r.worker(t, fastrpc.Options{Handler: echo(&calls)})
	env := r.envelope(nil)
	list := env["reply_list"].(string)
	r.send(t, env)
	first := r.reply(t, list)
	for _, again := range []map[string]any{
		payload(env),
		payload(map[string]any{"v": 1, "corr_id": env["corr_id"], "reply_list": list}), // refused
		payload(env),
	} {
		r.sendRaw(t, again)
		if reply := r.reply(t, list); reply.Status != fastrpc.StatusSuccess || reply.StartedAtNs != first.StartedAtNs ||
			string(reply.Result) != string(first.Result) {
			t.Fatalf("reply %+v %+v, want the first", reply, reply.Error)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("ran %d times", calls.Load())
	}
}

// Every answered entry of a corr_id stays answered: an entry whose
// acknowledgement was lost, claimed after a later entry of its corr_id was
// replayed, is only acknowledged.
func TestEveryAnsweredEntryStaysAnswered(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	r.makeGroup(t)
	env := r.envelope(nil)
	r.send(t, env)
	first := r.deadConsumer(t) // answered, then its consumer died before the XACK
	list := env["reply_list"].(string)
	record := r.prefix + "reply:{" + list + "}:" + env["corr_id"].(string)
	r.rdb.HSet(context.Background(), record, "e:"+first, "1", "reply", `{"v":1,"corr_id":"`+env["corr_id"].(string)+
		`","status":"success","result":{},"worker_id":"dead","started_at_ns":1,"finished_at_ns":2,"error":null}`)
	r.rdb.Expire(context.Background(), record, time.Minute)
	var calls atomic.Int64
	outcomes := make(chan fastrpc.Outcome, 4)
	r.worker(t, fastrpc.Options{Handler: echo(&calls), ClaimIdle: 200 * time.Millisecond, ClaimInterval: 20 * time.Millisecond,
		Observer: observerFunc(func(o fastrpc.Outcome) { outcomes <- o })})
	r.send(t, env) // read at once: replayed
	if o := <-outcomes; o != fastrpc.OutcomeReplayed {
		t.Fatalf("the second entry: %s", o)
	}
	if o := <-outcomes; o != fastrpc.OutcomeDuplicate { // the first, claimed
		t.Fatalf("the first entry, claimed: %s", o)
	}
	if n, _ := r.rdb.LLen(context.Background(), list).Result(); n != 1 || calls.Load() != 0 {
		t.Fatalf("%d replies, %d calls; want the one replay", n, calls.Load())
	}
}

// A timeout is not cached (the SDK's should_cache_reply): sent again, the
// call runs.
func TestATimeoutIsNotCached(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	var calls atomic.Int64
	r.worker(t, fastrpc.Options{Handler: echo(&calls)})
	env := r.envelope(map[string]any{"deadline_ns": time.Now().Add(-time.Second).UnixNano()})
	r.send(t, env)
	if reply := r.reply(t, env["reply_list"].(string)); reply.Error == nil || reply.Error.Category != fastrpc.CategoryTimeout {
		t.Fatalf("reply %+v", reply)
	}
	env["deadline_ns"] = time.Now().Add(10 * time.Second).UnixNano()
	r.send(t, env)
	if reply := r.reply(t, env["reply_list"].(string)); reply.Status != fastrpc.StatusSuccess || calls.Load() != 1 {
		t.Fatalf("reply %+v after %d calls", reply, calls.Load())
	}
}

// deadConsumer reads one entry as a consumer that then dies: it stays
// pending with it.
func (r *rig) deadConsumer(t *testing.T) string {
	t.Helper()
	streams, err := r.rdb.XReadGroup(context.Background(), &redis.XReadGroupArgs{
		Group: r.group, Consumer: "dead", Streams: []string{r.stream, ">"}, Count: 1, Block: 5 * time.Second,
	}).Result()
	if err != nil || len(streams[0].Messages) != 1 {
		t.Fatalf("dead consumer read: %v", err)
	}
	return streams[0].Messages[0].ID
}

// group makes the rig's group, for a test whose consumers start after
// the entries it adds.
func (r *rig) makeGroup(t *testing.T) {
	t.Helper()
	if err := r.rdb.XGroupCreateMkStream(context.Background(), r.stream, r.group, "0").Err(); err != nil {
		t.Fatal(err)
	}
}

// The entry of a consumer that died is claimed after the idle bound and
// answered once.
func TestDeadConsumersEntriesAreClaimed(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	r.makeGroup(t)
	env := r.envelope(nil)
	r.send(t, env)
	r.deadConsumer(t)
	var calls atomic.Int64
	r.worker(t, fastrpc.Options{Handler: echo(&calls), ClaimIdle: 100 * time.Millisecond, ClaimInterval: 20 * time.Millisecond})
	if reply := r.reply(t, env["reply_list"].(string)); reply.Status != fastrpc.StatusSuccess {
		t.Fatalf("reply %+v", reply)
	}
	r.acknowledged(t)
	if calls.Load() != 1 {
		t.Fatalf("%d calls", calls.Load())
	}
}

// An entry whose reply was written before its consumer died is
// acknowledged when claimed, neither run nor answered again.
func TestAClaimedEntryWithAWrittenReplyIsOnlyAcknowledged(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	r.makeGroup(t)
	var calls atomic.Int64
	env := r.envelope(nil)
	r.send(t, env)
	id := r.deadConsumer(t)
	// What the dead consumer's reply script left: the record names the entry.
	list := env["reply_list"].(string)
	record := r.prefix + "reply:{" + list + "}:" + env["corr_id"].(string)
	r.rdb.HSet(context.Background(), record, "e:"+id, "1")
	r.rdb.Expire(context.Background(), record, time.Minute)
	r.worker(t, fastrpc.Options{Handler: echo(&calls), ClaimIdle: 50 * time.Millisecond, ClaimInterval: 10 * time.Millisecond,
		Observer: observerFunc(func(o fastrpc.Outcome) {
			if o != fastrpc.OutcomeDuplicate {
				t.Errorf("outcome %s", o)
			}
		})})
	r.acknowledged(t)
	if n, _ := r.rdb.LLen(context.Background(), list).Result(); n != 0 || calls.Load() != 0 {
		t.Fatalf("%d replies, %d calls", n, calls.Load())
	}
}

// An entry delivered more than MaxDeliveries times is answered as poison
// and never run.
func TestAnEntryDeliveredTooOftenIsPoison(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	r.makeGroup(t)
	env := r.envelope(nil)
	r.send(t, env)
	r.deadConsumer(t)
	var calls atomic.Int64
	r.worker(t, fastrpc.Options{Handler: echo(&calls), MaxDeliveries: 1, ClaimIdle: 50 * time.Millisecond, ClaimInterval: 10 * time.Millisecond})
	reply := r.reply(t, env["reply_list"].(string))
	if reply.Error == nil || reply.Error.Category != fastrpc.CategoryInfrastructure || reply.Error.Retryable || calls.Load() != 0 {
		t.Fatalf("reply %+v %+v after %d calls", reply, reply.Error, calls.Load())
	}
}

// A full worker stops reading: what it cannot run stays in the stream.
func TestAFullWorkerStopsReading(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	r.worker(t, fastrpc.Options{MaxInFlight: 2, Handler: func(context.Context, fastrpc.Request) fastrpc.Answer {
		started <- struct{}{}
		<-release
		return fastrpc.Answer{Result: []byte(`{}`)}
	}})
	var lists []string
	for range 5 {
		env := r.envelope(nil)
		r.send(t, env)
		lists = append(lists, env["reply_list"].(string))
	}
	<-started
	<-started
	if n := r.pending(t); n != 2 {
		t.Fatalf("%d entries read by a worker with room for 2", n)
	}
	close(release)
	for _, l := range lists {
		r.reply(t, l)
	}
}

func TestTenantsOutsideTheListAreRefused(t *testing.T) {
	r := newRig(t, testredis.Client(t))
	var calls atomic.Int64
	r.worker(t, fastrpc.Options{Handler: echo(&calls), Tenants: []string{"acme"}})
	env := r.envelope(nil)
	r.send(t, env)
	if reply := r.reply(t, env["reply_list"].(string)); reply.Error == nil || reply.Error.Category != fastrpc.CategoryTenantMismatch {
		t.Fatalf("reply %+v", reply)
	}
	env = r.envelope(map[string]any{"tenant_id": "acme"})
	r.send(t, env)
	if reply := r.reply(t, env["reply_list"].(string)); reply.Status != fastrpc.StatusSuccess || calls.Load() != 1 {
		t.Fatalf("reply %+v", reply)
	}
}

// Redis restarted under load: the workers reconnect; every call sent is
// run once and answered once.
func TestRedisRestartUnderLoad(t *testing.T) {
	server := testredis.StartDurable(t)
	client := func() redis.UniversalClient {
		rdb, err := cache.NewRedisClient(cache.RedisConfig{URL: "redis://" + server.Addr, Timeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	r := newRig(t, client())
	runs := sync.Map{} // corr_id → *atomic.Int64
	handler := func(_ context.Context, req fastrpc.Request) fastrpc.Answer {
		n, _ := runs.LoadOrStore(req.CorrID, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		return fastrpc.Answer{Result: []byte(`{"status":"success","summary":"","data":{}}`)}
	}
	for i := range 2 {
		w := &rig{rdb: client(), stream: r.stream, group: r.group, prefix: r.prefix, run: r.run}
		w.worker(t, fastrpc.Options{WorkerID: fmt.Sprintf("w%d", i), Handler: handler, ClaimIdle: 300 * time.Millisecond, Logger: zaptest.NewLogger(t),
			ClaimInterval: 50 * time.Millisecond})
	}
	const calls = 200
	var lists []string
	for i := range calls {
		if i == calls/2 {
			server.Restart()
		}
		env := r.envelope(nil)
		payload, _ := json.Marshal(env)
		testkit.WaitFor(t, 10*time.Second, "an XADD through the restart", func() bool {
			return r.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: r.stream, Values: map[string]any{"payload": payload}}).Err() == nil
		})
		lists = append(lists, env["reply_list"].(string))
	}
	for _, l := range lists {
		if reply := r.reply(t, l); reply.Status != fastrpc.StatusSuccess {
			t.Errorf("%s: reply %+v %+v", l, reply, reply.Error)
		}
		if n, _ := r.rdb.LLen(context.Background(), l).Result(); n != 0 {
			t.Fatalf("%s: %d more replies", l, n)
		}
	}
	var ran int
	runs.Range(func(k, v any) bool {
		ran++
		if n := v.(*atomic.Int64).Load(); n != 1 {
			t.Errorf("%s ran %d times", k, n)
		}
		return true
	})
	if ran != calls {
		t.Fatalf("%d calls ran of %d", ran, calls)
	}
}

// On Redis Cluster the worker's commands find their slots: reply lists in
// any slot, each with its record.
func TestWorksOnRedisCluster(t *testing.T) {
	c := testredis.StartCluster(t)
	rdb, err := cache.NewRedisClient(cache.RedisConfig{Addrs: c.Addrs, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	r := newRig(t, rdb)
	var calls atomic.Int64
	// The second entry of a corr_id is left pending while the first runs,
	// then claimed and answered from the record.
	r.worker(t, fastrpc.Options{Handler: echo(&calls), ClaimIdle: 100 * time.Millisecond, ClaimInterval: 20 * time.Millisecond})
	for i := range 20 {
		env := r.envelope(nil)
		if i%2 == 1 {
			env["reply_list"] = fmt.Sprintf("reply:{tag%d}:%s", i, env["corr_id"])
		}
		r.send(t, env)
		r.send(t, env) // the second answered from the record, in the list's slot
		for range 2 {
			if reply := r.reply(t, env["reply_list"].(string)); reply.Status != fastrpc.StatusSuccess {
				t.Fatalf("reply %+v", reply)
			}
		}
	}
	if calls.Load() != 20 {
		t.Fatalf("%d calls for 20 corr_ids", calls.Load())
	}
}

type observerFunc func(fastrpc.Outcome)

func (f observerFunc) Entry(o fastrpc.Outcome) { f(o) }
func (observerFunc) LegacyEnvelope()           {}
func (observerFunc) RedisError(string)         {}
