package dispatch_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/runtime"
	"github.com/imperalcloud/exthost/store"
)

// Store failures reach the client with the codes of DESIGN §11, and with
// nothing of the ids or values involved.
func TestStoreErrorsHaveTheirCodes(t *testing.T) {
	cases := []struct {
		err       error
		code      string
		retryable bool
	}{
		{&store.ConflictError{Collection: "notes", ID: "secret-id", Exists: true}, runtime.CodeStoreConflict, false},
		{&store.ConflictError{Collection: "notes", ID: "secret-id"}, runtime.CodeStoreConflict, false},
		{&store.LimitError{Collection: "notes", Limit: 10}, runtime.CodeStoreLimit, false},
		{fmt.Errorf("%w: create: connection refused to secret-host", store.ErrUnavailable), runtime.CodeStoreUnavailable, true},
		{fmt.Errorf("%w: bad cursor secret-cursor", store.ErrInvalid), runtime.CodeInternal, false},
	}
	for _, tc := range cases {
		res := dispatch.ErrorResult(fmt.Errorf("handler: %w", tc.err))
		if res.ErrorCode != tc.code || res.Retryable != tc.retryable {
			t.Errorf("%v → %s (retryable %v), want %s (%v)", tc.err, res.ErrorCode, res.Retryable, tc.code, tc.retryable)
		}
		raw, _ := res.MarshalJSON()
		for _, leak := range []string{"secret", "notes"} {
			if strings.Contains(string(raw), leak) {
				t.Errorf("%s quotes %q", raw, leak)
			}
		}
	}
}
