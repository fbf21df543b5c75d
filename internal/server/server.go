// Package server is the host's HTTP API, the orchestrator's contract of
// DESIGN §3: calls and batches of calls, the catalog, health, readiness and
// metrics. It is the only package that knows echo.
//
// Every answer that is not 2xx is an ActionResult-shaped error, so a client
// can always read status, error and error_code. The HTTP status says whether
// a call was delivered; the ActionResult says how it went.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/semaphore"

	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/mcpserver"
	"github.com/imperalcloud/exthost/internal/metrics"
	"github.com/imperalcloud/exthost/runtime"
)

// MaxBatchCalls is the most calls one batch may carry.
const MaxBatchCalls = 16

// Host-level error codes, beside the runtime's. Routes and methods the API
// does not have answer these.
const (
	CodeNotFound         = "NOT_FOUND"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
)

// TokenVerifier checks a call token for one app and user; *calltoken.Verifier
// is one. Its errors are *calltoken.Error: Denied ones are answered 403,
// others 401.
type TokenVerifier interface {
	Verify(ctx context.Context, token, appID, userID string) (calltoken.Claims, error)
	// VerifyCaller is Verify leaving the app and user to the caller.
	VerifyCaller(ctx context.Context, token string) (calltoken.Claims, error)
}

// Options configures a Server.
type Options struct {
	// Dispatcher runs the calls. Required.
	Dispatcher *dispatch.Dispatcher
	// Tokens verifies call tokens; nil means dev mode, where the identity in
	// the request body is trusted.
	Tokens TokenVerifier
	// Logger receives one line per call and per rejected request.
	Logger *zap.Logger
	// SuccessSampling thins the lines of successful calls, which at load
	// are most of the log and cost more CPU than a cache hit; failed calls
	// are always logged. The zero value logs every line.
	SuccessSampling Sampling
	// Metrics records calls and rejections. Required.
	Metrics *metrics.Metrics
	// MaxBodyBytes caps a request body. Default 1 MiB.
	MaxBodyBytes int64
	// OversizeDiscardBytes bounds how much of an oversized body is read and
	// discarded after the 413 is sent, so that clients which write the
	// whole body before reading see the 413, not a reset. 0 discards
	// nothing. The host sets DefaultOversizeDiscardBytes.
	OversizeDiscardBytes int64
	// OversizeDiscardTimeout bounds the discarding. Default 5s.
	OversizeDiscardTimeout time.Duration
	// MaxConcurrentCalls caps the calls running at once. Default 1024.
	MaxConcurrentCalls int
	// Harness, when set, serves the /v1/harness/ endpoints over it.
	Harness Harness
	// MCP, when set, serves the functions as MCP tools at /mcp.
	MCP *MCPOptions
	// Console, when set, serves the dev console: its page at / and
	// everything under /console/.
	Console http.Handler
}

// Sampling says which lines of one message to keep each second: the first
// First, then every Thereafter-th (none, when Thereafter is 0). First 0
// keeps every line.
type Sampling struct {
	First, Thereafter int
}

// Server is the HTTP API over one dispatcher.
type Server struct {
	echo     *echo.Echo
	d        *dispatch.Dispatcher
	tokens   TokenVerifier
	log      *zap.Logger
	callLog  *zap.Logger // the call lines of failed calls
	okLog    *zap.Logger // the call lines of successful calls, sampled
	metrics  *metrics.Metrics
	maxBody  int64
	discard  int64
	discardT time.Duration
	calls    *semaphore.Weighted
	limit    int
	draining atomic.Bool
	answers  answers
	mcp      *mcpserver.Endpoint // nil when /mcp is off
}

