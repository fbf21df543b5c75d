// Package panics turns a recovered panic into an ordinary error that keeps
// the stack, so a panicking handler or fetcher fails its call instead of the
// process, and the stack reaches the log but never the client.
package panics

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Error is a recovered panic. Its message names only the panic value's type:
// the value itself may hold user data or secrets and belongs in the log,
// next to Stack.
type Error struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the goroutine's stack at the point of recovery.
	Stack []byte
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("panic: %T", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *Error) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Recover converts a panic in the calling function into *Error stored in
// *errp. It must be deferred directly: defer panics.Recover(&err).
func Recover(errp *error) {
	if v := recover(); v != nil {
		*errp = &Error{Value: v, Stack: debug.Stack()}
	}
}

// ErrBug marks a failure of the host's or an extension's own code that is
// not a panic (a handler's result that breaks its declaration, say): the
// call fails with INTERNAL, and the text goes to the log only.
var ErrBug = errors.New("internal error")
