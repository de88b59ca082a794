#!/usr/bin/env bash
# Live evaluation on a real export: serves BUNDLE with every cancellation prediction logged,
# replays the orders of the bundle's test days from the export (as the checkout would have sent
# them), evaluates the log against the export's statuses, and checks that the figures are the
# test-day figures training reported for the bundle.
#
#   scripts/live-evaluation.sh BUNDLE DATA_DIR [shopml-train options, e.g. --config FILE]
#
# Uses the binaries under ${CARGO_TARGET_DIR:-target}/${PROFILE:-debug}.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=$1
data=$2
shift 2
bin="${CARGO_TARGET_DIR:-target}/${PROFILE:-debug}"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin/shopml-train" --data-dir "$data" "$@" orders --test-days-of "$bundle" --out "$work/orders.jsonl"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
metrics=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SHOPML__MONITORING__PREDICTION_LOG_DIR="$work/log" SHOPML__MONITORING__LOG_RATE_CANCELLATION=1 \
  "$bin/shopml-server" --bundle "$bundle" --listen "127.0.0.1:$port" \
  --metrics-listen "127.0.0.1:$metrics" 2>"$work/server.log" &
server=$!
get() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
for _ in $(seq 1 100); do
  get "http://127.0.0.1:$metrics/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
"$bin/shopml-bench" --target "http://127.0.0.1:$port" --replay "$work/orders.jsonl" --concurrency 16
echo "drift over the last lines served (PSI):"
get "http://127.0.0.1:$metrics/metrics" | grep -E '^shopml_(score_psi|input_psi|drift_window_lines|prediction_log_records)' | sed 's/^/  /'
kill -INT "$server"
wait "$server"
status=0
"$bin/shopml-train" --data-dir "$data" "$@" evaluate --bundle "$bundle" \
  --predictions "$work/log" --report "$work/evaluation.json" || status=$?
python3 - "$bundle/metrics.json" "$work/evaluation.json" <<'PY'
import json, sys
trained = json.load(open(sys.argv[1]))["cancellation"]
live = json.load(open(sys.argv[2]))["cancellation"]
for key in ["roc_auc", "pr_auc", "brier", "log_loss", "test_rows", "test_positive_rate"]:
    t, l = trained[key], live[key]
    print(f"  {key}: training {t:.6f}, from the log {l:.6f}")
    if abs(t - l) > 1e-9:
        sys.exit(f"{key} differs: the log does not reproduce the bundle's test-day figures")
print("the logged predictions reproduce the bundle's test-day figures")
PY
exit "$status"
