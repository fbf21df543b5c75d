package fastrpc

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/buger/jsonparser"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/cache"
)

// The platform's names (DESIGN §15, §8).
const (
	DefaultStream = "imperal:rpc:extension_call"
	DefaultGroup  = "exthost"
)

// Defaults of Options.
const (
	DefaultMaxInFlight   = 64
	DefaultBlock         = time.Second
	DefaultClaimIdle     = 30 * time.Second
	DefaultMaxDeliveries = 3
	DefaultReplyTTL      = 5 * time.Minute
	DefaultRecordTTL     = 24 * time.Hour
	DefaultKeyPrefix     = "exthost:rpc:"
)

// Handler runs one call and returns its answer. It returns by the
// request's deadline, which ctx carries.
type Handler func(ctx context.Context, req Request) Answer

// Answer is what a call comes to: the ActionResult's JSON, for a success
// reply, or the error of an error reply.
type Answer struct {
	Result []byte
	Error  *Error
}

// Outcome is what became of one stream entry, for metrics.
type Outcome string

// The outcomes of an entry.
const (
	// OutcomeReplied: the call ran (or was refused) and its reply is written.
	OutcomeReplied Outcome = "replied"
	// OutcomeReplayed: its corr_id was answered before; that reply again.
	OutcomeReplayed Outcome = "replayed"
	// OutcomeDuplicate: the entry was delivered again after its reply was
	// written; acknowledged, nothing more.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeExpired: picked up past its deadline; a timeout reply.
	OutcomeExpired Outcome = "expired"
	// OutcomeMalformed: refused by the codec; a schema_violation reply.
	OutcomeMalformed Outcome = "malformed"
	// OutcomeUnaddressable: no usable corr_id or reply list; dropped.
	OutcomeUnaddressable Outcome = "unaddressable"
	// OutcomePoison: delivered more than MaxDeliveries times; an error
	// reply, never run again.
	OutcomePoison Outcome = "poison"
	// OutcomeTenantMismatch: a tenant this host does not serve.
	OutcomeTenantMismatch Outcome = "tenant_mismatch"
)

// Observer is told what the worker does, for metrics.
type Observer interface {
	// Entry counts one stream entry settled (acknowledged).
	Entry(Outcome)
	// LegacyEnvelope counts an envelope with no "v".
	LegacyEnvelope()
	// RedisError counts one failed Redis command ("read", "claim",
	// "reply", "ack", "group").
	RedisError(op string)
}

// Options configures a Worker.
type Options struct {
	// Redis is the client the worker reads and replies with; a cluster
	// client works.
	Redis redis.UniversalClient
	// Handler runs the calls.
	Handler Handler
	// Stream and Group name the stream and the consumer group. Defaults
	// DefaultStream and DefaultGroup.
	Stream, Group string
	// WorkerID is the consumer name and the replies' worker_id. Default:
	// host name, process id and a random suffix.
	WorkerID string
	// KeyPrefix prefixes the worker's records of answered corr_ids.
	// Default DefaultKeyPrefix.
	KeyPrefix string
	// MaxInFlight bounds the calls running at once; a full worker stops
	// reading. Default DefaultMaxInFlight.
	MaxInFlight int
	// Block is how long one read waits for entries, and so how long a
	// Shutdown may wait for the read in progress. Default DefaultBlock.
	Block time.Duration
	// ClaimIdle is how long an entry stays pending with its consumer
	// before another claims it. It must exceed the longest call. Default
	// DefaultClaimIdle.
	ClaimIdle time.Duration
	// ClaimInterval is how often pending entries are looked for. Default
	// a quarter of ClaimIdle.
	ClaimInterval time.Duration
	// MaxDeliveries is how often an entry may be delivered before it is
	// answered as poison. Default DefaultMaxDeliveries.
	MaxDeliveries int
	// ReplyTTL is how long a reply list lives. Default DefaultReplyTTL.
	ReplyTTL time.Duration
	// RecordTTL is how long an answered corr_id is remembered. Default
	// DefaultRecordTTL.
	RecordTTL time.Duration
	// Tenants, when set, are the only tenants served; calls of others get
	// a tenant_mismatch reply.
	Tenants []string
	// Logger receives outages and dropped entries. Default: none.
	Logger *zap.Logger
	// Observer is told of every entry. Default: none.
	Observer Observer
}

