#!/usr/bin/env bash
# Runs the client examples of docs/CLIENTS.md against a started server (the shipped bundle):
# Python over HTTP/JSON (requests) and over gRPC (grpcio, stubs generated from proto/), and Java
# over HTTP/JSON when a JDK is here; the same order must get the same probability each way.
#
#   scripts/clients.sh [path/to/shopml-server]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
server="${1:-${CARGO_TARGET_DIR:-target}/debug/shopml-server}"
port="${PORT:-50661}"
http_port="${HTTP_PORT:-9661}"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

"$server" --bundle models --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$http_port" \
  >"$work/server.log" 2>&1 &
pid=$!
wait_ready "$http_port" "$pid" "$work/server.log"

python3 docs/clients/http_checkout.py "http://127.0.0.1:$http_port" | tee "$work/http.txt"
python3 docs/clients/grpc_checkout.py "127.0.0.1:$port" | tee "$work/grpc.txt"
over_http="$(grep '^cancellation' "$work/http.txt")"
over_grpc="$(grep '^cancellation' "$work/grpc.txt")"
if [ "$over_http" != "$over_grpc" ]; then
  echo "HTTP/JSON and gRPC disagree: '$over_http' against '$over_grpc'" >&2
  exit 1
fi
if command -v java >/dev/null 2>&1; then
  java docs/clients/Checkout.java "http://127.0.0.1:$http_port" | tee "$work/java.txt"
  probability="$(awk '{print $2}' "$work/java.txt")"
  python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(a != b)" \
    "$probability" "$(echo "$over_http" | awk '{print $2}')" \
    || { echo "Java read another probability: $probability" >&2; exit 1; }
fi
echo "clients agree: $over_http"
