package store

import (
	"errors"
	"fmt"
)

// ErrUnavailable is the error of an operation the backend did not answer
// (the database is down, unreachable or too slow). The operation may or
// may not have happened only when it was a write whose answer was lost;
// nothing is ever reported written that was not committed.
var ErrUnavailable = errors.New("store: unavailable")

// ErrInvalid is the error of an operation the extension got wrong (a bad
// id, filter, order or cursor), refused before any I/O.
var ErrInvalid = errors.New("store: invalid operation")

// ErrUnstorable is a value no backend can keep: a string holding U+0000
// (PostgreSQL's jsonb refuses it). It is the caller's data, not the
// extension's mistake: the call fails BAD_REQUEST.
var ErrUnstorable = errors.New("store: the value holds U+0000, which the store cannot keep")

// ConflictError is a write that found the document other than expected:
// a create of an id that exists, or an update whose if_match etag is not
// the stored one. Nothing was written.
type ConflictError struct {
	Collection, ID string
	// Exists is true for a create of an existing id, false for a stale etag.
	Exists bool
}

// Error implements error.
func (e *ConflictError) Error() string {
	if e.Exists {
		return fmt.Sprintf("store: %s: document %q already exists", e.Collection, e.ID)
	}
	return fmt.Sprintf("store: %s: document %q has changed since it was read", e.Collection, e.ID)
}

// LimitError is a write over a limit: a document too large, or one more
// document than a user may keep in a collection. Nothing was written.
type LimitError struct {
	Collection string
	// Bytes is the size of a document over MaxDocumentBytes; 0 when the
	// collection is full.
	Bytes, Limit int
}

// Error implements error.
func (e *LimitError) Error() string {
	if e.Bytes > 0 {
		return fmt.Sprintf("store: %s: document of %d bytes is over the limit of %d", e.Collection, e.Bytes, e.Limit)
	}
	return fmt.Sprintf("store: %s: the collection holds its limit of %d documents", e.Collection, e.Limit)
}

// The backends' own answers, which the Store turns into the errors above.
var (
	errExists = errors.New("store: document exists")
	errStale  = errors.New("store: etag does not match")
	errFull   = errors.New("store: collection is full")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
