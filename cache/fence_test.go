package cache

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeLink stands for a tracking connection: the PINGs the fence writes
// arrive on pings, and the test plays Redis by handing PONGs back.
type fakeLink struct {
	pings  chan string
	refuse error // what send answers, when set
	lates  chan struct{}
}

func newFakeLink(timeout time.Duration) (*fakeLink, *fence) {
	l := &fakeLink{pings: make(chan string, 16), lates: make(chan struct{}, 16)}
	return l, newFence(l.send, func() { l.lates <- struct{}{} }, timeout)
}

func (l *fakeLink) send(payload string) error {
	if l.refuse != nil {
		return l.refuse
	}
	l.pings <- payload
	return nil
}

// waitAsync starts a wait and returns where its outcome arrives.
func waitAsync(f *fence) <-chan error {
	out := make(chan error, 1)
	go func() { out <- f.wait(context.Background()) }()
	return out
}

func TestFenceAnswersAWaitWithItsPong(t *testing.T) {
	link, f := newFakeLink(time.Minute)
	defer f.close()
	got := waitAsync(f)
	ping := <-link.pings
	select {
	case err := <-got:
		t.Fatalf("the wait ended before its PONG: %v", err)
	default:
	}
	f.pong(ping)
	if err := <-got; err != nil {
		t.Fatalf("wait = %v", err)
	}
}

// The waits that arrive while a PING is in flight share the next one, which
// follow writes as it reads the first PONG.
func TestFenceWaitsShareTheNextPing(t *testing.T) {
	link, f := newFakeLink(time.Minute)
	defer f.close()
	first := waitAsync(f)
	ping1 := <-link.pings

	later := make([]<-chan error, 20)
	for i := range later {
		later[i] = waitAsync(f)
	}
	joined(t, f, len(later))

	// A PONG that is not the one in flight's answers nothing.
	f.pong("not ours")
	f.pong(ping1)
	if err := <-first; err != nil {
		t.Fatalf("first wait = %v", err)
	}
	ping2 := <-link.pings // written at once, for the waits that came meanwhile
	if ping2 == ping1 {
		t.Fatalf("the second round reused PING %q", ping1)
	}
	f.pong(ping2)
	for i, c := range later {
		if err := <-c; err != nil {
			t.Fatalf("wait %d = %v", i, err)
		}
	}
	select {
	case p := <-link.pings:
		t.Fatalf("PING %q with no wait left", p)
	default:
	}
}

func TestFenceFailsALatePongAndIgnoresItAfter(t *testing.T) {
	link, f := newFakeLink(20 * time.Millisecond)
	defer f.close()
	got := waitAsync(f)
	late := <-link.pings
	if err := <-got; !errors.Is(err, errLatePong) {
		t.Fatalf("wait = %v, want errLatePong", err)
	}
	<-link.lates // the tracker is told to replace the connection

	// The late PONG arrives during the next round: it proves nothing for it.
	f.mu.Lock()
	f.timeout = time.Minute
	f.mu.Unlock()
	got = waitAsync(f)
	current := <-link.pings
	f.pong(late)
	select {
	case err := <-got:
		t.Fatalf("the late PONG of an earlier PING answered a later wait: %v", err)
	default:
	}
	f.pong(current)
	if err := <-got; err != nil {
		t.Fatalf("wait = %v", err)
	}
}

func TestFenceFailsARoundItCannotSend(t *testing.T) {
	link, f := newFakeLink(time.Minute)
	defer f.close()
	link.refuse = errors.New("broken pipe")
	if err := f.wait(context.Background()); !errors.Is(err, link.refuse) {
		t.Fatalf("wait = %v, want the write's error", err)
	}
	link.refuse = nil
	got := waitAsync(f) // the next wait sends again
	f.pong(<-link.pings)
	if err := <-got; err != nil {
		t.Fatalf("wait = %v", err)
	}
}

func TestFenceFailOnConnectionLossEndsEveryRound(t *testing.T) {
	link, f := newFakeLink(time.Minute)
	defer f.close()
	inFlight := waitAsync(f)
	<-link.pings
	behind := waitAsync(f)
	joined(t, f, 1)
	lost := errors.New("connection reset")
	f.fail("", lost)
	for _, c := range []<-chan error{inFlight, behind} {
		if err := <-c; !errors.Is(err, lost) {
			t.Fatalf("wait = %v, want %v", err, lost)
		}
	}
}

func TestFenceClosedRefusesWaits(t *testing.T) {
	link, f := newFakeLink(time.Minute)
	pending := waitAsync(f)
	<-link.pings
	f.close()
	if err := <-pending; !errors.Is(err, errNotTracked) {
		t.Fatalf("pending wait = %v, want errNotTracked", err)
	}
	if err := f.wait(context.Background()); !errors.Is(err, errNotTracked) {
		t.Fatalf("wait after close = %v, want errNotTracked", err)
	}
}

func TestFenceHonoursAnEndedContext(t *testing.T) {
	link, f := newFakeLink(time.Minute)
	defer f.close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait = %v, want context.Canceled", err)
	}
	select {
	case p := <-link.pings:
		t.Fatalf("PING %q for a wait whose call had ended", p)
	default:
	}
}

// joined waits until n waits have joined the round behind the PING in
// flight.
func joined(t *testing.T, f *fence, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		waits := 0
		if f.next != nil {
			waits = f.next.waits
		}
		f.mu.Unlock()
		if waits == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d waits joined the next round in 5s", waits, n)
		}
		time.Sleep(time.Millisecond) // nothing signals a join (testkit.WaitFor imports this package)
	}
}