// ErrWorkerClosed is what Serve returns after Shutdown.
var ErrWorkerClosed = errors.New("fastrpc: worker closed")

// Worker serves the calls of one stream as one consumer of its group.
type Worker struct {
	opts        Options
	rdb         redis.UniversalClient
	log         *zap.Logger
	obs         Observer
	slots       chan struct{} // one per call in flight
	calls       sync.WaitGroup
	callCtx     context.Context
	cancelCalls context.CancelFunc
	stop        chan struct{}
	stopOnce    sync.Once
	ready       chan struct{}
	readyOnce   sync.Once
	failing     map[string]bool // ops failing now, to log an outage once
	failingMu   sync.Mutex
	active      map[string]string // the entries being served: id → running mark ("" before it is taken)
	activeMu    sync.Mutex
	state       int // idle, serving or closed, under stateMu
	stateMu     sync.Mutex
	done        chan struct{} // closed when Serve has finished
	acks        chan settled  // entries to acknowledge
}

// The states of a worker.
const (
	workerIdle = iota
	workerServing
	workerClosed
)

// New returns a worker for opts.
func New(opts Options) (*Worker, error) {
	if opts.Redis == nil || opts.Handler == nil {
		return nil, errors.New("fastrpc: a worker needs Redis and a Handler")
	}
	opts.Stream = cmp.Or(opts.Stream, DefaultStream)
	opts.Group = cmp.Or(opts.Group, DefaultGroup)
	opts.KeyPrefix = cmp.Or(opts.KeyPrefix, DefaultKeyPrefix)
	opts.MaxInFlight = cmp.Or(opts.MaxInFlight, DefaultMaxInFlight)
	opts.Block = cmp.Or(opts.Block, DefaultBlock)
	opts.ClaimIdle = cmp.Or(opts.ClaimIdle, DefaultClaimIdle)
	opts.ClaimInterval = cmp.Or(opts.ClaimInterval, opts.ClaimIdle/4)
	opts.MaxDeliveries = cmp.Or(opts.MaxDeliveries, DefaultMaxDeliveries)
	opts.ReplyTTL = cmp.Or(opts.ReplyTTL, DefaultReplyTTL)
	opts.RecordTTL = cmp.Or(opts.RecordTTL, DefaultRecordTTL)
	if opts.WorkerID == "" {
		host, _ := os.Hostname()
		opts.WorkerID = fmt.Sprintf("%s-%d-%s", cmp.Or(host, "host"), os.Getpid(), crand.Text()[:8])
	}
	switch {
	case opts.MaxInFlight < 0, opts.Block < 0, opts.ClaimIdle < 0, opts.ClaimInterval <= 0, opts.MaxDeliveries < 0:
		return nil, errors.New("fastrpc: negative limits")
	case opts.ReplyTTL < time.Millisecond, opts.RecordTTL < time.Millisecond:
		return nil, errors.New("fastrpc: reply and record TTLs must be at least a millisecond")
	case strings.ContainsAny(opts.KeyPrefix, "{}"):
		return nil, errors.New("fastrpc: the key prefix holds a brace, which would move records out of their reply list's hash slot")
	}
	w := &Worker{
		opts: opts, rdb: opts.Redis, log: opts.Logger, obs: opts.Observer,
		slots: make(chan struct{}, opts.MaxInFlight), stop: make(chan struct{}), ready: make(chan struct{}),
		failing: make(map[string]bool), active: make(map[string]string), done: make(chan struct{}),
		acks: make(chan settled, opts.MaxInFlight),
	}
	if w.log == nil {
		w.log = zap.NewNop()
	}
	if w.obs == nil {
		w.obs = nopObserver{}
	}
	w.callCtx, w.cancelCalls = context.WithCancel(context.Background())
	return w, nil
}

