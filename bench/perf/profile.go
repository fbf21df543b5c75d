package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profile drives h with wrk once more while taking a CPU profile and an
// allocation profile of it, both of the load alone (the allocations are a
// delta: not the warm-up's nor earlier workloads'), and writes them to dir
// as <backend>.cpu.pprof and <backend>.allocs.pprof.
func profile(w wrk, h *hostProc, script string, d time.Duration, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	seconds := max(1, int(d.Seconds())-1) // inside the load, not past it
	saved := make(chan error, 2)
	for _, p := range []struct{ endpoint, file string }{{"profile", "cpu"}, {"allocs", "allocs"}} {
		go func() {
			saved <- save(fmt.Sprintf("%s%s?seconds=%d", h.debugURL, p.endpoint, seconds), filepath.Join(dir, h.backend+"."+p.file+".pprof"))
		}()
	}
	_, err := w.run(h.url, script, d)
	err = errors.Join(err, <-saved, <-saved)
	return err
}

// save writes what url answers to path.
func save(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s: HTTP %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("profile: %w", err)
	}
	return f.Close()
}
