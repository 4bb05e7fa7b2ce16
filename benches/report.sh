#!/usr/bin/env bash
# Regenerates docs/benchmarks.md from measurements taken now, on this machine.
#
# Builds the release binary, generates the inputs with `weir datasets gen` (kept in
# $WEIR_BENCH_DIR between runs), runs `weir bench compare` for each job and
# `weir bench speedup` for the figures, `weir bench iterations` for the cost of an
# iteration and the memory over many, runs the criterion loopback shuffle bench, and
# renders everything with benches/render_report.py. Nothing in the page is typed by hand.
#
#   bash benches/report.sh                  # everything (about 30 minutes on 2 cores)
#   REPEAT=3 SORT_SIZE=1GB bash benches/report.sh
#   FROM=cdlp bash benches/report.sh        # resume at a section, keeping the earlier ones
#   FROM=bfs UNTIL=lcc bash benches/report.sh # only those sections (and the Pregel script)
#   SECTIONS="logreg consistency ps" bash benches/report.sh # only the sections named
#                                           # (pregel, ps, shuffle and ps-loopback name the
#                                           # scripts and criterion benches)
#   SPARK_PYTHON=/path/to/python bash benches/report.sh # also time Spark MLlib (pyspark)
#
# Run it on a quiet machine: the figures are medians, but a busy neighbour still shows.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA=${WEIR_BENCH_DIR:-$ROOT/target/bench-data}
OUT=${WEIR_BENCH_OUT:-$ROOT/target/bench-report}
REPEAT=${REPEAT:-5}
SORT_SIZE=${SORT_SIZE:-2GB}
TEXT_SIZE=${TEXT_SIZE:-200MB}
PAGERANK_SCALE=${PAGERANK_SCALE:-20}
COMPONENTS_SCALE=${COMPONENTS_SCALE:-18}
PREGEL_SCALE=${PREGEL_SCALE:-20}
ITERATION_SCALE=${ITERATION_SCALE:-10}
MEMORY_SCALE=${MEMORY_SCALE:-16}

cargo build --release --locked -p weir
WEIR=$ROOT/target/release/weir
mkdir -p "$DATA" "$OUT"
FROM=${FROM:-}
UNTIL=${UNTIL:-}
SECTIONS=${SECTIONS:-}
rm -f "$OUT/measured-sections" "$OUT/resumed-at"
if [ -n "$SECTIONS" ]; then
    # The page says which sections this run measured.
    echo "$SECTIONS" >"$OUT/measured-sections"
elif [ -n "$FROM$UNTIL" ]; then
    echo "${FROM:-wordcount}..${UNTIL}" >"$OUT/resumed-at"
