package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// stampedeResult is the outcome of concurrent cold calls for one entry.
type stampedeResult struct {
	calls, succeeded int
	upstream         int   // requests the mail-service received meanwhile
	firstErr         error // the first failed call's error
}

// stampede makes n calls for one cold entry at once, released together,
// and counts the upstream requests they caused.
func (s *stage) stampede(url string, n int) stampedeResult {
	body := fmt.Sprintf(`{"user_id":"stampede-%d","function":"list_inbox","params":{"account_id":"work"}}`, time.Now().UnixNano())
	before := s.mail.Requests()["/v1/inbox"]
	var (
		wg        sync.WaitGroup
		succeeded atomic.Int64
		firstErr  error
		once      sync.Once
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			if _, err := s.call(url, body); err != nil {
				once.Do(func() { firstErr = err })
				return
			}
			succeeded.Add(1)
		})
	}
	close(start)
	wg.Wait()
	return stampedeResult{calls: n, succeeded: int(succeeded.Load()),
		upstream: s.mail.Requests()["/v1/inbox"] - before, firstErr: firstErr}
}

// soakUsers is how many users the soak cycles through: their entries
// expire and refill while it runs.
const soakUsers = 1000

// soakResult is a soak's load and the host's resident memory over it.
type soakResult struct {
	run               wrkResult
	afterWarmUp, last int64 // resident bytes
	peak              int64
}

// growth is how much resident memory grew after the warm-up, as a fraction.
func (r soakResult) growth() float64 {
	if r.afterWarmUp == 0 {
		return 0
	}
	return float64(r.last-r.afterWarmUp) / float64(r.afterWarmUp)
}

// soakSample is how often the soak reads the host's resident memory.
const soakSample = 5 * time.Second

// soak drives h for d, cycling through users, and samples its resident
// memory. The first fifth of the run, at most a minute, is warm-up: caches
// and pools fill then.
func soak(w wrk, h *hostProc, script string, d time.Duration) (soakResult, error) {
	if err := writeCyclingScript(script, soakUsers); err != nil {
		return soakResult{}, err
	}
	pid := h.proc.Pid()
	warmUp := min(time.Minute, d/5)
	type outcome struct {
		r   wrkResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := w.run(h.url, script, d)
		done <- outcome{r, err}
	}()
	var res soakResult
	began := time.Now()
	tick := time.NewTicker(soakSample)
	defer tick.Stop()
	for {
		select {
		case o := <-done:
			if o.err != nil {
				return soakResult{}, o.err
			}
			res.run = o.r
			return res, nil
		case <-tick.C:
			rss, err := residentBytes(pid)
			if err != nil {
				return soakResult{}, err
			}
			if res.afterWarmUp == 0 && time.Since(began) >= warmUp {
				res.afterWarmUp = rss
			}
			res.last, res.peak = rss, max(res.peak, rss)
		}
	}
}

// residentBytes reads a process's resident set size from /proc.
func residentBytes(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("resident memory: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		var kib int64
		if _, err := fmt.Sscanf(sc.Text(), "VmRSS: %d kB", &kib); err == nil {
			return kib << 10, nil
		}
	}
	return 0, errors.New("resident memory: no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}
