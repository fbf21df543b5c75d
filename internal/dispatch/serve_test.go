package dispatch_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/runtime"
)

// answers records what a Responder is given.
type answers struct {
	mu   sync.Mutex
	list []answered
	got  chan struct{} // one value per answer
}

type answered struct {
	answer string
	res    runtime.Result
	tr     dispatch.Trace
}

func newAnswers() *answers { return &answers{got: make(chan struct{}, 1024)} }

func (a *answers) respond(answer []byte, res runtime.Result, tr dispatch.Trace) {
	a.mu.Lock()
	a.list = append(a.list, answered{string(answer), res, tr})
	a.mu.Unlock()
	a.got <- struct{}{}
}

func (a *answers) all() []answered {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]answered(nil), a.list...)
}

func serveRequest(fn string) dispatch.Request {
	return dispatch.Request{AppID: "test-app", Function: fn, Params: json.RawMessage(`{}`), User: alice}
}

// A handler that ignores its deadline is answered at the deadline, from
// another goroutine, while it runs on; Serve itself returns only when the
// handler has, and what the handler returned then is dropped.
func TestServeAnswersAnOverrunningCallAtItsDeadline(t *testing.T) {
	h := newHarness(t, 50*time.Millisecond)
	a := newAnswers()
	served := make(chan struct{})
	go func() {
		defer close(served)
		h.d.Serve(context.Background(), serveRequest("ignores_deadline"), nil, a.respond)
	}()
	select {
	case <-a.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no answer at the deadline")
	}
	select {
	case <-served:
		t.Fatal("Serve returned while its handler still runs")
	default:
	}
	h.release <- struct{}{}
	<-served
	got := a.all()
	if len(got) != 1 {
		t.Fatalf("%d answers, want 1", len(got))
	}
	if got[0].res.ErrorCode != runtime.CodeBackendTimeout || !got[0].tr.Overran {
		t.Fatalf("answer %s (overran %v), want BACKEND_TIMEOUT from the watchdog", got[0].answer, got[0].tr.Overran)
	}
	if h.logs.FilterMessage("handler returned after its call was answered at the deadline").Len() != 1 {
		t.Error("the late return is not logged")
	}
}

// A handler that returns just as its deadline passes races the watchdog:
// whichever wins, the call is answered exactly once, as BACKEND_TIMEOUT.
func TestServeAnswersOnceWhenTheHandlerRacesTheWatchdog(t *testing.T) {
	h := newHarness(t, time.Millisecond)
	a := newAnswers()
	const calls = 200
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			h.d.Serve(context.Background(), serveRequest("waits_for_deadline"), nil, a.respond)
		})
	}
	wg.Wait()
	got := a.all()
	if len(got) != calls {
		t.Fatalf("%d answers to %d calls", len(got), calls)
	}
	for _, g := range got {
		if g.res.ErrorCode != runtime.CodeBackendTimeout {
			t.Fatalf("answer %s, want BACKEND_TIMEOUT", g.answer)
		}
	}
}

// A call that returns in time is answered on Serve's own goroutine, before
// Serve returns, with nothing overrun.
func TestServeAnswersInTimeCallsBeforeReturning(t *testing.T) {
	h := newHarness(t, 5*time.Second)
	a := newAnswers()
	h.d.Serve(context.Background(), dispatch.Request{
		AppID: "test-app", Function: "echo", Params: json.RawMessage(`{"name":"Ann"}`), User: alice,
	}, nil, a.respond)
	got := a.all()
	if len(got) != 1 || got[0].res.Status != runtime.StatusSuccess || got[0].tr.Overran {
		t.Fatalf("answers %+v, want one success", got)
	}
}
