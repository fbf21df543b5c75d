package hosttest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/runtime"
)

// Result is an ActionResult as a client reads it, with what the host did
// to produce it.
type Result struct {
	Status        runtime.Status  `json:"status"`
	Summary       string          `json:"summary"`
	Data          json.RawMessage `json:"data"`
	Error         string          `json:"error"`
	ErrorCode     string          `json:"error_code"`
	Retryable     bool            `json:"retryable"`
	UI            json.RawMessage `json:"ui"`
	RefreshPanels []string        `json:"refresh_panels"`

	// HTTPStatus is the answer's status; 0 for an in-process Call.
	HTTPStatus int `json:"-"`
	// JSON is the ActionResult exactly as the host encodes it.
	JSON []byte `json:"-"`
	// Trace is what happened during the call: cache hits and misses,
	// upstream requests, the event published. Empty when the call was
	// refused before it reached the dispatcher (bad envelope, token).
	Trace Trace `json:"-"`
}

// OK reports whether the call succeeded.
func (r Result) OK() bool { return r.Status == runtime.StatusSuccess }

// Data decodes the result's data into a T, failing t when it does not fit.
func Data[T any](t TB, r Result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatalf("hosttest: data %s does not decode into %T: %v", r.Data, v, err)
	}
	return v
}

// CallOption adjusts one call.
type CallOption func(*callSettings)

type callSettings struct {
	user         ctx.User
	requestID    string
	token        *string
	confirmation string
}

// As makes the call on behalf of user rather than the host's default user;
// a user without a tenant is in "default", as the HTTP API makes it.
func As(user ctx.User) CallOption {
	return func(s *callSettings) {
		if user.TenantID == "" {
			user.TenantID = "default"
		}
		s.user = user
	}
}

// AsUser makes the call on behalf of the default user with its id
// replaced by userID.
func AsUser(userID string) CallOption {
	return func(s *callSettings) { s.user.ImperalID = userID }
}

// RequestID gives the call its request id.
func RequestID(id string) CallOption { return func(s *callSettings) { s.requestID = id } }

// WithToken sends token (empty: none) instead of a freshly minted one, in
// CallHTTP on a host with call tokens.
func WithToken(token string) CallOption { return func(s *callSettings) { s.token = &token } }

// Confirming sends the confirmation token of an earlier answer
// (Result.Confirmation), as a client does once the user has confirmed.
func Confirming(token string) CallOption { return func(s *callSettings) { s.confirmation = token } }

// Confirmation is what a CONFIRMATION_REQUIRED answer asks to confirm.
type Confirmation = dispatch.Confirmation

// Confirmation returns what the answer asks the user to confirm, and
// whether it does.
func (r Result) Confirmation() (Confirmation, bool) {
	var data dispatch.ConfirmationData
	if r.ErrorCode != runtime.CodeConfirmationRequired || json.Unmarshal(r.Data, &data) != nil {
		return Confirmation{}, false
	}
	return data.Confirmation, true
}

// TaskID returns the id of the background task the answer started, if any.
func (r Result) TaskID() (string, bool) {
	var data runtime.TaskStarted
	if !r.OK() || json.Unmarshal(r.Data, &data) != nil || !data.Background || data.TaskID == "" {
		return "", false
	}
	return data.TaskID, true
}

func (h *Host) settings(opts []CallOption) callSettings {
	s := callSettings{user: h.user}
	for _, opt := range opts {
		opt(&s)
	}
	return s
}

// Call runs function of app in process, through the same dispatcher the
// HTTP API uses, past authentication. params is encoded as JSON unless it
// is a json.RawMessage; nil means {}.
func (h *Host) Call(app, function string, params any, opts ...CallOption) Result {
	h.t.Helper()
	s := h.settings(opts)
	raw, _, tr := h.host.Dispatcher().Call(context.Background(), dispatch.Request{
		AppID: app, Function: function, Params: h.encode(params), User: s.user, RequestID: s.requestID,
		ConfirmationToken: s.confirmation,
	}, nil)
	h.checkShared(app)
	out := h.decode(raw)
	out.Trace = traceOf(tr)
	return out
}

// CallHTTP makes the call over the host's HTTP API, as the orchestrator
// does: POST /v1/extensions/{app}/call with the caller's identity in the
// body and, on a host with call tokens, a token minted for the call.
func (h *Host) CallHTTP(app, function string, params any, opts ...CallOption) Result {
	h.t.Helper()
	s := h.settings(opts)
	envelope := map[string]any{
		"user_id": s.user.ImperalID, "tenant_id": s.user.TenantID, "email": s.user.Email, "role": s.user.Role,
		"scopes": s.user.Scopes, "function": function, "params": h.encode(params),
	}
	if s.confirmation != "" {
		envelope["confirmation_token"] = s.confirmation
	}
	body, err := json.Marshal(envelope)
	if err != nil {
		h.t.Fatalf("hosttest: %v", err)
	}
	req, err := http.NewRequest(http.MethodPost, h.URL()+"/v1/extensions/"+url.PathEscape(app)+"/call", bytes.NewReader(body))
	if err != nil {
		h.t.Fatalf("hosttest: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.requestID != "" {
		req.Header.Set("X-Request-ID", s.requestID)
	}
	switch {
	case s.token != nil && *s.token != "":
		req.Header.Set("Authorization", "ImperalCallToken "+*s.token)
	case s.token == nil && h.secret != "":
		req.Header.Set("Authorization", "ImperalCallToken "+h.Token(app, s.user.ImperalID, time.Minute))
	}
	resp, err := h.server.Client().Do(req)
	if err != nil {
		h.t.Fatalf("hosttest: POST %s: %v", req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("hosttest: POST %s: %v", req.URL, err)
	}
	h.checkShared(app)
	out := h.decode(raw)
	out.HTTPStatus = resp.StatusCode
	out.Trace = h.trace(resp.Header.Get("X-Request-ID"))
	return out
}

// Token mints a call token for app and userID, valid for ttl (rounded up
// to whole seconds, as tokens count time) on the host's clock, signed with
// the host's secret: what a client outside Go sends as
// "Authorization: ImperalCallToken <token>". It fails the test on a host
// without call tokens.
func (h *Host) Token(app, userID string, ttl time.Duration) string {
	h.t.Helper()
	if h.secret == "" {
		h.t.Fatalf("hosttest: Token needs a host with Options.CallTokens")
	}
	now := h.clock.Now().Unix()
	return calltoken.Mint(calltoken.Claims{
		AppID: app, Exp: now + int64((ttl+time.Second-1)/time.Second), Iat: now, Jti: calltoken.NewJTI(),
		ToolType: calltoken.ToolTypeChatFn, UserID: userID,
	}, h.secret)
}

// trace returns the trace of the call with requestID, if the host kept one.
func (h *Host) trace(requestID string) Trace {
	for _, tr := range h.harness.Calls(0) {
		if tr.RequestID == requestID {
			return traceOf(tr)
		}
	}
	return Trace{}
}

func (h *Host) encode(params any) json.RawMessage {
	h.t.Helper()
	switch p := params.(type) {
	case nil:
		return nil
	case json.RawMessage:
		return p
	}
	raw, err := json.Marshal(params)
	if err != nil {
		h.t.Fatalf("hosttest: params do not encode: %v", err)
	}
	return raw
}

func (h *Host) decode(raw []byte) Result {
	h.t.Helper()
	var res Result
	if err := json.Unmarshal(raw, &res); err != nil {
		h.t.Fatalf("hosttest: the answer is not an ActionResult: %v\n%s", err, raw)
	}
	res.JSON = raw
	return res
}
