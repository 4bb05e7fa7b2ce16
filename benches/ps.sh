#!/usr/bin/env bash
# Parameter-server measurements, medians of REPEAT runs:
#   1. sparse traffic: logreg on 200,000 generated LIBSVM rows of 1M features with 50
#      non-zeros each, one epoch, --batch 256, 2 workers: the bytes its pulls and pushes
#      moved over the bytes of the parameters its minibatches touched;
#   2. Fashion-MNIST: softmax, 10 classes, 5 epochs, --batch 128, AdaGrad 0.1, 2 workers,
#      held-out accuracy (when DIR holds fashion-{train,test}.csv from
#      benches/fashion_mnist.py; the Debian package dataset-fashion-mnist);
#   3. Spark MLlib against Weir's logreg on 1M x 16 dense rows (benches/logreg_spark.py),
#      when SPARK_PYTHON names a Python with pyspark and numpy.
# Usage: WEIR_BENCH_DIR=DIR [REPEAT=3] [SPARK_PYTHON=PY] bash benches/ps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
DIR=${WEIR_BENCH_DIR:?set WEIR_BENCH_DIR to the folder of the generated inputs}
cargo build --release --locked --quiet
WEIR=$PWD/target/release/weir
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SPARSE=$DIR/sparse-1M-features.libsvm
[ -s "$SPARSE" ] || "$WEIR" datasets gen classification --rows 200000 --features 1000000 \
  --nonzeros 50 --seed 2 --output "$SPARSE" >&2

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
field() { python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "== sparse traffic: logreg, 1M features, 50 non-zeros a row, 1 epoch, --batch 256, 2 workers"
for _ in $(seq "$REPEAT"); do
  "$WEIR" run --workers 2 --quiet --metrics-json "$TMP/s.json" logreg --input "$SPARSE" \
    --epochs 1 --batch 256 >/dev/null 2>"$TMP/s.err" || { cat "$TMP/s.err" >&2; exit 1; }
  field "$TMP/s.json" "'%d %d %d %.3f' % (m['result']['bytes_pulled'], m['result']['bytes_pushed'], m['result']['bytes_touched'], m['wall_seconds'])" >>"$TMP/sparse"
done
awk '{print $1, $2, $3}' "$TMP/sparse" | head -1 |
  awk '{printf "bytes pulled %d, pushed %d, touched %d: moved / touched = %.2f\n", $1, $2, $3, ($1 + $2) / $3}'
awk '{print $4}' "$TMP/sparse" | median | xargs printf "median whole run: %s s\n"

if [ -s "$DIR/fashion-train.csv" ] && [ -s "$DIR/fashion-test.csv" ]; then
  echo "== Fashion-MNIST: softmax, 5 epochs, --batch 128, adagrad 0.1, 2 workers"
  for _ in $(seq "$REPEAT"); do
    "$WEIR" run --workers 2 --quiet --metrics-json "$TMP/f.json" softmax \
      --input "$DIR/fashion-train.csv" --test "$DIR/fashion-test.csv" --classes 10 \
      --epochs 5 --batch 128 --optimizer adagrad --learning-rate 0.1 >/dev/null 2>"$TMP/f.err" ||
      { cat "$TMP/f.err" >&2; exit 1; }
    field "$TMP/f.json" "'%.4f %.3f' % (m['result']['test_accuracy'], m['wall_seconds'])" >>"$TMP/fashion"
  done
  awk '{print $1}' "$TMP/fashion" | median | xargs printf "median held-out accuracy: %s\n"
  awk '{print $2}' "$TMP/fashion" | median | xargs printf "median whole run: %s s\n"
else
  echo "== Fashion-MNIST: skipped (no $DIR/fashion-train.csv; see benches/fashion_mnist.py)"
fi

if [ -n "${SPARK_PYTHON:-}" ]; then
  echo "== Spark MLlib (local[2]) against Weir's logreg (2 workers), whole processes"
  WEIR_BENCH_DIR=$DIR python3 benches/logreg_spark.py --rounds "$REPEAT" --spark-python "$SPARK_PYTHON"
else
  echo "== Spark MLlib: skipped (set SPARK_PYTHON to a Python with pyspark and numpy)"
fi
