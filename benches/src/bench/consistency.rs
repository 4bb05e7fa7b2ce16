//! `weir bench consistency`: one parameter-server job under each consistency model, side
//! by side, optionally with a straggler, and how soon each reaches a target loss.
//!
//! `weir bench consistency JOB [JOB ARGS] --models bsp,ssp:2,ssp:8,asp [--straggler W:F |
//! rotate:F:K]
//! [--workers N] [--threads T] [--repeat R] [--target-loss X] [--output DIR]` runs the job
//! R times under each model (the models taking turns, so drift in the machine's speed
//! falls on all of them alike), reads the loss curve its trainers reported, and prints
//! for each model the median seconds and clocks to the target loss and the speedup over
//! BSP. The target is `--target-loss`, or else 5% above the lowest loss every run
//! reaches. With `--output` it writes `consistency.json` (every run's curves) and the
//! figures `loss-time` and `loss-clock` as SVG and PNG.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use weir_operators::ps::Consistency;

use super::loss_curve::{self, TrainerPoint};
use super::{args, plot, stats, write_json};
use crate::Host;

const USAGE: &str = "usage: weir bench consistency JOB [JOB ARGS] --models LIST \
                     [--straggler W:F] [--workers N] [--threads T] [--repeat R] \
                     [--target-loss X] [--output DIR]";

const HELP: &str = "\
Runs a parameter-server job under each consistency model and reports how soon each
reaches a target training loss, in seconds and in clocks.

Options (everything else goes to the job):
      --models LIST      Comma-separated models: bsp, ssp:S, asp [default: bsp,ssp:2,ssp:8,asp]
      --straggler W:F    Slow worker W's trainers by factor F; rotate:F:K slows one
                         trainer at a time by F, each for K clocks in turn
      --workers N        Worker processes [default: 2]
      --threads T        Task threads per worker [default: 1]
      --repeat R         Runs per model, the models taking turns [default: 3]
      --target-loss X    The target training loss [default: 5% above the lowest loss
                         every run reaches]
      --output DIR       Write DIR/consistency.json and the loss figures (SVG and PNG)
  -h, --help             Print help";

const VALUE_OPTIONS: &[&str] = &[
    "--models",
    "--straggler",
    "--workers",
    "--threads",
    "--repeat",
    "--target-loss",
    "--output",
];

/// Above the lowest loss every run reaches, the default target.
const DEFAULT_TARGET_MARGIN: f64 = 1.05;

/// What `weir bench consistency` was asked to do.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    job: String,
    job_args: Vec<String>,
    models: Vec<String>,
    straggler: Option<String>,
    workers: usize,
    threads: usize,
    repeat: usize,
    target: Option<f64>,
    output: Option<PathBuf>,
}

fn parse(argv: &[String]) -> anyhow::Result<Option<Options>> {
    let split = args::split(argv, VALUE_OPTIONS, &[])?;
    if split.help {
        return Ok(None);
    }
    let job = split.job_or(USAGE)?;
    for own in ["--consistency", "--straggler"] {
        if split
            .job_args
            .iter()
            .any(|a| a.split('=').next() == Some(own))
        {
            bail!("{own} is the bench's to set (--models, --straggler), not the job's");
        }
    }
    let mut opts = Options {
        job,
        job_args: split.job_args.clone(),
        models: ["bsp", "ssp:2", "ssp:8", "asp"].map(String::from).to_vec(),
        straggler: None,
        workers: 2,
        threads: 1,
        repeat: 3,
        target: None,
        output: None,
    };
    for (name, value) in &split.values {
        match name.as_str() {
            "--models" => opts.models = parse_models(value)?,
            "--straggler" => opts.straggler = Some(value.clone()),
            "--workers" => opts.workers = args::positive("--workers", value)?,
            "--threads" => opts.threads = args::positive("--threads", value)?,
            "--repeat" => opts.repeat = args::positive("--repeat", value)?,
            "--target-loss" => {
                let t: f64 = value
                    .parse()
                    .ok()
                    .filter(|t: &f64| t.is_finite() && *t > 0.0)
                    .ok_or_else(|| anyhow!("--target-loss: '{value}' is not a positive number"))?;
                opts.target = Some(t);
            }
            _ => opts.output = Some(PathBuf::from(value)),
        }
    }
    // A rotating straggler (`rotate:F:K`) is checked by the job's own parser.
    if let Some(s) = opts
        .straggler
        .as_ref()
        .filter(|s| !s.starts_with("rotate:"))
    {
        let worker = s
            .split_once(':')
            .and_then(|(w, _)| w.parse::<usize>().ok())
            .ok_or_else(|| anyhow!("--straggler: '{s}' is not WORKER:FACTOR"))?;
        if worker >= opts.workers {
            bail!(
                "--straggler: worker {worker} is not among the {} worker(s)",
                opts.workers
            );
        }
    }
    Ok(Some(opts))
}