// New returns the API for opts.
func New(opts Options) (*Server, error) {
	s := &Server{
		d:       opts.Dispatcher,
		tokens:  opts.Tokens,
		log:     opts.Logger,
		metrics: opts.Metrics,
		maxBody: opts.MaxBodyBytes,
		discard: opts.OversizeDiscardBytes, discardT: opts.OversizeDiscardTimeout,
	}
	if s.discardT <= 0 {
		s.discardT = 5 * time.Second
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	// Every call line is written from the same place: its caller says nothing.
	s.callLog = s.log.WithOptions(zap.WithCaller(false))
	s.okLog = s.callLog
	if sp := opts.SuccessSampling; sp.First > 0 {
		s.okLog = s.callLog.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(c, time.Second, sp.First, sp.Thereafter)
		}))
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	limit := opts.MaxConcurrentCalls
	if limit <= 0 {
		limit = 1024
	}
	s.calls, s.limit = semaphore.NewWeighted(int64(limit)), limit
	var err error
	if s.answers, err = newAnswers(s.d.Extensions()); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// echo answers OPTIONS itself (204, for CORS preflights); this API is
	// for servers, and a method it does not serve is 405 here like any other.
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Method == http.MethodOptions {
				return echo.ErrMethodNotAllowed
			}
			return next(c)
		}
	})
	e.Use(s.requestID, middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("request panicked", zap.String("request_id", requestIDOf(c)), zap.Error(err), zap.ByteString("stack", stack))
			return err
		},
	}))
	e.POST("/v1/extensions/:app/call", s.call)
	e.POST("/v1/extensions/:app/batch", s.batch)
	e.GET("/v1/extensions", s.listExtensions)
	e.GET("/v1/extensions/:app/manifest", s.manifest)
	e.GET("/v1/tools", s.tools)
	e.GET("/v1/tasks/:id", s.getTask)
	e.DELETE("/v1/tasks/:id", s.cancelTask)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(s.metrics.Handler()))
	if opts.Harness != nil {
		s.routeHarness(e, opts.Harness)
	}
	if opts.MCP != nil {
		if s.mcp, err = s.newMCP(*opts.MCP); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		e.Any("/mcp", echo.WrapHandler(s.mcp))
	}
	if opts.Console != nil {
		e.GET("/", echo.WrapHandler(opts.Console))
		e.Any("/console/*", echo.WrapHandler(opts.Console))
	}
	s.echo = e
	return s, nil
}

// Handler returns the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Drain makes the host refuse new calls (503 UNAVAILABLE) and report not
// ready, while calls already running finish. It ends the MCP sessions,
// whose event streams would hold their connections open.
func (s *Server) Drain() {
	s.draining.Store(true)
	if s.mcp != nil {
		s.mcp.CloseSessions()
	}
}

// ── request ids ─────────────────────────────────────────────────────────────

// headerRequestID is X-Request-ID as net/http keys it: the headers are
// read and set by key, saving the canonicalisation of every Get and Set.
const headerRequestID = "X-Request-Id"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID takes X-Request-ID from the request when it is a sane id, makes
// one otherwise, and returns it on the response. While draining, it also
// asks the client to close the connection.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var id string
		if given := c.Request().Header[headerRequestID]; len(given) > 0 && requestIDPattern.MatchString(given[0]) {
			id = given[0]
		} else {
			id = dispatch.NewRequestID()
		}
		c.Response().Header()[headerRequestID] = []string{id}
		if s.draining.Load() {
			// Clients should not send another request on this connection.
			c.Response().Header().Set(echo.HeaderConnection, "close")
		}
		return next(c)
	}
}

// requestIDOf returns the request's id, which the answer carries. It is
// read back from the answer's header rather than kept in the echo context,
// whose store is a map made for each request.
func requestIDOf(c echo.Context) string {
	if id := c.Response().Header()[headerRequestID]; len(id) > 0 {
		return id[0]
	}
	return ""
}

// ── answers ─────────────────────────────────────────────────────────────────

// writeResult answers a result the server made itself (a rejection), whose
// JSON always encodes.
func (s *Server) writeResult(c echo.Context, status int, res runtime.Result) error {
	buf := getBuffer()
	defer putBuffer(buf)
	*buf, _ = res.AppendJSON((*buf)[:0])
	return writeAnswer(c, status, *buf, false)
}

