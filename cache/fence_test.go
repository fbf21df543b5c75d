package cache

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
)

// The writer counts each replica's answer to its own request once,
// whichever tracker passed it on, and nothing else.
func TestFenceCountsEachReplicasAnswerOnce(t *testing.T) {
	f := newFence(nil, "exthost:l1:fence:v1", time.Second, zap.NewNop())
	w := &fenceWait{need: -1, answers: map[string]struct{}{}, done: make(chan struct{})}
	f.pending[7] = w
	for _, payload := range []string{
		"a " + f.id + " 7 replica-1",
		"a " + f.id + " 7 replica-1", // the same answer through another master's tracker
		"a someone-else 7 replica-2", // an answer to another writer
		"a " + f.id + " 8 replica-2", // to another request
		"a " + f.id + " x replica-2", // malformed
		"a " + f.id + " 7",           // malformed
		"",
	} {
		f.heard("127.0.0.1:6379", payload)
	}
	if len(w.answers) != 1 {
		t.Fatalf("answers = %v, want replica-1's alone", w.answers)
	}
	f.mu.Lock()
	w.need = 2 // PUBLISH said two heard it
	w.complete()
	f.mu.Unlock()
	select {
	case <-w.done:
		t.Fatal("the wait ended with one answer of two")
	default:
	}
	f.heard("127.0.0.1:6379", "a "+f.id+" 7 replica-2")
	select {
	case <-w.done:
	default:
		t.Fatal("the wait did not end with both answers in")
	}
}

// A request for another master (a copy Cluster passed on) is not
// answered: only the tracker of the written key's master may vouch for it.
func TestFenceAnswersOnlyItsMastersRequests(t *testing.T) {
	f := newFence(nil, "exthost:l1:fence:v1", time.Second, zap.NewNop())
	answers := make(chan string, 8)
	f.answer = func(_ context.Context, payload string) error { answers <- payload; return nil }
	for _, payload := range []string{
		"r writer 1 127.0.0.1:7001", // another master's
		"r writer 1",                // malformed
		"q writer 1 *",              // neither request nor answer
		"r writer 2 127.0.0.1:7000", // this master's
		"r writer 3 *",              // a single node's
	} {
		f.heard("127.0.0.1:7000", payload)
	}
	// Answers go out on goroutines of their own, in any order; one to a
	// message that should have been ignored would be among them.
	got := map[string]bool{<-answers: true, <-answers: true}
	if !got["a writer 2 "+f.id] || !got["a writer 3 "+f.id] {
		t.Fatalf("answers = %v, want writer 2's and writer 3's requests answered", got)
	}
}
