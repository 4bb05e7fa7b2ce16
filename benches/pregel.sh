#!/usr/bin/env bash
# Pregel measurements, side by side in one run, medians of REPEAT rounds:
#   1. the cost of a superstep that does almost nothing: cdlp for 1000 iterations on the
#      10-vertex Graphalytics example, 2 workers (run seconds / supersteps);
#   2. the checkpoint overhead: pagerank (pregel) on R-MAT 18 for 30 iterations with
#      --checkpoint-every 0 and 10, alternating;
#   3. the recovery time: the same run with one of 3 workers killed (SIGKILL) halfway,
#      against the undisturbed run.
# Usage: WEIR_BENCH_DIR=DIR [REPEAT=3] bash benches/pregel.sh
# (DIR must hold rmat-18.txt from `weir datasets gen graph --scale 18`.)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
DIR=${WEIR_BENCH_DIR:?set WEIR_BENCH_DIR to the folder of rmat-18.txt}
cargo build --release --locked --quiet
WEIR=$PWD/target/release/weir
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
EXAMPLE=datasets/samples/graphalytics/example-directed.properties
GRAPH=$DIR/rmat-18.txt

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
field() { python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "== superstep overhead: cdlp --iterations 1000 on example-directed, 2 workers"
for _ in $(seq "$REPEAT"); do
  "$WEIR" run cdlp --dataset "$EXAMPLE" --iterations 1000 --workers 2 --quiet \
    --metrics-json "$TMP/m.json" >/dev/null
  field "$TMP/m.json" "1000 * m['result']['run_seconds'] / m['result']['supersteps']"
done | median | xargs printf "median ms per superstep: %s\n"

echo "== checkpoint overhead: pagerank (pregel) R-MAT 18, 30 iterations, 2 workers"
# A warm-up run first: the page cache and the allocator.
"$WEIR" run pagerank --edges "$GRAPH" --iterations 30 --workers 2 --quiet >/dev/null
for _ in $(seq "$REPEAT"); do
  for k in 0 10; do
    "$WEIR" run pagerank --edges "$GRAPH" --iterations 30 --workers 2 --quiet \
      --checkpoint-every "$k" --metrics-json "$TMP/m.json" >/dev/null
    echo "$k $(field "$TMP/m.json" "m['wall_seconds']")"
  done
done >"$TMP/ck.txt"
sed 's/^/  (every, wall s) /' "$TMP/ck.txt"
off=$(awk '$1 == 0 {print $2}' "$TMP/ck.txt" | median)
on=$(awk '$1 == 10 {print $2}' "$TMP/ck.txt" | median)
echo "median wall s: no checkpoints $off, every 10 supersteps $on"
python3 -c "print(f'checkpoint overhead: {100 * ($on - $off) / $off:.1f}%')"

echo "== recovery: pagerank (pregel) R-MAT 18, 30 iterations, 3 workers, one killed halfway"
for _ in $(seq "$REPEAT"); do
  "$WEIR" run pagerank --edges "$GRAPH" --iterations 30 --workers 3 --quiet \
    --metrics-json "$TMP/u.json" >/dev/null
  whole=$(field "$TMP/u.json" "m['wall_seconds']")
  "$WEIR" run pagerank --edges "$GRAPH" --iterations 30 --workers 3 --quiet \
    --metrics-json "$TMP/k.json" >/dev/null 2>"$TMP/k.err" &
  driver=$!
  sleep "$(python3 -c "print($whole / 2)")"
  victim=$(pgrep -P "$driver" -f worker | head -1 || true)
  [ -n "$victim" ] && kill -9 "$victim"
  wait "$driver"
  grep -h "pregel: lost" "$TMP/k.err" >&2 || true
  echo "$whole $(field "$TMP/k.json" "m['wall_seconds']")"
done >"$TMP/rec.txt"
sed 's/^/  (undisturbed, killed) /' "$TMP/rec.txt"
whole=$(awk '{print $1}' "$TMP/rec.txt" | median)
struck=$(awk '{print $2}' "$TMP/rec.txt" | median)
echo "median wall s: undisturbed $whole, one worker killed $struck"
python3 -c "print(f'recovery time (difference of medians): {$struck - $whole:.2f} s')"
