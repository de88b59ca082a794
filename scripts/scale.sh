#!/usr/bin/env bash
# Training cost against the export's size (docs/PERFORMANCE.md, "Training at scale"): writes the
# generated online shop's export at each size, trains on it with the shipped profile
# (config/retailers/online_retail.toml: return risk, forecast, segments, customer value), and
# prints the wall time and peak RSS of each stage and of the whole run. Not run in CI.
#
#   scripts/scale.sh                    # 500000, 1000000 and 5000000 lines
#   SIZES="100000 500000" scripts/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopml/target}"
sizes="${SIZES:-500000 1000000 5000000}"
cargo build --release --locked -p shopml-training --bin shopml-train
train="$CARGO_TARGET_DIR/release/shopml-train"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

printf '| lines | stage | wall time | peak RSS after it |\n|---|---|---|---|\n'
for lines in $sizes; do
  "$train" generate --out "$work/$lines" --online-retail-lines "$lines" 2>/dev/null
  log="$work/$lines.log"
  /usr/bin/time -f 'TOTAL %e s %M KiB' "$train" --data-dir "$work/$lines" \
    --config config/retailers/online_retail.toml --out "$work/$lines-bundle" 2>"$log"
  grep -E '^\[[a-z ]+\] done in' "$log" | sed -E \
    "s/^\[([a-z ]+)\] done in ([0-9.]+)s \(peak RSS ([0-9]+) MiB\).*/| $lines | \1 | \2 s | \3 MiB |/"
  grep '^TOTAL' "$log" | awk -v n="$lines" '{printf "| %s | **whole run** | **%s s** | **%d MiB** |\n", n, $2, $4/1024}'
  rm -rf "$work/$lines" "$work/$lines-bundle"
done
