package dispatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/panics"
	"github.com/imperalcloud/exthost/internal/params"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// LookupError is a call of an app or a function the dispatcher does not
// serve: the server answers it 404, whatever else the call says.
type LookupError struct {
	// Function is empty when the app itself is unknown.
	AppID, Function string
	// UnknownApp says the app is unknown; else it is the function.
	UnknownApp bool
}

// Error implements error.
func (e *LookupError) Error() string {
	if e.UnknownApp {
		return fmt.Sprintf("dispatch: no extension %q", e.AppID)
	}
	return fmt.Sprintf("dispatch: extension %q has no function %q", e.AppID, e.Function)
}

// Result is the error result of the lookup, in the SDK's words; it names
// neither, since both come from the caller.
func (e *LookupError) Result() runtime.Result {
	if e.UnknownApp {
		return runtime.Fail("Tool not available.").WithCode(runtime.CodeUnknownTool)
	}
	return runtime.Fail("Sub-function not available.").WithCode(runtime.CodeUnknownSubFunction)
}

// ErrorResult turns an error that ended a call into its ActionResult, with
// the codes of the platform contract:
//   - a recovered panic, or a result that breaks its declaration: INTERNAL,
//     with no detail for the client;
//   - a broken cache invariant: CACHE_CONTRACT_VIOLATION;
//   - bad parameters: VALIDATION_MISSING_FIELD or VALIDATION_TYPE_ERROR;
//   - an upstream timeout, or the call's deadline: BACKEND_TIMEOUT, retryable;
//   - an upstream 5xx: BACKEND_5XX, retryable; a 4xx: BACKEND_4XX;
//   - an unreachable upstream: BACKEND_UNAVAILABLE, retryable;
//   - an upstream body that is malformed or too large, or a redirect
//     (never followed): BACKEND_BAD_RESPONSE;
//   - a *runtime.CodedError: its own code and message;
//   - anything else: EXT_UNSTRUCTURED_ERROR with a generic message. As in
//     the SDK, an error's own text never reaches the client: it may name
//     hosts, paths or data (the dispatcher logs it).
func ErrorResult(err error) runtime.Result {
	var (
		panicErr    *panics.Error
		contractErr *cache.ContractError
		paramsErr   *params.Error
		statusErr   *httpclient.StatusError
		upstreamErr *httpclient.Error
		codedErr    *runtime.CodedError
		lookupErr   *LookupError
		conflictErr *store.ConflictError
		limitErr    *store.LimitError
	)
	switch {
	case errors.As(err, &panicErr) || errors.Is(err, panics.ErrBug) || errors.Is(err, store.ErrInvalid):
		return InternalError()
	case errors.As(err, &lookupErr):
		return lookupErr.Result()
	case errors.As(err, &contractErr):
		return runtime.Fail(contractErr.Error()).WithCode(runtime.CodeCacheContractViolation)
	case errors.As(err, &paramsErr):
		r := runtime.Fail(paramsErr.Error()).WithCode(paramsErr.Code())
		r.Data = paramsErr.Data()
		return r
	case errors.As(err, &statusErr):
		switch code := statusErr.StatusCode; {
		case code >= 500:
			return runtime.Fail(fmt.Sprintf("%s failed (HTTP %d).", statusErr.Service, code)).WithCode(runtime.CodeBackend5xx).WithRetry()
		case code >= 400:
			return runtime.Fail(fmt.Sprintf("%s rejected the request (HTTP %d).", statusErr.Service, code)).WithCode(runtime.CodeBackend4xx)
		}
		return runtime.Fail(fmt.Sprintf("%s answered an unexpected HTTP %d.", statusErr.Service, statusErr.StatusCode)).
			WithCode(runtime.CodeBackendBadResponse)
	case errors.As(err, &upstreamErr):
		return upstreamResult(upstreamErr)
	case errors.As(err, &conflictErr):
		if conflictErr.Exists {
			return runtime.Fail("A document with that id already exists.").WithCode(runtime.CodeStoreConflict)
		}
		return runtime.Fail("The document has changed since it was read.").WithCode(runtime.CodeStoreConflict)
	case errors.As(err, &limitErr):
		return runtime.Fail("The write is over a store limit; nothing was written.").WithCode(runtime.CodeStoreLimit)
	case errors.Is(err, store.ErrUnstorable):
		return runtime.Fail("The data holds a character the store cannot keep (U+0000).").WithCode(runtime.CodeBadRequest)
	case errors.Is(err, store.ErrUnavailable):
		return runtime.Fail("The store is unavailable; retry shortly.").WithCode(runtime.CodeStoreUnavailable).WithRetry()
	case errors.As(err, &codedErr):
		r := runtime.Fail(codedErr.Message).WithCode(codedErr.Code)
		r.Retryable = codedErr.Retryable
		return r
	case errors.Is(err, context.DeadlineExceeded):
		return runtime.Fail("The call did not finish in time.").WithCode(runtime.CodeBackendTimeout).WithRetry()
	case errors.Is(err, context.Canceled):
		return runtime.Fail("The call was canceled.").WithCode(runtime.CodeCanceled).WithRetry()
	}
	return unstructuredError()
}

func upstreamResult(e *httpclient.Error) runtime.Result {
	switch e.Kind {
	case httpclient.KindTimeout:
		return runtime.Fail(e.Service + " did not answer in time.").WithCode(runtime.CodeBackendTimeout).WithRetry()
	case httpclient.KindUnreachable:
		return runtime.Fail(e.Service + " is unreachable.").WithCode(runtime.CodeBackendUnavailable).WithRetry()
	case httpclient.KindTooLarge, httpclient.KindMalformed:
		return runtime.Fail(e.Service + " sent a " + e.Kind.String() + ".").WithCode(runtime.CodeBackendBadResponse)
	case httpclient.KindCanceled:
		return runtime.Fail("The call was canceled.").WithCode(runtime.CodeCanceled).WithRetry()
	}
	return unstructuredError() // an invalid or refused request: the extension's mistake
}

// unstructuredError is the result of a handler error the runtime cannot
// classify: the code says so, and the text stays in the log.
func unstructuredError() runtime.Result {
	return runtime.Fail("The function failed.").WithCode(runtime.CodeUnstructured)
}

// InternalError is the result of a call, or a request, that failed inside
// the host or the handler's code: nothing of the failure is shown, the log
// has it.
func InternalError() runtime.Result {
	return runtime.Result{Status: runtime.StatusError, Error: "An internal error occurred.", ErrorCode: runtime.CodeInternal}
}
