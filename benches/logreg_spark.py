"""Weir's logreg on 2 worker processes against Spark MLlib (spark.ml LogisticRegression,
local[2]) on the same generated 1M x 16 dense input, whole processes, side by side.

    python3 benches/logreg_spark.py [--rounds 3] [--spark-python PYTHON]

Needs a JDK and pyspark with numpy for PYTHON (python3 -m venv V && V/bin/pip install
'pyspark==3.5.*' numpy). The data is `weir datasets gen classification` with 10% random
labels (real data is not separable), in WEIR_BENCH_DIR (default /tmp/weir-bench). Each
round runs Weir then Spark; prints every run, the medians, the ratio and both test
accuracies.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WEIR = os.path.join(ROOT, "target", "release", "weir")
WEIR_ARGS = ["--epochs", "3", "--batch", "8192", "--optimizer", "adagrad", "--learning-rate", "0.3",
             "--average", "1"]


def data(work):
    train = os.path.join(work, "logreg-1M.csv")
    test = os.path.join(work, "logreg-1M-test.csv")
    if not (os.path.exists(train) and os.path.exists(test)):
        subprocess.run([WEIR, "datasets", "gen", "classification", "--rows", "1000000",
                        "--features", "16", "--noise", "0.1", "--seed", "1", "--output", train,
                        "--test-rows", "100000", "--test-output", test], check=True)
    return train, test


def timed(command):
    started = time.time()
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.time() - started, out.stdout


def run_weir(train, test):
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.json")
        seconds, _ = timed([WEIR, "run", "--workers", "2", "--quiet", "--metrics-json", metrics,
                            "logreg", "--input", train, "--test", test] + WEIR_ARGS)
        with open(metrics) as f:
            return seconds, json.load(f)["result"]["test_accuracy"]


def run_spark(python, train, test):
    script = os.path.join(HERE, "spark_logreg.py")
    seconds, stdout = timed([python, script, train, test])
    line = [l for l in stdout.splitlines() if l.startswith("{")][-1]
    return seconds, json.loads(line)["test_accuracy"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--spark-python", default=sys.executable)
    a = p.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = os.environ.get("WEIR_BENCH_DIR", "/tmp/weir-bench")
    os.makedirs(work, exist_ok=True)
    train, test = data(work)
    runs = {"weir": [], "spark": []}
    for r in range(a.rounds):
        runs["weir"].append(run_weir(train, test))
        runs["spark"].append(run_spark(a.spark_python, train, test))
        print(f"round {r + 1}: weir {runs['weir'][-1][0]:.2f}s "
              f"(accuracy {runs['weir'][-1][1]:.4f}), spark {runs['spark'][-1][0]:.2f}s "
              f"(accuracy {runs['spark'][-1][1]:.4f})", flush=True)
    med = {k: statistics.median(t for t, _ in v) for k, v in runs.items()}
    acc = {k: statistics.median(x for _, x in v) for k, v in runs.items()}
    print(f"median whole process: weir (2 workers) {med['weir']:.2f}s, "
          f"spark local[2] {med['spark']:.2f}s; spark / weir = {med['spark'] / med['weir']:.1f}x")
    print(f"test accuracy: weir {acc['weir']:.4f}, spark {acc['spark']:.4f}")


if __name__ == "__main__":
    main()
