#!/usr/bin/env bash
# Cache-hit throughput of the host beside a bare echo handler answering the
# same bytes, measured in one run on loopback with wrk.
#
#   scripts/wrk-hits.sh [backend] [connections] [seconds]
#
# backend is memory (default) or redis (the shared Redis at REDIS_URL). The
# host runs with dev auth; each run calls list_inbox for one user and account,
# so every measured call after the first is a cache hit.
set -euo pipefail
cd "$(dirname "$0")/.."

backend="${1:-memory}"
connections="${2:-64}"
seconds="${3:-8}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/" ./cmd/host ./cmd/mailservice ./bench/baseline

cat >"$work/host.yaml" <<YAML
listen: 127.0.0.1:18080
cache: {backend: $backend, redis: {url: $redis_url}}
services: {mail-service: http://127.0.0.1:18081}
log: {level: warn, format: json}
YAML
"$work/mailservice" -addr 127.0.0.1:18081 2>/dev/null & pids+=($!)
"$work/host" serve --config "$work/host.yaml" & pids+=($!)

body='{"user_id":"load-'"$$"'","function":"list_inbox","params":{"account_id":"work"}}'
for _ in $(seq 100); do
	curl -fsS -o /dev/null http://127.0.0.1:18080/readyz 2>/dev/null && break
	sleep 0.1
done
curl -fsS -X POST -H 'Content-Type: application/json' -d "$body" \
	http://127.0.0.1:18080/v1/extensions/mail-client/call >"$work/response.json"
"$work/baseline" -addr 127.0.0.1:18090 -response "$work/response.json" 2>/dev/null & pids+=($!)
for _ in $(seq 100); do
	curl -fsS -o /dev/null -X POST -d "$body" http://127.0.0.1:18090/v1/extensions/mail-client/call 2>/dev/null && break
	sleep 0.1
done

cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$body'
done = function(summary, latency, requests)
	io.write(string.format("RESULT %d %d %.0f %.3f %.3f\n",
		summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
		summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

measure() { # name url: prints one line and keeps the rate in $work/<name>.rps
	wrk -t1 -c"$connections" -d"${seconds}s" -s "$work/post.lua" "$2" | awk -v name="$1" -v out="$work/$1.rps" '/^RESULT/ {
		printf "%-9s %9d requests %5d errors %9.0f req/s   p50 %7.3f ms   p99 %7.3f ms\n", name, $2, $3, $4, $5, $6
		print $4 > out }'
}
echo "cache-hit list_inbox, $backend backend, $connections connections, ${seconds}s, response $(wc -c <"$work/response.json") bytes"
measure baseline http://127.0.0.1:18090/v1/extensions/mail-client/call
measure host http://127.0.0.1:18080/v1/extensions/mail-client/call
awk -v h="$(cat "$work/host.rps")" -v b="$(cat "$work/baseline.rps")" 'BEGIN { printf "host / baseline = %.2f\n", h / b }'
