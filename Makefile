# The README's two commands are `make run` and `make test`; the rest are for
# development. Tests that need Redis read REDIS_URL (default
# redis://127.0.0.1:6379/0); with CI=true they fail instead of skipping.

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X github.com/imperalcloud/exthost/hostcmd.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

FUZZTIME    ?= 3s
SOAK_DURATION ?= 10m

.PHONY: run test fuzz mcp-interop rpc-interop bench lint build perf perf-soak soak profile load-faults clean

## run: the dev server (memory cache, dev auth, 127.0.0.1:8080) and the
## reference mail-service (127.0.0.1:8081); Ctrl-C stops both
run: build
	@bin/mailservice -addr 127.0.0.1:8081 & mail=$$!; \
	trap 'kill $$mail 2>/dev/null; wait $$mail 2>/dev/null' EXIT INT TERM; \
	bin/host serve --config configs/dev.yaml

## test: the whole suite under the race detector (the end-to-end tests
## build and drive the binaries, the out-of-tree example's among them),
## the MCP endpoint and the Fast-RPC worker against other implementations,
## then each fuzz target briefly, and with SOAK=1 (as CI runs it) a
## two-minute soak; first, both modules' go.mod must be tidy
test:
	$(GO) mod tidy -diff
	cd examples/notes && GOWORK=off $(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	cd examples/notes && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory mcp-interop
	$(MAKE) --no-print-directory rpc-interop
	$(MAKE) --no-print-directory fuzz
	@if [ "$(SOAK)" = 1 ]; then $(MAKE) --no-print-directory soak SOAK_DURATION=2m; fi

## mcp-interop: /mcp driven by the official TypeScript SDK client, the MCP
## conformance suite and the MCP Inspector CLI (scripts/mcp; needs npm,
## which brings Node 22)
mcp-interop: build
	scripts/mcp/run.sh

## rpc-interop: the Fast-RPC worker driven by a Python producer built on the
## vendored Imperal SDK's codec, calling every mail-client function
## (scripts/rpc; needs Redis and Debian's python3-redis)
rpc-interop: build
	scripts/rpc/run.sh

## fuzz: each fuzz target for FUZZTIME (default 3s); the seed corpora in
## testdata/fuzz also run as plain tests in `go test`
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzCallBody$$' -fuzztime $(FUZZTIME) ./internal/server
	$(GO) test -run '^$$' -fuzz '^FuzzMCPBody$$' -fuzztime $(FUZZTIME) ./internal/server
	$(GO) test -run '^$$' -fuzz '^FuzzParams$$' -fuzztime $(FUZZTIME) ./internal/dispatch
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./internal/calltoken
	$(GO) test -run '^$$' -fuzz '^FuzzParseHeader$$' -fuzztime $(FUZZTIME) ./internal/calltoken

## bench: every Go benchmark, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## perf: cache-hit throughput of both backends beside a bare echo handler,
## in one run (wrk, loopback, private Redis), and the stampede check; fails
## below the goals of docs/performance.md. Needs wrk and redis-server.
perf: build
	bin/perf -bin bin

## soak: the whole-system proof (bench/soak, docs/reliability.md): 1 000
## users' conversations over HTTP, MCP and the Fast-RPC stream against two
## replicas sharing a private Redis and PostgreSQL, the reference
## mail-service beside them, faults injected on a script; fails when an
## invariant breaks. SOAK_DURATION, default 10m. Needs redis-server and
## PostgreSQL's server binaries.
soak: build
	bin/soak -bin bin -duration $(SOAK_DURATION)

## perf-soak: perf, then ten minutes of load on the Redis host while its
## resident memory is sampled; fails if it grows more than 10%
perf-soak: build
	bin/perf -bin bin -rounds 1 -soak 10m

## profile: CPU and allocation profiles of both hosts under wrk, both
## workloads, in bin/profile/{hot,rotating}, and their top entries
profile: build
	bin/perf -bin bin -rounds 1 -min-redis 0 -min-memory 0 -min-rotating 0 -min-mcp 0 -max-p99 100 -profile bin/profile
	@for p in bin/profile/*/*.cpu.pprof; do echo "== $$p"; $(GO) tool pprof -top -nodecount=25 bin/host $$p 2>/dev/null | tail -n +6; done
	@for p in bin/profile/*/*.allocs.pprof; do echo "== $$p"; $(GO) tool pprof -sample_index=alloc_space -top -nodecount=15 bin/host $$p 2>/dev/null | tail -n +5; done

## load-faults: a bounded load run across a Redis outage (before, during, after)
load-faults:
	scripts/load-faults.sh 16 5s

## lint: go vet and staticcheck
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## build: bin/host, bin/mailservice and the load programs
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/host ./cmd/mailservice ./bench/baseline ./bench/perf ./bench/soak

clean:
	rm -rf bin
