package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/imperalcloud/exthost/internal/jsonx"
)

// Status is an ActionResult's status.
type Status string

// The two statuses.
const (
	StatusSuccess Status = "success"
	StatusError   Status = "error"
)

// Result is an ActionResult: how a call went. Build one with Success or
// Fail and the With* methods; its JSON is exactly the SDK's to_dict().
type Result struct {
	Status  Status
	Summary string
	// Data is the result's payload; it must encode as a JSON object (nil
	// encodes as {}).
	Data any
	// Error is the message of an error result; a success has none.
	Error string
	// ErrorCode is a stable ^[A-Z][A-Z0-9_]{2,63}$ code for an error result.
	ErrorCode string
	// Retryable says the same call may succeed later.
	Retryable bool
	// UI is an optional UI tree for the chat.
	UI any
	// RefreshPanels lists the panels to refresh: nil means all, an empty
	// non-nil slice none.
	RefreshPanels []string

	task *Task // the background task StartTask hands the host
}

// Success returns a success result, as ActionResult.success(data, summary).
func Success(data any, summary string) Result {
	return Result{Status: StatusSuccess, Summary: summary, Data: data}
}

// Fail returns an error result with message, as ActionResult.error(message).
// Without a code the runtime stamps EXT_UNSTRUCTURED_ERROR.
func Fail(message string) Result {
	return Result{Status: StatusError, Error: message}
}

// WithCode returns r with its error code set.
func (r Result) WithCode(code string) Result { r.ErrorCode = code; return r }

// WithRetry returns r marked retryable.
func (r Result) WithRetry() Result { r.Retryable = true; return r }

// WithRefreshPanels returns r refreshing exactly panels; no argument
// refreshes none.
func (r Result) WithRefreshPanels(panels ...string) Result {
	r.RefreshPanels = append([]string{}, panels...)
	return r
}

// WithUI returns r carrying a UI tree.
func (r Result) WithUI(ui any) Result { r.UI = ui; return r }

// OK reports whether r is a success.
func (r Result) OK() bool { return r.Status == StatusSuccess }

// MarshalJSON writes the SDK's ActionResult.to_dict(): status, summary and
// data always (data {} when unset), then error (error results only, so a
// success never fails the SDK's strict model), error_code
// (when set), retryable (when true), ui (when set), refresh_panels (when
// non-nil, [] included), in that order.
func (r Result) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil) }

// AppendJSON appends the result's JSON (see MarshalJSON) to dst, so that a
// server can encode answers into buffers it reuses.
func (r Result) AppendJSON(dst []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := jsonx.NewEncoder(buf)
	field := func(key string, v any) error {
		buf.WriteString(key)
		return enc.Append(v)
	}
	if err := field(`{"status":`, r.Status); err != nil {
		return nil, err
	}
	if err := field(`,"summary":`, r.Summary); err != nil {
		return nil, err
	}
	buf.WriteString(`,"data":`)
	start := buf.Len()
	if !isNull(r.Data) {
		// Raw values in the data are written unchecked (see AppendData):
		// they came from a decoded upstream answer or the cache.
		if err := enc.AppendData(r.Data); err != nil {
			return nil, err
		}
	}
	switch data := buf.Bytes()[start:]; {
	case len(data) == 0 || string(data) == "null": // unset data, or a nil map
		buf.Truncate(start)
		buf.WriteString(`{}`)
	case data[0] != '{':
		return nil, fmt.Errorf("runtime: result data %T does not encode as a JSON object", r.Data)
	}
	if r.Status == StatusError {
		if err := field(`,"error":`, r.Error); err != nil {
			return nil, err
		}
	}
	if r.ErrorCode != "" {
		if err := field(`,"error_code":`, r.ErrorCode); err != nil {
			return nil, err
		}
	}
	if r.Retryable {
		buf.WriteString(`,"retryable":true`)
	}
	if !isNull(r.UI) {
		if err := field(`,"ui":`, r.UI); err != nil {
			return nil, err
		}
	}
	if r.RefreshPanels != nil {
		if err := field(`,"refresh_panels":`, r.RefreshPanels); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// isNull reports whether v encodes as null: nil, a nil pointer, map or
// slice, or an empty or null json.RawMessage.
func isNull(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case json.RawMessage:
		return len(v) == 0 || string(v) == "null"
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
