package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/jsonx"
	"github.com/imperalcloud/exthost/runtime"
)

// maxUserIDLen bounds a user id: ids are keys of caches and logs, not prose.
const maxUserIDLen = 256

// identity is the caller as the request body states it.
type identity struct {
	UserID   string   `json:"user_id"`
	TenantID string   `json:"tenant_id"`
	Email    string   `json:"email"`
	Role     string   `json:"role"`
	Scopes   []string `json:"scopes"`
}

func (id identity) user() ctx.User {
	tenant := id.TenantID
	if tenant == "" {
		tenant = "default"
	}
	return ctx.User{ImperalID: id.UserID, Email: id.Email, TenantID: tenant, Role: id.Role, Scopes: id.Scopes}
}

// callEnvelope is the body of POST /v1/extensions/{app}/call.
type callEnvelope struct {
	identity
	Function string          `json:"function"`
	Params   json.RawMessage `json:"params"`
	// ConfirmationToken confirms a call held at the confirmation gate.
	ConfirmationToken string `json:"confirmation_token"`
}

// batchEnvelope is the body of POST /v1/extensions/{app}/batch.
type batchEnvelope struct {
	identity
	Calls []struct {
		Function          string          `json:"function"`
		Params            json.RawMessage `json:"params"`
		ConfirmationToken string          `json:"confirmation_token"`
	} `json:"calls"`
}

// rejection is a request answered before dispatch.
type rejection struct {
	status        int
	code, message string
}

func (r *rejection) Error() string { return r.message }

func badRequest(format string, args ...any) *rejection {
	return &rejection{http.StatusBadRequest, runtime.CodeBadRequest, fmt.Sprintf(format, args...)}
}

// admit runs the checks every call request passes, in the contract's order
// after the cheapest one: draining, then the concurrency limit (weight
// slots, released by the returned func), then the body size and the JSON
// envelope decoded into v. weight returns the slots v needs.
func (s *Server) admit(c echo.Context, v any, weight func() int) (release func(), rej *rejection) {
	if s.draining.Load() {
		return nil, shuttingDown()
	}
	body, rej := s.readBody(c)
	if rej != nil {
		return nil, rej
	}
	if err := decodeStrict(body, v); err != nil {
		return nil, badRequest("The request body is not a valid call envelope: %s", envelopeProblem(err))
	}
	return s.acquire(int64(weight()))
}

// acquire takes n slots of the concurrency limit, released by the
// returned func, or refuses the request when they are not free.
func (s *Server) acquire(n int64) (release func(), rej *rejection) {
	if !s.calls.TryAcquire(n) {
		return nil, &rejection{http.StatusTooManyRequests, runtime.CodeRateLimited, "The host is at its concurrency limit; retry shortly."}
	}
	return func() { s.calls.Release(n) }, nil
}

func shuttingDown() *rejection {
	return &rejection{http.StatusServiceUnavailable, runtime.CodeUnavailable, "The host is shutting down."}
}

// result is the error result that answers the rejection: retryable when
// the host is overloaded or shutting down.
func (r *rejection) result() runtime.Result {
	res := runtime.Fail(r.message).WithCode(r.code)
	res.Retryable = r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable
	return res
}

// readBody reads the whole body, refusing more than the configured limit.
func (s *Server) readBody(c echo.Context) ([]byte, *rejection) {
	r := c.Request()
	if r.ContentLength > s.maxBody {
		return nil, s.tooLarge()
	}
	body, err := readAll(http.MaxBytesReader(c.Response(), r.Body, s.maxBody), r.ContentLength)
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, s.tooLarge()
	case err != nil:
		return nil, badRequest("The request body could not be read.")
	}
	return body, nil
}

func (s *Server) tooLarge() *rejection {
	return &rejection{http.StatusRequestEntityTooLarge, runtime.CodePayloadTooLarge,
		fmt.Sprintf("The request body exceeds %d bytes.", s.maxBody)}
}

// readAll is io.ReadAll starting from the declared length: a call body is
// a few hundred bytes, and io.ReadAll's first buffer alone is 512.
func readAll(r io.Reader, length int64) ([]byte, error) {
	if length < 0 || length > 64<<10 {
		return io.ReadAll(r) // unknown or large: let it grow as it reads
	}
	// One byte more than declared, so that the read that finds EOF (or a
	// body longer than declared) needs no new buffer.
	buf := make([]byte, 0, length+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return buf, err
		case len(buf) == cap(buf):
			rest, err := io.ReadAll(r)
			return append(buf, rest...), err
		}
	}
}

