#!/usr/bin/env python3
"""Renders docs/benchmarks.md from the files benches/report.sh leaves in its output
directory: each comparison's compare.json, the speedup run's bench.json and criterion's
estimates for the loopback shuffle. Prints the page on standard output."""

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

OUT = sys.argv[1]


def load(*path):
    with open(os.path.join(OUT, *path)) as f:
        return json.load(f)


def command(name):
    with open(os.path.join(OUT, name + ".command")) as f:
        return f.read().strip()


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / 2**20:.0f} GiB of memory"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({model}){mem}, {platform.system()} {platform.release()}"


def revision():
    try:
        return subprocess.check_output(
            ["git", "rev-parse", "--short", "HEAD"], text=True
        ).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def mib(n):
    return n / 2**20


def compare_section(name, title):
    doc = load(name, "compare.json")
    lines = [f"### {title}", "", "```", command(name), "```", ""]
    lines.append(
        f"Input: {mib(doc['input_bytes']):.0f} MiB. Median of {doc['repeat']} rounds "
        "after a warm-up round; the systems take turns within each round."
    )
    lines.append("")
    lines.append("| system | median s | min s | max s | peak RSS per process, MiB |")
    lines.append("|---|---:|---:|---:|---:|")
    for c in doc["contenders"]:
        s = c["seconds"]
        lines.append(
            f"| {c['label']} | {c['median_seconds']:.3f} | {min(s):.3f} | "
            f"{max(s):.3f} | {mib(c['peak_rss_bytes']):.0f} |"
        )
    lines.append("")
    for r in doc["ratios"]:
        lines.append(f"- {r['of']} / {r['to']}: **{r['ratio']:.2f}**")
    cost = doc.get("cost_workers")
    lines.append(
        f"- COST: **{cost} worker(s)**" if cost else "- COST: **not reached** at these worker counts"
    )
    weir = [c for c in doc["contenders"] if c["system"] == "weir"]
    for c in weir:
        # A graph's bar is its share of the CSR in memory; other jobs', of the input.
        what, total = ("CSR share", c["graph_bytes"]) if c.get("graph_bytes") else (
            "input share", doc["input_bytes"])
        share = total / c["workers"]
        limit = 2 * share + 100 * 2**20
        lines.append(
            f"- memory, {c['label']}: {mib(c['peak_rss_bytes']):.0f} MiB per worker "
            f"(2 × {what} + 100 MiB = {mib(limit):.0f} MiB)"
        )
    ones = [c for c in weir if c["workers"] == 1]
    twos = [c for c in weir if c["workers"] == 2]
    if ones and twos:
        lines.append(
            f"- speedup from 1 to 2 workers: **{ones[0]['median_seconds'] / twos[0]['median_seconds']:.2f}×**"
        )
    lines.append("")
    return lines


def text_section(name, title, note):
    path = os.path.join(OUT, f"{name}.txt")
    with open(path) as f:
        text = f.read().rstrip()
    return [f"### {title}", "", note, "", "```", text, "```", ""]


def speedup_section(name):
    doc = load(name, "bench.json")
    lines = ["### Scaling of wordcount", "", "```", command(name), "```", ""]
    lines.append("| workers | median s | speedup | efficiency | Karp–Flatt |")
    lines.append("|---:|---:|---:|---:|---:|")
    for r in doc["table"]:
        kf = "" if r["karp_flatt"] is None else f"{r['karp_flatt']:.3f}"
        lines.append(
            f"| {r['workers']} | {r['median_seconds']:.3f} | {r['speedup']:.2f} | "
            f"{r['efficiency']:.2f} | {kf} |"
        )
    law = doc.get("amdahl") or {}
    if law.get("serial_fraction") is not None:
        lines.append("")
        lines.append(f"Amdahl's serial fraction, fitted: {law['serial_fraction']:.4f}.")
    lines.append("")
    for f in ["speedup", "efficiency", "breakdown"]:
        lines.append(f"![{f}](figures/wordcount-{f}.svg)")
    lines.append("")
    return lines


