//! `weir bench compare`: Weir against the single-threaded baseline and a peer system on
//! the same input, in one invocation.
//!
//! `weir bench compare JOB [JOB ARGS] [--workers 1,2] [--peer-workers LIST] [--repeat R]
//! [--threads T] [--systems weir,baseline,peer] [--output DIR]` runs every contender (Weir
//! at each worker count, the baseline, the peer at each of its worker counts) once per
//! round, each in a fresh process (see [`super::contender`]). The first round is a
//! warm-up; in each later round the contenders start from a different one, so a slow
//! spell of the machine does not always hit the same system. Every run's result summary
//! must agree with the baseline's, or the comparison fails.
//!
//! It prints each contender's median, min and max seconds and peak resident set, the
//! ratios pair by pair, and the COST figure of McSherry, Isard and Murray: the fewest
//! workers at which Weir beats the single thread, or "not reached".

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Map, Value};

use super::args;
use super::contender::{self, ContenderReport, System, COMPARABLE};
use super::stats;
use weir_jobs::Registry;

const USAGE: &str = "usage: weir bench compare JOB [JOB ARGS] [--workers LIST] \
                     [--peer-workers LIST] [--repeat N] [--threads T] [--systems LIST] \
                     [--output DIR]";

const HELP: &str = "\
Runs JOB on Weir, on its single-threaded baseline and on its timely/differential-dataflow
peer, alternating, on the same input, and prints the times, the ratios and the COST figure
(the fewest workers at which Weir beats one thread). Jobs: wordcount, pagerank (peer:
timely), components (peer: differential-dataflow); sort, bfs, sssp, cdlp, lcc, logreg (no
peer; logreg's results agree when their test accuracies are within 0.005).

Options (everything else goes to the job):
      --workers LIST       Weir worker counts [default: 1,2]
      --peer-workers LIST  Peer worker threads [default: the Weir worker counts]
      --repeat N           Measured rounds, after one warm-up round [default: 3]
      --threads T          Task threads per Weir worker [default: 1]
      --systems LIST       Which of weir,baseline,peer to run [default: all]
      --output DIR         Write DIR/compare.json with every run
  -h, --help               Print help";

const VALUE_OPTIONS: &[&str] = &[
    "--workers",
    "--peer-workers",
    "--repeat",
    "--threads",
    "--systems",
    "--output",
];

/// Relative difference allowed between two systems' floating-point result figures.
const FIGURE_TOLERANCE: f64 = 1e-6;

/// Difference allowed between two trained models' accuracies (figures named `*accuracy`):
/// their minibatches differ, so they agree on what they learnt, not bit for bit.
const ACCURACY_TOLERANCE: f64 = 0.005;

/// What `weir bench compare` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    pub job: String,
    pub job_args: Vec<String>,
    pub workers: Vec<usize>,
    pub peer_workers: Vec<usize>,
    pub repeat: usize,
    pub threads: usize,
    pub systems: Vec<System>,
    pub output: Option<PathBuf>,
}

/// Parses the command line; `None` for `--help`.
pub fn parse_compare_args(argv: &[String]) -> anyhow::Result<Option<CompareOptions>> {
    let split = args::split(argv, VALUE_OPTIONS, &[])?;
    if split.help {
        return Ok(None);
    }
    let job = split.job_or(USAGE)?;
    let Some((_, peer)) = COMPARABLE.iter().find(|(j, _)| *j == job) else {
        bail!(
            "compare has no baseline for '{job}' (it knows: {})",
            contender::comparable_list()
        );
    };
    let workers = match split.value("--workers") {
        Some(v) => args::positive_list("--workers", v)?,
        None => vec![1, 2],
    };
    let peer_workers = match split.value("--peer-workers") {
        Some(v) => args::positive_list("--peer-workers", v)?,
        None => workers.clone(),
    };
    let mut systems = Vec::new();
    match split.value("--systems") {
        Some(list) => {
            for name in list.split(',') {
                let s = System::parse(name.trim())?;
                if !systems.contains(&s) {
                    systems.push(s);
                }
            }
        }
        None => {
            systems = vec![System::Weir, System::Baseline];
            if peer.is_some() {
                systems.push(System::Peer);
            }
        }
    }
    if systems.contains(&System::Peer) && peer.is_none() {
        bail!("'{job}' has no peer implementation; leave 'peer' out of --systems");
    }
    Ok(Some(CompareOptions {
        job,
        job_args: split.job_args.clone(),
        workers,
        peer_workers,
        repeat: match split.value("--repeat") {
            Some(v) => args::positive("--repeat", v)?,
            None => 3,
        },
        threads: match split.value("--threads") {
            Some(v) => args::positive("--threads", v)?,
            None => 1,
        },
        systems,
        output: split.value("--output").map(PathBuf::from),
    }))
}

