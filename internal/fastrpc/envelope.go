package fastrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/imperalcloud/exthost/internal/jsonx"
	"github.com/imperalcloud/exthost/internal/params"
)

// EnvelopeVersion is the only envelope version there is (the SDK's
// ENVELOPE_VERSION).
const EnvelopeVersion = 1

// Request is a decoded call envelope: who calls which function with which
// parameters, where the reply goes and by when it is wanted.
type Request struct {
	CorrID   string
	UserID   string
	TenantID string
	AgencyID *string
	Email    string
	Role     string
	Scopes   []string
	// Attributes is the envelope's attributes object, as JSON.
	Attributes json.RawMessage
	AppID      string
	Function   string
	// Params is the parameters object, as JSON.
	Params    json.RawMessage
	ReplyList string
	// Deadline is when the caller stops waiting; a call is not run past it.
	Deadline time.Time
	// Submitted is when the caller added the entry.
	Submitted time.Time
	// Legacy says the envelope had no "v" (accepted as version 1).
	Legacy bool
}

// wireRequest is the envelope as the SDK's RpcRequest model declares it;
// params decodes it with Pydantic's lax rules, as the SDK validates it.
type wireRequest struct {
	V             json.RawMessage `json:"v"`
	CorrID        string          `json:"corr_id" jsonschema:"required,minLength=16,maxLength=64"`
	UserID        string          `json:"user_id" jsonschema:"required,minLength=1,maxLength=128"`
	TenantID      string          `json:"tenant_id" jsonschema:"required,minLength=1,maxLength=64"`
	AgencyID      *string         `json:"agency_id"`
	Email         string          `json:"email" jsonschema:"required"`
	Role          string          `json:"role" jsonschema:"required"`
	Scopes        []string        `json:"scopes"`
	Attributes    json.RawMessage `json:"attributes"`
	AppID         string          `json:"app_id" jsonschema:"required"`
	Function      string          `json:"function" jsonschema:"required"`
	Params        json.RawMessage `json:"params"`
	ReplyList     string          `json:"reply_list" jsonschema:"required"`
	DeadlineNs    int64           `json:"deadline_ns" jsonschema:"required"`
	SubmittedAtNs int64           `json:"submitted_at_ns" jsonschema:"required"`
}

var requestSchema = mustSchema()

func mustSchema() *params.Schema[wireRequest] {
	s, err := params.New(wireRequest{})
	if err != nil {
		panic(fmt.Sprintf("fastrpc: the envelope schema: %v", err))
	}
	return s
}

// EnvelopeError is an envelope the SDK's codec would refuse. Its text
// names fields, never values.
type EnvelopeError struct {
	// Field is the first field found wrong, as a path ("scopes.0"), or
	// "payload" for an entry with no JSON object at all.
	Field  string
	reason string
}

// Error implements error.
func (e *EnvelopeError) Error() string {
	return "fastrpc: envelope: " + e.Field + ": " + e.reason
}

// Message is the error's text for a schema_violation reply.
func (e *EnvelopeError) Message() string {
	return "The call envelope is invalid: " + e.Field + " (" + e.reason + ")."
}

// DecodeRequest validates a stream entry's payload as the SDK's
// decode_request does in loose mode: a missing "v" is a legacy version-1
// envelope, any other version is refused, unknown fields are ignored and
// values are converted with Pydantic's lax rules. The error is an
// *EnvelopeError.
func DecodeRequest(payload []byte) (Request, error) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || payload[0] != '{' || !jsonx.Valid(payload) {
		return Request{}, &EnvelopeError{Field: "payload", reason: "not a JSON object"}
	}
	w, _, err := requestSchema.Decode(payload)
	if err != nil {
		return Request{}, envelopeError(err)
	}
	legacy := w.V == nil
	if !legacy && !isVersion1(w.V) {
		return Request{}, &EnvelopeError{Field: "v", reason: "must be 1"}
	}
	for _, obj := range []struct {
		name string
		raw  *json.RawMessage
	}{{"attributes", &w.Attributes}, {"params", &w.Params}} {
		switch raw := bytes.TrimSpace(*obj.raw); {
		case raw == nil:
			*obj.raw = json.RawMessage(`{}`)
		case raw[0] != '{':
			return Request{}, &EnvelopeError{Field: obj.name, reason: "want object"}
		}
	}
	return Request{
		CorrID: w.CorrID, UserID: w.UserID, TenantID: w.TenantID, AgencyID: w.AgencyID, Email: w.Email, Role: w.Role,
		Scopes: w.Scopes, Attributes: w.Attributes, AppID: w.AppID, Function: w.Function, Params: w.Params,
		ReplyList: w.ReplyList, Deadline: time.Unix(0, w.DeadlineNs), Submitted: time.Unix(0, w.SubmittedAtNs),
		Legacy: legacy,
	}, nil
}

