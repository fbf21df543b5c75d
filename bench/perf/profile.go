package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// profile drives h with wrk once more while taking a CPU profile of it, then
// takes its allocation profile, and writes both to dir as
// <backend>.cpu.pprof and <backend>.allocs.pprof.
func profile(w wrk, h *hostProc, script string, d time.Duration, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	seconds := max(1, int(d.Seconds())-1) // inside the load, not past it
	cpu := make(chan error, 1)
	go func() {
		cpu <- save(fmt.Sprintf("%sprofile?seconds=%d", h.debugURL, seconds), filepath.Join(dir, h.backend+".cpu.pprof"))
	}()
	if _, err := w.run(h.url, script, d); err != nil {
		return err
	}
	if err := <-cpu; err != nil {
		return err
	}
	return save(h.debugURL+"allocs", filepath.Join(dir, h.backend+".allocs.pprof"))
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