/// One contender and its measured runs.
struct Contender {
    system: System,
    workers: usize,
    runs: Vec<ContenderReport>,
}

impl Contender {
    fn label(&self, peer: &str) -> String {
        match self.system {
            System::Weir => format!("weir w{}", self.workers),
            System::Baseline => "baseline (1 thread)".to_string(),
            System::Peer => format!("{peer} w{}", self.workers),
        }
    }

    fn seconds(&self) -> Vec<f64> {
        self.runs.iter().map(|r| r.seconds).collect()
    }

    fn median(&self) -> f64 {
        stats::median(&self.seconds()).unwrap_or(f64::NAN)
    }

    fn peak_rss(&self) -> u64 {
        self.runs
            .iter()
            .map(|r| r.peak_rss_bytes)
            .max()
            .unwrap_or(0)
    }

    /// The bytes of the graph's structure in worker memory, all workers together, as a
    /// graph job reports it.
    fn graph_bytes(&self) -> Option<u64> {
        self.runs.iter().find_map(|r| {
            r.metrics
                .as_ref()?
                .get("result")?
                .get("graph_bytes")?
                .as_u64()
        })
    }
}

/// `weir bench compare …`
pub fn compare_command(registry: &Registry, argv: &[String]) -> anyhow::Result<()> {
    let Some(opts) = parse_compare_args(argv)? else {
        println!("{USAGE}\n\n{HELP}");
        return Ok(());
    };
    // Bad job arguments fail before anything runs.
    let _checked = registry
        .parse(&opts.job, &opts.job_args)
        .map_err(|e| anyhow!("{}: {e}", opts.job))?;
    if let Some(dir) = &opts.output {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    let peer = COMPARABLE
        .iter()
        .find(|(j, _)| *j == opts.job)
        .and_then(|(_, p)| *p)
        .unwrap_or("peer");

    let mut contenders = Vec::new();
    for system in &opts.systems {
        let counts = match system {
            System::Weir => opts.workers.clone(),
            System::Baseline => vec![1],
            System::Peer => opts.peer_workers.clone(),
        };
        for workers in counts {
            contenders.push(Contender {
                system: *system,
                workers,
                runs: Vec::new(),
            });
        }
    }

    let mut reference: Option<(String, Map<String, Value>)> = None;
    for round in 0..=opts.repeat {
        let what = if round == 0 {
            "warm-up".to_string()
        } else {
            format!("round {round} of {}", opts.repeat)
        };
        eprintln!("{}: {what}", opts.job);
        let n = contenders.len();
        for k in 0..n {
            let c = &mut contenders[(k + round) % n];
            let report =
                contender::spawn(c.system, c.workers, opts.threads, &opts.job, &opts.job_args)?;
            let label = c.label(peer);
            match &reference {
                None => reference = Some((label, report.summary.clone())),
                Some((ref_label, expected)) => {
                    check_agreement(ref_label, expected, &label, &report.summary)?
                }
            }
            if round > 0 {
                c.runs.push(report);
            }
        }
    }

    let input_bytes = contender::input_bytes(&opts.job, &opts.job_args).unwrap_or(0);
    print_report(&opts, peer, &contenders, input_bytes);
    if let Some(dir) = &opts.output {
        let path = dir.join("compare.json");
        super::write_json(&path, &compare_json(&opts, peer, &contenders, input_bytes))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Fails unless every figure the two summaries share agrees; timings (`…_seconds`) are
/// not results and are left out.
fn check_agreement(
    ref_label: &str,
    expected: &Map<String, Value>,
    label: &str,
    got: &Map<String, Value>,
) -> anyhow::Result<()> {
    let mut shared = 0;
    for (key, want) in expected {
        let Some(have) = got.get(key) else { continue };
        if key.ends_with("_seconds") {
            continue;
        }
        shared += 1;
        let agree = match (want.as_f64(), have.as_f64()) {
            (Some(a), Some(b)) if key.ends_with("accuracy") => (a - b).abs() <= ACCURACY_TOLERANCE,
            (Some(a), Some(b)) => {
                (a - b).abs() <= FIGURE_TOLERANCE * a.abs().max(b.abs()) || a == b
            }
            _ => want == have,
        };
        if !agree {
            bail!("results differ: {key} is {want} for {ref_label} but {have} for {label}");
        }
    }
    if shared == 0 {
        bail!("{ref_label} and {label} report no common figure to check their results by");
    }
    Ok(())
}

/// The COST figure: the fewest Weir workers whose median beats the baseline's.
fn cost(contenders: &[Contender]) -> Option<usize> {
    let baseline = contenders.iter().find(|c| c.system == System::Baseline)?;
    let t = baseline.median();
    contenders
        .iter()
        .filter(|c| c.system == System::Weir && c.median() < t)
        .map(|c| c.workers)
        .min()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn print_report(opts: &CompareOptions, peer: &str, contenders: &[Contender], input_bytes: u64) {
    println!(
        "{} on Weir ({} thread(s) per worker), its single-threaded baseline and {peer}: \
         median of {} round(s)",
        opts.job, opts.threads, opts.repeat
    );
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>14}",
        "system", "median s", "min s", "max s", "peak RSS MiB"
    );
    for c in contenders {
        let s = c.seconds();
        let min = s.iter().copied().fold(f64::INFINITY, f64::min);
        let max = s.iter().copied().fold(0.0f64, f64::max);
        println!(
            "{:<22} {:>10.3} {:>10.3} {:>10.3} {:>14.1}",
            c.label(peer),
            c.median(),
            min,
            max,
            mib(c.peak_rss())
        );
    }
    println!("ratios (median time of the first over the second; below 1 means faster):");
    for (a, b, r) in ratios(contenders) {
        println!("  {:<22} / {:<22} {r:>7.3}", a.label(peer), b.label(peer));
    }
    if contenders.iter().any(|c| c.system == System::Baseline) {
        let largest = opts.workers.iter().max().copied().unwrap_or(1);
        match cost(contenders) {
            Some(p) => println!(
                "COST: {p} worker(s) ({} core(s)): the fewest at which Weir beats one thread",
                p * opts.threads
            ),
            None => println!(
                "COST: not reached (Weir is slower than one thread up to {largest} worker(s))"
            ),
        }
    }
    for c in contenders.iter().filter(|c| c.system == System::Weir) {
        // A graph's bar is its share of the CSR; other jobs', their share of the input.
        let (what, total) = match c.graph_bytes() {
            Some(bytes) => ("CSR share", bytes),
            None if input_bytes > 0 => ("input share", input_bytes),
            None => continue,
        };
        let share = total / c.workers as u64;
        println!(
            "memory, weir w{}: peak {:.1} MiB per worker; {what} {:.1} MiB \
             (2 x share + 100 MiB = {:.1} MiB)",
            c.workers,
            mib(c.peak_rss()),
            mib(share),
            mib(2 * share) + 100.0
        );
    }
}

/// Every Weir contender against the baseline and against the peer with as many workers.
fn ratios(contenders: &[Contender]) -> Vec<(&Contender, &Contender, f64)> {
    let mut out = Vec::new();
    let baseline = contenders.iter().find(|c| c.system == System::Baseline);
    for w in contenders.iter().filter(|c| c.system == System::Weir) {
        if let Some(b) = baseline {
            out.push((w, b, w.median() / b.median()));
        }
        let same = contenders
            .iter()
            .find(|c| c.system == System::Peer && c.workers == w.workers);
        if let Some(p) = same {
            out.push((w, p, w.median() / p.median()));
        }
    }
    out
}

fn compare_json(
    opts: &CompareOptions,
    peer: &str,
    contenders: &[Contender],
    input_bytes: u64,
) -> Value {
    let rows: Vec<Value> = contenders
        .iter()
        .map(|c| {
            json!({
                "system": c.system,
                "label": c.label(peer),
                "workers": c.workers,
                "seconds": c.seconds(),
                "median_seconds": c.median(),
                "peak_rss_bytes": c.peak_rss(),
                "graph_bytes": c.graph_bytes(),
                "runs": c.runs,
            })
        })
        .collect();
    let ratio_rows: Vec<Value> = ratios(contenders)
        .into_iter()
        .map(|(a, b, r)| json!({ "of": a.label(peer), "to": b.label(peer), "ratio": r }))
        .collect();
    json!({
        "job": opts.job,
        "args": opts.job_args,
        "threads": opts.threads,
        "repeat": opts.repeat,
        "peer": peer,
        "input_bytes": input_bytes,
        "contenders": rows,
        "ratios": ratio_rows,
        "cost_workers": cost(contenders),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    fn report(system: System, workers: usize, seconds: f64) -> ContenderReport {
        ContenderReport {
            system,
            workers,
            seconds,
            peak_rss_bytes: 1,
            summary: Map::new(),
            metrics: None,
        }
    }

    fn contender(system: System, workers: usize, seconds: &[f64]) -> Contender {
        Contender {
            system,
            workers,
            runs: seconds
                .iter()
                .map(|&s| report(system, workers, s))
                .collect(),
        }
    }

    #[test]
    fn parses_defaults_and_options() {
        let o = parse_compare_args(&words("wordcount --input a.txt"))
            .unwrap()
            .unwrap();
        assert_eq!(o.workers, vec![1, 2]);
        assert_eq!(o.peer_workers, vec![1, 2]);
        assert_eq!(
            o.systems,
            vec![System::Weir, System::Baseline, System::Peer]
        );
        assert_eq!((o.repeat, o.threads), (3, 1));
        let o = parse_compare_args(&words(
            "sort --input r --workers 2,1,4 --repeat 5 --systems baseline,weir",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(o.workers, vec![1, 2, 4]);
        assert_eq!(o.systems, vec![System::Baseline, System::Weir]);
        assert_eq!(o.job_args, words("--input r"));
        assert!(parse_compare_args(&words("wordcount --help"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn refuses_what_it_cannot_compare() {
        for (text, needle) in [
            ("grep --input a", "no baseline for 'grep'"),
            ("sort --input r --systems peer", "no peer"),
            (
                "wordcount --input a --systems weir,spark",
                "unknown system 'spark'",
            ),
            ("wordcount --workers 0", "not a positive integer"),
            ("--workers 1", "which job?"),
        ] {
            let e = parse_compare_args(&words(text)).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn cost_is_the_fewest_workers_beating_the_baseline() {
        let mut cs = vec![
            contender(System::Weir, 1, &[3.0, 3.2, 2.9]),
            contender(System::Weir, 2, &[1.9, 2.0, 2.1]),
            contender(System::Weir, 4, &[1.0, 1.1, 1.2]),
            contender(System::Baseline, 1, &[2.5, 2.4, 2.6]),
            contender(System::Peer, 2, &[4.0, 4.0, 4.0]),
        ];
        assert_eq!(cost(&cs), Some(2));
        let r = ratios(&cs);
        // w1, w2 and w4 against the baseline; w2 also against the peer with 2 workers.
        assert_eq!(r.len(), 4);
        let (_, _, w2_vs_peer) = r[2];
        assert!((w2_vs_peer - 0.5).abs() < 1e-12);
        cs[3] = contender(System::Baseline, 1, &[0.5]);
        assert_eq!(cost(&cs), None);
    }

    #[test]
    fn summaries_must_agree() {
        let a = json!({ "words": 10, "max_rank": 0.25 });
        let a = a.as_object().unwrap();
        let close = json!({ "words": 10, "max_rank": 0.25 * (1.0 + 1e-9), "extra": 1 });
        assert!(check_agreement("a", a, "b", close.as_object().unwrap()).is_ok());
        let off = json!({ "words": 11 });
        let e = check_agreement("a", a, "b", off.as_object().unwrap()).unwrap_err();
        assert!(e.to_string().contains("words is 10 for a but 11 for b"));
        let none = json!({ "other": 1 });
        assert!(check_agreement("a", a, "b", none.as_object().unwrap()).is_err());
    }
}
