//! `weir bench iterations`: the cost of one more iteration of an iterative job.
//!
//! `weir bench iterations JOB [JOB ARGS] [--iterations 10,100,1000] [--workers N]
//! [--repeat R] [--systems weir,peer] [--output DIR]` runs the job with each iteration
//! count, each run a fresh process (as `weir bench compare` runs its contenders), Weir and
//! the job's timely peer taking turns within every round after a warm-up round. It fits a
//! line `seconds = fixed + slope × iterations` to the medians by least squares and prints
//! the slope in milliseconds per iteration: the per-iteration overhead of the engine when
//! the graph is small, which is what a job with thousands of iterations pays.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use serde_json::json;

use super::args;
use super::contender::{self, System};
use super::stats;
use weir_jobs::Registry;

const USAGE: &str = "usage: weir bench iterations JOB [JOB ARGS] [--iterations LIST] \
                     [--workers N] [--repeat R] [--systems weir,peer] [--output DIR]";

const HELP: &str = "\
Runs an iterative JOB (pagerank) with each iteration count on Weir and on its timely peer,
alternating, and fits the cost of one more iteration (least squares over the medians).

Options (everything else goes to the job):
      --iterations LIST  Iteration counts [default: 10,100,1000]
      --workers N        Weir workers and peer worker threads [default: 2]
      --repeat N         Measured rounds, after one warm-up round [default: 3]
      --systems LIST     Which of weir,peer to run [default: weir,peer]
      --output DIR       Write DIR/iterations.json with every run and the fits
  -h, --help             Print help";

const VALUE_OPTIONS: &[&str] = &[
    "--iterations",
    "--workers",
    "--repeat",
    "--systems",
    "--output",
];

/// Jobs with an `--iterations` argument and a peer that takes it too.
const ITERATIVE: &[&str] = &["pagerank"];

struct Options {
    job: String,
    job_args: Vec<String>,
    iterations: Vec<usize>,
    workers: usize,
    repeat: usize,
    systems: Vec<System>,
    output: Option<PathBuf>,
}

fn parse(argv: &[String]) -> anyhow::Result<Option<Options>> {
    let split = args::split(argv, VALUE_OPTIONS, &[])?;
    if split.help {
        return Ok(None);
    }
    let job = split.job_or(USAGE)?;
    if !ITERATIVE.contains(&job.as_str()) {
        bail!(
            "bench iterations knows {} (got '{job}')",
            ITERATIVE.join(", ")
        );
    }
    if split.job_args.iter().any(|a| a.starts_with("--iterations")) {
        bail!("--iterations is the bench's own list here");
    }
    let iterations = args::positive_list(
        "--iterations",
        split.value("--iterations").unwrap_or("10,100,1000"),
    )?;
    if iterations.len() < 2 {
        bail!("--iterations needs at least two counts to fit a slope");
    }
    let mut systems = Vec::new();
    for name in split.value("--systems").unwrap_or("weir,peer").split(',') {
        let s = System::parse(name.trim())?;
        if s == System::Baseline {
            bail!("bench iterations runs weir and peer, not the baseline");
        }
        if !systems.contains(&s) {
            systems.push(s);
        }
    }
    Ok(Some(Options {
        job,
        job_args: split.job_args.clone(),
        iterations,
        workers: args::positive("--workers", split.value("--workers").unwrap_or("2"))?,
        repeat: args::positive("--repeat", split.value("--repeat").unwrap_or("3"))?,
        systems,
        output: split.value("--output").map(PathBuf::from),
    }))
}

/// The least-squares line through `(x, y)`: `(intercept, slope)`.
pub fn fit_line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

