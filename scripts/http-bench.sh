#!/usr/bin/env bash
# The checkout's call over gRPC and over HTTP/JSON against the empty RPC, with h2load (nghttp2),
# on one server, in alternating rounds: the ratio table of docs/PERFORMANCE.md ("HTTP/JSON").
#
#   scripts/http-bench.sh                  # 3 rounds of 40,000 requests each, 4 connections × 16 streams
#   ROUNDS=5 REQUESTS=100000 scripts/http-bench.sh
#   SERVER=path/to/shopml-server scripts/http-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
command -v h2load >/dev/null || { echo "needs h2load (apt-get install nghttp2-client)" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopml/target}"
rounds="${ROUNDS:-3}"
requests="${REQUESTS:-40000}"
port="${PORT:-50571}"
http_port="${HTTP_PORT:-9571}"
release="$CARGO_TARGET_DIR/release"
cargo build --release --locked -p shopml-server --bin shopml-server --bin shopml-bench
server="${SERVER:-$release/shopml-server}"

work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
# A two-line order without explanations (the checkout's call), as gRPC frames and JSON.
"$release/shopml-bench" --items 2 --write-bodies "$work"
"$server" --bundle "${BUNDLE:-models}" --listen "127.0.0.1:$port" \
  --metrics-listen "127.0.0.1:$http_port" >"$work/server.log" 2>&1 &
pid=$!
wait_ready "$http_port" "$pid" "$work/server.log"

grpc=(-H 'content-type: application/grpc' -H 'te: trailers')
# name | h2load arguments
cases=(
  "empty RPC (gRPC health)|${grpc[*]@Q} -d $work/health.grpc http://127.0.0.1:$port/grpc.health.v1.Health/Check"
  "PredictCancellation gRPC|${grpc[*]@Q} -d $work/cancellation.grpc http://127.0.0.1:$port/shopml.v1.PredictionService/PredictCancellation"
  "PredictCancellation HTTP/JSON h2c|-H 'content-type: application/json' -d $work/cancellation.json http://127.0.0.1:$http_port/v1/PredictionService/PredictCancellation"
  "PredictCancellation HTTP/1.1 JSON|--h1 -H 'content-type: application/json' -d $work/cancellation.json http://127.0.0.1:$http_port/v1/PredictionService/PredictCancellation"
  "PredictPrice gRPC|${grpc[*]@Q} -d $work/price.grpc http://127.0.0.1:$port/shopml.v1.PredictionService/PredictPrice"
  "PredictPrice HTTP/JSON h2c|-H 'content-type: application/json' -d $work/price.json http://127.0.0.1:$http_port/v1/PredictionService/PredictPrice"
)
echo "server $server, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); h2load -n $requests, 4 connections × 16 streams (HTTP/1.1: 64 connections)"
declare -A rates
for round in $(seq 1 "$rounds"); do
  for case in "${cases[@]}"; do
    name="${case%%|*}"
    args="${case#*|}"
    shape=(-c 4 -m 16)
    [[ "$args" == --h1* ]] && shape=(-c 64 -m 1)
    out="$(eval h2load -n "$requests" "${shape[@]}" -t 1 "$args")"
    ok="$(echo "$out" | awk '/^status codes:/ {print $3}')"
    [ "$ok" = "$requests" ] || { echo "$name: $ok of $requests answered 2xx" >&2; echo "$out" >&2; exit 1; }
    rate="$(echo "$out" | awk '/^finished in/ {print $4}')"
    rates["$name"]+="$rate "
  done
done
printf '%-36s %-30s %s\n' "call" "req/s per round" "× the empty RPC (same round)"
read -ra empty <<<"${rates["empty RPC (gRPC health)"]}"
for case in "${cases[@]}"; do
  name="${case%%|*}"
  read -ra got <<<"${rates[$name]}"
  ratios=""
  for i in "${!got[@]}"; do
    ratios+="$(awk -v a="${got[$i]}" -v b="${empty[$i]}" 'BEGIN {printf "%.2f ", a / b}')"
  done
  printf '%-36s %-30s %s\n' "$name" "${rates[$name]}" "$ratios"
done
