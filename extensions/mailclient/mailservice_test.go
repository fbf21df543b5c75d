package mailclient_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/imperalcloud/exthost/internal/mailservice"
)

// recordedMailService is the reference mail-service behind a recorder: it
// keeps what each request looked like, can fail every request on demand, and
// can hold requests until the test lets them through.
type recordedMailService struct {
	*httptest.Server
	mu        sync.Mutex
	requests  []recordedRequest
	failWith  int
	gate      chan struct{} // when set, requests wait for it to close
	arrived   chan struct{} // receives one value per request, when set
	reference *mailservice.Service
}

type recordedRequest struct {
	Method, Path, Query, Body, RequestID string
}

func newMailService(t testing.TB) *recordedMailService {
	t.Helper()
	m := &recordedMailService{reference: mailservice.New(mailservice.Options{})}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		m.mu.Lock()
		m.requests = append(m.requests, recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, string(body), r.Header.Get("X-Request-ID")})
		failWith, gate, arrived := m.failWith, m.gate, m.arrived
		m.mu.Unlock()
		if arrived != nil {
			arrived <- struct{}{}
		}
		if gate != nil {
			<-gate
		}
		if failWith != 0 {
			w.WriteHeader(failWith)
			return
		}
		m.reference.ServeHTTP(w, r)
	}))
	t.Cleanup(m.Close)
	return m
}

// count returns how many requests reached path.
func (m *recordedMailService) count(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.requests {
		if r.Path == path {
			n++
		}
	}
	return n
}

// last returns the most recent request to path.
func (m *recordedMailService) last(path string) recordedRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.requests) - 1; i >= 0; i-- {
		if m.requests[i].Path == path {
			return m.requests[i]
		}
	}
	return recordedRequest{}
}

// fail makes every request answer status (0: answer normally).
func (m *recordedMailService) fail(status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failWith = status
}
