#!/usr/bin/env bash
# Reproduces the load table of docs/PERFORMANCE.md in one command: builds the release binaries,
# trains the real-data bundle when ../shared/data exists (else serves the shipped models/),
# starts the server, and loads the empty RPC (the gRPC health check) and then each prediction
# RPC with the same callers, printing the table with each RPC's ratio to the empty one.
#
#   scripts/bench.sh                 # 32 callers, 5 s per RPC
#   DURATION=10 CONCURRENCY=64 scripts/bench.sh
#   SERVER=path/to/shopml-server scripts/bench.sh   # another build of the server (paired runs)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopml/target}"
data="${SHOPML_DATA:-../shared/data}"
duration="${DURATION:-5}"
concurrency="${CONCURRENCY:-32}"
port="${PORT:-50551}"
metrics_port="${METRICS_PORT:-9595}"
release="$CARGO_TARGET_DIR/release"

cargo build --release --locked -p shopml-server --bin shopml-server --bin shopml-bench
server="${SERVER:-$release/shopml-server}"

work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
bundle="${BUNDLE:-}"
products=()
if [ -d "$data" ]; then
  products=(--products "$data/amazon_products.csv.gz")
  if [ -z "$bundle" ]; then
    cargo build --release --locked -p shopml-training --bin shopml-train
    bundle="$work/bundle"
    echo "training the real-data bundle on $data"
    "$release/shopml-train" --data-dir "$data" --out "$bundle" 2>"$work/train.log" \
      || { cat "$work/train.log" >&2; exit 1; }
  fi
else
  echo "no $data: serving the shipped bundle, example requests"
fi
bundle="${bundle:-models}"

"$server" --bundle "$bundle" --listen "127.0.0.1:$port" \
  --metrics-listen "127.0.0.1:$metrics_port" >"$work/server.log" 2>&1 &
pid=$!

# Ready when /readyz answers 200 (the bundle is loaded, verified and warmed up).
ready() {
  exec 3<>"/dev/tcp/127.0.0.1/$metrics_port" || return 1
  printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3
  head -n 1 <&3 | grep -q ' 200 '
}
for _ in $(seq 1 200); do
  if ready 2>/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.05
done
ready 2>/dev/null || { echo "the server did not become ready" >&2; cat "$work/server.log" >&2; exit 1; }

echo "server $server, bundle $bundle, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
"$release/shopml-bench" --target "http://127.0.0.1:$port" --concurrency "$concurrency" \
  --duration-secs "$duration" --server-pid "$pid" "${products[@]}" \
  --rpcs cancellation,price,price-batch,sentiment,forecast,lookup
echo "server peak resident memory: $(grep VmHWM "/proc/$pid/status" | awk '{print $2, $3}')"