/// The models, each checked by the job's own parser of `--consistency`.
fn parse_models(text: &str) -> anyhow::Result<Vec<String>> {
    let mut models = Vec::new();
    for m in text.split(',').map(str::trim) {
        Consistency::from_str(m).map_err(|e| anyhow!("--models: {e}"))?;
        if !models.iter().any(|x| x == m) {
            models.push(m.to_string());
        }
    }
    Ok(models)
}

/// One run of one model.
struct Run {
    wall_seconds: f64,
    result: serde_json::Map<String, Value>,
    by_time: Vec<(f64, f64)>,
    by_clock: Vec<(f64, f64)>,
}

impl Run {
    fn figure(&self, name: &str) -> Option<f64> {
        self.result.get(name).and_then(Value::as_f64)
    }
}

/// `weir bench consistency …`
pub fn consistency_command(host: &Host, argv: &[String]) -> anyhow::Result<()> {
    let Some(opts) = parse(argv)? else {
        println!("{USAGE}\n\n{HELP}");
        return Ok(());
    };
    if host.registry.command(&opts.job).is_none() {
        bail!("unknown job '{}' (see 'weir jobs')", opts.job);
    }
    for model in &opts.models {
        let _checked = host
            .registry
            .parse(&opts.job, &job_args(&opts, model))
            .map_err(|e| anyhow!("{}: {e}", opts.job))?;
    }
    let mut runs: Vec<Vec<Run>> = opts.models.iter().map(|_| Vec::new()).collect();
    if opts.repeat > 1 {
        eprintln!("{}: warm-up run", opts.job);
        host.run(
            &opts.job,
            &job_args(&opts, &opts.models[0]),
            opts.workers,
            opts.threads,
        )
        .context("warm-up run")?;
    }
    for round in 0..opts.repeat {
        for (m, model) in opts.models.iter().enumerate() {
            eprintln!(
                "{}: {model}, run {} of {}",
                opts.job,
                round + 1,
                opts.repeat
            );
            let metrics = host
                .run(
                    &opts.job,
                    &job_args(&opts, model),
                    opts.workers,
                    opts.threads,
                )
                .with_context(|| format!("{model}, run {}", round + 1))?;
            let points: Vec<TrainerPoint> = loss_curve::from_result(&metrics.result);
            if points.is_empty() {
                bail!(
                    "{} reported no loss curve: is it a parameter-server job?",
                    opts.job
                );
            }
            runs[m].push(Run {
                wall_seconds: metrics.wall_seconds,
                by_time: loss_curve::by_time(&points),
                by_clock: loss_curve::by_clock(&points),
                result: metrics.result,
            });
        }
    }
    let target = match opts.target {
        Some(t) => t,
        None => default_target(&runs)?,
    };
    let summaries: Vec<Summary> = runs.iter().map(|r| Summary::of(r, target)).collect();
    print_table(&opts, &summaries, target);
    if let Some(dir) = &opts.output {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        let path = dir.join("consistency.json");
        write_json(&path, &report_json(&opts, &runs, &summaries, target))?;
        eprintln!("wrote {}", path.display());
        let curves: Vec<plot::ModelCurve> = opts
            .models
            .iter()
            .zip(&runs)
            .zip(&summaries)
            .map(|((name, runs), s)| {
                let run = &runs[s.representative];
                plot::ModelCurve {
                    name: name.clone(),
                    by_time: run.by_time.clone(),
                    by_clock: run.by_clock.clone(),
                }
            })
            .collect();
        let title = match &opts.straggler {
            Some(s) => format!("{} (straggler {s})", opts.job),
            None => opts.job.clone(),
        };
        for path in plot::draw_curves(dir, &title, &curves, Some(target))? {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// The job's arguments under `model`.
fn job_args(opts: &Options, model: &str) -> Vec<String> {
    let mut a = opts.job_args.clone();
    a.extend(["--consistency".to_string(), model.to_string()]);
    if let Some(s) = &opts.straggler {
        a.extend(["--straggler".to_string(), s.clone()]);
    }
    a
}

/// 5% above the lowest loss every run reaches.
fn default_target(runs: &[Vec<Run>]) -> anyhow::Result<f64> {
    let lowest = runs
        .iter()
        .flatten()
        .map(|r| loss_curve::lowest(&r.by_time))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| anyhow!("a run's loss curve is empty"))?;
    let every_run = lowest.into_iter().fold(f64::MIN, f64::max);
    Ok(every_run * DEFAULT_TARGET_MARGIN)
}

/// One model's runs, reduced.
struct Summary {
    seconds_to_target: Vec<Option<f64>>,
    clocks_to_target: Vec<Option<f64>>,
    /// The median over the runs that reached the target (none if one did not).
    median_seconds: Option<f64>,
    median_clocks: Option<f64>,
    median_wall: f64,
    /// The run whose curves are drawn: the median one by seconds to the target.
    representative: usize,
}

impl Summary {
    fn of(runs: &[Run], target: f64) -> Summary {
        let seconds: Vec<Option<f64>> = runs
            .iter()
            .map(|r| loss_curve::first_reaching(&r.by_time, target))
            .collect();
        let clocks: Vec<Option<f64>> = runs
            .iter()
            .map(|r| loss_curve::first_reaching(&r.by_clock, target))
            .collect();
        let all = |v: &[Option<f64>]| v.iter().copied().collect::<Option<Vec<f64>>>();
        let median_seconds = all(&seconds).and_then(|v| stats::median(&v));
        let walls: Vec<f64> = runs.iter().map(|r| r.wall_seconds).collect();
        let mut order: Vec<usize> = (0..runs.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |i: usize| seconds[i].unwrap_or(f64::INFINITY);
            key(a).total_cmp(&key(b))
        });
        Summary {
            median_clocks: all(&clocks).and_then(|v| stats::median(&v)),
            median_seconds,
            median_wall: stats::median(&walls).unwrap_or(0.0),
            representative: order[order.len().saturating_sub(1) / 2],
            seconds_to_target: seconds,
            clocks_to_target: clocks,
        }
    }
}

/// The speedup of each model's time to the target over BSP's (the first model's when
/// BSP is not among them).
fn speedups(opts: &Options, summaries: &[Summary]) -> Vec<Option<f64>> {
    let base = opts
        .models
        .iter()
        .position(|m| Consistency::from_str(m) == Ok(Consistency::Bsp))
        .unwrap_or(0);
    let base = summaries[base].median_seconds;
    summaries
        .iter()
        .map(|s| match (base, s.median_seconds) {
            (Some(b), Some(t)) if t > 0.0 => Some(b / t),
            _ => None,
        })
        .collect()
}

fn print_table(opts: &Options, summaries: &[Summary], target: f64) {
    let straggler = opts
        .straggler
        .as_deref()
        .map_or(String::new(), |s| format!(", straggler {s}"));
    println!(
        "{} on {} worker(s){straggler}: median of {} run(s), target loss {target:.6}",
        opts.job, opts.workers, opts.repeat
    );
    println!(
        "{:<8} {:>10} {:>16} {:>16} {:>10}",
        "model", "wall s", "s to target", "clocks to target", "vs bsp"
    );
    let show = |v: Option<f64>, digits: usize| {
        v.map_or("not reached".to_string(), |v| format!("{v:.digits$}"))
    };
    for ((model, s), speedup) in opts
        .models
        .iter()
        .zip(summaries)
        .zip(speedups(opts, summaries))
    {
        println!(
            "{model:<8} {:>10.2} {:>16} {:>16} {:>10}",
            s.median_wall,
            show(s.median_seconds, 3),
            show(s.median_clocks, 0),
            speedup.map_or("-".to_string(), |v| format!("{v:.2}x")),
        );
    }
}

fn report_json(opts: &Options, runs: &[Vec<Run>], summaries: &[Summary], target: f64) -> Value {
    let speedups = speedups(opts, summaries);
    let models: Vec<Value> = opts
        .models
        .iter()
        .enumerate()
        .map(|(m, model)| {
            let s = &summaries[m];
            let runs: Vec<Value> = runs[m]
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    json!({
                        "wall_seconds": r.wall_seconds,
                        "seconds_to_target": s.seconds_to_target[i],
                        "clocks_to_target": s.clocks_to_target[i],
                        "loss": r.figure("loss"),
                        "test_accuracy": r.figure("test_accuracy"),
                        "max_staleness": r.figure("max_staleness"),
                        "loss_by_time": r.by_time,
                        "loss_by_clock": r.by_clock,
                    })
                })
                .collect();
            json!({
                "model": model,
                "median_seconds_to_target": s.median_seconds,
                "median_clocks_to_target": s.median_clocks,
                "median_wall_seconds": s.median_wall,
                "speedup_over_bsp": speedups[m],
                "runs": runs,
            })
        })
        .collect();
    json!({
        "job": opts.job,
        "job_args": opts.job_args,
        "workers": opts.workers,
        "threads": opts.threads,
        "straggler": opts.straggler,
        "repeat": opts.repeat,
        "target_loss": target,
        "target_given": opts.target.is_some(),
        "models": models,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn options_parse_and_bad_ones_are_refused() {
        let o = parse(&words(
            "logreg --input a --models bsp,ssp:4,bsp --straggler 1:3",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(o.models, ["bsp", "ssp:4"]);
        assert_eq!(o.job_args, words("--input a"));
        assert_eq!(
            job_args(&o, "ssp:4"),
            words("--input a --consistency ssp:4 --straggler 1:3")
        );
        assert_eq!((o.workers, o.repeat, o.target), (2, 3, None));
        assert!(parse(&words("logreg --models bsp,ssp:x")).is_err());
        assert!(parse(&words("logreg --straggler 2:3")).is_err());
        assert!(parse(&words("logreg --straggler rotate:3:4")).is_ok());
        assert!(parse(&words("logreg --consistency asp")).is_err());
        assert!(parse(&words("logreg --target-loss -1")).is_err());
        assert!(parse(&words("--models bsp")).is_err());
        assert!(parse(&words("logreg --help")).unwrap().is_none());
    }

    fn run(curve: &[(f64, f64)]) -> Run {
        Run {
            wall_seconds: 1.0,
            result: serde_json::Map::new(),
            by_time: curve.to_vec(),
            by_clock: curve.iter().map(|(x, y)| (x * 10.0, *y)).collect(),
        }
    }

    #[test]
    fn the_target_and_the_times_to_it() {
        let slow = [(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)];
        let fast = [(1.0, 0.5), (2.0, 0.3)];
        let runs = vec![vec![run(&slow), run(&slow)], vec![run(&fast)]];
        let target = default_target(&runs).unwrap();
        assert!((target - 0.42).abs() < 1e-12, "{target}");
        let s = Summary::of(&runs[0], target);
        assert_eq!((s.median_seconds, s.median_clocks), (Some(3.0), Some(30.0)));
        let f = Summary::of(&runs[1], target);
        assert_eq!(f.median_seconds, Some(2.0));
        let opts = parse(&words("logreg --models bsp,asp")).unwrap().unwrap();
        assert_eq!(speedups(&opts, &[s, f]), vec![Some(1.0), Some(1.5)]);
        // A run that never reaches the target leaves its model without a median.
        let never = Summary::of(&[run(&slow), run(&[(1.0, 0.9)])], target);
        assert_eq!(never.median_seconds, None);
    }
}
