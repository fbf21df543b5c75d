#!/usr/bin/env bash
# The Fast-RPC worker against a producer that is not ours (part of `make
# test`): producer.py builds and reads envelopes with the vendored Imperal
# SDK's codec and calls every function of the mail client through a host
# serving the stream. Needs bin/host and bin/mailservice (make build), Redis
# at REDIS_URL, and Python's redis package (Debian's python3-redis).
set -euo pipefail
cd "$(dirname "$0")"
bin="$(cd ../../bin && pwd)"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
sdk="${IMPERAL_SDK:-/work/shared/reference/imperal-sdk-5.11.0}"
if [ ! -x "$sdk/env.sh" ]; then
	echo "rpc: no imperal-sdk at $sdk (set IMPERAL_SDK)" >&2
	[ "${CI:-}" = true ] && exit 1
	echo "rpc: skipped" >&2
	exit 0
fi
eval "$("$sdk/env.sh")"
# Python's redis client is Debian's python3-redis, put on PYTHONPATH with
# the packages it imports, as env.sh puts the SDK's httpx stack there.
if [ ! -d /usr/lib/python3/dist-packages/redis ]; then
	apt-get install -y -qq python3-redis >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-redis >/dev/null; }
fi
deps="${EXTHOST_RPC_PY_DEPS:-/tmp/exthost-rpc-py-deps}"
mkdir -p "$deps"
for p in redis packaging deprecated wrapt async_timeout; do ln -sfn "/usr/lib/python3/dist-packages/$p" "$deps/$p"; done
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$deps"

logs="$(mktemp -d)"
pids=()
stream="test:rpc:producer:$$:$RANDOM"
cleanup() {
	status=$?
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	redis-cli -u "$redis_url" del "$stream" >/dev/null 2>&1 || true
	if [ "$status" -ne 0 ]; then
		for f in "$logs"/*.log; do echo "== $f"; tail -n 40 "$f"; done
	fi
	rm -rf "$logs"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ready() {
	for _ in $(seq 100); do
		curl -sS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "rpc: $1 did not answer" >&2
	return 1
}

mail="$(port)"
"$bin/mailservice" -addr "127.0.0.1:$mail" >"$logs/mailservice.log" 2>&1 &
pids+=($!)
listen="$(port)"
env EXTHOST_LISTEN="127.0.0.1:$listen" EXTHOST_SERVICES="mail-service=http://127.0.0.1:$mail" \
	EXTHOST_CACHE_REDIS_URL="$redis_url" EXTHOST_RPC_ENABLED=true EXTHOST_RPC_STREAM="$stream" \
	EXTHOST_LOG_LEVEL=warn "$bin/host" serve --config ../../configs/dev.yaml >"$logs/host.log" 2>&1 &
pids+=($!)
ready "http://127.0.0.1:$mail/"
ready "http://127.0.0.1:$listen/readyz"
# Wait for the worker to make its group.
for _ in $(seq 100); do
	redis-cli -u "$redis_url" xinfo groups "$stream" 2>/dev/null | grep -q exthost && break
	sleep 0.1
done
python3 producer.py "$redis_url" "$stream" "http://127.0.0.1:$listen"
