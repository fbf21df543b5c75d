package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/jsonx"
	"github.com/imperalcloud/exthost/internal/panics"
)

// DefaultCallTimeout bounds a call when Options leaves CallTimeout unset.
const DefaultCallTimeout = 10 * time.Second

// Options configures a Dispatcher.
type Options struct {
	// Extensions are the extensions to serve, typically registry.List().
	Extensions []*Extension
	// Cache is the cache store. Default: a memory store.
	Cache *cache.Store
	// HTTP is the shared upstream client. Default: one with no services, so
	// every upstream is refused.
	HTTP *httpclient.Client
	// Logger receives panics, timeouts and debug notes. Default: none.
	Logger *zap.Logger
	// Events receives the events of successful calls. Default: none.
	Events Publisher
	// CallTimeout is every call's deadline. Default DefaultCallTimeout.
	CallTimeout time.Duration
	// Now is the host's clock. Default time.Now.
	Now func() time.Time
	// OnCall receives the trace of every call, after the call, on the
	// call's goroutine: it must not block. Default: none.
	OnCall func(Trace)
}

// Dispatcher runs calls of the extensions it serves: it looks the function
// up, validates and decodes the parameters, builds the call's context, runs
// the handler under the call deadline with panic recovery, maps errors to
// codes, adds panel refreshes and publishes the declared event.
type Dispatcher struct {
	exts        map[string]*Extension
	sorted      []*Extension
	store       *cache.Store
	http        *httpclient.Client
	log         *zap.Logger
	events      Publisher
	callTimeout time.Duration
	now         func() time.Time
	ownsStore   bool
	workers     *workers
	onCall      func(Trace)
}

// NewDispatcher returns a dispatcher for opts. It seals the extensions: from
// here on their declarations cannot change.
func NewDispatcher(opts Options) (*Dispatcher, error) {
	d := &Dispatcher{
		exts:        make(map[string]*Extension, len(opts.Extensions)),
		store:       opts.Cache,
		http:        opts.HTTP,
		log:         opts.Logger,
		events:      opts.Events,
		callTimeout: opts.CallTimeout,
		now:         opts.Now,
		workers:     newWorkers(),
		onCall:      opts.OnCall,
	}
	if d.callTimeout <= 0 {
		d.callTimeout = DefaultCallTimeout
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	for _, ext := range opts.Extensions {
		if _, dup := d.exts[ext.AppID()]; dup {
			return nil, fmt.Errorf("runtime: extension %q given twice", ext.AppID())
		}
		d.exts[ext.AppID()] = ext
		d.sorted = append(d.sorted, ext)
	}
	if d.http == nil {
		var err error
		if d.http, err = httpclient.New(httpclient.Config{}); err != nil {
			return nil, fmt.Errorf("runtime: %w", err)
		}
	}
	if d.store == nil {
		mem, err := cache.NewMemory(cache.MemoryOptions{Now: opts.Now})
		if err != nil {
			return nil, fmt.Errorf("runtime: %w", err)
		}
		d.store = cache.NewStore(mem, cache.Options{FetchTimeout: d.callTimeout, Logger: d.log, Now: opts.Now})
		d.ownsStore = true
	}
	for _, ext := range d.sorted {
		ext.seal()
	}
	slices.SortFunc(d.sorted, func(a, b *Extension) int { return strings.Compare(a.AppID(), b.AppID()) })
	return d, nil
}

// Close releases the memory store the dispatcher made when Options.Cache
// was nil. A store passed in stays its owner's to close.
func (d *Dispatcher) Close() error {
	d.workers.close()
	if d.ownsStore {
		return d.store.Close()
	}
	return nil
}

// Extensions returns the served extensions, sorted by app id.
func (d *Dispatcher) Extensions() []*Extension { return slices.Clone(d.sorted) }

// Extension returns the served extension appID.
func (d *Dispatcher) Extension(appID string) (*Extension, bool) {
	ext, ok := d.exts[appID]
	return ext, ok
}

// Cache returns the dispatcher's cache store.
func (d *Dispatcher) Cache() *cache.Store { return d.store }

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
}

