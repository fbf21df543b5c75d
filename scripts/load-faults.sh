#!/usr/bin/env bash
# A bounded load run with a Redis outage in the middle: calls, errors and
# p50/p99 before, during and after. Needs redis-server on the PATH.
#
#   scripts/load-faults.sh [clients] [phase]
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
go build -o "$work/" ./cmd/host ./cmd/mailservice ./bench/faultload
"$work/faultload" -host "$work/host" -mailservice "$work/mailservice" -clients "${1:-16}" -phase "${2:-5s}"
