#!/usr/bin/env bash
# Paired runs of the checkout's call: this tree's server against another commit's, each on its
# own shipped bundle, in alternating rounds on one host, with h2load (nghttp2). The server runs
# on core 0 and h2load on core 1 when there are two cores or more (pinned: the empty RPC then
# varies by about ±1% instead of ±10%). Prints per round and server the empty RPC's and the
# calls' requests a second, their ratio, and the server's CPU time a request (from /proc).
#
#   scripts/bench-pairs.sh c522c2b            # this tree against c522c2b, 3 rounds
#   ROUNDS=5 REQUESTS=200000 scripts/bench-pairs.sh HEAD~3
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
command -v h2load >/dev/null || { echo "needs h2load (apt-get install nghttp2-client)" >&2; exit 1; }
against="${1:?name the commit to compare with}"
rounds="${ROUNDS:-3}"
requests="${REQUESTS:-100000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopml/target}"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; git worktree remove --force "$work/tree" 2>/dev/null || true; rm -rf "$work"' EXIT

# Both servers, built with the same target directory (dependencies are shared), copied out;
# SERVER_TREE and SERVER_OTHER name binaries already built instead (BUNDLE_TREE: the bundle
# SERVER_TREE serves, when it is not this tree's build).
cargo build --release --locked -p shopml-server --bin shopml-server --bin shopml-bench
cp "${SERVER_TREE:-$CARGO_TARGET_DIR/release/shopml-server}" "$work/server-tree"
"$CARGO_TARGET_DIR/release/shopml-bench" --items 2 --write-bodies "$work/bodies"
git worktree add --detach "$work/tree" "$against" >/dev/null
if [ -n "${SERVER_OTHER:-}" ]; then
  cp "$SERVER_OTHER" "$work/server-other"
else
  # Both trees' crates share names and the target directory, and cargo tells sources apart by
  # their times: touch each tree's sources before building it.
  touch_sources() { find "$1" -path "$1/target" -prune -o \( -name '*.rs' -o -name '*.proto' -o -name Cargo.toml \) -print0 | xargs -0 touch; }
  touch_sources "$work/tree"
  (cd "$work/tree" && cargo build --release --locked -p shopml-server --bin shopml-server)
  cp "$CARGO_TARGET_DIR/release/shopml-server" "$work/server-other"
  # The target directory's copy of this tree's binary is the other commit's now: rebuild it.
  touch_sources .
  cargo build --release --locked -p shopml-server --bin shopml-server >/dev/null
fi

pin_server=() pin_load=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_server=(taskset -c 0) pin_load=(taskset -c 1)
fi
port=50591 http_port=9591
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# One server, one RPC: "req/s µs-of-server-CPU-a-request".
load() {
  local path="$1" body="$2" before after out
  before="$(cpu_ticks "$pid")"
  out="$("${pin_load[@]}" h2load -n "$requests" -c 4 -m 16 -t 1 \
    -H 'content-type: application/grpc' -H 'te: trailers' -d "$body" "http://127.0.0.1:$port$path")"
  after="$(cpu_ticks "$pid")"
  [ "$(echo "$out" | awk '/^status codes:/ {print $3}')" = "$requests" ] \
    || { echo "$out" >&2; exit 1; }
  echo "$(echo "$out" | awk '/^finished in/ {print $4}') $(( (after - before) * 10000 / requests ))"
}
serve() {
  local server="$1" bundle="$2"
  "${pin_server[@]}" "$server" --bundle "$bundle" --listen "127.0.0.1:$port" \
    --metrics-listen "127.0.0.1:$http_port" >"$work/server.log" 2>&1 &
  pid=$!
  wait_ready "$http_port" "$pid" "$work/server.log" || exit 1
}

echo "this tree ($(git rev-parse --short HEAD)$(git diff --quiet || echo ', modified')) against $against; $(nproc) cores${pin_server:+, server on core 0 and h2load on core 1}; h2load -n $requests, 4 connections × 16 streams"
printf '%-6s %-12s %14s %14s %8s %16s %16s\n' round server "empty req/s" "call req/s" ratio "empty µs CPU" "call µs CPU"
for round in $(seq 1 "$rounds"); do
  for side in tree other; do
    bundle="${BUNDLE_TREE:-models}"
    [ "$side" = other ] && { bundle="$work/tree/models"; [ -d "$bundle" ] || bundle="$work/tree/crates/server/models"; }
    serve "$work/server-$side" "$bundle"
    h2load -n 2000 -c 4 -m 16 -t 1 -H 'content-type: application/grpc' -H 'te: trailers' \
      -d "$work/bodies/cancellation.grpc" "http://127.0.0.1:$port/shopml.v1.PredictionService/PredictCancellation" >/dev/null
    read -r empty empty_us <<<"$(load /grpc.health.v1.Health/Check "$work/bodies/health.grpc")"
    read -r call call_us <<<"$(load /shopml.v1.PredictionService/PredictCancellation "$work/bodies/cancellation.grpc")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    printf '%-6s %-12s %14s %14s %8s %16s %16s\n' "$round" "$side" "$empty" "$call" \
      "$(awk -v a="$call" -v b="$empty" 'BEGIN {printf "%.2f", a / b}')" "$empty_us" "$call_us"
  done
done
