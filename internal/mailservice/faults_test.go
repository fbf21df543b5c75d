package mailservice

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// getFaults GETs /v1/_faults, checking its keys.
func getFaults(t *testing.T, h http.Handler) faultsResponse {
	t.Helper()
	var f faultsResponse
	raw := getJSON(t, h, "/v1/_faults", &f)
	if k := keys(t, raw); !slices.Equal(k, []string{"fail_rate", "slow_rate", "slow_ms"}) {
		t.Fatalf("keys %v", k)
	}
	return f
}

// putFaults PUTs body to /v1/_faults, fails the test on anything but 200,
// and returns the answer.
func putFaults(t *testing.T, h http.Handler, body string) faultsResponse {
	t.Helper()
	status, raw := call(t, h, http.MethodPut, "/v1/_faults", body)
	if status != http.StatusOK {
		t.Fatalf("PUT /v1/_faults %s: status %d, body %s", body, status, raw)
	}
	if k := keys(t, raw); !slices.Equal(k, []string{"fail_rate", "slow_rate", "slow_ms"}) {
		t.Fatalf("keys %v", k)
	}
	var f faultsResponse
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// serveCtx serves one request with ctx, failing the test if it has not
// ended within a guard time (ctx being cancelled, it should end at once),
// and returns the recorded answer.
func serveCtx(t *testing.T, h http.Handler, ctx context.Context, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a guard only
		t.Fatalf("%s %s: still waiting", method, target)
	}
	return rec
}

// cancelled is a context that has ended.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestFaultsFromOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want Faults
	}{
		{"none", Options{}, Faults{}},
		{"as given", Options{FailRate: 0.25, SlowRate: 0.5, Slow: 3 * time.Second}, Faults{FailRate: 0.25, SlowRate: 0.5, Slow: 3 * time.Second}},
		{"clamped high", Options{FailRate: 3, SlowRate: 2, Slow: time.Hour}, Faults{FailRate: 1, SlowRate: 1, Slow: MaxSlow}},
		{"clamped low", Options{FailRate: -1, SlowRate: math.NaN(), Slow: -time.Second}, Faults{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.opts)
			if got := s.Faults(); got != tt.want {
				t.Errorf("Faults() = %+v, want %+v", got, tt.want)
			}
			// A cancelled request, so that the test fails at once rather
			// than waits should the slowness ever reach the control
			// endpoints.
			rec := serveCtx(t, s, cancelled(), http.MethodGet, "/v1/_faults", "")
			var got faultsResponse
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
				t.Fatalf("GET /v1/_faults: status %d, body %s", rec.Code, rec.Body)
			}
			if want := faultsAnswer(tt.want); got != want {
				t.Errorf("GET /v1/_faults = %+v, want %+v", got, want)
			}
		})
	}
}