// ID returns the worker's consumer name, the worker_id of its replies.
func (w *Worker) ID() string { return w.opts.WorkerID }

// Ready is closed once the consumer group exists: from then on, entries
// added to the stream are the group's to serve.
func (w *Worker) Ready() <-chan struct{} { return w.ready }

// InFlight returns the number of calls running now.
func (w *Worker) InFlight() int {
	w.activeMu.Lock()
	defer w.activeMu.Unlock()
	return len(w.active)
}

// Serve reads and serves entries until Shutdown, then returns
// ErrWorkerClosed once the calls in flight have been answered.
func (w *Worker) Serve() error {
	w.stateMu.Lock()
	if w.state != workerIdle {
		w.stateMu.Unlock()
		return ErrWorkerClosed
	}
	w.state = workerServing
	w.stateMu.Unlock()
	defer close(w.done)
	var loops sync.WaitGroup
	loops.Go(w.claimLoop)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		w.ackLoop()
	}()
	w.readLoop()
	loops.Wait()
	w.calls.Wait()
	close(w.acks)
	<-acked
	return ErrWorkerClosed
}

// Shutdown stops reading, then waits for the calls in flight to be
// answered until ctx ends; then it cancels them, and returns ctx's error
// once their replies are written or abandoned (an abandoned entry stays
// pending, for another worker to claim).
func (w *Worker) Shutdown(ctx context.Context) error {
	w.stopOnce.Do(func() { close(w.stop) })
	w.stateMu.Lock()
	served := w.state != workerIdle
	w.state = workerClosed
	w.stateMu.Unlock()
	if !served {
		w.cancelCalls()
		return nil
	}
	select {
	case <-w.done:
		w.cancelCalls()
		return nil
	case <-ctx.Done():
		w.cancelCalls()
		<-w.done
		return ctx.Err()
	}
}

func (w *Worker) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// readLoop reads new entries as slots free up.
func (w *Worker) readLoop() {
	backoff := newBackoff()
	for {
		if !w.ensureGroup(backoff) {
			return
		}
		n := w.acquire()
		if n == 0 {
			return
		}
		streams, err := w.rdb.XReadGroup(w.callCtx, &redis.XReadGroupArgs{
			Group: w.opts.Group, Consumer: w.opts.WorkerID, Streams: []string{w.opts.Stream, ">"},
			Count: int64(n), Block: w.opts.Block,
		}).Result()
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		var got []redis.XMessage
		for _, s := range streams {
			got = append(got, s.Messages...)
		}
		w.release(n - len(got))
		if err != nil {
			w.failed("read", err)
			if isNoGroup(err) {
				w.groupLost()
			}
			if !backoff.wait(w.stop) {
				return
			}
			continue
		}
		w.recovered("read")
		backoff.reset()
		for _, msg := range got {
			w.start(msg, 1)
		}
	}
}

// acquire waits for a free slot, then takes every free one up to a batch;
// zero once the worker stops.
func (w *Worker) acquire() int {
	select {
	case w.slots <- struct{}{}:
	case <-w.stop:
		return 0
	}
	n := 1
	for ; n < maxBatch; n++ {
		select {
		case w.slots <- struct{}{}:
		default:
			return n
		}
	}
	return n
}

// tryAcquire takes every free slot up to a batch, without waiting.
func (w *Worker) tryAcquire() int {
	for n := 0; n < maxBatch; n++ {
		select {
		case w.slots <- struct{}{}:
		default:
			return n
		}
	}
	return maxBatch
}

// maxBatch bounds the entries one read or claim asks for.
const maxBatch = 16

func (w *Worker) release(n int) {
	for range n {
		<-w.slots
	}
}