def iterations_section(name, title, note):
    doc = load(name, "iterations.json")
    lines = [f"### {title}", "", "```", command(name), "```", ""]
    lines.append("| system | iterations | median s | peak RSS per worker, MiB | spilled bytes |")
    lines.append("|---|---:|---:|---:|---:|")
    for fit in doc["fits"]:
        for i, n in enumerate(fit["iterations"]):
            lines.append(
                f"| {fit['system']} | {n} | {fit['medians'][i]:.3f} | "
                f"{mib(fit['peak_rss_bytes'][i]):.1f} | {fit['spill_bytes'][i]} |"
            )
    lines.append("")
    for fit in doc["fits"]:
        lines.append(
            f"- {fit['system']}: **{fit['ms_per_iteration']:.3f} ms per iteration** "
            f"(least squares over the medians), {fit['fixed_seconds']:.3f} s fixed."
        )
    weir = [f for f in doc["fits"] if f["system"] == "weir"]
    if weir and len(weir[0]["iterations"]) >= 2:
        rss = weir[0]["peak_rss_bytes"]
        lines.append(
            f"- Weir's peak RSS per worker at {weir[0]['iterations'][-1]} iterations is "
            f"**{rss[-1] / rss[0]:.2f}×** that at {weir[0]['iterations'][0]}."
        )
    lines += ["", note, ""]
    return lines


def criterion_rates(group):
    """Median bytes per second and seconds per iteration of each bench of a criterion group."""
    base = os.path.join(OUT, group)
    rates = {}
    for bench in sorted(os.listdir(base)):
        est = os.path.join(base, bench, "new", "estimates.json")
        meta = os.path.join(base, bench, "new", "benchmark.json")
        if not (os.path.exists(est) and os.path.exists(meta)):
            continue
        with open(est) as f:
            seconds = json.load(f)["median"]["point_estimate"] / 1e9
        with open(meta) as f:
            nbytes = json.load(f)["throughput"]["Bytes"]
        rates[bench] = (nbytes / seconds, seconds)
    return rates


def shuffle_section():
    rates = {k: r for k, (r, _) in criterion_rates("shuffle_loopback").items()}
    lines = ["### Shuffle over loopback", "", "```", "cargo bench -p weir-bench --bench shuffle", "```", ""]
    lines.append("| bench | median throughput, MiB/s |")
    lines.append("|---|---:|")
    for bench, rate in rates.items():
        lines.append(f"| {bench} | {mib(rate):.0f} |")
    if "raw_tcp_copy" in rates and "weir_fetch" in rates:
        lines.append("")
        lines.append(
            f"Weir's fetch moves blocks at **{rates['weir_fetch'] / rates['raw_tcp_copy']:.0%}** "
            "of a raw TCP copy of the same bytes between two sockets."
        )
    lines.append("")
    return lines


def ps_loopback_section():
    if not os.path.isdir(os.path.join(OUT, "ps_loopback")):
        return []
    rates = {k: r for k, (r, _) in criterion_rates("ps_loopback").items()}
    lines = ["### Parameter-server push, pull and restore over loopback", "", "```",
             "cargo bench -p weir-bench --bench ps", "```", ""]
    lines.append("| bench | median throughput, MiB/s |")
    lines.append("|---|---:|")
    for bench, rate in rates.items():
        lines.append(f"| {bench} | {mib(rate):.0f} |")
    lines.append("")
    for op in ["push", "pull"]:
        weir, raw = rates.get(f"weir_{op}"), rates.get(f"raw_tcp_copy_{op}_bytes")
        if weir and raw:
            lines.append(f"- {op}: **{weir / raw:.0%}** of a raw TCP copy of the same bytes")
    restore = criterion_rates("ps_restore").get("shard_10M") if os.path.isdir(
        os.path.join(OUT, "ps_restore")) else None
    if restore:
        lines.append(
            f"- restoring a shard of 10M parameters (AdaGrad: values and state, "
            f"{mib(restore[0] * restore[1]):.0f} MiB) from its replica's snapshot: "
            f"**{restore[1] * 1000:.0f} ms**")
    lines += ["", "A push is a batch of 2^20 keys and their gradients in the parameter "
              "server's wire format (values as raw f32; the keys as their count, since the "
              "shard was listed the same keys before: key caching), sent through the push "
              "exchange, applied by the shard where the gradients arrived, and acknowledged; "
              "a pull is the keys' count there and the values back, decoded. The raw copy "
              "moves the same bytes one way between two sockets.", ""]
    return lines


