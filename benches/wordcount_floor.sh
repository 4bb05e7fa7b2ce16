#!/usr/bin/env bash
# The wordcount performance floor: 200 MB of generated Zipf text, a whole
# `weir run wordcount` (start-up and output included) with 1 and 2 worker processes,
# timed by hyperfine (apt-get install hyperfine). Prints throughput and speedup.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${WEIR_BENCH_DIR:-/tmp/weir-bench}
mkdir -p "$work"
cargo build --release --quiet
weir=target/release/weir
text="$work/text-200MB-seed1.txt"
[ -f "$text" ] || "$weir" datasets gen text --size 200MB --seed 1 --output "$text"
hyperfine --warmup 1 --runs "${RUNS:-5}" -N --output=pipe --export-json "$work/wordcount.json" \
  "$weir run wordcount --input $text --workers 1 --quiet" \
  "$weir run wordcount --input $text --workers 2 --quiet"
python3 - "$work/wordcount.json" "$(stat -c %s "$text")" <<'PY'
import json, statistics, sys
runs = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2]) / 1e6
med = [statistics.median(r["times"]) for r in runs]
print(f"1 worker:  median {med[0]:.3f}s = {size / med[0]:.0f} MB/s")
print(f"2 workers: median {med[1]:.3f}s = {size / med[1]:.0f} MB/s")
print(f"speedup 1 -> 2 workers: {med[0] / med[1]:.2f}x")
PY