// writeAnswer writes an ActionResult's JSON with its length said up front,
// so that the answer is complete when flushed (a 413 is flushed before the
// rest of its body is discarded), never chunked. flush sends it at once
// and closes the connection after it.
func writeAnswer(c echo.Context, status int, answer []byte, flush bool) error {
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(answer)))
	if flush {
		h.Set(echo.HeaderConnection, "close")
	}
	w.WriteHeader(status)
	_, err := w.Write(answer)
	if flush {
		w.Flush()
	}
	return err
}

// answerBuffers recycles the buffers answers are encoded into: an answer
// is several kilobytes, and growing a new buffer for each was half of a
// cache hit's allocations.
var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getBuffer() *[]byte { return answerBuffers.Get().(*[]byte) }

// putBuffer returns a buffer to the pool, unless an answer grew it past
// what is worth keeping.
func putBuffer(b *[]byte) {
	if cap(*b) <= 256<<10 {
		answerBuffers.Put(b)
	}
}

// reject answers a request that was not dispatched, with an error result.
func (s *Server) reject(c echo.Context, status int, code, message string) error {
	res := (&rejection{status, code, message}).result()
	s.metrics.Rejected(status, code)
	s.log.Info("request rejected", zap.String("request_id", requestIDOf(c)), zap.String("path", c.Path()),
		zap.Int("http_status", status), zap.String("error_code", code), zap.String("reason", message))
	if status != http.StatusRequestEntityTooLarge {
		return s.writeResult(c, status, res)
	}
	c.Response().Header().Set(echo.HeaderConnection, "close")
	err := s.writeResult(c, status, res)
	// A client that asked to be told before sending (Expect: 100-continue)
	// sends nothing more: there is nothing to discard.
	if !strings.EqualFold(c.Request().Header.Get("Expect"), "100-continue") {
		s.discardOversized(c)
	}
	return err
}

// discardOversized reads and drops what is left of an oversized body,
// after its 413 has been sent: most clients write the whole body before
// they read the answer, and a connection closed with their bytes unread
// resets under them, so they would see "connection reset" or "broken pipe"
// instead of the 413. The discarding is bounded in bytes and time; past
// either, the connection is closed all the same.
func (s *Server) discardOversized(c echo.Context) {
	if s.discard <= 0 {
		return
	}
	rc := http.NewResponseController(c.Response())
	_ = rc.Flush()
	_ = rc.SetReadDeadline(time.Now().Add(s.discardT))
	_, _ = io.CopyN(io.Discard, c.Request().Body, s.discard)
}

// refuse answers a rejection.
func (s *Server) refuse(c echo.Context, r *rejection) error {
	return s.reject(c, r.status, r.code, r.message)
}

// handleError answers errors that reach echo itself (unknown routes, wrong
// methods, recovered panics) in the ActionResult shape.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he) && he.Code == http.StatusNotFound:
		_ = s.reject(c, http.StatusNotFound, CodeNotFound, "No such endpoint.")
	case errors.As(err, &he) && he.Code == http.StatusMethodNotAllowed:
		_ = s.reject(c, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "This method is not allowed here.")
	default:
		_ = s.writeResult(c, http.StatusInternalServerError, dispatch.InternalError())
	}
}

// ── health ──────────────────────────────────────────────────────────────────

func (s *Server) healthz(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, []byte(`{"status":"ok"}`))
}

// readyz answers 200 while the host can serve, naming the cache "degraded"
// when its backend fails (calls still succeed, uncached), and 503 while
// draining or with no extension loaded.
func (s *Server) readyz(c echo.Context) error {
	switch {
	case s.draining.Load():
		return s.refuse(c, shuttingDown())
	case len(s.d.Extensions()) == 0:
		return s.reject(c, http.StatusServiceUnavailable, runtime.CodeUnavailable, "No extension is loaded.")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
	defer cancel()
	if err := s.d.Cache().Check(ctx); err != nil {
		return c.JSONBlob(http.StatusOK, []byte(`{"status":"ok","cache":"degraded"}`))
	}
	return c.JSONBlob(http.StatusOK, []byte(`{"status":"ok","cache":"ok"}`))
}