// start serves msg on a goroutine of its own, in a slot already taken,
// unless this worker is serving it already (an entry of its own claimed
// back while its reply waits for Redis).
func (w *Worker) start(msg redis.XMessage, deliveries int64) {
	w.activeMu.Lock()
	if _, busy := w.active[msg.ID]; busy {
		w.activeMu.Unlock()
		w.release(1)
		return
	}
	w.active[msg.ID] = ""
	w.activeMu.Unlock()
	w.calls.Go(func() {
		defer func() {
			if p := recover(); p != nil {
				// Left pending: claimed again, it is answered as poison
				// once delivered too often.
				w.log.Error("rpc entry panicked the worker", zap.String("entry", msg.ID),
					zap.String("panic", fmt.Sprint(p)), zap.Stack("stack"))
			}
			w.activeMu.Lock()
			delete(w.active, msg.ID)
			w.activeMu.Unlock()
			w.release(1)
		}()
		w.serve(msg, deliveries)
	})
}

// ensureGroup makes the consumer group unless the worker knows it exists;
// false once the worker stops.
func (w *Worker) ensureGroup(backoff *backoff) bool {
	select {
	case <-w.ready:
		if !w.lost() {
			return true
		}
	default:
	}
	for {
		// From the stream's start: entries added before the first host
		// are served, and those past their deadline answered timeout.
		err := w.rdb.XGroupCreateMkStream(w.callCtx, w.opts.Stream, w.opts.Group, "0").Err()
		if err == nil || strings.HasPrefix(err.Error(), "BUSYGROUP") {
			w.recovered("group")
			w.setLost(false)
			w.readyOnce.Do(func() { close(w.ready) })
			return true
		}
		w.failed("group", err)
		if !backoff.wait(w.stop) {
			return false
		}
	}
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// groupLost and lost track a group that vanished (a Redis that restarted
// without its data): it is made again before the next read.
func (w *Worker) groupLost() { w.setLost(true) }

func (w *Worker) setLost(lost bool) {
	w.failingMu.Lock()
	defer w.failingMu.Unlock()
	w.failing["nogroup"] = lost
}

func (w *Worker) lost() bool {
	w.failingMu.Lock()
	defer w.failingMu.Unlock()
	return w.failing["nogroup"]
}

// claimLoop claims, every ClaimInterval, the entries pending longer than
// ClaimIdle with any consumer: a dead one's, or this worker's own whose
// delivery was lost on the way.
func (w *Worker) claimLoop() {
	tick := time.NewTicker(w.opts.ClaimInterval)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		select {
		case <-w.ready:
			w.touch()
			w.claim()
		default:
		}
	}
}

// touch resets the idle time of the entries this worker is serving, so
// that no claim takes them from a live worker (XCLAIM JUSTID leaves their
// delivery counts alone), and renews their running marks.
func (w *Worker) touch() {
	w.activeMu.Lock()
	ids := make([]string, 0, len(w.active))
	marks := make([]string, 0, len(w.active))
	for id, mark := range w.active {
		ids = append(ids, id)
		if mark != "" {
			marks = append(marks, mark)
		}
	}
	w.activeMu.Unlock()
	if len(ids) == 0 {
		return
	}
	_, err := w.rdb.Pipelined(w.callCtx, func(p redis.Pipeliner) error {
		p.XClaimJustID(w.callCtx, &redis.XClaimArgs{
			Stream: w.opts.Stream, Group: w.opts.Group, Consumer: w.opts.WorkerID, Messages: ids,
		})
		for _, m := range marks {
			p.PExpire(w.callCtx, m, w.markTTL())
		}
		return nil
	})
	if err != nil {
		w.failed("claim", err)
	}
}

// claim claims pending entries while it has slots for them.
func (w *Worker) claim() {
	start := "0-0"
	for !w.stopping() {
		n := w.tryAcquire()
		if n == 0 {
			return // full: the claim waits for the next tick, touch does not
		}
		msgs, next, err := w.rdb.XAutoClaim(w.callCtx, &redis.XAutoClaimArgs{
			Stream: w.opts.Stream, Group: w.opts.Group, Consumer: w.opts.WorkerID,
			MinIdle: w.opts.ClaimIdle, Start: start, Count: int64(n),
		}).Result()
		if err != nil {
			w.release(n)
			w.failed("claim", err)
			if isNoGroup(err) {
				w.groupLost()
			}
			return
		}
		w.recovered("claim")
		w.release(n - len(msgs))
		deliveries := w.deliveries(msgs)
		for _, msg := range msgs {
			w.start(msg, deliveries[msg.ID])
		}
		if next == "0-0" || len(msgs) == 0 {
			return
		}
		start = next
	}
}

