#!/usr/bin/env bash
# Serves BUNDLE and runs scripts/dashboard-check.py against it (headless Chromium).
#
#   scripts/dashboard-check.sh BUNDLE [path/to/shopml-server]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
bundle="${1:?name a bundle}"
server="${2:-${CARGO_TARGET_DIR:-target}/debug/shopml-server}"
port="${PORT:-50671}" http_port="${HTTP_PORT:-9671}"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
"$server" --bundle "$bundle" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$http_port" \
  >"$work/server.log" 2>&1 &
pid=$!
wait_ready "$http_port" "$pid" "$work/server.log"
python3 scripts/dashboard-check.py "http://127.0.0.1:$http_port"
