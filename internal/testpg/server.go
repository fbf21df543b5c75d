package testpg

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imperalcloud/exthost/internal/testkit"
)

// binDir is where Debian keeps the server's programs.
const binDir = "/usr/lib/postgresql/15/bin"

// Server is a private PostgreSQL on a free loopback port, its data in the
// test's temporary directory, for tests that stop and restart the
// database under load.
type Server struct {
	// URL reaches its database "postgres" as user "postgres".
	URL  string
	t    testkit.TB
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// StartServer initialises and starts a private server, stopped and
// removed when the test ends. As root, the server runs as the postgres
// user (PostgreSQL refuses to run as root), its data in a directory of its
// own under the system's temporary directory, which that user can reach.
func StartServer(t testkit.TB) *Server {
	t.Helper()
	if _, err := os.Stat(filepath.Join(binDir, "initdb")); err != nil {
		Unavailable(t, "no PostgreSQL server programs in %s", binDir)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	tempDir, err := os.MkdirTemp("", "exthost-pg-")
	if err != nil {
		t.Fatalf("pgdata: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tempDir) })
	s := &Server{t: t, dir: filepath.Join(tempDir, "pgdata"), port: port,
		URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", port)}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		t.Fatalf("pgdata: %v", err)
	}
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("as root, the server needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		for _, d := range []string{tempDir, s.dir} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatalf("chown %s: %v", d, err)
			}
		}
	}
	if out, err := s.command("initdb", "-D", s.dir, "-U", "postgres", "-A", "trust", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// command runs one of the server's programs, as postgres when this is root.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(binDir, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// Start starts the server and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = s.command("postgres", "-D", s.dir, "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("postgres: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testkit.WaitFor(s.t, 30*time.Second, "the private PostgreSQL to accept connections", func() bool {
		conn, err := pgx.Connect(ctx, s.URL)
		if err != nil {
			return false
		}
		_ = conn.Close(ctx)
		return true
	})
}

// Stop stops the server at once (SIGQUIT to its process group: an
// immediate shutdown, as a crash looks to clients) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGQUIT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd = nil
}
