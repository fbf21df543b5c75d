package mailclient_test

import (
	"net/http"
	"sync"

	"github.com/imperalcloud/exthost/internal/mailservice"
)

// mailSwitch is the reference mail-service with a switch: it can fail every
// request on demand, and hold requests until the test lets them through.
type mailSwitch struct {
	reference *mailservice.Service
	mu        sync.Mutex
	failWith  int
	gate      chan struct{} // when set, requests wait for it to close
	arrived   chan string   // the paths of held requests, as they arrive
}

func newMailSwitch() *mailSwitch {
	return &mailSwitch{reference: mailservice.New(mailservice.Options{})}
}

func (m *mailSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	failWith, gate, arrived := m.failWith, m.gate, m.arrived
	m.mu.Unlock()
	if gate != nil {
		select {
		case arrived <- r.URL.Path:
		default:
		}
		<-gate
	}
	if failWith != 0 {
		w.WriteHeader(failWith)
		return
	}
	m.reference.ServeHTTP(w, r)
}

// fail makes every request answer status (0: answer normally).
func (m *mailSwitch) fail(status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failWith = status
}

// hold makes requests wait until the returned gate is closed.
func (m *mailSwitch) hold() chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gate = make(chan struct{})
	m.arrived = make(chan string, 64)
	return m.gate
}

// held returns the paths of held requests as they arrive.
func (m *mailSwitch) held() <-chan string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.arrived
}
