//! `weir graphalytics DATASET.properties`: runs each LDBC Graphalytics algorithm the
//! dataset lists (or those asked for) as a Weir job, validates every output against the
//! expected files with the specification's rules, and prints and writes (JSON) a report:
//! load, run and processing times, EVPS, supersteps, messages, and PASS or FAIL with the
//! first differing vertex. Exits 0 only if every algorithm passes.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Parser};
use serde::Serialize;
use weir_datasets::load_properties;
use weir_jobs::graphalytics::{listed_algorithms, read_output, validate, Algorithm};
use weir_jobs::Registry;

use crate::run::{run_job, RunOptions};

/// `weir graphalytics` arguments.
#[derive(Debug, Clone, Args)]
pub struct GraphalyticsArgs {
    /// The dataset's `.properties` file.
    pub properties: PathBuf,
    /// Algorithms to run, comma separated (`bfs,pr,wcc,cdlp,lcc,sssp`), or `all` for
    /// every one the dataset lists.
    #[arg(long, default_value = "all")]
    pub algorithms: String,
    /// The folder of the expected outputs (`NAME-BFS` …); default: beside the properties.
    #[arg(long)]
    pub expected: Option<PathBuf>,
    /// Worker processes (0 runs in this process).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Task threads per worker.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Where the JSON report goes (default: `graphalytics-NAME.json` here).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// One algorithm's line of the report.
#[derive(Debug, Serialize)]
struct Row {
    algorithm: &'static str,
    job: &'static str,
    passed: bool,
    /// Why it failed: the first differing vertex, or the job's error.
    detail: Option<String>,
    load_seconds: f64,
    run_seconds: f64,
    processing_seconds: f64,
    /// Edges plus vertices per second of processing.
    evps: f64,
    supersteps: u64,
    messages: u64,
}

/// The whole report.
#[derive(Debug, Serialize)]
struct Report {
    dataset: String,
    vertices: u64,
    edges: u64,
    workers: usize,
    threads: usize,
    algorithms: Vec<Row>,
}

fn chosen(args: &GraphalyticsArgs) -> anyhow::Result<Vec<Algorithm>> {
    let listed = listed_algorithms(&args.properties)
        .with_context(|| args.properties.display().to_string())?;
    if args.algorithms.trim() == "all" {
        return Ok(listed);
    }
    let mut picked = Vec::new();
    for name in args.algorithms.split(',') {
        let a = Algorithm::parse(name)
            .ok_or_else(|| anyhow!("--algorithms: unknown algorithm {:?}", name.trim()))?;
        if !listed.contains(&a) {
            bail!(
                "--algorithms: {} is not listed in {}",
                a.name(),
                args.properties.display()
            );
        }
        picked.push(a);
    }
    Ok(picked)
}

/// `weir graphalytics …`
pub fn graphalytics_command(registry: &Registry, args: &GraphalyticsArgs) -> anyhow::Result<()> {
    let dataset = load_properties(&args.properties)?;
    let algorithms = chosen(args)?;
    if algorithms.is_empty() {
        bail!("{} lists no algorithm to run", args.properties.display());
    }
    let scratch = tempfile::Builder::new()
        .prefix("weir-graphalytics-")
        .tempdir()?;
    let (mut vertices, mut edges) = (dataset.vertices.unwrap_or(0), dataset.edges.unwrap_or(0));
    let mut rows = Vec::new();
    for algorithm in algorithms {
        let out = scratch.path().join(algorithm.name());
        let expected = match &args.expected {
            Some(dir) => dir.join(format!("{}-{}", dataset.name, algorithm.suffix())),
            None => dataset.expected_output_file(algorithm.suffix()),
        };
        let row = run_one(
            registry,
            args,
            algorithm,
            &out,
            &expected,
            &mut vertices,
            &mut edges,
        );
        rows.push(row);
    }
    let report = Report {
        dataset: dataset.name.clone(),
        vertices,
        edges,
        workers: args.workers,
        threads: args.threads,
        algorithms: rows,
    };
    print_report(&report);
    let path = args
        .report
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("graphalytics-{}.json", dataset.name)));
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| path.display().to_string())?;
    let failed: Vec<&str> = report
        .algorithms
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.algorithm)
        .collect();
    if !failed.is_empty() {
        bail!(
            "graphalytics {}: {} failed (report in {})",
            dataset.name,
            failed.join(", "),
            path.display()
        );
    }
    Ok(())
}

