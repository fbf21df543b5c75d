package runtime

// CodedError fails a call with an extension's own error code. Handlers
// return it (or wrap it) when the failure is theirs to name; a Fail result
// with WithCode does the same without an error value. Its code never
// changes how the host answers over HTTP: a call that ran is a 200.
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
