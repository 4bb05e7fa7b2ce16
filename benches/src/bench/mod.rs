//! `weir bench`: measured scaling of a job.
//!
//! `weir bench speedup JOB [JOB ARGS] --workers 1,2,4 --repeat R [--threads T] [--output DIR]
//! [--weak]` runs the job on each worker count (one warm-up run, then R measured runs),
//! prints the speedup table and Amdahl's serial fraction fitted to the medians, and with
//! `--output` writes everything, every run's metrics included, to `DIR/bench.json`.
//!
//! With `--weak` the work grows with the worker count: every `{p}` in the job's arguments
//! is replaced by the worker count of the run (an input `text-{p}.txt` prepared by the
//! user, say), and the scaled speedup `p · t1 / tp` and Gustafson's law replace Amdahl's.

mod args;
pub mod compare;
pub mod consistency;
pub mod contender;
mod graph_baselines;
pub mod iterations;
mod loss_curve;
pub mod plot;
pub mod stats;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use serde_json::{json, Map, Value};
use weir_engine::JobMetrics;

use crate::Host;
use stats::{Row, Table};

/// Worker counts the fitted laws are extrapolated to.
const PREDICT_AT: [usize; 3] = [8, 64, 1024];

/// The placeholder `--weak` replaces by the worker count.
const P_TOKEN: &str = "{p}";

const USAGE: &str = "usage: weir bench speedup JOB [JOB ARGS] --workers LIST [--repeat N] \
                     [--threads T] [--output DIR] [--weak]";

const HELP: &str = "\
Runs JOB on each worker count and reports speedup, efficiency and the Karp-Flatt serial
fraction, with Amdahl's law fitted to the medians.

Options (everything else goes to the job):
      --workers LIST  Comma-separated worker counts, including 1 (the baseline)
      --repeat N      Measured runs per worker count, after one warm-up run [default: 3]
      --threads T     Task threads per worker [default: 1]
      --output DIR    Write DIR/bench.json with every run's metrics
      --weak          Weak scaling: replace {p} in the job arguments by the worker count
                      and report the scaled speedup and Gustafson's law
  -h, --help          Print help";

