package server

import (
	"context"
	"net/http"
	"time"

	"github.com/imperalcloud/exthost/internal/calltoken"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/mcpserver"
	"github.com/imperalcloud/exthost/runtime"
)

// MCPOptions configures the MCP endpoint at /mcp (DESIGN §14).
type MCPOptions struct {
	// Stateless serves each MCP HTTP request on its own, with no session.
	Stateless bool
	// JSONResponse answers with application/json instead of an event stream.
	JSONResponse bool
	// SessionTimeout closes sessions idle this long; zero keeps them.
	SessionTimeout time.Duration
	// Version is the host's version, for the initialize answer.
	Version string
}

// newMCP returns the MCP endpoint, whose calls run through mcpCall.
func (s *Server) newMCP(opts MCPOptions) (*mcpserver.Endpoint, error) {
	return mcpserver.New(mcpserver.Options{
		Extensions:        s.d.Extensions(),
		Run:               s.mcpCall,
		RequireUserHeader: s.tokens == nil,
		Stateless:         opts.Stateless,
		JSONResponse:      opts.JSONResponse,
		SessionTimeout:    opts.SessionTimeout,
		MaxBodyBytes:      s.maxBody,
		Version:           opts.Version,
		Logger:            s.log,
	})
}

// mcpCall runs a tools/call as call runs a call of the HTTP API: draining,
// the concurrency limit, the caller, then dispatch and the call's line. A
// call refused before dispatch answers the error result the HTTP API would
// put in its body.
func (s *Server) mcpCall(ctx context.Context, call mcpserver.Call) ([]byte, runtime.Result) {
	if s.draining.Load() {
		return s.mcpRefuse(shuttingDown())
	}
	release, rej := s.acquire(1)
	if rej != nil {
		return s.mcpRefuse(rej)
	}
	defer release()
	id, rej := s.mcpCaller(ctx, call)
	if rej != nil {
		return s.mcpRefuse(rej)
	}
	requestID := call.Header.Get(headerRequestID)
	if !requestIDPattern.MatchString(requestID) {
		requestID = dispatch.NewRequestID()
	}
	s.metrics.InFlight().Inc()
	answer, res, tr := s.d.Call(ctx, dispatch.Request{
		AppID: call.AppID, Function: call.Function, Params: call.Params, User: id.user(), RequestID: requestID,
		ConfirmationToken: call.ConfirmationToken,
	}, nil)
	s.metrics.InFlight().Dec()
	s.logCall(tr, statusOf(tr), -1)
	return answer, res
}

// mcpCaller is the caller of an MCP call: in dev mode the X-User-ID and
// X-Tenant-ID headers, in call_token mode the user of the token in the
// request's Authorization, which must be a token for the tool's app.
func (s *Server) mcpCaller(ctx context.Context, call mcpserver.Call) (identity, *rejection) {
	id := identity{UserID: call.Header.Get(mcpserver.HeaderUserID), TenantID: call.Header.Get(mcpserver.HeaderTenantID)}
	if s.tokens != nil {
		token, ok := calltoken.ParseHeader(call.Header.Get("Authorization"))
		if !ok {
			return identity{}, &rejection{http.StatusUnauthorized, runtime.CodeUnauthenticated, calltoken.ReasonMissing}
		}
		claims, err := s.tokens.VerifyCaller(ctx, token)
		if err != nil {
			return identity{}, tokenRejection(err)
		}
		if claims.AppID != call.AppID {
			return identity{}, &rejection{http.StatusForbidden, runtime.CodePermissionDenied, calltoken.ReasonAppID}
		}
		id.UserID = claims.UserID
	}
	if rej := checkIdentity(id); rej != nil {
		return identity{}, rej
	}
	return id, nil
}

// mcpRefuse is the answer to an MCP call refused before dispatch, counted
// as the HTTP API counts its rejections.
func (s *Server) mcpRefuse(r *rejection) ([]byte, runtime.Result) {
	res := r.result()
	s.metrics.Rejected(r.status, r.code)
	answer, _ := res.AppendJSON(nil)
	return answer, res
}
