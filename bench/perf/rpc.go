package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imperalcloud/exthost/bench/internal/rig"
	"github.com/imperalcloud/exthost/internal/fastrpc"
)

// rpcInFlight is how many calls the Go load keeps in flight, on either
// path: wrk's connections.
const rpcInFlight = 64

// loadResult is one bounded Go load run.
type loadResult struct {
	calls, failed int
	rate          float64
	p50, p99      time.Duration
	firstErr      error
}

// goLoad runs do from rpcInFlight goroutines for d and sums up.
func goLoad(d time.Duration, do func(ctx context.Context) error) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		res       loadResult
		wg        sync.WaitGroup
	)
	start := time.Now()
	for range rpcInFlight {
		wg.Go(func() {
			var mine []time.Duration
			failed := 0
			var first error
			for ctx.Err() == nil {
				t := time.Now()
				if err := do(context.Background()); err != nil {
					failed++
					first = cmpErr(first, err)
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			res.failed += failed
			res.firstErr = cmpErr(res.firstErr, first)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	res.calls = len(latencies)
	res.rate = float64(res.calls) / elapsed.Seconds()
	if n := len(latencies); n > 0 {
		res.p50, res.p99 = latencies[n/2], latencies[n*99/100]
	}
	return res
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// rpcRound measures the hot entry through the Fast-RPC stream with one
// worker (the Redis host's) and two (a second Redis host joins), beside
// the HTTP API of the same host under the same Go load. It fails when a
// call does.
func rpcRound(s *stage, d time.Duration) error {
	rdb := redis.NewClient(&redis.Options{Addr: s.redisAddr, PoolSize: 2 * rpcInFlight})
	defer rdb.Close()
	client := fastrpc.NewClient(rdb, rpcStream)
	call := fastrpc.Call{AppID: "mail-client", Function: "list_inbox", UserID: "perf-user", Params: json.RawMessage(`{"account_id":"work"}`)}
	viaRPC := func(ctx context.Context) error {
		reply, err := client.Do(ctx, call)
		switch {
		case err != nil:
			return err
		case reply.Status != fastrpc.StatusSuccess || !strings.HasPrefix(string(reply.Result), `{"status":"success"`):
			return fmt.Errorf("reply %s %+v", reply.Status, reply.Error)
		}
		return nil
	}
	viaHTTP := func(context.Context) error {
		_, err := s.call(s.redis.url, s.body)
		return err
	}
	if err := viaRPC(context.Background()); err != nil {
		return fmt.Errorf("rpc warm-up: %w", err)
	}

	fmt.Printf("workload: the hot entry through the Fast-RPC stream, a Go producer with %d calls in flight, beside the HTTP API under the same Go load\n", rpcInFlight)
	fmt.Printf("%-22s %9s %7s %9s %9s %9s\n", "path", "calls", "failed", "calls/s", "p50", "p99")
	ok := true
	report := func(path string, r loadResult) {
		fmt.Printf("%-22s %9d %7d %9.0f %9s %9s\n", path, r.calls, r.failed, r.rate, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
		if r.failed > 0 || r.calls == 0 {
			ok = false
			fmt.Printf("  first failure: %v\n", r.firstErr)
		}
	}
	report("http, redis host", goLoad(d, viaHTTP))
	report("rpc, 1 worker", goLoad(d, viaRPC))

	addrs := make([]string, 2)
	for i := range addrs {
		var err error
		if addrs[i], err = rig.FreeAddr(); err != nil {
			return err
		}
	}
	second, err := startHost(s.bin, s.dir, "redis-2", "redis", addrs[0], addrs[1], s.redisAddr, s.mailAddr)
	if err != nil {
		return fmt.Errorf("second worker: %w", err)
	}
	defer second.proc.Stop()
	if _, err := s.call(second.url, s.body); err != nil { // its L1 warm, like the first's
		return fmt.Errorf("second worker warm-up: %w", err)
	}
	report("rpc, 2 workers", goLoad(d, viaRPC))
	if !ok {
		return errors.New("rpc: calls failed")
	}
	return nil
}
