package testredis

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a private three-master Redis Cluster on free loopback ports.
type Cluster struct {
	// Addrs are the masters' host:port addresses.
	Addrs []string
}

// StartCluster starts three cluster-enabled redis-server processes, joins
// them with redis-cli --cluster create (no replicas), and waits until the
// cluster reports itself ok. Everything stops when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		Unavailable(t, "redis-cli is not installed: %v", err)
	}
	c := &Cluster{}
	for range 3 {
		s := start(t, "--cluster-enabled", "yes", "--cluster-node-timeout", "5000",
			"--cluster-config-file", "nodes.conf", "--dir", t.TempDir())
		c.Addrs = append(c.Addrs, s.Addr)
	}
	create := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, c.Addrs...),
		"--cluster-replicas", "0", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Slots are assigned; each node learns the others through the cluster
	// bus, which takes its own time: wait for every node to say ok.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, addr := range c.Addrs {
		node := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
		for {
			info, err := node.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			select {
			case <-ctx.Done():
				_ = node.Close()
				t.Fatalf("cluster node %s not ok after 30s: %v %s", addr, err, info)
			case <-time.After(50 * time.Millisecond):
			}
		}
		_ = node.Close()
	}
	return c
}

// FreeAddr returns a loopback address nothing listens on, for a private
// server or any other process a test starts.
func FreeAddr(t TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