// decodeStrict decodes one JSON value into v; trailing data is an error.
// Unknown keys are ignored, for clients newer than the host.
func decodeStrict(body []byte, v any) error { return jsonx.Unmarshal(body, v) }

// envelopeProblem says what is wrong with an envelope in terms of its
// fields, never quoting the body: the decoder's own messages may.
func envelopeProblem(err error) string {
	var typeErr *jsonx.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return typeErr.Field + " has the wrong type"
	}
	return "not valid JSON"
}

func checkIdentity(id identity) *rejection {
	switch {
	case id.UserID == "":
		return badRequest("user_id is required.")
	case len(id.UserID) > maxUserIDLen:
		return badRequest("user_id is longer than %d bytes.", maxUserIDLen)
	}
	return nil
}

// authenticate checks the call token in call_token mode; in dev mode the
// body's identity is trusted.
func (s *Server) authenticate(c echo.Context, appID, userID string) *rejection {
	if s.tokens == nil {
		return nil
	}
	token, ok := calltoken.ParseHeader(c.Request().Header.Get(echo.HeaderAuthorization))
	if !ok {
		return &rejection{http.StatusUnauthorized, runtime.CodeUnauthenticated, "missing call token"}
	}
	if _, err := s.tokens.Verify(c.Request().Context(), token, appID, userID); err != nil {
		return tokenRejection(err)
	}
	return nil
}

// tokenRejection answers a token Verify refused: 403 for a good token of
// another app, user or tool type, else 401.
func tokenRejection(err error) *rejection {
	var tokenErr *calltoken.Error
	if errors.As(err, &tokenErr) && tokenErr.Denied {
		return &rejection{http.StatusForbidden, runtime.CodePermissionDenied, tokenErr.Reason}
	}
	reason := "invalid call token"
	if tokenErr != nil {
		reason = tokenErr.Reason
	}
	return &rejection{http.StatusUnauthorized, runtime.CodeUnauthenticated, reason}
}

// call serves POST /v1/extensions/{app}/call.
func (s *Server) call(c echo.Context) error {
	var env callEnvelope
	release, rej := s.admit(c, &env, func() int { return 1 })
	if rej != nil {
		return s.refuse(c, rej)
	}
	defer release()
	if rej := checkIdentity(env.identity); rej != nil {
		return s.refuse(c, rej)
	}
	if env.Function == "" {
		return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, "function is required.")
	}
	app := c.Param("app")
	if rej := s.authenticate(c, app, env.UserID); rej != nil {
		return s.refuse(c, rej)
	}
	buf := getBuffer()
	defer putBuffer(buf)
	var werr error
	s.metrics.InFlight().Inc()
	s.d.Serve(c.Request().Context(), dispatch.Request{
		AppID: app, Function: env.Function, Params: env.Params, User: env.user(), RequestID: requestIDOf(c),
		ConfirmationToken: env.ConfirmationToken,
	}, (*buf)[:0], func(answer []byte, _ runtime.Result, tr dispatch.Trace) {
		*buf = answer
		status := statusOf(tr)
		s.logCall(tr, status, -1)
		// A call answered at its deadline is answered from the watchdog's
		// goroutine while its handler runs on: the answer goes out now, and
		// the connection closes when the handler returns.
		werr = writeAnswer(c, status, answer, tr.Overran)
	})
	s.metrics.InFlight().Dec()
	return werr
}