// isVersion1 reports whether v equals 1 as Python compares it: 1, 1.0
// and true do, "1" does not.
func isVersion1(v json.RawMessage) bool {
	switch s := string(bytes.TrimSpace(v)); s {
	case "true":
		return true
	case "", "false", "null":
		return false
	default:
		var n json.Number
		if s[0] == '"' || json.Unmarshal(v, &n) != nil {
			return false
		}
		f, err := n.Float64()
		return err == nil && f == EnvelopeVersion
	}
}

// envelopeError names the first field the envelope gets wrong, in the
// model's field order, as Pydantic lists them.
func envelopeError(err error) *EnvelopeError {
	perr, ok := err.(*params.Error)
	if !ok {
		return &EnvelopeError{Field: "payload", reason: "invalid"}
	}
	first, reason := "", ""
	for _, f := range perr.Missing {
		if first == "" || fieldOrder(f) < fieldOrder(first) {
			first, reason = f, "missing"
		}
	}
	for i, f := range perr.Fields {
		if first == "" || fieldOrder(f) < fieldOrder(first) {
			first, reason = f, perr.Reasons[i]
		}
	}
	if first == "" {
		return &EnvelopeError{Field: "payload", reason: "invalid"}
	}
	return &EnvelopeError{Field: first, reason: reason}
}

var requestFields = []string{"v", "corr_id", "user_id", "tenant_id", "agency_id", "email", "role", "scopes",
	"attributes", "app_id", "function", "params", "reply_list", "deadline_ns", "submitted_at_ns"}

func fieldOrder(name string) int {
	top, _, _ := strings.Cut(name, ".")
	for i, f := range requestFields {
		if f == top {
			return i
		}
	}
	return len(requestFields)
}

// Status is a reply's outcome.
type Status string

// The statuses of a reply.
const (
	StatusSuccess Status = "success"
	StatusError   Status = "error"
)

// Category is an error reply's kind, which tells the platform whether to
// fall back to another path (the SDK's RpcErrorCategory).
type Category string

// The categories of an error reply.
const (
	CategoryApplication    Category = "application"
	CategoryInfrastructure Category = "infrastructure"
	CategoryTimeout        Category = "timeout"
	CategorySchema         Category = "schema_violation"
	CategoryTenantMismatch Category = "tenant_mismatch"
)

// Error is an error reply's error.
type Error struct {
	Category  Category `json:"category"`
	Message   string   `json:"message"`
	Retryable bool     `json:"retryable"`
}

// Reply is a reply envelope, as it is pushed to the reply list.
type Reply struct {
	V           int             `json:"v"`
	CorrID      string          `json:"corr_id"`
	Status      Status          `json:"status"`
	Result      json.RawMessage `json:"result"`
	WorkerID    string          `json:"worker_id"`
	StartedAtNs int64           `json:"started_at_ns"`
	// FinishedAtNs is when the reply was made.
	FinishedAtNs int64  `json:"finished_at_ns"`
	Error        *Error `json:"error"`
}

// MaxErrorMessage is the longest error message a reply carries, in
// characters (the SDK's build_error_reply trims to it).
const MaxErrorMessage = 512

// sealedTokens are words of the platform's engine that no error reply may
// carry (the SDK's boundary seal).
var sealedTokens = []string{"temporal", "directcallworkflow", "task_queue", "run_id", "workflow_id", "workflowfailureerror"}

// sealMessage returns msg fit for an error reply: with no engine word in
// it, and at most MaxErrorMessage characters.
func sealMessage(msg string) string {
	lower := strings.ToLower(msg)
	for _, t := range sealedTokens {
		if strings.Contains(lower, t) {
			return "The call failed."
		}
	}
	if n := 0; len(msg) > MaxErrorMessage {
		for i := range msg {
			if n == MaxErrorMessage {
				return msg[:i]
			}
			n++
		}
	}
	return msg
}

// Cacheable reports whether a reply answers its corr_id for good (the
// SDK's should_cache_reply): successes and deterministic errors are; an
// infrastructure failure or a timeout may succeed when retried.
func (r *Reply) Cacheable() bool {
	if r.Status == StatusSuccess {
		return true
	}
	switch r.Error.Category {
	case CategoryApplication, CategoryTenantMismatch, CategorySchema:
		return true
	}
	return false
}

// encode returns the reply's JSON.
func (r *Reply) encode() ([]byte, error) {
	if r.Result == nil {
		r.Result = json.RawMessage("null")
	}
	out, err := jsonx.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("fastrpc: reply: %w", err)
	}
	return out, nil
}