// Trace is what happened during one call, for logs, metrics and harnesses.
type Trace struct {
	// Start is when the call began, on the host's clock.
	Start       time.Time
	RequestID   string
	AppID       string
	Function    string
	UserID      string
	Status      Status
	ErrorCode   string
	Duration    time.Duration
	CacheHits   int
	CacheMisses int
	// Upstream lists the call's upstream requests in the order they ended.
	Upstream []httpclient.Exchange
	// RefreshPanels are the panels the result asks to refresh (nil: all).
	RefreshPanels []string
	// Event is the published event, if any.
	Event *Event
}

// Call runs req and returns its ActionResult and its trace. The result's
// data is left as the handler returned it, checked to be object-like, to be
// encoded once where the result is written (Result.MarshalJSON); only a
// call that publishes an event has it encoded here, for the event. Every outcome is a Result: an unknown app or
// function, bad parameters, a panic, a timeout and an upstream failure all
// come back as error results with their codes.
func (d *Dispatcher) Call(parent context.Context, req Request) (Result, Trace) {
	start := time.Now()
	if req.RequestID == "" {
		req.RequestID = NewRequestID()
	}
	tr := Trace{Start: d.now(), RequestID: req.RequestID, AppID: req.AppID, Function: req.Function, UserID: req.User.ImperalID}
	res := d.call(parent, req, &tr)
	tr.Status, tr.ErrorCode, tr.RefreshPanels = res.Status, res.ErrorCode, res.RefreshPanels
	tr.Duration = time.Since(start)
	if d.onCall != nil {
		d.onCall(tr)
	}
	return res, tr
}

func (d *Dispatcher) call(parent context.Context, req Request, tr *Trace) Result {
	ext, ok := d.exts[req.AppID]
	if !ok {
		return d.finish(nil, req, Fail("Tool not available: "+req.AppID).WithCode(CodeUnknownTool))
	}
	fn, ok := ext.byName[req.Function]
	if !ok {
		return d.finish(nil, req, Fail("Sub-function not available: "+req.Function).WithCode(CodeUnknownSubFunction))
	}
	if req.User.ImperalID == "" {
		return d.finish(fn, req, Fail("A user id is required.").WithCode(CodeBadRequest))
	}
	params := req.Params
	if len(bytes.TrimSpace(params)) == 0 || string(bytes.TrimSpace(params)) == "null" {
		params = json.RawMessage(`{}`)
	}
	params, unknown, verr := fn.params.validate(params)
	if verr != nil {
		return d.finish(fn, req, ErrorResult(verr))
	}
	if len(unknown) > 0 {
		d.log.Debug("ignoring unknown parameters", zap.String("request_id", req.RequestID),
			zap.String("app", req.AppID), zap.String("function", req.Function), zap.Strings("unknown", unknown))
	}
	p, err := fn.decode(params)
	if err != nil {
		return d.finish(fn, req, ErrorResult(err))
	}

	callCtx, cancel := context.WithTimeout(parent, d.callTimeout)
	defer cancel()
	c := ctx.NewCall(callCtx, d.log)
	c.AppID, c.Function, c.RequestID, c.User, c.Clock = req.AppID, req.Function, req.RequestID, req.User, d.now
	var upstream upstreamLog
	c.HTTP = d.http.ForCall(req.RequestID, upstream.add)
	if c.Cache, err = d.store.Client(req.AppID, req.User.ImperalID, ext.models); err != nil {
		return d.finish(fn, req, Fail(err.Error()).WithCode(CodeBadRequest))
	}

	res, err := d.run(c, fn, p)
	tr.CacheHits, tr.CacheMisses = c.Cache.Counts()
	tr.Upstream = upstream.close()
	if err != nil {
		res = ErrorResult(err)
		d.logFailure(req, err, res)
	}
	res = d.finish(fn, req, res)
	if res.OK() && fn.Event != "" && d.events != nil {
		// The event carries the data: encode it now, once, for the event and
		// the answer, so that data that cannot be encoded fails the call
		// before anything is published.
		data, err := encodeData(res.Data)
		if err != nil {
			d.log.Error("handler result data does not encode", zap.String("request_id", req.RequestID),
				zap.String("app", req.AppID), zap.String("function", req.Function), zap.Error(err))
			return internalError()
		}
		res.Data = data
		ev := Event{
			EventType: fn.Event,
			Timestamp: d.now().UTC().Format(time.RFC3339Nano),
			UserID:    req.User.ImperalID,
			TenantID:  req.User.TenantID,
			Data:      data,
		}
		d.events.Publish(context.WithoutCancel(callCtx), ev)
		tr.Event = &ev
	}
	return res
}