func TestFaultsRoundTrip(t *testing.T) {
	s := New(Options{FailRate: 0.5})
	tests := []struct {
		name, body string
		want       Faults
	}{
		{"all three", `{"fail_rate": 0.05, "slow_rate": 0.01, "slow_ms": 3000}`, Faults{FailRate: 0.05, SlowRate: 0.01, Slow: 3 * time.Second}},
		{"one replaces all", `{"fail_rate": 1}`, Faults{FailRate: 1}},
		// Short slowness when it is certain: a test must not hang should the
		// control endpoints ever be slowed.
		{"highest rates", `{"fail_rate": 1, "slow_rate": 1, "slow_ms": 1}`, Faults{FailRate: 1, SlowRate: 1, Slow: time.Millisecond}},
		{"longest slowness", `{"slow_rate": 0, "slow_ms": 600000}`, Faults{Slow: MaxSlow}},
		{"whole milliseconds as a float", `{"slow_rate": 0.5, "slow_ms": 25.0}`, Faults{SlowRate: 0.5, Slow: 25 * time.Millisecond}},
		{"zeros", `{"fail_rate": 0, "slow_rate": 0, "slow_ms": 0}`, Faults{}},
		{"back on", `{"fail_rate": 0.2, "slow_rate": 0.3, "slow_ms": 1}`, Faults{FailRate: 0.2, SlowRate: 0.3, Slow: time.Millisecond}},
		{"empty object is off", " {} \n", Faults{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := faultsAnswer(tt.want)
			if got := putFaults(t, s, tt.body); got != want {
				t.Errorf("PUT answered %+v, want %+v", got, want)
			}
			if got := getFaults(t, s); got != want {
				t.Errorf("GET answered %+v, want %+v", got, want)
			}
			if got := s.Faults(); got != tt.want {
				t.Errorf("Faults() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSetFaults(t *testing.T) {
	s := New(Options{})
	good := Faults{FailRate: 0.1, SlowRate: 0.2, Slow: 1500 * time.Microsecond}
	if err := s.SetFaults(good); err != nil {
		t.Fatalf("SetFaults(%+v): %v", good, err)
	}
	if got := s.Faults(); got != good {
		t.Fatalf("Faults() = %+v, want %+v", got, good)
	}
	if got := getFaults(t, s); got.SlowMS != 1 {
		t.Errorf("slow_ms %d, want 1 (whole milliseconds, rounded down)", got.SlowMS)
	}
	tests := []struct {
		name  string
		f     Faults
		field string
	}{
		{"fail rate below 0", Faults{FailRate: -0.01}, "fail_rate"},
		{"fail rate above 1", Faults{FailRate: 1.01}, "fail_rate"},
		{"fail rate NaN", Faults{FailRate: math.NaN()}, "fail_rate"},
		{"slow rate above 1", Faults{SlowRate: 2}, "slow_rate"},
		{"slow rate infinite", Faults{SlowRate: math.Inf(-1)}, "slow_rate"},
		{"slow negative", Faults{Slow: -time.Nanosecond}, "slow_ms"},
		{"slow too long", Faults{Slow: MaxSlow + time.Nanosecond}, "slow_ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetFaults(tt.f)
			if err == nil || !strings.HasPrefix(err.Error(), tt.field+":") {
				t.Fatalf("SetFaults(%+v) = %v, want an error about %s", tt.f, err, tt.field)
			}
			if got := s.Faults(); got != good {
				t.Errorf("a rejected SetFaults changed the faults to %+v", got)
			}
		})
	}
}

func TestFaultsValidation(t *testing.T) {
	tests := []struct{ name, body, secret string }{
		{"fail rate above 1", `{"fail_rate": 1.25}`, "1.25"},
		{"fail rate below 0", `{"fail_rate": -0.75}`, "0.75"},
		{"slow rate above 1", `{"slow_rate": 2.5}`, "2.5"},
		{"slow too long", `{"slow_ms": 600001}`, "600001"},
		{"slow negative", `{"slow_ms": -7}`, "-7"},
		{"slow not whole", `{"slow_ms": 12.5}`, "12.5"},
		{"number too large", `{"fail_rate": 1e400}`, "1e400"},
		{"rate a string", `{"fail_rate": "zq-high"}`, "zq-high"},
		{"slow a bool", `{"slow_ms": true}`, "true"},
		{"unknown field", `{"fail_rate": 0.1, "zqfield": 1}`, "zqfield"},
		{"misspelt field", `{"failrate_zq": 1}`, "failrate_zq"},
		{"bad JSON", `{"fail_rate": zqzq}`, "zqzq"},
		{"truncated", `{"fail_rate":`, ""},
		{"data after", `{} {"zqafter": 1}`, "zqafter"},
		{"empty body", "", ""},
		{"null", "null", ""},
		{"array", `[0.5]`, ""},
		{"number", `0.5`, ""},
	}
	s := New(Options{})
	before := Faults{FailRate: 0.5, SlowRate: 0.25, Slow: 7 * time.Millisecond}
	if err := s.SetFaults(before); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, s, http.MethodPut, "/v1/_faults", tt.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %.300s", status, body)
			}
			assertError(t, status, body, codeValidation)
			assertNoEcho(t, body, tt.secret)
		})
	}
	if got := s.Faults(); got != before {
		t.Errorf("rejected PUTs changed the faults to %+v, want %+v", got, before)
	}
}

func TestInjectedFailuresAtRunTime(t *testing.T) {
	s := New(Options{FailStatus: 500})
	inbox := inboxURL("u-1", "work", "INBOX", 0, "&limit=1")
	send := mustJSON(t, sendBody("u-1", "work", "during the outage", "b"))
	if status, body := call(t, s, http.MethodGet, inbox, ""); status != http.StatusOK {
		t.Fatalf("before: status %d, body %s", status, body)
	}

	putFaults(t, s, `{"fail_rate": 1}`)
	for _, target := range []struct{ method, target, body string }{
		{"GET", inbox, ""},
		{"POST", "/v1/send", send},
		{"GET", "/v1/unread?user_id=u-1", ""},
	} {
		status, body := call(t, s, target.method, target.target, target.body)
		if status != http.StatusInternalServerError {
			t.Fatalf("%s %s: status %d, want 500; body %s", target.method, target.target, status, body)
		}
		assertError(t, status, body, codeInjected)
	}
	// The control endpoints still answer: the faults, the (empty: the send
	// failed before it was filed) record, a delivery.
	if got := getFaults(t, s); got.FailRate != 1 {
		t.Errorf("faults %+v", got)
	}
	if got := getSent(t, s); len(got) != 0 {
		t.Errorf("an injected failure filed %v", got)
	}
	deliverN(t, s, "u-1", "work", "", 1)

	putFaults(t, s, `{"fail_rate": 0}`)
	for range 3 {
		if status, body := call(t, s, http.MethodGet, inbox, ""); status != http.StatusOK {
			t.Fatalf("healed: status %d, body %s", status, body)
		}
	}
	if status, body := call(t, s, http.MethodPost, "/v1/send", send); status != http.StatusOK {
		t.Fatalf("healed send: status %d, body %s", status, body)
	}
	want := map[string]int{"/v1/inbox": 5, "/v1/send": 2, "/v1/unread": 1, "/v1/_faults": 3, "/v1/_sent": 1, "/v1/_deliver": 1}
	for key, n := range want {
		if got := s.Requests()[key]; got != n {
			t.Errorf("requests[%s] = %d, want %d", key, got, n)
		}
	}
}

