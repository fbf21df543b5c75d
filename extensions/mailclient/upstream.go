package mailclient

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/imperalcloud/exthost/ctx"
	"github.com/imperalcloud/exthost/httpclient"
	"github.com/imperalcloud/exthost/runtime"
)

// The extension's own error codes, as the port notes of the real mail
// client suggest (mail-client.md §6).
const (
	codeNotConnected    = "NOT_CONNECTED"
	codeAccountNotFound = "ACCOUNT_NOT_FOUND"
	codeNotFound        = "NOT_FOUND"
	codeValidation      = "VALIDATION"
	codeUnauthorized    = "UNAUTHORIZED"
	codeConflict        = "CONFLICT"
)

// mailService is the base URL of the mail-service, by its logical name.
const mailService = "http://mail-service"

// mailGet GETs path of the mail-service with query and decodes its answer
// into out; a refusal is the error mailError makes of it.
func mailGet(c *ctx.Call, path string, query httpclient.Params, out any) error {
	resp, err := c.HTTP().Get(c, mailService+path, authorized(c, query)...)
	return decodeMail(resp, err, out)
}

// mailPost POSTs body as JSON to path of the mail-service and decodes its
// answer into out.
func mailPost(c *ctx.Call, path string, body any, out any, opts ...httpclient.Option) error {
	resp, err := c.HTTP().Post(c, mailService+path, authorized(c, append(opts, httpclient.JSON(body))...)...)
	return decodeMail(resp, err, out)
}

func decodeMail(resp *httpclient.Response, err error, out any) error {
	if err != nil {
		return err
	}
	if !resp.OK() {
		return mailError(resp)
	}
	return resp.JSON(out)
}

// mailError turns a refusal of the mail-service, {"error": {"code",
// "message", "retryable"}}, into the call's error as the real extension
// maps them (mail-client.md §8.2): not found, invalid, unauthorized and
// conflicting requests are final; rate limits and server failures may be
// retried. The service's message is not passed on: a real backend may quote
// the request in it.
func mailError(resp *httpclient.Response) error {
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = resp.JSON(&body) // a body of another shape leaves the status to speak
	switch status := resp.StatusCode; {
	case status == http.StatusNotFound:
		return &runtime.CodedError{Code: codeNotFound, Message: "Message not found in this account. If it belongs to a different account, switch accounts first."}
	case status == http.StatusUnauthorized:
		return &runtime.CodedError{Code: codeUnauthorized, Message: "The mail-service refused the account's credentials; reconnect the account."}
	case status == http.StatusConflict:
		return &runtime.CodedError{Code: codeConflict, Message: "The mail-service refused a conflicting request."}
	case status == http.StatusTooManyRequests:
		return &runtime.CodedError{Code: runtime.CodeRateLimited, Message: "The mail-service is rate limiting; try again shortly.", Retryable: true}
	case status == http.StatusBadRequest || body.Error.Code == codeValidation:
		return &runtime.CodedError{Code: codeValidation, Message: "The mail-service refused the request as invalid."}
	}
	return resp.Err() // the host's BACKEND_4XX or BACKEND_5XX (retryable)
}

// sendFailed is a send's or a reply's failure. One that may have gone out
// (a 5xx, a timeout, a lost connection) is SEND_UNCONFIRMED, and
// retryable: the Idempotency-Key of the call (its request id: X-Request-ID,
// the corr_id on the stream) makes the mail-service send it once however
// often the same call is retried. The real extension answers retryable=false
// for every send, having no such key; a retry without the request id is a
// new send. A refusal (4xx) is final, a rate limit retryable, as for any
// call.
func sendFailed(err error) error {
	var coded *runtime.CodedError
	var status *httpclient.StatusError
	if errors.As(err, &coded) || errors.As(err, &status) && status.StatusCode < 500 {
		return err
	}
	return &runtime.CodedError{Code: "SEND_UNCONFIRMED", Retryable: true,
		Message: "The mail-service did not confirm the email; retrying this very call sends it at most once."}
}

// finalErr makes a destructive write's failure final: the user confirmed
// one run, and part of it may be done.
func finalErr(err error) error {
	return final(err, "UNCONFIRMED", "The mail-service did not confirm the change; some of it may be done. Look before trying again.")
}

// final returns err not retryable: a coded error or a 4xx as it is, any
// other failure (a 5xx, a timeout: the change may have happened) as code
// with message.
func final(err error, code, message string) error {
	var coded *runtime.CodedError
	if errors.As(err, &coded) {
		f := *coded
		f.Retryable = false
		return &f
	}
	var status *httpclient.StatusError
	if errors.As(err, &status) && status.StatusCode < 500 {
		return err // a 4xx is final already
	}
	return &runtime.CodedError{Code: code, Message: message}
}

// messagePath is the mail-service path of message id, then rest; false for
// an id that is a dot segment ("." or ".."), which no message has and the
// HTTP client refuses to send.
func messagePath(id, rest string) (string, bool) {
	if id == "." || id == ".." {
		return "", false
	}
	return "/v1/messages/" + url.PathEscape(id) + rest, true
}

// isNotFound reports whether err is the mail-service's "no such message".
func isNotFound(err error) bool {
	var coded *runtime.CodedError
	return errors.As(err, &coded) && coded.Code == codeNotFound
}