/// `weir bench iterations …`
pub fn iterations_command(registry: &Registry, argv: &[String]) -> anyhow::Result<()> {
    let Some(opts) = parse(argv)? else {
        println!("{USAGE}\n\n{HELP}");
        return Ok(());
    };
    let args_for = |n: usize| {
        let mut a = opts.job_args.clone();
        a.extend(["--iterations".to_string(), n.to_string()]);
        a
    };
    for &n in &opts.iterations {
        let _checked = registry
            .parse(&opts.job, &args_for(n))
            .map_err(|e| anyhow!("{}: {e}", opts.job))?;
    }
    // seconds[system][count] over the measured rounds; the largest peak resident set of a
    // worker (or of the peer's process) and Weir's spilled bytes, likewise.
    let mut seconds = vec![vec![Vec::new(); opts.iterations.len()]; opts.systems.len()];
    let mut peak_rss = vec![vec![0u64; opts.iterations.len()]; opts.systems.len()];
    let mut spilled = vec![vec![0u64; opts.iterations.len()]; opts.systems.len()];
    let runs: Vec<(usize, usize)> = (0..opts.systems.len())
        .flat_map(|s| (0..opts.iterations.len()).map(move |i| (s, i)))
        .collect();
    for round in 0..=opts.repeat {
        eprintln!(
            "{}: {}",
            opts.job,
            if round == 0 {
                "warm-up".into()
            } else {
                format!("round {round} of {}", opts.repeat)
            }
        );
        for k in 0..runs.len() {
            let (s, i) = runs[(k + round) % runs.len()];
            let system = opts.systems[s];
            let report = contender::spawn(
                system,
                opts.workers,
                1,
                &opts.job,
                &args_for(opts.iterations[i]),
            )?;
            if round > 0 {
                seconds[s][i].push(report.seconds);
                peak_rss[s][i] = peak_rss[s][i].max(report.peak_rss_bytes);
                spilled[s][i] = spilled[s][i].max(spill_bytes(report.metrics.as_ref()));
            }
        }
    }
    let fits = report(&opts, &seconds, &peak_rss, &spilled)?;
    if let Some(dir) = &opts.output {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        let path = dir.join("iterations.json");
        let value = json!({ "job": opts.job, "args": opts.job_args, "fits": fits });
        super::write_json(&path, &value)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Prints each system's medians and fitted slope; returns them as JSON.
fn report(
    opts: &Options,
    seconds: &[Vec<Vec<f64>>],
    peak_rss: &[Vec<u64>],
    spilled: &[Vec<u64>],
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut fits = Vec::new();
    println!(
        "{:<8} {:>11} {:>10} {:>10} {:>10} {:>13} {:>10}",
        "system", "iterations", "median s", "min s", "max s", "peak RSS MiB", "spilled"
    );
    for (s, system) in opts.systems.iter().enumerate() {
        let mut points = Vec::new();
        for (i, &n) in opts.iterations.iter().enumerate() {
            let t = &seconds[s][i];
            let median = stats::median(t).context("no measured runs")?;
            points.push((n as f64, median));
            println!(
                "{:<8} {n:>11} {median:>10.3} {:>10.3} {:>10.3} {:>13.1} {:>10}",
                system.name(),
                stats::min(t).unwrap_or(0.0),
                stats::max(t).unwrap_or(0.0),
                peak_rss[s][i] as f64 / (1u64 << 20) as f64,
                spilled[s][i]
            );
        }
        let (fixed, slope) = fit_line(&points).context("fitting the line")?;
        println!(
            "{}: {:.3} ms per iteration, {:.3} s fixed (least squares over the medians)",
            system.name(),
            slope * 1e3,
            fixed
        );
        fits.push(json!({
            "system": system.name(),
            "workers": opts.workers,
            "iterations": opts.iterations,
            "seconds": seconds[s],
            "medians": points.iter().map(|p| p.1).collect::<Vec<_>>(),
            "peak_rss_bytes": peak_rss[s],
            "spill_bytes": spilled[s],
            "ms_per_iteration": slope * 1e3,
            "fixed_seconds": fixed,
        }));
    }
    Ok(fits)
}

/// The bytes a Weir run spilled to disk, from its metrics (0 for other systems).
fn spill_bytes(metrics: Option<&serde_json::Value>) -> u64 {
    metrics
        .and_then(|m| m["stages"].as_array())
        .map(|stages| {
            stages
                .iter()
                .filter_map(|s| s["spill_bytes"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_fitted_exactly() {
        let points = [(10.0, 1.02), (100.0, 1.2), (1000.0, 3.0)];
        let (fixed, slope) = fit_line(&points).unwrap();
        assert!((slope - 0.002).abs() < 1e-12 && (fixed - 1.0).abs() < 1e-9);
        assert!(fit_line(&[(5.0, 1.0)]).is_none());
        assert!(fit_line(&[(5.0, 1.0), (5.0, 2.0)]).is_none());
    }

    #[test]
    fn options_are_checked() {
        let words = |t: &str| t.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert!(parse(&words("wordcount --input x")).is_err());
        assert!(parse(&words("pagerank --edges g --iterations 10")).is_err());
        assert!(parse(&words("pagerank --edges g --systems baseline")).is_err());
        let o = parse(&words("pagerank --edges g --workers 3"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (o.iterations, o.workers, o.systems.len()),
            (vec![10, 100, 1000], 3, 2)
        );
    }
}