/// `weir bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Strong (or with --weak, weak) scaling of a job over worker counts:
    /// `weir bench speedup JOB [JOB ARGS] --workers 1,2,4 [--repeat R] [--threads T]
    /// [--output DIR] [--weak]`.
    #[command(disable_help_flag = true)]
    Speedup {
        /// The job and its arguments, mixed with the bench options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Weir against its single-threaded baseline and a timely/differential peer on the
    /// same input: `weir bench compare JOB [JOB ARGS] [--workers 1,2] [--repeat R]
    /// [--output DIR]`.
    #[command(disable_help_flag = true)]
    Compare {
        /// The job and its arguments, mixed with the compare options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// The cost of one more iteration of an iterative job, on Weir and its timely peer:
    /// `weir bench iterations pagerank [JOB ARGS] [--iterations 10,100,1000] [--workers N]
    /// [--repeat R] [--output DIR]`.
    #[command(disable_help_flag = true)]
    Iterations {
        /// The job and its arguments, mixed with the bench options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// A parameter-server job under each consistency model, and how soon each reaches a
    /// target loss: `weir bench consistency JOB [JOB ARGS] --models bsp,ssp:2,ssp:8,asp
    /// [--straggler W:F] [--workers N] [--repeat R] [--target-loss X] [--output DIR]`.
    #[command(disable_help_flag = true)]
    Consistency {
        /// The job and its arguments, mixed with the bench options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Runs one system of a comparison once and prints its report (used by compare).
    #[command(hide = true, disable_help_flag = true)]
    Contender {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

/// What `weir bench speedup` was asked to do.
#[derive(Debug, Clone, PartialEq)]
struct SpeedupOptions {
    job: String,
    job_args: Vec<String>,
    /// Sorted, without repeats; the first is 1.
    workers: Vec<usize>,
    repeat: usize,
    threads: usize,
    output: Option<PathBuf>,
    weak: bool,
}

/// The parsed command line: help, or a benchmark to run.
#[derive(Debug, Clone, PartialEq)]
enum Parsed {
    Help,
    Speedup(SpeedupOptions),
}

const VALUE_OPTIONS: &[&str] = &["--workers", "--repeat", "--threads", "--output"];

fn parse_workers(text: &str) -> anyhow::Result<Vec<usize>> {
    let list = args::positive_list("--workers", text)?;
    if list.first() != Some(&1) {
        bail!("--workers must include 1, the baseline of the speedups (got '{text}')");
    }
    Ok(list)
}

/// Splits `weir bench speedup` arguments into the job, its arguments and the bench options,
/// the way `weir run` splits its own.
fn parse_speedup_args(args: &[String]) -> anyhow::Result<Parsed> {
    let split = args::split(args, VALUE_OPTIONS, &["--weak"])?;
    if split.help {
        return Ok(Parsed::Help);
    }
    let weak = split.flag("--weak");
    let job = split.job_or(USAGE)?;
    let mut opts = SpeedupOptions {
        job,
        job_args: split.job_args.clone(),
        workers: Vec::new(),
        repeat: 3,
        threads: 1,
        output: None,
        weak,
    };
    for (name, value) in &split.values {
        match name.as_str() {
            "--workers" => opts.workers = parse_workers(value)?,
            "--repeat" => opts.repeat = args::positive("--repeat", value)?,
            "--threads" => opts.threads = args::positive("--threads", value)?,
            _ => opts.output = Some(PathBuf::from(value)),
        }
    }
    if opts.workers.is_empty() {
        bail!("--workers LIST is required (like --workers 1,2,4)");
    }
    if weak && !opts.job_args.iter().any(|a| a.contains(P_TOKEN)) {
        bail!("--weak needs {P_TOKEN} in the job arguments (like --input text-{P_TOKEN}.txt), replaced by the worker count");
    }
    Ok(Parsed::Speedup(opts))
}

/// The job arguments for a run on `p` workers.
fn job_args_for(opts: &SpeedupOptions, p: usize) -> Vec<String> {
    if opts.weak {
        opts.job_args
            .iter()
            .map(|a| a.replace(P_TOKEN, &p.to_string()))
            .collect()
    } else {
        opts.job_args.clone()
    }
}

/// One worker count's measured runs.
struct Runs {
    workers: usize,
    args: Vec<String>,
    metrics: Vec<JobMetrics>,
}

impl Runs {
    fn seconds(&self) -> Vec<f64> {
        self.metrics.iter().map(|m| m.wall_seconds).collect()
    }

    /// The run whose time is the median (the lower middle one for an even count).
    fn median_run(&self) -> Option<&JobMetrics> {
        let mut by_time: Vec<&JobMetrics> = self.metrics.iter().collect();
        by_time.sort_by(|a, b| a.wall_seconds.total_cmp(&b.wall_seconds));
        by_time.get(by_time.len().saturating_sub(1) / 2).copied()
    }
}

/// `weir bench …`
pub fn bench_command(host: &Host, command: BenchCommand) -> anyhow::Result<()> {
    let args = match command {
        BenchCommand::Speedup { args } => args,
        BenchCommand::Compare { args } => return compare::compare_command(host.registry, &args),
        BenchCommand::Contender { args } => return contender::contender_command(host, &args),
        BenchCommand::Consistency { args } => return consistency::consistency_command(host, &args),
        BenchCommand::Iterations { args } => {
            return iterations::iterations_command(host.registry, &args)
        }
    };
    match parse_speedup_args(&args)? {
        Parsed::Help => {
            println!("{USAGE}\n\n{HELP}");
            Ok(())
        }
        Parsed::Speedup(opts) => speedup(host, &opts),
    }
}

fn speedup(host: &Host, opts: &SpeedupOptions) -> anyhow::Result<()> {
    let registry = host.registry;
    if registry.command(&opts.job).is_none() {
        bail!("unknown job '{}' (see 'weir jobs')", opts.job);
    }
    // Check the arguments of every run before the first one starts.
    for &p in &opts.workers {
        let _checked = registry
            .parse(&opts.job, &job_args_for(opts, p))
            .map_err(|e| anyhow!("{}: {e}", opts.job))?;
    }
    if let Some(dir) = &opts.output {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }

    let mut all = Vec::new();
    for &p in &opts.workers {
        let args = job_args_for(opts, p);
        eprintln!(
            "{}: {p} worker(s): 1 warm-up + {} run(s)",
            opts.job, opts.repeat
        );
        host.run(&opts.job, &args, p, opts.threads)
            .with_context(|| format!("warm-up run on {p} worker(s)"))?;
        let mut metrics = Vec::with_capacity(opts.repeat);
        for r in 0..opts.repeat {
            let m = host
                .run(&opts.job, &args, p, opts.threads)
                .with_context(|| format!("run {} on {p} worker(s)", r + 1))?;
            metrics.push(m);
        }
        all.push(Runs {
            workers: p,
            args,
            metrics,
        });
    }

    let t1 =
        stats::median(&all[0].seconds()).ok_or_else(|| anyhow!("no measured runs on 1 worker"))?;
    if t1 <= 0.0 {
        bail!("the runs on 1 worker took no measurable time");
    }
    let mut rows = Vec::new();
    for runs in &all {
        let seconds = runs.seconds();
        if seconds.iter().any(|&s| s <= 0.0) {
            bail!(
                "a run on {} worker(s) took no measurable time",
                runs.workers
            );
        }
        let row = Row::new(runs.workers, &seconds, t1, opts.weak)
            .ok_or_else(|| anyhow!("no measured runs on {} worker(s)", runs.workers))?;
        rows.push(row);
    }
    let table = Table {
        rows,
        weak: opts.weak,
    };
    let points: Vec<(usize, f64)> = table.rows.iter().map(|r| (r.workers, r.speedup)).collect();

    let scaling = if opts.weak { "weak" } else { "strong" };
    println!(
        "{} ({scaling} scaling, {} thread(s) per worker, median of {} run(s))",
        opts.job, opts.threads, opts.repeat
    );
    print!("{}", table.render());
    let law = if opts.weak {
        gustafson_summary(&points)
    } else {
        amdahl_summary(&points)
    };

    let breakdown: Vec<plot::Breakdown> = all
        .iter()
        .map(|r| breakdown_of(r.median_run(), opts.threads))
        .collect();
    print_breakdown(breakdown.last());

    if let Some(dir) = &opts.output {
        let serial_fraction = law.1.get("serial_fraction").and_then(Value::as_f64);
        let doc = bench_json(opts, &all, &table, law);
        let path = dir.join("bench.json");
        write_json(&path, &doc)?;
        eprintln!("wrote {}", path.display());
        let points: Vec<plot::ScalingPoint> = table
            .rows
            .iter()
            .map(|r| plot::ScalingPoint {
                workers: r.workers,
                median: r.median,
                min: r.min,
                max: r.max,
                speedup: r.speedup,
                efficiency: r.efficiency,
            })
            .collect();
        let title = format!("{} ({scaling} scaling)", opts.job);
        let figures = plot::Figures {
            title: &title,
            points: &points,
            serial_fraction,
            weak: opts.weak,
            breakdown: &breakdown,
        };
        for path in plot::draw_all(dir, &figures)? {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// Where the slot-seconds of one run went, stage by stage.
fn breakdown_of(run: Option<&JobMetrics>, threads: usize) -> plot::Breakdown {
    let Some(m) = run else {
        return plot::Breakdown {
            workers: 0,
            stages: Vec::new(),
        };
    };
    let slots = m.workers.max(1) * threads.max(1);
    let stages = m
        .stages
        .iter()
        .map(|s| {
            let b = s.time_breakdown(slots);
            plot::StageTime {
                name: s.name.clone(),
                compute: b.compute,
                shuffle_write: b.shuffle_write,
                shuffle_read: b.shuffle_read,
                idle: b.idle,
            }
        })
        .collect();
    plot::Breakdown {
        workers: m.workers,
        stages,
    }
}

/// Prints where the time went in the median run on the most workers.
fn print_breakdown(b: Option<&plot::Breakdown>) {
    let Some(b) = b.filter(|b| !b.stages.is_empty()) else {
        return;
    };
    println!(
        "where the time went on {} worker(s) (slot-seconds, median run):",
        b.workers
    );
    println!(
        "  {:<44} {:>9} {:>9} {:>9} {:>9}",
        "stage", "compute", "shuf.wr", "shuf.rd", "idle"
    );
    for s in &b.stages {
        println!(
            "  {:<44} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            s.name.chars().take(44).collect::<String>(),
            s.compute,
            s.shuffle_write,
            s.shuffle_read,
            s.idle
        );
    }
}

/// Prints Amdahl's fit and returns it as JSON (`null` without a point above 1 worker).
fn amdahl_summary(points: &[(usize, f64)]) -> (&'static str, Value) {
    let Some(f) = stats::amdahl_fit(points) else {
        println!("Amdahl: no fit (needs a worker count above 1)");
        return ("amdahl", Value::Null);
    };
    let mut predicted = Map::new();
    let mut text = Vec::new();
    for p in PREDICT_AT {
        let s = stats::amdahl_predict(f, p);
        predicted.insert(p.to_string(), json!(s));
        text.push(format!("{s:.2} at {p}"));
    }
    println!(
        "Amdahl: serial fraction {f:.4}; predicted speedup {}",
        text.join(", ")
    );
    (
        "amdahl",
        json!({ "serial_fraction": f, "predicted": predicted }),
    )
}

/// Prints Gustafson's fit to the scaled speedups and returns it as JSON.
fn gustafson_summary(points: &[(usize, f64)]) -> (&'static str, Value) {
    let measured: Map<String, Value> = points
        .iter()
        .map(|&(p, s)| (p.to_string(), json!(s)))
        .collect();
    let Some(f) = stats::gustafson_fit(points) else {
        println!("Gustafson: no fit (needs a worker count above 1)");
        return (
            "gustafson",
            json!({ "scaled_speedup": measured, "serial_fraction": null }),
        );
    };
    let mut predicted = Map::new();
    let mut text = Vec::new();
    for p in PREDICT_AT {
        let s = stats::gustafson_scaled_speedup(p, f);
        predicted.insert(p.to_string(), json!(s));
        text.push(format!("{s:.2} at {p}"));
    }
    println!(
        "Gustafson: serial fraction {f:.4}; predicted scaled speedup {}",
        text.join(", ")
    );
    (
        "gustafson",
        json!({ "scaled_speedup": measured, "serial_fraction": f, "predicted": predicted }),
    )
}

fn bench_json(
    opts: &SpeedupOptions,
    all: &[Runs],
    table: &Table,
    (law_name, law): (&str, Value),
) -> Value {
    let runs: Vec<Value> = all
        .iter()
        .map(|r| {
            let metrics: Vec<Value> = r
                .metrics
                .iter()
                .map(|m| serde_json::to_value(m).unwrap_or(Value::Null))
                .collect();
            json!({
                "workers": r.workers,
                "args": r.args,
                "seconds": r.seconds(),
                "metrics": metrics,
            })
        })
        .collect();
    let rows: Vec<Value> = table
        .rows
        .iter()
        .map(|r| {
            json!({
                "workers": r.workers,
                "median_seconds": r.median,
                "min_seconds": r.min,
                "max_seconds": r.max,
                "speedup": r.speedup,
                "efficiency": r.efficiency,
                "karp_flatt": r.karp_flatt,
            })
        })
        .collect();
    let mut doc = json!({
        "job": opts.job,
        "args": opts.job_args,
        "threads": opts.threads,
        "repeat": opts.repeat,
        "weak": opts.weak,
        "workers": opts.workers,
        "runs": runs,
        "table": rows,
    });
    if let Value::Object(map) = &mut doc {
        map.insert(law_name.to_string(), law);
    }
    doc
}

/// Writes `value` as pretty JSON atomically.
fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(&tmp, text).with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, path).with_context(|| path.display().to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    fn parse(text: &str) -> anyhow::Result<SpeedupOptions> {
        match parse_speedup_args(&args(text))? {
            Parsed::Speedup(o) => Ok(o),
            Parsed::Help => panic!("unexpected help"),
        }
    }

    #[test]
    fn splits_job_and_bench_options() {
        let o =
            parse("wordcount --input x.txt --workers 4,1,2,2 --repeat=5 --threads 2 --output out")
                .unwrap();
        assert_eq!(o.job, "wordcount");
        assert_eq!(o.job_args, args("--input x.txt"));
        assert_eq!(o.workers, vec![1, 2, 4]);
        assert_eq!((o.repeat, o.threads, o.weak), (5, 2, false));
        assert_eq!(o.output, Some(PathBuf::from("out")));
        let d = parse("wordcount --workers=1").unwrap();
        assert_eq!((d.repeat, d.threads, d.output), (3, 1, None));
    }

    #[test]
    fn rejects_bad_options() {
        for (text, needle) in [
            ("wordcount --workers 0,x", "'0' is not a positive integer"),
            ("wordcount --workers 1,x", "'x' is not a positive integer"),
            ("wordcount --workers 2,4", "must include 1"),
            ("wordcount --workers", "needs a value"),
            ("wordcount", "--workers LIST is required"),
            ("wordcount --workers 1 --repeat 0", "--repeat"),
            ("wordcount --workers 1 --threads -1", "--threads"),
            ("--workers 1", "which job?"),
            ("wordcount --input a.txt --workers 1,2 --weak", "{p}"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
            assert!(!e.contains('\n'), "{text}: {e}");
        }
    }

    #[test]
    fn weak_replaces_the_worker_token() {
        let o = parse("wordcount --input text-{p}.txt --workers 1,2 --weak").unwrap();
        assert!(o.weak);
        assert_eq!(job_args_for(&o, 2), args("--input text-2.txt"));
        assert_eq!(job_args_for(&o, 1), args("--input text-1.txt"));
    }

    #[test]
    fn help() {
        assert_eq!(
            parse_speedup_args(&args("wordcount --help")).unwrap(),
            Parsed::Help
        );
    }
}
