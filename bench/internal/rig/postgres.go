package rig

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// Postgres returns a private PostgreSQL server on addr with its cluster in
// dir, made there with initdb first (trust authentication, user
// "postgres", database "postgres"; durability off, as a load run needs
// none). As root, the cluster and the server belong to the "postgres"
// user, since PostgreSQL refuses to run as root. The server binaries are
// found on PATH or in Debian's /usr/lib/postgresql/<version>/bin.
func Postgres(addr, dir string) (*Proc, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("rig: postgres: running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "pgdata")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("rig: postgres: %w", err)
	}
	if cred != nil {
		for _, d := range []string{dir, data} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("rig: postgres: %w", err)
			}
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("rig: initdb: %w: %s", err, out)
	}
	host, port, _ := net.SplitHostPort(addr)
	return &Proc{
		Name: filepath.Join(bin, "postgres"),
		Args: []string{"-D", data, "-p", port, "-k", dir, "-c", "listen_addresses=" + host,
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"},
		Ready:      "database system is ready to accept connections",
		Credential: cred,
	}, nil
}

// postgresBin is the directory of the PostgreSQL server binaries.
func postgresBin() (string, error) {
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", fmt.Errorf("rig: postgres: no initdb on PATH or in /usr/lib/postgresql")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}