def ssp_bound(model, bsp_clocks):
    """How much sooner SSP(S) can reach the target than BSP against a trainer that stays
    slow: of the 2C updates BSP needs (C clocks, 2 trainers), the fast trainer may do S
    ahead of the slow one, once, so the target comes after (2C - S) / 2 slow clocks."""
    kind, _, stale = model.partition(":")
    if kind != "ssp" or not bsp_clocks or 2 * bsp_clocks <= int(stale):
        return "–"
    return format(bsp_clocks / (bsp_clocks - int(stale) / 2), ".2f")


def consistency_section(name, title, note, bound=False):
    if not os.path.exists(os.path.join(OUT, name, "consistency.json")):
        return []
    doc = load(name, "consistency.json")
    lines = [f"### {title}", "", "```", command(name), "```", ""]
    worker, _, factor = (doc["straggler"] or "-:1").partition(":")
    if worker == "rotate":
        factor, _, turn = factor.partition(":")
        who = f"One trainer at a time, each for {turn} clocks in turn, computes its minibatches"
    else:
        who = f"Worker {worker} computes each minibatch"
    lines.append(
        f"{who} {factor} times as slowly. Target training loss {doc['target_loss']:.4f} (5% above the lowest "
        f"loss every run reached); medians of {doc['repeat']} runs, the models taking turns. "
        + note
    )
    lines.append("")
    extra = " SSP's bound |" if bound else ""
    lines.append("| model | wall s | s to target | clocks to target | over BSP |" + extra
                 + " final loss | test accuracy | max staleness |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if bound else ""))
    bsp_clocks = next((m["median_clocks_to_target"] for m in doc["models"]
                       if m["model"] == "bsp"), None)

    def fmt(v, spec):
        return "not reached" if v is None else format(v, spec)

    for m in doc["models"]:
        runs = m["runs"]
        loss = sorted(r["loss"] for r in runs)[len(runs) // 2]
        acc = [r["test_accuracy"] for r in runs if r["test_accuracy"] is not None]
        stale = max(r["max_staleness"] or 0 for r in runs)
        lines.append(
            f"| {m['model']} | {m['median_wall_seconds']:.2f} | "
            f"{fmt(m['median_seconds_to_target'], '.3f')} | "
            f"{fmt(m['median_clocks_to_target'], '.0f')} | "
            f"{fmt(m['speedup_over_bsp'], '.2f')} | "
            + (f"{ssp_bound(m['model'], bsp_clocks)} | " if bound else "")
            + f"{loss:.4f} | "
            f"{(format(sorted(acc)[len(acc) // 2], '.4f') if acc else '–')} | {stale:.0f} |"
        )
    if bound:
        return lines + [""]
    lines += ["", f"![loss against time](figures/{name}-loss-time.svg)",
              f"![loss against clock](figures/{name}-loss-clock.svg)", ""]
    return lines


def main():
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = [
        "# Benchmarks",
        "",
        "<!-- Generated by benches/report.sh; do not edit by hand. -->",
        "",
        f"Measured {now} on revision `{revision()}`, on {machine()}.",
        "",
        "Every figure below comes from one run of `bash benches/report.sh`, which generates",
        "the inputs with `weir datasets gen`, runs the commands shown and renders this page.",
        "`weir bench compare` runs each system in a fresh process, alternating, on the same",
        "input: Weir (worker processes on loopback, one task thread each), the hand-written",
        "single-threaded baseline (`benches/src/baselines`), and the timely-dataflow or",
        "differential-dataflow peer (`benches/src/peers`) with as many worker threads. Times run",
        "from the start of reading the input to the finished result; every system's result",
        "summary is checked against the others'.",
        "",
    ]
    sections = os.path.join(OUT, "measured-sections")
    resumed = os.path.join(OUT, "resumed-at")
    if os.path.exists(sections):
        with open(sections) as f:
            named = f.read().split()
        page += [
            f"This run measured the sections {', '.join(f'`{n}`' for n in named)} "
            f"(`SECTIONS=\"{' '.join(named)}\"`); the others come from earlier runs of the "
            "script, into the same output folder.",
            "",
        ]
    elif os.path.exists(resumed):
        with open(resumed) as f:
            first, _, last = f.read().strip().partition("..")
        measured = f"from the `{first}` section to the `{last}` section (`FROM={first} UNTIL={last}`), with the Pregel script's figures" if last else f"from the `{first}` section on (`FROM={first}`)"
        page += [
            f"This run measured the sections {measured}; the others come from the previous "
            "run of the script, into the same output folder.",
            "",
        ]
    page += compare_section("wordcount", "wordcount (Zipf text)")
    page += compare_section("pagerank", "pagerank as dataflow stages, 10 iterations (R-MAT graph)")
    page += compare_section(
        "components", "connected components as dataflow stages (R-MAT graph, undirected)"
    )
    page += compare_section(
        "pagerank-pregel", "pagerank as a vertex program (Pregel), 10 iterations (R-MAT 20)"
    )
    page += compare_section(
        "components-pregel",
        "connected components as a vertex program (Pregel; local union-find first), R-MAT 20",
    )
    page += compare_section("bfs", "BFS as a vertex program (R-MAT 20, the first edge's source)")
    page += compare_section(
        "sssp", "SSSP as a vertex program (R-MAT 20 with weights, the first edge's source)"
    )
    page += compare_section("cdlp", "CDLP as a vertex program, 10 iterations (R-MAT 20)")
    page += compare_section("lcc", "LCC as a vertex program (R-MAT 20)")
    page += text_section(
        "pregel",
        "Pregel: superstep cost, checkpoint overhead, recovery",
        "Printed by `benches/pregel.sh` (run by `benches/report.sh`), medians of REPEAT rounds.",
    )
    page += compare_section("sort", "sort (100-byte records)")
    page += speedup_section("speedup-wordcount")
    page += iterations_section(
        "iterations",
        "Cost of one more iteration (pagerank, dataflow, small R-MAT graph)",
        "On a graph this small an iteration is almost all engine overhead: two stages, their "
        "task launches and results, and the value the driver sends back.",
    )
    page += iterations_section(
        "iterations-memory",
        "Memory over many iterations (pagerank, dataflow, R-MAT 16)",
        "Shuffle outputs and cached rank arrays that no later stage reads are dropped on every "
        "worker at each action, so the memory does not grow with the iterations.",
    )
    page += shuffle_section()
    page += compare_section(
        "logreg",
        "Logistic regression on the parameter server, 1M × 16 dense rows, 3 epochs, --batch 8192",
    )
    page += compare_section(
        "logreg-batch256", "The same with --batch 256 (a clock every 256 examples a trainer)"
    )
    page += consistency_section(
        "consistency",
        "Consistency models with a straggler (logreg, 1M × 16 separable dense rows)",
        "A trainer that stays slow bounds SSP: the fast trainer may lead by S clocks and no "
        "more, so SSP wins those S clocks' updates once, not a higher rate; ASP has no bound.",
    )
    page += consistency_section(
        "consistency-bound",
        "How far SSP's staleness bound reaches against a trainer that stays slow",
        "The same straggler as above, with the bound S swept. BSP needs C clocks of both "
        "trainers, 2C updates; under SSP the fast trainer runs S clocks ahead of the slow one "
        "and then at its pace, so the target comes after (2C − S) / 2 of the slow trainer's "
        "clocks: SSP's gain over BSP is at most C / (C − S/2), however slow the straggler. The "
        "measured speedups follow it; 1.5× needs S near 2C/3.",
        bound=True,
    )
    page += consistency_section(
        "consistency-rotating",
        "Consistency models with a straggler that moves (the same job)",
        "At every clock one of the two trainers is slow, each for 4 clocks in turn: BSP waits "
        "for the slow one at every clock, SSP lets the fast one run ahead and the slow one "
        "catch up when its turn ends.",
    )
    if os.path.exists(os.path.join(OUT, "ps.txt")):
        page += text_section(
            "ps",
            "Parameter server: sparse traffic, Fashion-MNIST, Spark MLlib",
            "Printed by `benches/ps.sh` (run by `benches/report.sh`), medians of REPEAT runs.",
        )
    page += ps_loopback_section()
    if os.path.exists(os.path.join(OUT, "event-log.txt")):
        page += text_section(
            "event-log",
            "Watching a run: the event log and the live web UI on wordcount 200 MB",
            "Printed by `benches/event_log_overhead.py` (run by `benches/report.sh` with 7 x "
            "REPEAT rounds): 2 worker processes, whole processes, with nothing recorded, "
            "with the event log, and with the log and the live UI, taking turns in all six "
            "orders.",
        )
    print("\n".join(page))


main()
