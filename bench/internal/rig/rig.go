// Package rig starts and stops the processes of the load programs: the host,
// a private redis-server, the baseline, each as a child process that is
// ready once it says so.
package rig

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// readyTimeout bounds how long a process may take to become ready.
const readyTimeout = 30 * time.Second

// Proc is a child process. It is ready once ReadyURL answers 200 or, when
// ReadyURL is empty, once a line of its output contains Ready.
type Proc struct {
	Name     string
	Args     []string
	Ready    string
	ReadyURL string
	// Output receives what the process writes to stdout and stderr;
	// nil discards it.
	Output io.Writer
	// Credential, when set, runs the process as another user (PostgreSQL
	// refuses to run as root).
	Credential *syscall.Credential

	cmd *exec.Cmd
}

// Start starts the process and waits until it is ready.
func (p *Proc) Start() error {
	p.cmd = exec.Command(p.Name, p.Args...)
	if p.Credential != nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.Credential}
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if p.ReadyURL != "" {
		// Nothing to scan: the output goes straight to its sink (a file
		// costs the load run no copying).
		p.cmd.Stdout, p.cmd.Stderr = p.Output, p.Output
		if err := p.cmd.Start(); err != nil {
			return fmt.Errorf("rig: %s: %w", p.Name, err)
		}
		return p.poll(ctx)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("rig: %s: %w", p.Name, err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("rig: %s: %w", p.Name, err)
	}
	ready := make(chan struct{})
	go p.scan(out, ready)
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rig: %s: not ready after %s", p.Name, readyTimeout)
	}
}

// scan copies the output to p.Output and closes ready at the first line
// holding p.Ready.
func (p *Proc) scan(out io.Reader, ready chan struct{}) {
	sink := p.Output
	if sink == nil {
		sink = io.Discard
	}
	sc := bufio.NewScanner(out)
	signalled := false
	for sc.Scan() {
		if !signalled && strings.Contains(sc.Text(), p.Ready) {
			signalled = true
			close(ready)
		}
		_, _ = fmt.Fprintln(sink, sc.Text())
	}
}

func (p *Proc) poll(ctx context.Context) error {
	for {
		if resp, err := http.Get(p.ReadyURL); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rig: %s: %s not ready after %s", p.Name, p.ReadyURL, readyTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Pid is the process id, or 0 when the process is not running.
func (p *Proc) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill ends the process at once, as a crash would.
func (p *Proc) Kill() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
	return nil
}

// Stop ends the process: SIGINT, then SIGKILL after 10 s.
func (p *Proc) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// Redis returns a private redis-server on addr, without persistence, with
// its working files in dir.
func Redis(addr, dir string) *Proc {
	_, port, _ := net.SplitHostPort(addr)
	return &Proc{
		Name:  "redis-server",
		Args:  []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", dir},
		Ready: "Ready to accept connections",
	}
}

// PersistentRedis returns a private redis-server on addr that keeps its
// data across a restart (an append-only file in dir, written every
// second and on shutdown), for load runs that restart it.
func PersistentRedis(addr, dir string) *Proc {
	_, port, _ := net.SplitHostPort(addr)
	return &Proc{
		Name: "redis-server",
		Args: []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "yes",
			"--appendfsync", "everysec", "--dir", dir},
		Ready: "Ready to accept connections",
	}
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("rig: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