func TestSlowness(t *testing.T) {
	s := New(Options{})
	unread := "/v1/unread?user_id=u-1"

	// Slowness of every request, far longer than the test: a request whose
	// context has ended answers CANCELLED at once.
	if err := s.SetFaults(Faults{SlowRate: 1, Slow: MaxSlow}); err != nil {
		t.Fatal(err)
	}
	rec := serveCtx(t, s, cancelled(), http.MethodGet, unread, "")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("slowed: status %d, want 503; body %s", rec.Code, rec.Body)
	}
	assertError(t, rec.Code, rec.Body.Bytes(), codeCancelled)
	// The control endpoints are not slowed: they answer even so.
	for _, target := range []struct{ method, target, body string }{
		{"GET", "/v1/_faults", ""},
		{"GET", "/v1/_sent", ""},
		{"POST", "/v1/_deliver", mustJSON(t, deliverBody("u-1", "work", "", 1))},
		{"PUT", "/v1/_faults", `{"slow_rate": 0, "slow_ms": 600000}`},
	} {
		if rec := serveCtx(t, s, cancelled(), target.method, target.target, target.body); rec.Code != http.StatusOK {
			t.Fatalf("%s %s: status %d, want 200; body %s", target.method, target.target, rec.Code, rec.Body)
		}
	}
	// slow_rate 0: no wait, so even a cancelled request is handled.
	if rec := serveCtx(t, s, cancelled(), http.MethodGet, unread, ""); rec.Code != http.StatusOK {
		t.Fatalf("not slowed: status %d, want 200; body %s", rec.Code, rec.Body)
	}

	// A small slowness is waited out, then the request is handled.
	const slow = 20 * time.Millisecond
	putFaults(t, s, `{"slow_rate": 1, "slow_ms": 20}`)
	start := time.Now()
	if status, body := call(t, s, http.MethodGet, unread, ""); status != http.StatusOK {
		t.Fatalf("slowed: status %d, body %s", status, body)
	}
	if elapsed := time.Since(start); elapsed < slow {
		t.Errorf("a slowed request took %s, want at least %s", elapsed, slow)
	}
	if got := s.Requests()["/v1/unread"]; got != 3 {
		t.Errorf("unread requests %d, want 3", got)
	}
}

func TestControlEndpointsSkipLatency(t *testing.T) {
	s := New(Options{Latency: time.Hour})
	for _, target := range []string{"/v1/_faults", "/v1/_sent"} {
		if rec := serveCtx(t, s, cancelled(), http.MethodGet, target, ""); rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200; body %s", target, rec.Code, rec.Body)
		}
	}
	// Any other request still waits out the latency, or is cancelled.
	rec := serveCtx(t, s, cancelled(), http.MethodGet, "/v1/unread?user_id=u-1", "")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	assertError(t, rec.Code, rec.Body.Bytes(), codeCancelled)
}

func TestFaultsConcurrentUse(t *testing.T) {
	s := New(Options{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 20 {
				if w%2 == 0 {
					body := []string{`{"fail_rate": 0.5, "slow_rate": 0.5, "slow_ms": 1}`, `{}`}[i%2]
					if status, raw := call(t, s, http.MethodPut, "/v1/_faults", body); status != http.StatusOK {
						t.Errorf("PUT: status %d, body %s", status, raw)
						return
					}
					_ = s.Faults()
					continue
				}
				// Handled or injected, nothing else.
				if status, raw := call(t, s, http.MethodGet, "/v1/unread?user_id=u-1", ""); status != http.StatusOK && status != http.StatusServiceUnavailable {
					t.Errorf("GET: status %d, body %s", status, raw)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := s.Requests()["/v1/_faults"]; got != 80 {
		t.Errorf("faults requests %d, want 80", got)
	}
}