type outcome struct {
	res Result
	err error
}

// run calls the handler on its own goroutine so that the call ends at its
// deadline even when the handler ignores its context; the handler's
// goroutine then finishes on its own, with its context cancelled.
func (d *Dispatcher) run(c *ctx.Call, fn *function, p any) (Result, error) {
	done := make(chan outcome, 1)
	d.workers.run(func() {
		var o outcome
		defer func() { done <- o }()
		defer panics.Recover(&o.err)
		o.res, o.err = fn.handle(c, p)
	})
	select {
	case o := <-done:
		return o.res, o.err
	case <-c.Done():
		select {
		case o := <-done: // finished as the deadline fell: the work is done, report it
			return o.res, o.err
		default:
		}
		if errors.Is(c.Err(), context.DeadlineExceeded) {
			d.log.Warn("handler still running past the call deadline",
				zap.String("request_id", c.RequestID), zap.String("app", c.AppID), zap.String("function", c.Function),
				zap.Duration("timeout", d.callTimeout))
		}
		return Result{}, c.Err()
	}
}

// finish normalises a result for the wire: a stamped code on every error,
// data that encodes as an object, and the declared panel refreshes on
// success. fn
// is nil when the call named no known function.
func (d *Dispatcher) finish(fn *function, req Request, res Result) Result {
	switch res.Status {
	case StatusSuccess:
		if res.RefreshPanels == nil && fn != nil && len(fn.panels) > 0 {
			res.RefreshPanels = slices.Clone(fn.panels)
		}
	case StatusError:
		if res.Error == "" {
			res.Error = "The call failed."
		}
		if res.ErrorCode == "" {
			res.ErrorCode = CodeUnstructured
		} else if !ValidCode(res.ErrorCode) {
			d.log.Warn("handler error code is malformed; stamping EXT_UNSTRUCTURED_ERROR",
				zap.String("request_id", req.RequestID), zap.String("code", res.ErrorCode))
			res.ErrorCode = CodeUnstructured
		}
	default:
		d.log.Error("handler returned a result without a status", zap.String("request_id", req.RequestID),
			zap.String("app", req.AppID), zap.String("function", req.Function))
		return internalError()
	}
	if !objectLike(res.Data) {
		d.log.Error("handler result data is not a JSON object", zap.String("request_id", req.RequestID),
			zap.String("app", req.AppID), zap.String("function", req.Function), zap.String("type", fmt.Sprintf("%T", res.Data)))
		return internalError()
	}
	return res
}

// logFailure logs what the answer does not show: a panic's value and stack,
// or the text of an error the runtime could not classify.
func (d *Dispatcher) logFailure(req Request, err error, res Result) {
	var p *panics.Error
	switch {
	case errors.As(err, &p):
		d.log.Error("handler panicked", zap.String("request_id", req.RequestID), zap.String("app", req.AppID),
			zap.String("function", req.Function), zap.String("panic", fmt.Sprint(p.Value)),
			zap.ByteString("stack", p.Stack))
	case res.ErrorCode == CodeUnstructured:
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

// NewRequestID returns a new random request id, 16 hex digits.
func NewRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