else
    rm -rf "${OUT:?}"/*
fi
skipping=${FROM:+yes}
finished=

gen() { # gen FILE KIND ARGS...
    local file=$1 kind=$2
    shift 2
    [ -s "$file" ] || "$WEIR" datasets gen "$kind" "$@" --output "$file"
}
TEXT=$DATA/text-$TEXT_SIZE-seed1.txt
PAGERANK_GRAPH=$DATA/rmat-$PAGERANK_SCALE.txt
COMPONENTS_GRAPH=$DATA/rmat-$COMPONENTS_SCALE.txt
ITERATION_GRAPH=$DATA/rmat-$ITERATION_SCALE-ef8.txt
MEMORY_GRAPH=$DATA/rmat-$MEMORY_SCALE.txt
PREGEL_GRAPH=$DATA/rmat-$PREGEL_SCALE.txt
WEIGHTED_GRAPH=$DATA/rmat-$PREGEL_SCALE-weighted.txt
SORT=$DATA/sort-$SORT_SIZE.dat
gen "$TEXT" text --size "$TEXT_SIZE" --seed 1
gen "$PAGERANK_GRAPH" graph --scale "$PAGERANK_SCALE" --seed 1
gen "$COMPONENTS_GRAPH" graph --scale "$COMPONENTS_SCALE" --seed 1
gen "$ITERATION_GRAPH" graph --scale "$ITERATION_SCALE" --edge-factor 8 --seed 1
gen "$MEMORY_GRAPH" graph --scale "$MEMORY_SCALE" --seed 1
gen "$PREGEL_GRAPH" graph --scale "$PREGEL_SCALE" --seed 1
gen "$WEIGHTED_GRAPH" graph --scale "$PREGEL_SCALE" --weighted --seed 1
gen "$DATA/rmat-18.txt" graph --scale 18 --seed 1
gen "$SORT" sort --size "$SORT_SIZE" --seed 1
LOGREG=$DATA/logreg-1M.csv
gen "$LOGREG" classification --rows 1000000 --features 16 --noise 0.1 --seed 1 \
    --test-rows 100000 --test-output "$DATA/logreg-1M-test.csv"
# Separable: the loss keeps falling for the whole run, so the models' curves part.
SEPARABLE=$DATA/logreg-1M-separable.csv
gen "$SEPARABLE" classification --rows 1000000 --features 16 --seed 1

wanted() { # wanted NAME: whether SECTIONS (when given) names NAME
    [ -z "$SECTIONS" ] || [[ " $SECTIONS " == *" $1 "* ]]
}

run() { # run NAME COMMAND...: runs a bench command, keeping its printed report
    local name=$1
    shift
    if ! wanted "$name" || [ -n "$finished" ] ||
        { [ -n "$skipping" ] && [ "$name" != "$FROM" ]; }; then
        echo "== $name: kept from the last run" >&2
        return
    fi
    skipping=
    echo "== $name: weir $*" >&2
    "$WEIR" "$@" --output "$OUT/$name" | tee "$OUT/$name.txt"
    printf '%s\n' "weir $*" >"$OUT/$name.command"
    if [ "$name" = "$UNTIL" ]; then
        finished=yes
    fi
}

run wordcount bench compare wordcount --input "$TEXT" --workers 1,2 --repeat "$REPEAT"
run pagerank bench compare pagerank --edges "$PAGERANK_GRAPH" --iterations 10 \
    --model dataflow --workers 1,2 --repeat "$REPEAT"
run components bench compare components --edges "$COMPONENTS_GRAPH" --undirected \
    --model dataflow --workers 1,2 --repeat "$REPEAT"
run pagerank-pregel bench compare pagerank --edges "$PREGEL_GRAPH" --iterations 10 \
    --workers 1,2 --repeat "$REPEAT"
run components-pregel bench compare components --edges "$PREGEL_GRAPH" --undirected \
    --workers 1,2 --repeat "$REPEAT"
BFS_SOURCE=$(awk '!/^#/ {print $1; exit}' "$PREGEL_GRAPH")
run bfs bench compare bfs --edges "$PREGEL_GRAPH" --source "$BFS_SOURCE" --workers 2 \
    --repeat "$REPEAT"
run sssp bench compare sssp --edges "$WEIGHTED_GRAPH" --source "$BFS_SOURCE" --workers 2 \
    --repeat "$REPEAT"
run cdlp bench compare cdlp --edges "$PREGEL_GRAPH" --iterations 10 --workers 1,2 \
    --repeat "$REPEAT"
run lcc bench compare lcc --edges "$PREGEL_GRAPH" --workers 2 --repeat "$REPEAT"
run sort bench compare sort --input "$SORT" --workers 1,2 --repeat "$REPEAT"
run speedup-wordcount bench speedup wordcount --input "$TEXT" --workers 1,2 \
    --repeat "$REPEAT"
run iterations bench iterations pagerank --edges "$ITERATION_GRAPH" --model dataflow \
    --iterations 10,100,1000 --workers 2 --repeat "$REPEAT"
run iterations-memory bench iterations pagerank --edges "$MEMORY_GRAPH" --model dataflow \
    --iterations 10,1000 --workers 2 --repeat 1 --systems weir

LOGREG_ARGS=(--input "$LOGREG" --test "$DATA/logreg-1M-test.csv" --epochs 3)
run logreg bench compare logreg "${LOGREG_ARGS[@]}" --batch 8192 --workers 2 \
    --repeat "$REPEAT"
run logreg-batch256 bench compare logreg "${LOGREG_ARGS[@]}" --batch 256 --workers 2 \
    --repeat "$REPEAT"
run consistency bench consistency logreg --input "$SEPARABLE" --epochs 4 --batch 31250 \
    --learning-rate 0.5 --models bsp,ssp:4,asp --straggler 1:3 --repeat "$REPEAT"
run consistency-bound bench consistency logreg --input "$SEPARABLE" --epochs 4 \
    --batch 31250 --learning-rate 0.5 --models bsp,ssp:2,ssp:4,ssp:8,ssp:16,ssp:32,asp \
    --straggler 1:3 --repeat "$REPEAT"
run consistency-rotating bench consistency logreg --input "$SEPARABLE" --epochs 4 \
    --batch 31250 --learning-rate 0.5 --models bsp,ssp:4,asp --straggler rotate:3:4 \
    --repeat "$REPEAT"

if wanted pregel; then
    echo "== pregel: superstep cost, checkpoint overhead, recovery" >&2
    WEIR_BENCH_DIR=$DATA REPEAT=$REPEAT bash benches/pregel.sh | tee "$OUT/pregel.txt"
fi
if wanted ps; then
    echo "== parameter server: sparse traffic, Fashion-MNIST, Spark" >&2
    WEIR_BENCH_DIR=$DATA REPEAT=$REPEAT bash benches/ps.sh | tee "$OUT/ps.txt"
fi
if wanted event-log; then
    echo "== the event log's and the web UI's cost on wordcount 200 MB" >&2
    WEIR_BENCH_DIR=$DATA python3 benches/event_log_overhead.py --rounds $((REPEAT * 7)) |
        tee "$OUT/event-log.txt"
fi

if [ -z "$UNTIL" ] && wanted shuffle; then
    echo "== criterion: shuffle over loopback against a raw TCP copy" >&2
    CARGO_TARGET_DIR=$ROOT/target cargo bench --locked -p weir-bench --bench shuffle |
        tee "$OUT/shuffle.txt"
    cp -r "$ROOT/target/criterion/shuffle_loopback" "$OUT/shuffle_loopback"
fi
if [ -z "$UNTIL" ] && wanted ps-loopback; then
    echo "== criterion: parameter-server push, pull and restore over loopback" >&2
    CARGO_TARGET_DIR=$ROOT/target cargo bench --locked -p weir-bench --bench ps |
        tee "$OUT/ps-loopback.txt"
    rm -rf "$OUT/ps_loopback" "$OUT/ps_restore"
    cp -r "$ROOT/target/criterion/ps_loopback" "$ROOT/target/criterion/ps_restore" "$OUT/"
fi

mkdir -p docs/figures
for f in speedup efficiency breakdown; do
    cp "$OUT/speedup-wordcount/$f.svg" "docs/figures/wordcount-$f.svg"
done
for run in consistency consistency-rotating; do
    for f in loss-time loss-clock; do
        if [ -f "$OUT/$run/$f.svg" ]; then
            cp "$OUT/$run/$f.svg" "docs/figures/$run-$f.svg"
        fi
    done
done
python3 benches/render_report.py "$OUT" >docs/benchmarks.md
echo "wrote docs/benchmarks.md" >&2
