package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/imperalcloud/exthost/cache"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/internal/panics"
)

// CodedError fails a call with an extension's own error code. Handlers
// return it (or wrap it) when the failure is theirs to name; a Fail result
// with WithCode does the same without an error value.
type CodedError struct {
	// Code is the stable ^[A-Z][A-Z0-9_]{2,63}$ code.
	Code string
	// Message is shown to the user and the model.
	Message string
	// Retryable says the same call may succeed later.
	Retryable bool
}

// Error implements error.
func (e *CodedError) Error() string { return e.Code + ": " + e.Message }

// ErrorResult turns an error that ended a call into its ActionResult, with
// the codes of the platform contract:
//   - a recovered panic: INTERNAL, with no detail for the client;
//   - a broken cache invariant: CACHE_CONTRACT_VIOLATION;
//   - bad parameters: VALIDATION_MISSING_FIELD or VALIDATION_TYPE_ERROR;
//   - an upstream timeout, or the call's deadline: BACKEND_TIMEOUT, retryable;
//   - an upstream 5xx: BACKEND_5XX, retryable; a 4xx: BACKEND_4XX;
//   - an unreachable upstream: BACKEND_UNAVAILABLE, retryable;
//   - an upstream body that is malformed or too large: BACKEND_BAD_RESPONSE;
//   - an upstream redirect (never followed): BACKEND_BAD_RESPONSE;
//   - a *CodedError: its own code and message;
//   - anything else: EXT_UNSTRUCTURED_ERROR with a generic message. As in
//     the SDK, an error's own text never reaches the client: it may name
//     hosts, paths or data (the dispatcher logs it).
func ErrorResult(err error) Result {
	var (
		panicErr    *panics.Error
		contractErr *cache.ContractError
		validErr    *ValidationError
		statusErr   *httpclient.StatusError
		upstreamErr *httpclient.Error
		codedErr    *CodedError
	)
	switch {
	case errors.As(err, &panicErr):
		return internalError()
	case errors.As(err, &contractErr):
		return Fail(contractErr.Error()).WithCode(CodeCacheContractViolation)
	case errors.As(err, &validErr):
		r := Fail(validErr.Error()).WithCode(validErr.Code())
		if len(validErr.Missing) > 0 {
			r.Data = map[string]any{"missing_fields": validErr.Missing}
		} else {
			r.Data = map[string]any{"fields": validErr.Fields}
		}
		return r
	case errors.As(err, &statusErr):
		switch code := statusErr.StatusCode; {
		case code >= 500:
			return Fail(fmt.Sprintf("%s failed (HTTP %d).", statusErr.Service, code)).WithCode(CodeBackend5xx).WithRetry()
		case code >= 400:
			return Fail(fmt.Sprintf("%s rejected the request (HTTP %d).", statusErr.Service, code)).WithCode(CodeBackend4xx)
		}
		return Fail(fmt.Sprintf("%s answered an unexpected HTTP %d.", statusErr.Service, statusErr.StatusCode)).
			WithCode(CodeBackendBadResponse)
	case errors.As(err, &upstreamErr):
		return upstreamResult(upstreamErr)
	case errors.As(err, &codedErr):
		r := Fail(codedErr.Message).WithCode(codedErr.Code)
		r.Retryable = codedErr.Retryable
		return r
	case errors.Is(err, context.DeadlineExceeded):
		return Fail("The call did not finish in time.").WithCode(CodeBackendTimeout).WithRetry()
	case errors.Is(err, context.Canceled):
		return Fail("The call was canceled.").WithCode(CodeCanceled).WithRetry()
	}
	return unstructuredError()
}

func upstreamResult(e *httpclient.Error) Result {
	switch e.Kind {
	case httpclient.KindTimeout:
		return Fail(e.Service + " did not answer in time.").WithCode(CodeBackendTimeout).WithRetry()
	case httpclient.KindUnreachable:
		return Fail(e.Service + " is unreachable.").WithCode(CodeBackendUnavailable).WithRetry()
	case httpclient.KindTooLarge, httpclient.KindMalformed:
		return Fail(e.Service + " sent a " + e.Kind.String() + ".").WithCode(CodeBackendBadResponse)
	case httpclient.KindCanceled:
		return Fail("The call was canceled.").WithCode(CodeCanceled).WithRetry()
	}
	return unstructuredError() // an invalid or refused request: the extension's mistake
}

// unstructuredError is the result of a handler error the runtime cannot
// classify: the code says so, and the text stays in the log.
func unstructuredError() Result {
	return Fail("The function failed.").WithCode(CodeUnstructured)
}

// internalError is the result of a call that failed inside the host or the
// handler's code: nothing of the failure is shown, the log has it.
func internalError() Result {
	return Result{Status: StatusError, Error: "An internal error occurred.", ErrorCode: CodeInternal}
}