// deliveries returns how often each claimed entry has been delivered,
// this claim included. When Redis cannot tell, an entry counts as
// delivered twice, the least a claimed entry has been.
func (w *Worker) deliveries(msgs []redis.XMessage) map[string]int64 {
	counts := make(map[string]int64, len(msgs))
	if len(msgs) == 0 {
		return counts
	}
	for _, m := range msgs {
		counts[m.ID] = 2
	}
	pending, err := w.rdb.XPendingExt(w.callCtx, &redis.XPendingExtArgs{
		Stream: w.opts.Stream, Group: w.opts.Group, Start: msgs[0].ID, End: msgs[len(msgs)-1].ID,
		Count: int64(len(msgs) + w.InFlight()), Consumer: w.opts.WorkerID,
	}).Result()
	if err != nil {
		w.failed("claim", err)
		return counts
	}
	for _, p := range pending {
		if _, ok := counts[p.ID]; ok {
			counts[p.ID] = p.RetryCount
		}
	}
	return counts
}

// serve settles one entry: it answers it unless its reply is written
// already, then acknowledges it. An entry delivered too often is answered
// as poison before its payload is even decoded.
func (w *Worker) serve(msg redis.XMessage, deliveries int64) {
	ctx := w.callCtx
	started := time.Now()
	payload, _ := msg.Values["payload"].(string)
	poisoned := deliveries > int64(w.opts.MaxDeliveries)
	var (
		req       Request
		decodeErr error = errPoison
	)
	if !poisoned {
		req, decodeErr = DecodeRequest([]byte(payload))
	}
	if decodeErr != nil {
		// What can still be read of a refused envelope: where to answer.
		raw := []byte(payload)
		req.CorrID, _ = jsonparser.GetString(raw, "corr_id")
		req.ReplyList, _ = jsonparser.GetString(raw, "reply_list")
		if n := utf8.RuneCountInString(req.CorrID); n < 16 || n > 64 {
			w.drop(msg, "refused, with no corr_id to answer")
			return
		}
	} else if req.Legacy {
		w.obs.LegacyEnvelope()
	}
	record, ok := w.recordKey(req.ReplyList, req.CorrID)
	if !ok {
		w.drop(msg, "its reply list is unusable or cannot share its record's hash slot")
		return
	}
	running := w.runningKey(req.ReplyList, req.CorrID)
	state, err := begin.Run(ctx, w.rdb, []string{record, running}, msg.ID, w.markTTL().Milliseconds()).StringSlice()
	if err != nil {
		// Leave it pending: without the record it might run twice. It is
		// claimed again after ClaimIdle.
		w.failed("reply", err)
		return
	}
	w.recovered("reply")
	switch state[0] {
	case "duplicate":
		w.settle(msg, OutcomeDuplicate)
		return
	case "replay":
		if w.write(ctx, msg.ID, req.ReplyList, record, running, []byte(state[1]), true) {
			w.settle(msg, OutcomeReplayed)
		}
		return
	case "busy":
		// Another entry of the corr_id is running, here or on another
		// worker: this one waits, pending, to be claimed and answered
		// from the record.
		return
	}
	w.mark(msg.ID, running)
	reply := Reply{V: EnvelopeVersion, CorrID: req.CorrID, WorkerID: w.opts.WorkerID, StartedAtNs: started.UnixNano()}
	outcome := OutcomeReplied
	var envErr *EnvelopeError
	switch {
	case poisoned:
		outcome = OutcomePoison
		reply.fail(CategoryInfrastructure, "The call was abandoned by every worker that took it.", false)
		w.log.Error("rpc entry delivered too often; answering it as poison", zap.String("entry", msg.ID),
			zap.String("corr_id", req.CorrID), zap.Int64("deliveries", deliveries))
	case errors.As(decodeErr, &envErr):
		outcome = OutcomeMalformed
		reply.fail(CategorySchema, envErr.Message(), false)
	case !started.Before(req.Deadline):
		outcome = OutcomeExpired
		reply.fail(CategoryTimeout, "The call's deadline passed before it was run.", true)
	case len(w.opts.Tenants) > 0 && !slices.Contains(w.opts.Tenants, req.TenantID):
		outcome = OutcomeTenantMismatch
		reply.fail(CategoryTenantMismatch, "This host does not serve the call's tenant.", false)
	default:
		callCtx, cancel := context.WithDeadline(ctx, req.Deadline)
		answer := w.opts.Handler(callCtx, req)
		cancel()
		if answer.Error != nil {
			reply.fail(answer.Error.Category, answer.Error.Message, answer.Error.Retryable)
		} else {
			reply.Status, reply.Result = StatusSuccess, answer.Result
		}
	}
	reply.FinishedAtNs = time.Now().UnixNano()
	body, err := reply.encode()
	if err != nil {
		w.log.Error("rpc reply does not encode", zap.String("corr_id", req.CorrID), zap.Error(err))
		reply.Result = nil
		reply.fail(CategoryInfrastructure, "The call's result could not be encoded.", false)
		body, _ = reply.encode()
	}
	if w.write(ctx, msg.ID, req.ReplyList, record, running, body, reply.Cacheable()) {
		w.settle(msg, outcome)
	}
}

