//! One contender of `weir bench compare`, run in a process of its own.
//!
//! `weir bench compare` starts `weir bench contender --system S --workers N JOB [JOB ARGS]`
//! once per measured run, so every system starts from a fresh process and its peak
//! resident set is its own. The contender reads the job's arguments the way the job does,
//! runs one system on them and prints one JSON line: the seconds from the first read of
//! the input to the finished result, the peak resident set (per worker process for
//! Weir), and a summary of the result (counts and a checksum-like figure) that the
//! comparison checks agrees between systems.
//!
//! The systems:
//! * `weir`: the job on `N` local worker processes (`--threads T` each), as `weir run`;
//! * `baseline`: the single-threaded baseline of [`crate::baselines`];
//! * `peer`: the timely-dataflow / differential-dataflow peer of [`crate::peers`] on `N`
//!   worker threads.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use weir_jobs::bfs::Bfs;
use weir_jobs::cdlp::Cdlp;
use weir_jobs::components::Components;
use weir_jobs::lcc::Lcc;
use weir_jobs::logreg::LogReg;
use weir_jobs::pagerank::PageRank;
use weir_jobs::sort::Sort;
use weir_jobs::sssp::Sssp;
use weir_jobs::wordcount::WordCount;

use super::graph_baselines::{distinct_values, graph_baseline, graph_paths, load_graph};
use crate::{baselines, peers, Host};

/// The jobs `weir bench compare` knows a baseline for, with their peer's framework.
pub const COMPARABLE: &[(&str, Option<&str>)] = &[
    ("wordcount", Some("timely")),
    ("pagerank", Some("timely")),
    ("components", Some("differential")),
    ("sort", None),
    ("bfs", None),
    ("sssp", None),
    ("cdlp", None),
    ("lcc", None),
    ("logreg", None),
];

/// A system that can run a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    Weir,
    Baseline,
    Peer,
}

impl System {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            System::Weir => "weir",
            System::Baseline => "baseline",
            System::Peer => "peer",
        }
    }

    /// Parses a name given on the command line.
    pub fn parse(text: &str) -> anyhow::Result<System> {
        match text {
            "weir" => Ok(System::Weir),
            "baseline" => Ok(System::Baseline),
            "peer" => Ok(System::Peer),
            _ => bail!("unknown system '{text}' (weir, baseline or peer)"),
        }
    }
}

/// What one contender run reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContenderReport {
    pub system: System,
    pub workers: usize,
    pub seconds: f64,
    /// The largest peak resident set of one process doing the work (each Weir worker;
    /// the single process of the baseline and the peer).
    pub peak_rss_bytes: u64,
    /// Figures of the result that every system must agree on.
    pub summary: Map<String, Value>,
    /// Weir's full run metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Value>,
}

/// The arguments of `weir bench contender`.
#[derive(Debug, Parser)]
#[command(name = "weir bench contender")]
struct ContenderArgs {
    #[arg(long)]
    system: String,
    #[arg(long, default_value_t = 1)]
    workers: usize,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    job: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    job_args: Vec<String>,
}

