"""The cost of watching a run: wordcount on 200 MB of generated text, 2 worker processes,
whole processes timed side by side, the three modes taking turns each round (the rounds
going through all six orders of the modes):

    off   --no-ui                              (nothing recorded)
    log   --no-ui --event-log FILE             (the event log written)
    ui    --ui 127.0.0.1:0 --event-log FILE    (the log and the live web UI, the default's
                                                work plus the file)

    python3 benches/event_log_overhead.py [--rounds 5]

The text is `weir datasets gen text` (seed 1) in WEIR_BENCH_DIR (default /tmp/weir-bench).
Prints every run, the medians and each mode's ratio to `off`.
"""
import argparse
import itertools
import os
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WEIR = os.path.join(ROOT, "target", "release", "weir")


def text(work):
    path = os.path.join(work, "text-200MB-seed1.txt")
    if not os.path.exists(path):
        subprocess.run([WEIR, "datasets", "gen", "text", "--size", "200MB", "--seed", "1",
                        "--output", path], check=True)
    return path


def timed(command):
    started = time.time()
    subprocess.run(command, check=True, capture_output=True)
    return time.time() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = os.environ.get("WEIR_BENCH_DIR", "/tmp/weir-bench")
    os.makedirs(work, exist_ok=True)
    source = text(work)
    base = [WEIR, "run", "wordcount", "--input", source, "--workers", "2", "--quiet"]
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "events.jsonl")
        modes = {
            "off": ["--no-ui"],
            "log": ["--no-ui", "--event-log", log],
            "ui": ["--ui", "127.0.0.1:0", "--event-log", log],
        }
        times = {m: [] for m in modes}
        timed(base + modes["off"])  # warm-up: page cache, binary
        # The rounds go through every order of the three modes in turn, so each mode runs
        # first, second and third, and after each other mode, equally often.
        orders = list(itertools.permutations(modes))
        for r in range(args.rounds):
            for mode in orders[r % len(orders)]:
                seconds = timed(base + modes[mode])
                times[mode].append(seconds)
                print(f"round {r + 1} {mode:<4} {seconds:.3f} s", flush=True)
        events = sum(1 for _ in open(log))
    off = statistics.median(times["off"])
    print(f"\nmedian of {args.rounds}: off {off:.3f} s")
    for mode in ("log", "ui"):
        m = statistics.median(times[mode])
        print(f"median of {args.rounds}: {mode:<4} {m:.3f} s = {m / off:.3f} x off")
    print(f"events in one run's log: {events}")


if __name__ == "__main__":
    main()