// errPoison stands for the envelope of a poison entry, never decoded.
var errPoison = errors.New("fastrpc: poison entry")

// markTTL is how long a running mark lives unless renewed: a live worker
// renews it every ClaimInterval, so it lapses only for a worker that
// died or lost Redis.
func (w *Worker) markTTL() time.Duration { return w.opts.ClaimIdle + time.Second }

// mark notes the running mark of an entry being served, for touch to renew.
func (w *Worker) mark(id, running string) {
	w.activeMu.Lock()
	defer w.activeMu.Unlock()
	if _, ok := w.active[id]; ok {
		w.active[id] = running
	}
}

// fail makes r an error reply.
func (r *Reply) fail(c Category, message string, retryable bool) {
	r.Status, r.Result = StatusError, nil
	r.Error = &Error{Category: c, Message: sealMessage(message), Retryable: retryable}
}

// drop acknowledges an entry that cannot be answered.
func (w *Worker) drop(msg redis.XMessage, why string) {
	w.log.Warn("rpc entry dropped", zap.String("entry", msg.ID), zap.String("why", why))
	w.settle(msg, OutcomeUnaddressable)
}

// settle acknowledges an entry, in the next batch of acknowledgements.
func (w *Worker) settle(msg redis.XMessage, outcome Outcome) {
	w.acks <- settled{msg.ID, outcome}
}

// settled is an entry to acknowledge.
type settled struct {
	id      string
	outcome Outcome
}

// maxAcks bounds the entries one XACK acknowledges.
const maxAcks = 64

// ackLoop acknowledges settled entries, as many as have queued up in one
// XACK, retrying while Redis fails: an entry left unacknowledged is
// claimed again, and settled then by its record.
func (w *Worker) ackLoop() {
	batch := make([]settled, 0, maxAcks)
	ids := make([]string, 0, maxAcks)
	for first := range w.acks {
		batch, ids = append(batch[:0], first), append(ids[:0], first.id)
	more:
		for len(batch) < maxAcks {
			select {
			case next, ok := <-w.acks:
				if !ok {
					break more
				}
				batch, ids = append(batch, next), append(ids, next.id)
			default:
				break more
			}
		}
		backoff := newBackoff()
		for {
			err := w.rdb.XAck(w.callCtx, w.opts.Stream, w.opts.Group, ids...).Err()
			if err == nil {
				w.recovered("ack")
				for _, s := range batch {
					w.obs.Entry(s.outcome)
				}
				break
			}
			w.failed("ack", err)
			if !backoff.wait(w.callCtx.Done()) {
				break
			}
		}
	}
}