// batch serves POST /v1/extensions/{app}/batch: up to MaxBatchCalls calls
// of one app for one user, run concurrently, answered in request order.
func (s *Server) batch(c echo.Context) error {
	var env batchEnvelope
	// A batch holds a slot per call it runs at once, never more slots than
	// the limit has: a host limited below 16 runs a batch's calls in turns.
	width := func() int { return max(1, min(len(env.Calls), MaxBatchCalls, s.limit)) }
	release, rej := s.admit(c, &env, width)
	if rej != nil {
		return s.refuse(c, rej)
	}
	defer release()
	if rej := checkIdentity(env.identity); rej != nil {
		return s.refuse(c, rej)
	}
	switch {
	case len(env.Calls) == 0:
		return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, "calls is required and may not be empty.")
	case len(env.Calls) > MaxBatchCalls:
		return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest,
			fmt.Sprintf("A batch carries at most %d calls, not %d.", MaxBatchCalls, len(env.Calls)))
	}
	for i, call := range env.Calls {
		if call.Function == "" {
			return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, fmt.Sprintf("calls[%d].function is required.", i))
		}
	}
	app := c.Param("app")
	if rej := s.authenticate(c, app, env.UserID); rej != nil {
		return s.refuse(c, rej)
	}
	if _, err := s.d.Lookup(app, ""); err != nil {
		return s.rejectLookup(c, err)
	}

	answers := make([]*[]byte, len(env.Calls))
	requestID := requestIDOf(c) // read here: the answer's header is not for concurrent use
	var g errgroup.Group
	g.SetLimit(width())
	for i, call := range env.Calls {
		g.Go(func() error {
			answers[i] = getBuffer()
			// Each call of the batch its own request id, the same when the
			// batch is retried: what a retry may repeat (an idempotent send,
			// a confirmation) is one call's, not any call's of the batch.
			*answers[i] = s.dispatch(c, (*answers[i])[:0], dispatch.Request{
				AppID: app, Function: call.Function, Params: call.Params, User: env.user(),
				RequestID: requestID + "." + strconv.Itoa(i), ConfirmationToken: call.ConfirmationToken,
			}, i)
			return nil
		})
	}
	_ = g.Wait()

	buf := getBuffer()
	defer putBuffer(buf)
	out := append((*buf)[:0], `{"results":[`...)
	for i, answer := range answers {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, *answer...)
		putBuffer(answer)
	}
	*buf = append(out, `]}`...)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, *buf)
}

// dispatch runs one call of a batch, appends its answer to dst and writes
// its log line, and returns the answer. index is the call's place in the
// batch.
func (s *Server) dispatch(c echo.Context, dst []byte, req dispatch.Request, index int) []byte {
	s.metrics.InFlight().Inc()
	answer, _, tr := s.d.Call(c.Request().Context(), req, dst)
	s.metrics.InFlight().Dec()
	s.logCall(tr, statusOf(tr), index)
	return answer
}

// statusOf is the HTTP status of a call's answer: 200 for every call that
// was delivered, 404 for an app or function the host does not serve,
// whatever the result's code says.
func statusOf(tr dispatch.Trace) int {
	if tr.Err != nil && errors.As(tr.Err, new(*dispatch.LookupError)) {
		return http.StatusNotFound
	}
	return http.StatusOK
}

// rejectLookup answers a request for an app or function the host does not
// serve, found before any call ran.
func (s *Server) rejectLookup(c echo.Context, err error) error {
	var unknown *dispatch.LookupError
	if !errors.As(err, &unknown) {
		return s.writeResult(c, http.StatusInternalServerError, dispatch.InternalError())
	}
	res := unknown.Result()
	return s.reject(c, http.StatusNotFound, res.ErrorCode, res.Error)
}

// logCall writes the call's one line. Parameters, tokens and results stay
// out of it: they may carry personal data or secrets.
func (s *Server) logCall(tr dispatch.Trace, status, index int) {
	log, level := s.callLog, zap.InfoLevel
	switch {
	case tr.Status == runtime.StatusSuccess:
		log = s.okLog
	case tr.ErrorCode == runtime.CodeInternal:
		level = zap.ErrorLevel
	}
	ce := log.Check(level, "call")
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("request_id", tr.RequestID),
		zap.String("app", tr.AppID),
		zap.String("function", tr.Function),
		zap.String("user_id", tr.UserID),
		zap.String("status", string(tr.Status)),
		zap.String("error_code", tr.ErrorCode),
		zap.Int("http_status", status),
		zap.Float64("duration_ms", float64(tr.Duration.Microseconds())/1000),
		zap.Int("cache_hits", tr.CacheHits),
		zap.Int("cache_misses", tr.CacheMisses),
		zap.Int("upstream_calls", len(tr.Upstream)),
		zap.Int("store_ops", len(tr.Store)),
	}
	if index >= 0 {
		fields = append(fields, zap.Int("call_index", index))
	}
	if tr.Event != nil {
		fields = append(fields, zap.String("event", tr.Event.EventType))
	}
	ce.Write(fields...)
}
