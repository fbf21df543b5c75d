package mailservice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// MaxSlow is the longest wait Faults.Slow may inject: past any client's
// timeout, yet short enough that a mistyped value does not hold requests
// for hours.
const MaxSlow = 10 * time.Minute

// maxSlowMS is MaxSlow in the slow_ms of /v1/_faults.
const maxSlowMS = int64(MaxSlow / time.Millisecond)

// controlPrefix starts the paths of the control endpoints, which are never
// subject to latency or injected faults, so that a test can always switch
// faults off and read the records; they still count in Requests and need
// the token.
const controlPrefix = "/v1/_"

// Faults are the faults a Service injects, from the moment they are set,
// into every request but those of the control endpoints. The zero value
// injects none.
type Faults struct {
	// FailRate is the probability, from 0 to 1, that a request fails with
	// Options.FailStatus and code "INJECTED" instead of being handled.
	FailRate float64
	// SlowRate is the probability, from 0 to 1, that a request waits Slow
	// before it is handled; one whose context ends first answers 503 with
	// code "CANCELLED".
	SlowRate float64
	// Slow is how long a slowed request waits, 0 to MaxSlow.
	Slow time.Duration
}

// check reports the first field of f out of range, by its name in
// /v1/_faults so that the endpoint can answer the error as it is.
func (f Faults) check() error {
	// Written so that NaN fails too.
	switch {
	case !(f.FailRate >= 0 && f.FailRate <= 1):
		return errors.New("fail_rate: want a probability from 0 to 1")
	case !(f.SlowRate >= 0 && f.SlowRate <= 1):
		return errors.New("slow_rate: want a probability from 0 to 1")
	case f.Slow < 0 || f.Slow > MaxSlow:
		return fmt.Errorf("slow_ms: want 0 to %d milliseconds", maxSlowMS)
	}
	return nil
}

// initialFaults returns the faults of opts, clamped into the ranges
// SetFaults checks: New cannot fail, and clamping keeps what Options always
// meant (a FailRate above 1 always failed, one below 0 or NaN never did).
func initialFaults(opts Options) Faults {
	return Faults{
		FailRate: clampRate(opts.FailRate),
		SlowRate: clampRate(opts.SlowRate),
		Slow:     min(max(opts.Slow, 0), MaxSlow),
	}
}

// clampRate returns p within [0, 1], NaN as 0.
func clampRate(p float64) float64 {
	switch {
	case !(p > 0):
		return 0
	case p > 1:
		return 1
	}
	return p
}

// SetFaults sets the faults injected into the requests that begin from now
// on; the zero Faults switches them off. A field out of range is an error,
// naming the field as PUT /v1/_faults does, and changes nothing.
func (s *Service) SetFaults(f Faults) error {
	if err := f.check(); err != nil {
		return err
	}
	s.faults.Store(&f)
	return nil
}

// Faults returns the faults in force.
func (s *Service) Faults() Faults { return *s.faults.Load() }

// injectFaults applies the faults in force to a request that is not a
// control one: the slowness, then the failure, each drawn on its own. It
// returns false when it has answered the request.
func (s *Service) injectFaults(w http.ResponseWriter, r *http.Request) bool {
	f := s.faults.Load() // one load, so that a concurrent SetFaults is seen whole
	if f.SlowRate > 0 && f.Slow > 0 && rand.Float64() < f.SlowRate {
		if !wait(w, r, f.Slow, "request ended during the injected slowness") {
			return false
		}
	}
	if f.FailRate > 0 && rand.Float64() < f.FailRate {
		writeError(w, s.opts.FailStatus, codeInjected, "injected failure")
		return false
	}
	return true
}

// wait waits d, unless r's context ends first: then it answers 503
// CANCELLED with message and returns false.
func wait(w http.ResponseWriter, r *http.Request, d time.Duration, message string) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		writeError(w, http.StatusServiceUnavailable, codeCancelled, message)
		return false
	}
}

// faultsRequest is the body of PUT /v1/_faults. slow_ms is decoded as a
// number of any form so that 3000.0 passes and 1.5 gets a field's error,
// not the decoder's.
type faultsRequest struct {
	FailRate float64 `json:"fail_rate"`
	SlowRate float64 `json:"slow_rate"`
	SlowMS   float64 `json:"slow_ms"`
}

// faultsResponse is the answer of GET and PUT /v1/_faults: the faults in
// force, Slow in whole milliseconds (rounded down).
type faultsResponse struct {
	FailRate float64 `json:"fail_rate"`
	SlowRate float64 `json:"slow_rate"`
	SlowMS   int64   `json:"slow_ms"`
}

// faultsAnswer returns f as /v1/_faults answers it.
func faultsAnswer(f Faults) faultsResponse {
	return faultsResponse{FailRate: f.FailRate, SlowRate: f.SlowRate, SlowMS: f.Slow.Milliseconds()}
}

// getFaults serves GET /v1/_faults: the faults in force.
func (s *Service) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, faultsAnswer(s.Faults()))
}

// putFaults serves PUT /v1/_faults: the body replaces the faults in force
// as a whole, an absent field being zero, so that {} switches them off.
func (s *Service) putFaults(w http.ResponseWriter, r *http.Request) {
	f, err := decodeFaults(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err == nil {
		err = s.SetFaults(f)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, faultsAnswer(s.Faults()))
}

// decodeFaults reads a PUT /v1/_faults body. Unlike decodeJSON it refuses
// unknown fields, since a misspelt one would silently switch a fault off,
// and its errors never quote the body: the decoder's would (a field name,
// a number, a character).
func decodeFaults(body io.Reader) (Faults, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return Faults{}, fmt.Errorf("invalid JSON body: unreadable or larger than %d bytes", maxBodyBytes)
	}
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' {
		return Faults{}, errors.New("invalid JSON body: want an object")
	}
	var req faultsRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Faults{}, faultsDecodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Faults{}, errors.New("invalid JSON body: data after the object")
	}
	if !(req.SlowMS >= 0 && req.SlowMS <= float64(maxSlowMS)) || req.SlowMS != math.Trunc(req.SlowMS) {
		return Faults{}, fmt.Errorf("slow_ms: want whole milliseconds from 0 to %d", maxSlowMS)
	}
	return Faults{FailRate: req.FailRate, SlowRate: req.SlowRate, Slow: time.Duration(req.SlowMS) * time.Millisecond}, nil
}

// faultsDecodeError returns the error of a failed decode of a
// faultsRequest, in words of the service's own.
func faultsDecodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		// Field is the key that matched one of the request's fields, so one
		// of these names, never the caller's text; anything else is not
		// named.
		switch typeErr.Field {
		case "fail_rate", "slow_rate", "slow_ms":
			return fmt.Errorf("%s: want a number", typeErr.Field)
		}
		return errors.New("invalid JSON body: want an object of numbers")
	}
	// encoding/json has no type for it, only this message.
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		return errors.New("invalid JSON body: unknown field; want fail_rate, slow_rate and slow_ms")
	}
	return errors.New("invalid JSON body")
}
