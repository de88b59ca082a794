#!/usr/bin/env bash
# Three servers on one bundle repository in object storage, under load: publishes a new version
# while they serve and reports how long until all three serve it and how many requests failed
# (docs/OPERATIONS.md, "Many replicas"). Needs Python's moto ("pip install 'moto[server]'"), the
# S3-protocol server it starts on 127.0.0.1. Not run in CI.
#
#   scripts/replicas.sh                         # debug binaries of target/ (cargo build --workspace)
#   BIN=target/release POLL_MS=1000 scripts/replicas.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${BIN:-${CARGO_TARGET_DIR:-target}/debug}"
# Publishing into S3 needs the training crate's object-store feature.
cargo build -p shopml-training --features object-store --bin shopml-train
poll_ms="${POLL_MS:-1000}"
load_secs="${LOAD_SECS:-20}"
s3_port="${S3_PORT:-50590}"
work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

moto_server -H 127.0.0.1 -p "$s3_port" >"$work/moto.log" 2>&1 &
pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$s3_port"; do sleep 0.2; done
curl -s -X PUT "http://127.0.0.1:$s3_port/shopml" >/dev/null
export AWS_ENDPOINT="http://127.0.0.1:$s3_port" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
repository="s3://shopml/bundles"

echo "publishing the first version"
"$bin/shopml-train" --out "$repository" 2>"$work/train1.log"
for i in 0 1 2; do
  SHOPML__SERVER__BUNDLE_CACHE_DIR="$work/cache$i" SHOPML__SERVER__WATCH_INTERVAL_MS="$poll_ms" \
    "$bin/shopml-server" --bundle "$repository" --listen "127.0.0.1:5060$i" \
    --metrics-listen "127.0.0.1:960$i" >"$work/server$i.log" 2>&1 &
  pids+=($!)
done
serving() { curl -s "http://127.0.0.1:960$1/metrics" | sed -n 's/^shopml_bundle_info{version="\([^"]*\)"} 1$/\1/p'; }
for i in 0 1 2; do until [ -n "$(serving $i)" ]; do sleep 0.2; done; done
first="$(serving 0)"
echo "all three serve $first; loading each for $load_secs s"

for i in 0 1 2; do
  "$bin/shopml-bench" --target "http://127.0.0.1:5060$i" --rpcs cancellation \
    --concurrency 8 --connections 2 --duration-secs "$load_secs" >"$work/bench$i.log" 2>&1 &
  pids+=($!)
done
sleep 2
echo "training and publishing a new version"
"$bin/shopml-train" --out "$repository" 2>"$work/train2.log"
published=$(date +%s.%N)
second=""
for i in 0 1 2; do
  until v="$(serving $i)"; [ -n "$v" ] && [ "$v" != "$first" ]; do sleep 0.05; done
  second="$v"
done
all_serving=$(date +%s.%N)
wait "${pids[@]:4}" 2>/dev/null || true
echo
echo "new version $second served by all three replicas $(echo "$all_serving - $published" | bc) s after its upload completed (poll interval $poll_ms ms)"
for i in 0 1 2; do
  echo "replica $i:"; grep -E "^(rpc|cancellation)" "$work/bench$i.log" || cat "$work/bench$i.log"
done
