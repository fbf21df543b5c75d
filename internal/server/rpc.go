package server

import (
	"context"
	"errors"
	"time"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/internal/catalog"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/internal/fastrpc"
	"github.com/imperalcloud/exthost/runtime"
)

// RPCCall runs a Fast-RPC call (DESIGN §15) as call runs a call of the
// HTTP API, with the envelope's identity, which the platform vouches for:
// the concurrency limit, then dispatch, under the envelope's deadline, and
// the call's line. A call the function answered, with success or an error
// of its own, is a success reply carrying the ActionResult, as the HTTP
// API answers it 200; the rest are error replies: an unknown app or
// function (application), a deadline that passed (timeout), a host at its
// limit (infrastructure, retryable).
func (s *Server) RPCCall(c context.Context, req fastrpc.Request) fastrpc.Answer {
	release, rej := s.acquire(1)
	if rej != nil {
		s.metrics.Rejected(rej.status, rej.code)
		return fastrpc.Answer{Error: &fastrpc.Error{Category: fastrpc.CategoryInfrastructure, Message: rej.message, Retryable: true}}
	}
	defer release()
	target, err := s.d.Lookup(req.AppID, req.Function)
	if err == nil && target == nil {
		err = &dispatch.LookupError{AppID: req.AppID}
	}
	if err != nil {
		return lookupAnswer(err)
	}
	params, token, ok := catalog.SplitConfirmation(req.Params, target.Func().Info().ConfirmationRequired)
	if !ok {
		return fastrpc.Answer{Error: &fastrpc.Error{Category: fastrpc.CategorySchema,
			Message: "params." + catalog.ConfirmationTokenArgument + " must be a string."}}
	}
	requestID := req.CorrID
	if !requestIDPattern.MatchString(requestID) {
		requestID = dispatch.NewRequestID()
	}
	s.metrics.InFlight().Inc()
	answer, res, tr := s.d.Call(c, dispatch.Request{
		AppID: req.AppID, Function: req.Function, Params: params, RequestID: requestID, ConfirmationToken: token,
		User: ctx.User{ImperalID: req.UserID, Email: req.Email, TenantID: req.TenantID, Role: req.Role, Scopes: req.Scopes},
	}, nil)
	s.metrics.InFlight().Dec()
	s.logCall(tr, statusOf(tr), -1)
	if tr.Err != nil && errors.As(tr.Err, new(*dispatch.LookupError)) {
		return lookupAnswer(tr.Err)
	}
	if res.ErrorCode == runtime.CodeBackendTimeout && !time.Now().Before(req.Deadline) {
		return fastrpc.Answer{Error: &fastrpc.Error{Category: fastrpc.CategoryTimeout,
			Message: "The call did not finish by its deadline.", Retryable: true}}
	}
	return fastrpc.Answer{Result: answer}
}

// lookupAnswer is the error reply to a call of an app or function the host
// does not serve, in the words of the HTTP API's 404.
func lookupAnswer(err error) fastrpc.Answer {
	res := dispatch.ErrorResult(err)
	return fastrpc.Answer{Error: &fastrpc.Error{Category: fastrpc.CategoryApplication, Message: res.Error}}
}
