package dispatch

import (
	"sync"
	"time"
)

// workerIdle is how long a worker waits for another handler before it
// exits, so that a burst leaves no crowd of idle goroutines behind.
const workerIdle = 30 * time.Second

// workers runs handlers on goroutines that are kept for the next call. A
// goroutine per call spent a tenth of a cache hit growing new stacks; a
// kept worker has grown its stack once.
type workers struct {
	jobs chan func()
	stop chan struct{}
	once sync.Once
}

func newWorkers() *workers {
	return &workers{jobs: make(chan func()), stop: make(chan struct{})}
}

// run hands job to an idle worker, or to a new one when all are busy: it
// never waits for a worker.
func (w *workers) run(job func()) {
	select {
	case w.jobs <- job:
	default:
		go w.work(job)
	}
}

func (w *workers) work(job func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		job()
		idle.Reset(workerIdle)
		select {
		case job = <-w.jobs:
		case <-idle.C:
			return
		case <-w.stop:
			return
		}
	}
}

// close ends the idle workers; busy ones end when their handler returns (a
// handler past its deadline may not return soon, and nothing waits for it).
func (w *workers) close() {
	w.once.Do(func() { close(w.stop) })
}