/// `weir bench contender …`: runs one system once and prints its report as JSON.
pub fn contender_command(host: &Host, args: &[String]) -> anyhow::Result<()> {
    let args = ContenderArgs::try_parse_from(
        std::iter::once("weir bench contender".to_string()).chain(args.iter().cloned()),
    )
    .map_err(|e| anyhow!("{}", weir_jobs::clap_error_line(&e)))?;
    let system = System::parse(&args.system)?;
    let workers = args.workers.max(1);
    let report = match system {
        System::Weir => run_weir(host, &args.job, &args.job_args, workers, args.threads)?,
        System::Baseline | System::Peer => {
            let started = Instant::now();
            let summary = run_in_process(system, &args.job, &args.job_args, workers)?;
            ContenderReport {
                system,
                workers: if system == System::Baseline {
                    1
                } else {
                    workers
                },
                seconds: started.elapsed().as_secs_f64(),
                peak_rss_bytes: weir_engine::peak_rss_bytes(),
                summary,
                metrics: None,
            }
        }
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn run_weir(
    host: &Host,
    job: &str,
    job_args: &[String],
    workers: usize,
    threads: usize,
) -> anyhow::Result<ContenderReport> {
    let metrics = host.run(job, job_args, workers, threads.max(1))?;
    let peak = metrics
        .workers_detail
        .iter()
        .map(|w| w.peak_rss_bytes)
        .max()
        .unwrap_or(0);
    let mut summary = metrics.result.clone();
    // The figures only Weir reports, and those of the run rather than of the result,
    // which depend on the partitioning (a spanning forest per partition, its rounds).
    for key in [
        "damping",
        "iterations",
        "sorted",
        "forest_edges",
        "graph_bytes",
        "messages",
        "supersteps",
        "rounds",
        "curve",
        "history",
    ] {
        summary.remove(key);
    }
    Ok(ContenderReport {
        system: System::Weir,
        workers,
        seconds: metrics.wall_seconds,
        peak_rss_bytes: peak,
        summary,
        metrics: Some(serde_json::to_value(&metrics)?),
    })
}

/// Parses `job_args` with the job's own parser, for a clean error before a run starts.
pub(super) fn parse<T: Parser>(job: &str, job_args: &[String]) -> anyhow::Result<T> {
    T::try_parse_from(std::iter::once(job.to_string()).chain(job_args.iter().cloned()))
        .map_err(|e| anyhow!("{job}: {}", weir_jobs::clap_error_line(&e)))
}

fn input_files(inputs: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    Ok(weir_datasets::expand_inputs(inputs)?)
}

/// Runs the baseline or the peer of `job` in this process; returns the result's summary.
fn run_in_process(
    system: System,
    job: &str,
    job_args: &[String],
    workers: usize,
) -> anyhow::Result<Map<String, Value>> {
    let peer = system == System::Peer;
    match job {
        "wordcount" => {
            let a: WordCount = parse(job, job_args)?;
            let files = input_files(&a.inputs)?;
            let counts = if peer {
                peers::wordcount::word_counts(&files, a.lowercase, workers)?
            } else {
                baselines::wordcount::word_counts(&files, a.lowercase)?
            };
            let words: u64 = counts.values().sum();
            Ok(summary(
                json!({ "words": words, "distinct_words": counts.len() }),
            ))
        }
        "pagerank" => {
            let a: PageRank = parse(job, job_args)?;
            let g = a.graph.files()?;
            let (iterations, damping) = a.parameters(g.properties.as_ref());
            let ranks = if peer {
                peers::pagerank::pagerank(
                    &g.edges,
                    g.vertices.as_deref(),
                    g.directed,
                    iterations,
                    damping,
                    workers,
                )?
            } else {
                let (vertices, edges) = load_graph(&g.edges, g.vertices.as_deref())?;
                baselines::pagerank::pagerank(&vertices, &edges, g.directed, iterations, damping)
            };
            let max_rank = ranks.values().copied().fold(0.0f64, f64::max);
            Ok(summary(
                json!({ "vertices": ranks.len(), "max_rank": max_rank }),
            ))
        }
        "components" => {
            let a: Components = parse(job, job_args)?;
            let g = a.graph.files()?;
            let labels = if peer {
                peers::components::connected_components(&g.edges, g.vertices.as_deref(), workers)?
            } else {
                let (vertices, edges) = load_graph(&g.edges, g.vertices.as_deref())?;
                baselines::components::connected_components(&vertices, &edges)
            };
            Ok(summary(json!({
                "vertices": labels.len(),
                "components": distinct_values(labels.values()),
            })))
        }
        "sort" if !peer => {
            let a: Sort = parse(job, job_args)?;
            let files = input_files(&a.inputs)?;
            let sorted = baselines::sort::sort_files(&files)?;
            let records = sorted.len() / weir_datasets::SORT_RECORD_BYTES;
            Ok(summary(json!({ "records": records })))
        }
        "bfs" | "sssp" | "cdlp" | "lcc" if !peer => graph_baseline(job, job_args),
        "logreg" if !peer => logreg_baseline(&parse(job, job_args)?),
        _ => bail!(
            "no {} for job '{job}' (compare knows: {})",
            system.name(),
            comparable_list()
        ),
    }
}

/// The size in bytes of the input files `job_args` name.
pub fn input_bytes(job: &str, job_args: &[String]) -> anyhow::Result<u64> {
    let files = match job {
        "wordcount" => input_files(&parse::<WordCount>(job, job_args)?.inputs)?,
        "sort" => input_files(&parse::<Sort>(job, job_args)?.inputs)?,
        "pagerank" => graph_paths(&parse::<PageRank>(job, job_args)?.graph)?,
        "components" => graph_paths(&parse::<Components>(job, job_args)?.graph)?,
        "bfs" => graph_paths(&parse::<Bfs>(job, job_args)?.graph)?,
        "sssp" => graph_paths(&parse::<Sssp>(job, job_args)?.graph)?,
        "cdlp" => graph_paths(&parse::<Cdlp>(job, job_args)?.graph)?,
        "lcc" => graph_paths(&parse::<Lcc>(job, job_args)?.graph)?,
        "logreg" => input_files(&[parse::<LogReg>(job, job_args)?.input])?,
        _ => bail!("no input files known for job '{job}'"),
    };
    let mut total = 0;
    for f in files {
        total += std::fs::metadata(&f)
            .with_context(|| f.display().to_string())?
            .len();
    }
    Ok(total)
}

/// The single-threaded SGD baseline of `logreg`: its test accuracy (the figure a trained
/// model is compared by: the minibatches differ from a cluster run's) and its epochs.
fn logreg_baseline(a: &LogReg) -> anyhow::Result<Map<String, Value>> {
    use baselines::logreg;
    let train = logreg::read_block(&input_files(std::slice::from_ref(&a.input))?, None)?;
    let features = train.feature_bound();
    let rule = weir_operators::ps::rule_named(&a.train.optimizer, a.train.learning_rate)
        .map_err(|e| anyhow!("logreg: {e}"))?;
    let opts = logreg::SgdOptions {
        epochs: a.train.epochs,
        batch: a.train.batch,
        rule: rule.as_ref(),
        l2: a.l2,
        seed: a.train.seed,
    };
    let weights = logreg::train(&train, features, &opts);
    let (loss, _) = logreg::evaluate(&train, &weights);
    let mut out = json!({ "epochs": a.train.epochs, "baseline_loss": loss });
    if let Some(test) = &a.test {
        let test = logreg::read_block(&input_files(std::slice::from_ref(test))?, Some(features))?;
        out["test_accuracy"] = json!(logreg::evaluate(&test, &weights).1);
    }
    Ok(summary(out))
}

pub(super) fn summary(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The comparable jobs as a comma-separated list.
pub fn comparable_list() -> String {
    COMPARABLE
        .iter()
        .map(|(j, _)| *j)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `weir bench contender` as a child process of the running `weir` binary and
/// returns its report.
pub fn spawn(
    system: System,
    workers: usize,
    threads: usize,
    job: &str,
    job_args: &[String],
) -> anyhow::Result<ContenderReport> {
    let exe = std::env::current_exe().context("finding the weir binary")?;
    let mut cmd = std::process::Command::new(&exe);
    // A contender (and its Weir workers) never outlives the comparison.
    weir_engine::process::die_with_parent(&mut cmd);
    let output = cmd
        .args(["bench", "contender", "--system", system.name()])
        .args(["--workers", &workers.to_string()])
        .args(["--threads", &threads.to_string()])
        .arg(job)
        .args(job_args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .with_context(|| format!("starting {}", exe.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no error message");
        bail!("{} on {workers} worker(s) failed: {line}", system.name());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow!("{} printed no report", system.name()))?;
    serde_json::from_str(line).with_context(|| format!("{}'s report", system.name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_jobs::bfs::UNREACHED;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    fn example(name: &str) -> PathBuf {
        weir_datasets::samples_dir()
            .join("graphalytics")
            .join(format!("{name}.properties"))
    }

    /// The values of a bundled Graphalytics expected output.
    fn expected(name: &str, algorithm: &str) -> Vec<String> {
        let p = weir_datasets::load_properties(&example(name)).unwrap();
        let path = p.expected_output_file(algorithm);
        let rows = weir_jobs::graph_input::read_expected(&path).unwrap();
        assert!(!rows.is_empty());
        rows.into_iter().map(|(_, value)| value).collect()
    }

    fn baseline(job: &str, job_args: &str) -> anyhow::Result<Map<String, Value>> {
        run_in_process(System::Baseline, job, &args(job_args), 1)
    }

    #[test]
    fn input_bytes_parses_each_graph_job_with_its_own_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let edges = dir.path().join("g.e");
        std::fs::write(&edges, "1 2 0.5\n2 3 1.5\n").unwrap();
        let e = edges.display();
        assert_eq!(
            input_bytes("bfs", &args(&format!("--edges {e} --source 1"))).unwrap(),
            16
        );
        for (job, rest) in [
            ("sssp", "--source 1"),
            ("cdlp", "--iterations 3"),
            ("lcc", "--undirected"),
            ("components", ""),
        ] {
            let got = input_bytes(job, &args(&format!("--edges {e} {rest}"))).unwrap();
            assert_eq!(got, 16, "{job}");
        }
        // A dataset counts its vertex file too.
        let p = example("example-directed");
        let d = weir_datasets::load_properties(&p).unwrap();
        let size = |f: &std::path::Path| std::fs::metadata(f).unwrap().len();
        let both = size(&d.edge_file) + size(&d.vertex_file);
        let got = input_bytes("bfs", &args(&format!("--dataset {}", p.display()))).unwrap();
        assert_eq!(got, both);
        // Another job's option is refused by the job's own parser.
        let e = input_bytes("lcc", &args(&format!("--edges {e} --source 1"))).unwrap_err();
        assert!(e.to_string().contains("--source"), "{e}");
    }

    #[test]
    fn graph_baselines_summarise_the_graphalytics_answers() {
        for name in ["example-directed", "example-undirected"] {
            let dataset = format!("--dataset {}", example(name).display());

            let depths: Vec<i64> = expected(name, "bfs")
                .iter()
                .map(|d| d.parse().unwrap())
                .collect();
            let reached: Vec<i64> = depths.iter().copied().filter(|&d| d != UNREACHED).collect();
            let got = baseline("bfs", &dataset).unwrap();
            assert_eq!(got["vertices"], json!(depths.len()), "{name}");
            assert_eq!(got["reached"], json!(reached.len()), "{name}");
            assert_eq!(
                got["max_depth"],
                json!(reached.iter().max().unwrap()),
                "{name}"
            );

            let distances: Vec<f64> = expected(name, "sssp")
                .iter()
                .filter(|d| *d != "infinity")
                .map(|d| d.parse().unwrap())
                .collect();
            let got = baseline("sssp", &dataset).unwrap();
            assert_eq!(got["reached"], json!(distances.len()), "{name}");
            let want = distances.iter().copied().fold(0.0, f64::max);
            let have = got["max_distance"].as_f64().unwrap();
            assert!(
                want > 0.0 && (have - want).abs() <= 1e-9 * want,
                "{have} vs {want}"
            );

            let mut labels = expected(name, "cdlp");
            labels.sort();
            labels.dedup();
            let got = baseline("cdlp", &dataset).unwrap();
            assert_eq!(got["labels"], json!(labels.len()), "{name}");
            // `--iterations` overrides the dataset's two.
            let none = baseline("cdlp", &format!("{dataset} --iterations 0")).unwrap();
            assert_eq!(none["labels"], got["vertices"], "{name}");

            let lcc: Vec<f64> = expected(name, "lcc")
                .iter()
                .map(|c| c.parse().unwrap())
                .collect();
            let want = lcc.iter().sum::<f64>() / lcc.len() as f64;
            let got = baseline("lcc", &dataset).unwrap();
            let have = got["mean_lcc"].as_f64().unwrap();
            assert!(
                want > 0.0 && (have - want).abs() <= 1e-6 * want,
                "{have} vs {want}"
            );
            assert_eq!(got["vertices"], json!(lcc.len()), "{name}");
        }
    }

    #[test]
    fn graph_baselines_fail_cleanly_on_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let edges = dir.path().join("g.e");
        let vertices = dir.path().join("g.v");
        std::fs::write(&edges, "1 2 0.5\n2 3\n").unwrap();
        std::fs::write(&vertices, "1\n2\n").unwrap();
        let (e, v) = (edges.display(), vertices.display());
        for (job, rest, needle) in [
            (
                "bfs",
                format!("--source 1 --vertices {v}"),
                "an edge names vertex 3",
            ),
            ("lcc", format!("--vertices {v}"), "an edge names vertex 3"),
            ("sssp", "--source 1".into(), "g.e:2: an edge needs a weight"),
            (
                "bfs",
                "--source 9".into(),
                "--source 9: the vertex is not in the graph",
            ),
            ("bfs", String::new(), "bfs needs --source"),
        ] {
            let err = baseline(job, &format!("--edges {e} {rest}")).unwrap_err();
            assert!(err.to_string().contains(needle), "{job} {rest}: {err}");
        }
        std::fs::write(&edges, "1 2 0.5\n2 3 1\n").unwrap();
        let err = baseline("sssp", &format!("--edges {e} --source 4")).unwrap_err();
        assert!(err.to_string().contains("--source 4: the vertex"), "{err}");
        let err =
            run_in_process(System::Peer, "bfs", &args(&format!("--edges {e}")), 2).unwrap_err();
        assert!(err.to_string().contains("no peer for job 'bfs'"), "{err}");
    }
}
