# The two commands a new machine needs are in the README; the rest are for
# development. Tests that need Redis read REDIS_URL (default
# redis://127.0.0.1:6379/0); with CI=true they fail instead of skipping.

GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test bench lint build clean

## test: the whole suite under the race detector
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

## bench: every Go benchmark, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## lint: go vet and staticcheck
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## build: the host binary in bin/
build:
	$(GO) build -o bin/host ./cmd/host

clean:
	rm -rf bin