// write pushes a reply and records it, retrying while Redis fails, until
// the worker gives its calls up. It reports whether the reply is written
// (now, or before for this entry).
func (w *Worker) write(ctx context.Context, entry, replyList, record, running string, body []byte, cacheable bool) bool {
	stored := ""
	if cacheable {
		stored = "1"
	}
	backoff := newBackoff()
	for {
		err := writeReply.Run(ctx, w.rdb, []string{replyList, record, running}, entry, body,
			w.opts.ReplyTTL.Milliseconds(), w.opts.RecordTTL.Milliseconds(), stored).Err()
		if err == nil {
			w.recovered("reply")
			return true
		}
		w.failed("reply", err)
		if !backoff.wait(ctx.Done()) {
			w.log.Warn("rpc reply abandoned; the entry stays pending", zap.String("entry", entry))
			return false
		}
	}
}

// begin looks an entry (ARGV[1]) up in its corr_id's record (KEYS[1])
// and, when it is to be answered, marks it as the entry of its corr_id
// running (KEYS[2]) for ARGV[2] ms. It answers "duplicate" when the
// record has the entry answered, "replay" and the reply when the record
// keeps one, "busy" when another entry of the corr_id is running, else
// "run". The mark of the same entry is taken over: it was left by an
// earlier try of it whose consumer died, or whose answer was lost.
var begin = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'e:' .. ARGV[1]) == 1 then return {'duplicate'} end
local reply = redis.call('HGET', KEYS[1], 'reply')
if reply then return {'replay', reply} end
local mark = redis.call('GET', KEYS[2])
if mark and mark ~= ARGV[1] then return {'busy'} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {'run'}
`)

// writeReply pushes a reply (ARGV[2]) to its list (KEYS[1]) and records
// the entry (ARGV[1]) as answered in the corr_id's record (KEYS[2]),
// unless the record has it answered already; either way it clears the
// entry's running mark (KEYS[3]). The record keeps the reply itself when
// ARGV[5] is "1".
var writeReply = redis.NewScript(`
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
if redis.call('HEXISTS', KEYS[2], 'e:' .. ARGV[1]) == 1 then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('HSET', KEYS[2], 'e:' .. ARGV[1], '1')
if ARGV[5] == '1' then redis.call('HSET', KEYS[2], 'reply', ARGV[2]) end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
`)

// recordKey is the key of corrID's record, in the hash slot of replyList
// so that one script writes both. ok is false for a reply list whose slot
// cannot be shared that way (its hash tag holds a '}').
func (w *Worker) recordKey(replyList, corrID string) (string, bool) {
	tag := cache.HashTag(replyList)
	if replyList == "" || strings.Contains(tag, "}") {
		return "", false
	}
	return w.opts.KeyPrefix + "reply:{" + tag + "}:" + corrID, true
}

// runningKey is the key that says an entry of corrID is running, in the
// slot of its record.
func (w *Worker) runningKey(replyList, corrID string) string {
	return w.opts.KeyPrefix + "running:{" + cache.HashTag(replyList) + "}:" + corrID
}

// failed logs the first failure of op in an outage and counts every one.
func (w *Worker) failed(op string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	w.obs.RedisError(op)
	w.failingMu.Lock()
	first := !w.failing[op]
	w.failing[op] = true
	w.failingMu.Unlock()
	if first {
		w.log.Warn("rpc redis command failing", zap.String("op", op), zap.Error(err))
	}
}

// recovered logs the end of op's outage.
func (w *Worker) recovered(op string) {
	w.failingMu.Lock()
	was := w.failing[op]
	w.failing[op] = false
	w.failingMu.Unlock()
	if was {
		w.log.Info("rpc redis command works again", zap.String("op", op))
	}
}

// backoff is a capped exponential wait between retries.
type backoff struct{ next time.Duration }

func newBackoff() *backoff { return &backoff{next: minBackoff} }

const (
	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
)

// wait waits the next delay; false if done closes first.
func (b *backoff) wait(done <-chan struct{}) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, maxBackoff)
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

func (b *backoff) reset() { b.next = minBackoff }

type nopObserver struct{}

func (nopObserver) Entry(Outcome)     {}
func (nopObserver) LegacyEnvelope()   {}
func (nopObserver) RedisError(string) {}