/// Runs one algorithm and validates its output.
fn run_one(
    registry: &Registry,
    args: &GraphalyticsArgs,
    algorithm: Algorithm,
    out: &Path,
    expected: &Path,
    vertices: &mut u64,
    edges: &mut u64,
) -> Row {
    let mut row = Row {
        algorithm: algorithm.name(),
        job: algorithm.job(),
        passed: false,
        detail: None,
        load_seconds: 0.0,
        run_seconds: 0.0,
        processing_seconds: 0.0,
        evps: 0.0,
        supersteps: 0,
        messages: 0,
    };
    let job_args = vec![
        "--dataset".to_string(),
        args.properties.display().to_string(),
    ];
    let mut opts = match RunOptions::try_parse_from(["--quiet", "--no-ui"]) {
        Ok(o) => o,
        Err(e) => {
            row.detail = Some(e.to_string());
            return row;
        }
    };
    opts.silent = true;
    opts.local = args.workers == 0;
    opts.workers = args.workers;
    opts.threads = args.threads;
    opts.output = Some(out.to_path_buf());
    let metrics = match run_job(registry, algorithm.job(), &job_args, &opts) {
        Ok(m) => m,
        Err(e) => {
            row.detail = Some(format!("the job failed: {e:#}"));
            return row;
        }
    };
    let number = |key: &str| metrics.result.get(key).and_then(|v| v.as_f64());
    row.run_seconds = metrics.wall_seconds;
    row.load_seconds = number("load_seconds").unwrap_or(0.0);
    row.processing_seconds = number("run_seconds").unwrap_or(metrics.wall_seconds);
    row.supersteps = number("supersteps").unwrap_or(0.0) as u64;
    row.messages = number("messages").unwrap_or(0.0) as u64;
    if *vertices == 0 {
        *vertices = number("graph_vertices").unwrap_or(0.0) as u64;
    }
    if *edges == 0 {
        *edges = number("graph_edges").unwrap_or(0.0) as u64;
    }
    if row.processing_seconds > 0.0 {
        row.evps = (*vertices + *edges) as f64 / row.processing_seconds;
    }
    let checked = read_output(expected).and_then(|want| {
        let got = read_parts(out)?;
        validate(algorithm, &want, &got)
    });
    match checked {
        Ok(()) => row.passed = true,
        Err(e) => row.detail = Some(e),
    }
    row
}

/// The job's output: every `part-*` file of `dir`, `vertex<TAB>value` lines.
fn read_parts(dir: &Path) -> Result<std::collections::BTreeMap<u64, String>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("part-"))
        })
        .collect();
    files.sort();
    let mut text = String::new();
    for f in files {
        text.push_str(&std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?);
        text.push('\n');
    }
    weir_jobs::graphalytics::parse_output(&text)
        .map_err(|(line, m)| format!("output line {line}: {m}"))
}

fn print_report(r: &Report) {
    println!(
        "graphalytics {}: {} vertices, {} edges, {} worker(s) x {} thread(s)",
        r.dataset, r.vertices, r.edges, r.workers, r.threads
    );
    println!(
        "{:<6} {:>9} {:>9} {:>11} {:>12} {:>10} {:>12}  result",
        "algo", "load s", "run s", "process s", "EVPS", "supersteps", "messages"
    );
    for a in &r.algorithms {
        let verdict = match (&a.passed, &a.detail) {
            (true, _) => "PASS".to_string(),
            (false, Some(d)) => format!("FAIL: {d}"),
            (false, None) => "FAIL".to_string(),
        };
        println!(
            "{:<6} {:>9.3} {:>9.3} {:>11.3} {:>12.0} {:>10} {:>12}  {verdict}",
            a.algorithm,
            a.load_seconds,
            a.run_seconds,
            a.processing_seconds,
            a.evps,
            a.supersteps,
            a.messages
        );
    }
}
