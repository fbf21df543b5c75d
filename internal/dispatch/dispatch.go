// Package dispatch runs calls of extension functions: it looks the
// function up, binds the parameters, builds the call's ctx.Call, runs the
// handler under the call deadline with panic recovery, maps errors to the
// platform's codes, adds panel refreshes and publishes the declared event.
// Every transport (the HTTP API, the CLI, hosttest) calls through it.
package dispatch

import (
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/confirm"
	"github.com/imperalcloud/exthost/internal/events"
	"github.com/imperalcloud/exthost/internal/jsonx"
	"github.com/imperalcloud/exthost/internal/panics"
	"github.com/imperalcloud/exthost/internal/replay"
	"github.com/imperalcloud/exthost/internal/tasks"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// DefaultCallTimeout bounds a call when Options leaves CallTimeout unset.
const DefaultCallTimeout = 10 * time.Second

// Observer is told of every call, after the call, on the goroutine that
// answers it: it must not block.
type Observer interface {
	Call(Trace)
}

// Options configures a Dispatcher.
type Options struct {
	// Extensions are the extensions to serve, typically registry.List().
	Extensions []*runtime.Extension
	// Cache is the cache store. Default: a memory store.
	Cache *cache.Store
	// Store is the document store. Default: a memory store.
	Store *store.Store
	// HTTP is the shared upstream client. Default: one with no services, so
	// every upstream is refused.
	HTTP *httpclient.Client
	// Logger receives panics, timeouts and debug notes. Default: none.
	Logger *zap.Logger
	// Events receives the events of successful calls. Default: none.
	Events events.Publisher
	// CallTimeout is every call's deadline. Default DefaultCallTimeout.
	CallTimeout time.Duration
	// Now is the host's clock. Default time.Now.
	Now func() time.Time
	// Observers are told of every call. Default: none.
	Observers []Observer
	// Env holds what the host resolved for each extension at start-up, by
	// app id: its config and secrets. Default: none.
	Env map[string]Env
	// Confirmations issues and redeems confirmation tokens. Default: a
	// gate with a key of its own and an in-process replay set (one
	// replica).
	Confirmations *confirm.Gate
	// Tasks runs background tasks. Default: a pool of its own, in memory.
	Tasks *tasks.Pool
	// TaskTimeout and LongTaskTimeout are the deadlines of tasks, the
	// latter for LongRunning functions. Defaults DefaultTaskTimeout and
	// DefaultLongTaskTimeout.
	TaskTimeout, LongTaskTimeout time.Duration
	// Notifier sends the notifications of calls. Default: none, and
	// ctx.Call.Notify answers ctx.ErrNotificationsOff.
	Notifier ctx.Notifier
}

// The deadlines of background tasks (the SDK's federal caps).
const (
	DefaultTaskTimeout     = 180 * time.Second
	DefaultLongTaskTimeout = 1800 * time.Second
)

// TaskFinishedEvent is the event type of a task's end.
const TaskFinishedEvent = "task.finished"

// Env is what an extension's calls see of the host's configuration.
type Env struct {
	// Config is the extension's decoded config (runtime.ExtensionConfig).
	Config any
	// Secrets are the values of its declared secrets that are set.
	Secrets map[string]string
}

// Dispatcher runs calls of the extensions it serves.
type Dispatcher struct {
	exts        map[string]*served
	sorted      []*runtime.Extension
	store       *cache.Store
	docs        *store.Store
	http        *httpclient.Client
	log         *zap.Logger
	events      events.Publisher
	callTimeout time.Duration
	now         func() time.Time
	ownsStore   bool
	realClock   bool // now is time.Now
	workers     *workers
	watchdogs   sync.Pool
	observers   []Observer
	confirm     *confirm.Gate
	tasks       *tasks.Pool
	taskTimeout time.Duration
	longTimeout time.Duration
	notifier    ctx.Notifier
	closers     []func()
}

// served is an extension as the dispatcher serves it.
type served struct {
	ext   *runtime.Extension
	funcs map[string]*Target
}

// Target is a function the dispatcher serves, as Lookup finds it.
type Target struct {
	ext     *runtime.Extension
	env     Env
	fn      *runtime.Func
	panels  []string
	event   string
	confirm bool // calls run only once confirmed
	long    bool // its tasks have the long deadline
}

// Extension returns the target's extension.
func (t *Target) Extension() *runtime.Extension { return t.ext }

// Func returns the target function.
func (t *Target) Func() *runtime.Func { return t.fn }

// New returns a dispatcher for opts. It seals the extensions: from here on
// their declarations cannot change.
func New(opts Options) (*Dispatcher, error) {
	d := &Dispatcher{
		exts:        make(map[string]*served, len(opts.Extensions)),
		store:       opts.Cache,
		docs:        opts.Store,
		http:        opts.HTTP,
		log:         opts.Logger,
		events:      opts.Events,
		callTimeout: opts.CallTimeout,
		now:         opts.Now,
		workers:     newWorkers(),
		observers:   slices.Clone(opts.Observers),
		confirm:     opts.Confirmations,
		tasks:       opts.Tasks,
		taskTimeout: cmp.Or(opts.TaskTimeout, DefaultTaskTimeout),
		longTimeout: cmp.Or(opts.LongTaskTimeout, DefaultLongTaskTimeout),
		notifier:    opts.Notifier,
	}
	if d.callTimeout <= 0 {
		d.callTimeout = DefaultCallTimeout
	}
	if d.now == nil {
		d.now, d.realClock = time.Now, true
	}
	d.watchdogs.New = newWatchdog
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if d.events == nil {
		d.events = events.Publishers{}
	}
	for _, ext := range opts.Extensions {
		if _, dup := d.exts[ext.AppID()]; dup {
			return nil, fmt.Errorf("dispatch: extension %q given twice", ext.AppID())
		}
		ext.Seal()
		s := &served{ext: ext, funcs: make(map[string]*Target)}
		env := opts.Env[ext.AppID()]
		if env.Config == nil {
			// No config given: the extension's defaults.
			env.Config, _ = ext.DecodeConfig(nil)
		}
		for _, fn := range ext.Functions() {
			info := fn.Info()
			s.funcs[fn.Name()] = &Target{ext: ext, env: env, fn: fn, panels: fn.Panels(), event: info.Event,
				confirm: info.ConfirmationRequired, long: info.LongRunning}
		}
		d.exts[ext.AppID()] = s
		d.sorted = append(d.sorted, ext)
	}
	slices.SortFunc(d.sorted, func(a, b *runtime.Extension) int { return strings.Compare(a.AppID(), b.AppID()) })
	if d.http == nil {
		var err error
		if d.http, err = httpclient.New(httpclient.Config{}); err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
	}
	if d.docs == nil {
		d.docs = store.New(store.Options{Now: opts.Now})
	}
	if d.confirm == nil {
		replays, err := replay.New(replay.Options{Name: "confirmation", Now: opts.Now, Logger: d.log})
		if err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
		d.closers = append(d.closers, replays.Close)
		if d.confirm, err = confirm.New(confirm.Options{Keys: [][]byte{[]byte(crand.Text())}, Replays: replays, Now: opts.Now}); err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
	}
	if d.tasks == nil {
		d.tasks = tasks.NewPool(tasks.Options{Now: opts.Now, Logger: d.log, Finished: d.TaskFinished})
		d.closers = append(d.closers, func() { _ = d.tasks.Close() })
	}
	if d.store == nil {
		mem, err := cache.NewMemory(cache.MemoryOptions{Now: opts.Now})
		if err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
		d.store = cache.NewStore(mem, cache.Options{FetchTimeout: d.callTimeout, Logger: d.log, Now: opts.Now})
		d.ownsStore = true
	}
	return d, nil
}

// Close ends the idle handler workers and releases the memory store the
// dispatcher made when Options.Cache was nil. A store passed in stays its
// owner's to close.
func (d *Dispatcher) Close() error {
	d.workers.close()
	for _, c := range d.closers {
		c()
	}
	if d.ownsStore {
		return d.store.Close()
	}
	return nil
}

// Extensions returns the served extensions, sorted by app id.
func (d *Dispatcher) Extensions() []*runtime.Extension { return slices.Clone(d.sorted) }

// Cache returns the dispatcher's cache store.
func (d *Dispatcher) Cache() *cache.Store { return d.store }

// Store returns the dispatcher's document store.
func (d *Dispatcher) Store() *store.Store { return d.docs }

// Tasks returns the dispatcher's task pool.
func (d *Dispatcher) Tasks() *tasks.Pool { return d.tasks }

// Lookup finds function of the app appID. An app or function the
// dispatcher does not serve is a *LookupError. Lookup with an empty
// function checks only the app and returns a nil target.
func (d *Dispatcher) Lookup(appID, function string) (*Target, error) {
	s, ok := d.exts[appID]
	if !ok {
		return nil, &LookupError{AppID: appID, Function: function, UnknownApp: true}
	}
	if function == "" {
		return nil, nil
	}
	t, ok := s.funcs[function]
	if !ok {
		return nil, &LookupError{AppID: appID, Function: function}
	}
	return t, nil
}

// Request is one call of one function on behalf of one user.
type Request struct {
	AppID    string
	Function string
	// Params is the JSON object of parameters; empty or null means {}.
	Params json.RawMessage
	// User is the verified caller; User.ImperalID is required.
	User ctx.User
	// RequestID identifies the call; one is generated when empty.
	RequestID string
	// ConfirmationToken confirms a call of a function that requires
	// confirmation: the token its unconfirmed call answered.
	ConfirmationToken string
}

// Trace is what happened during one call, for logs, metrics and harnesses.
type Trace struct {
	// Start is when the call began, on the host's clock.
	Start       time.Time
	RequestID   string
	AppID       string
	Function    string
	UserID      string
	Status      runtime.Status
	ErrorCode   string
	Duration    time.Duration
	CacheHits   int
	CacheMisses int
	// CacheReads lists the call's cache reads, when the cache records
	// them (cache.Options.RecordReads).
	CacheReads []cache.Read
	// Params are the call's parameters as given, and Answer its answer:
	// both valid only while an Observer is told of the call; one that
	// keeps them copies them.
	Params json.RawMessage
	Answer []byte
	// Err is what ended the call when it did not run to a result of its
	// own: a *LookupError, bad parameters, a panic, an upstream failure.
	Err error
	// Upstream lists the call's upstream requests in the order they ended.
	Upstream []httpclient.Exchange
	// Store lists the call's store operations in the order they ended.
	Store []store.Op
	// RefreshPanels are the panels the result asks to refresh (nil: all).
	RefreshPanels []string
	// Event is the published event, if any.
	Event *events.Event
	// Overran says the handler was still running when the call was
	// answered at its deadline.
	Overran bool
}

// Responder receives the answer of a call: the ActionResult's JSON
// (appended to the dst given to Serve), the result and the trace. It is
// called once per call.
type Responder func(answer []byte, res runtime.Result, tr Trace)

// Serve runs req on the calling goroutine and hands its answer to
// respond. Every outcome is a Result: an unknown app or function (see
// Trace.Err for its type), bad parameters, a panic, a timeout and an
// upstream failure all come back as error results with their codes. The
// answer is encoded once, so that a result that cannot be encoded (a NaN
// in its data, say) is answered, traced and counted alike, as INTERNAL.
//
// A handler that returns within the call's deadline is answered on the
// calling goroutine, after it. When the deadline passes first, respond
// runs at the deadline, on another goroutine, with the BACKEND_TIMEOUT
// answer and Trace.Overran set; what the handler returns later is
// dropped. Either way Serve returns once the handler and respond have
// both returned, so a transport may write its answer from respond and
// use dst again when Serve returns.
func (d *Dispatcher) Serve(parent context.Context, req Request, dst []byte, respond Responder) {
	cl := &call{d: d, req: req, dst: dst, respond: respond, start: time.Now()}
	if cl.req.RequestID == "" {
		cl.req.RequestID = NewRequestID()
	}
	started := cl.start
	if !d.realClock {
		started = d.now()
	}
	cl.tr = Trace{Start: started, RequestID: cl.req.RequestID, AppID: req.AppID, Function: req.Function, UserID: req.User.ImperalID,
		Params: req.Params}
	if res, inTime := cl.run(parent); inTime {
		cl.answer(res)
	}
}

// Call runs req as Serve does and returns its answer, result and trace.
// It returns at the call's deadline even when the handler ignores it: the
// handler runs on a worker goroutine, which finishes on its own.
func (d *Dispatcher) Call(parent context.Context, req Request, dst []byte) ([]byte, runtime.Result, Trace) {
	type answered struct {
		answer []byte
		res    runtime.Result
		tr     Trace
	}
	done := make(chan answered, 1)
	d.workers.run(func() {
		// A panic outside the handler (which Serve recovers) is the host's
		// bug; on a worker goroutine it would end the process.
		defer func() {
			if p := recover(); p != nil {
				d.log.Error("dispatch panicked", zap.String("request_id", req.RequestID), zap.String("app", req.AppID),
					zap.String("function", req.Function), zap.String("panic", fmt.Sprint(p)), zap.Stack("stack"))
				res := InternalError()
				answer, _ := res.AppendJSON(dst)
				select {
				case done <- answered{answer, res, Trace{RequestID: req.RequestID, AppID: req.AppID, Function: req.Function,
					UserID: req.User.ImperalID, Status: res.Status, ErrorCode: res.ErrorCode}}:
				default: // answered already
				}
			}
		}()
		d.Serve(parent, req, dst, func(answer []byte, res runtime.Result, tr Trace) { done <- answered{answer, res, tr} })
	})
	a := <-done
	return a.answer, a.res, a.tr
}

// call is one call in flight: what Serve was given, and what the call's
// watchdog needs to answer it at its deadline.
type call struct {
	d        *Dispatcher
	req      Request
	start    time.Time
	tr       Trace
	dst      []byte
	respond  Responder
	ctx      callContext
	client   *cache.Client
	docs     store.Client
	upstream upstreamLog
	// state says who answers: the handler's goroutine, which wins by
	// returning first, or the watchdog, which wins at the deadline.
	state    atomic.Uint32
	rescuing sync.WaitGroup // the watchdog's answer, while it is written
}

// The states of a call.
const (
	callRunning uint32 = iota
	callAnswered
	callRescued
)

// run runs the call up to its result. inTime is false when the watchdog
// answered it instead.
func (cl *call) run(parent context.Context) (res runtime.Result, inTime bool) {
	d, req, tr := cl.d, cl.req, &cl.tr
	target, err := d.Lookup(req.AppID, req.Function)
	if err == nil && target == nil {
		err = &LookupError{AppID: req.AppID}
	}
	if err != nil {
		tr.Err = err
		return ErrorResult(err), true
	}
	if req.User.ImperalID == "" {
		return runtime.Fail("A user id is required.").WithCode(runtime.CodeBadRequest), true
	}
	run, ignored, err := target.fn.Bind(req.Params)
	if len(ignored) > 0 {
		cl.logIgnored(ignored)
	}
	if err != nil {
		tr.Err = err
		return ErrorResult(err), true
	}
	if target.confirm {
		if res, confirmed := cl.confirmed(parent, target, run); !confirmed {
			return res, true
		}
	}

	cl.ctx.init(parent, cl.start.Add(d.callTimeout))
	defer cl.ctx.end()
	if cl.client, err = d.store.Client(req.AppID, req.User.ImperalID, target.ext.CacheModels()); err != nil {
		return runtime.Fail("The caller cannot have a cache.").WithCode(runtime.CodeBadRequest), true
	}
	cl.docs.Bind(d.docs, req.AppID, req.User.ImperalID, target.ext.Collections())
	c := ctx.NewCall(&cl.ctx, ctx.Setup{
		AppID: req.AppID, Function: req.Function, RequestID: req.RequestID, User: req.User,
		HTTP: d.http.ForCall(req.RequestID, cl.upstream.add), Cache: cl.client, Store: &cl.docs, Clock: d.now, Logger: d.log,
		Config: target.env.Config, Secrets: target.env.Secrets, Notifier: d.notifier,
	})

	res, inTime, err = cl.handle(c, run)
	if !inTime {
		return runtime.Result{}, false
	}
	tr.CacheHits, tr.CacheMisses = cl.client.Counts()
	tr.CacheReads = cl.client.Reads()
	tr.Upstream = cl.upstream.close()
	tr.Store = cl.docs.Ops()
	if err != nil {
		tr.Err = err
		res = ErrorResult(err)
		d.logFailure(req, err, res)
	}
	res = d.finish(target, req, res)
	switch {
	case !res.OK():
	case res.Task() != nil:
		res = d.finish(target, req, cl.startTask(target, res.Task()))
	case target.event != "":
		res, tr.Event = d.publish(context.WithoutCancel(&cl.ctx), req, target.event, res)
	}
	return res, true
}

// publish publishes the event of a successful call. The event carries the
// data: it is encoded now, once, for the event and the answer, so that
// data that cannot be encoded fails the call before anything is published.
func (d *Dispatcher) publish(c context.Context, req Request, eventType string, res runtime.Result) (runtime.Result, *events.Event) {
	data, err := encodeData(res.Data)
	if err != nil {
		d.log.Error("handler result data does not encode", zap.String("request_id", req.RequestID),
			zap.String("app", req.AppID), zap.String("function", req.Function), zap.Error(err))
		return InternalError(), nil
	}
	res.Data = data
	ev := events.Event{
		EventType: eventType,
		Data:      data,
		SourceApp: req.AppID,
		UserID:    req.User.ImperalID,
		TenantID:  req.User.TenantID,
		Timestamp: d.now().UTC().Format(time.RFC3339Nano),
	}
	d.events.Publish(c, ev)
	return res, &ev
}

func (cl *call) logIgnored(names []string) {
	cl.d.log.Debug("ignoring unknown parameters", zap.String("request_id", cl.req.RequestID),
		zap.String("app", cl.req.AppID), zap.String("function", cl.req.Function), zap.Strings("unknown", names))
}

// handle runs the handler here, on the caller's goroutine (a hop to
// another goroutine cost a cache hit more than anything it does), with a
// watchdog that answers the call at its deadline if the handler has not
// returned by then. inTime is false when the watchdog answered.
func (cl *call) handle(c *ctx.Call, run runtime.Bound) (res runtime.Result, inTime bool, err error) {
	w := cl.d.watchdogs.Get().(*watchdog)
	w.call.Store(cl)
	w.timer.Reset(cl.ctx.deadline.Sub(cl.start))
	func() {
		defer panics.Recover(&err)
		res, err = run.Run(c)
	}()
	if w.timer.Stop() {
		// The watchdog never ran: it can watch another call.
		w.call.Store(nil)
		cl.d.watchdogs.Put(w)
	}
	if cl.state.CompareAndSwap(callRunning, callAnswered) {
		return res, true, err
	}
	cl.rescuing.Wait()
	cl.d.log.Info("handler returned after its call was answered at the deadline",
		zap.String("request_id", cl.req.RequestID), zap.String("app", cl.req.AppID), zap.String("function", cl.req.Function))
	return runtime.Result{}, false, nil
}

// rescue answers the call at its deadline, unless the handler returned
// first.
func (cl *call) rescue() {
	cl.rescuing.Add(1)
	defer cl.rescuing.Done()
	cl.ctx.expire()
	if !cl.state.CompareAndSwap(callRunning, callRescued) {
		return
	}
	cl.d.log.Warn("handler still running past the call deadline",
		zap.String("request_id", cl.req.RequestID), zap.String("app", cl.req.AppID), zap.String("function", cl.req.Function),
		zap.Duration("timeout", cl.d.callTimeout))
	cl.tr.CacheHits, cl.tr.CacheMisses = cl.client.Counts()
	cl.tr.CacheReads = cl.client.Reads()
	cl.tr.Upstream = cl.upstream.close()
	cl.tr.Store = cl.docs.Ops()
	cl.tr.Err, cl.tr.Overran = context.DeadlineExceeded, true
	cl.answer(ErrorResult(context.DeadlineExceeded))
}

// answer encodes res, completes the trace, tells the observers and
// responds.
func (cl *call) answer(res runtime.Result) {
	d, tr := cl.d, &cl.tr
	answer, err := res.AppendJSON(cl.dst)
	if err != nil {
		res, answer = cl.unencodable(err)
	}
	tr.Status, tr.ErrorCode, tr.RefreshPanels = res.Status, res.ErrorCode, res.RefreshPanels
	tr.Duration = time.Since(cl.start)
	tr.Answer = answer
	for _, o := range d.observers {
		o.Call(*tr)
	}
	cl.respond(answer, res, *tr)
}

// unencodable answers INTERNAL for a result that does not encode.
func (cl *call) unencodable(err error) (runtime.Result, []byte) {
	cl.d.log.Error("result does not encode; answering INTERNAL", zap.String("request_id", cl.req.RequestID),
		zap.String("app", cl.req.AppID), zap.String("function", cl.req.Function), zap.Error(err))
	res := InternalError()
	answer, _ := res.AppendJSON(cl.dst)
	return res, answer
}

// watchdog answers a call that overruns its deadline. Watchdogs are kept
// for the next call: each holds a timer made once, armed per call.
type watchdog struct {
	timer *time.Timer
	call  atomic.Pointer[call]
}

func newWatchdog() any {
	w := &watchdog{}
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
	return w
}

func (w *watchdog) fire() {
	if cl := w.call.Load(); cl != nil {
		cl.rescue()
	}
}

// finish normalises a result for the wire: a stamped code on every error,
// data that encodes as an object, and the declared panel refreshes on
// success.
func (d *Dispatcher) finish(t *Target, req Request, res runtime.Result) runtime.Result {
	switch res.Status {
	case runtime.StatusSuccess:
		if res.RefreshPanels == nil && len(t.panels) > 0 {
			res.RefreshPanels = slices.Clone(t.panels)
		}
	case runtime.StatusError:
		if res.Error == "" {
			res.Error = "The call failed."
		}
		if res.ErrorCode == "" {
			res.ErrorCode = runtime.CodeUnstructured
		} else if !runtime.ValidCode(res.ErrorCode) {
			d.log.Warn("handler error code is malformed; stamping EXT_UNSTRUCTURED_ERROR",
				zap.String("request_id", req.RequestID), zap.String("code", res.ErrorCode))
			res.ErrorCode = runtime.CodeUnstructured
		}
	default:
		d.log.Error("handler returned a result without a status", zap.String("request_id", req.RequestID),
			zap.String("app", req.AppID), zap.String("function", req.Function))
		return InternalError()
	}
	if !objectLike(res.Data) {
		d.log.Error("handler result data is not a JSON object", zap.String("request_id", req.RequestID),
			zap.String("app", req.AppID), zap.String("function", req.Function), zap.String("type", fmt.Sprintf("%T", res.Data)))
		return InternalError()
	}
	return res
}

// logFailure logs what the answer does not show: a panic's value and stack,
// or the text of an error the runtime could not classify.
func (d *Dispatcher) logFailure(req Request, err error, res runtime.Result) {
	var p *panics.Error
	switch {
	case errors.As(err, &p):
		d.log.Error("handler panicked", zap.String("request_id", req.RequestID), zap.String("app", req.AppID),
			zap.String("function", req.Function), zap.String("panic", fmt.Sprint(p.Value)),
			zap.ByteString("stack", p.Stack))
	case errors.Is(err, store.ErrUnavailable):
		d.log.Warn("document store unavailable", zap.String("request_id", req.RequestID), zap.String("app", req.AppID),
			zap.String("function", req.Function), zap.Error(err))
	case errors.Is(err, panics.ErrBug), errors.Is(err, store.ErrInvalid):
		d.log.Error("handler broke its declaration", zap.String("request_id", req.RequestID), zap.String("app", req.AppID),
			zap.String("function", req.Function), zap.Error(err))
	case res.ErrorCode == runtime.CodeUnstructured:
		d.log.Warn("handler failed", zap.String("request_id", req.RequestID), zap.String("app", req.AppID),
			zap.String("function", req.Function), zap.Error(err))
	}
}

// objectLike reports whether data will encode as a JSON object (or as
// nothing, which reads as {}): data is encoded once, when the result is
// written, so its shape is checked here from its type.
func objectLike(data any) bool {
	switch data := data.(type) {
	case nil:
		return true
	case json.RawMessage:
		trimmed := bytes.TrimSpace(data)
		return len(trimmed) == 0 || trimmed[0] == '{' || string(trimmed) == "null"
	}
	t := reflect.TypeOf(data)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct || t.Kind() == reflect.Map
}

// encodeData encodes result data, as it will appear in the answer.
func encodeData(data any) (json.RawMessage, error) {
	out, err := jsonx.Marshal(data)
	if err != nil {
		return nil, err
	}
	switch {
	case string(out) == "null":
		return json.RawMessage(`{}`), nil
	case out[0] != '{':
		return nil, fmt.Errorf("data %T does not encode as a JSON object", data)
	}
	return out, nil
}

// upstreamLog collects a call's upstream exchanges. A shared fetch may end
// on another goroutine after the call returned; close stops the collection.
type upstreamLog struct {
	mu     sync.Mutex
	list   []httpclient.Exchange
	closed bool
}

func (l *upstreamLog) add(ex httpclient.Exchange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.list = append(l.list, ex)
	}
}

func (l *upstreamLog) close() []httpclient.Exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return l.list
}

// NewRequestID returns a new random request id, 16 hex digits. An id
// names a call in logs; it guards nothing, so it comes from the runtime's
// fast generator, not the system's.
func NewRequestID() string {
	var raw [8]byte
	var id [16]byte
	binary.BigEndian.PutUint64(raw[:], rand.Uint64())
	hex.Encode(id[:], raw[:])
	return string(id[:])
}
