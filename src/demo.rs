//! `weir demo`: a local cluster runs one job of each programming model on the bundled
//! samples (wordcount, pagerank, logistic regression on the parameter server) and prints
//! what it found and how long it took; pagerank is checked against the Graphalytics
//! expected output shipped with the sample, the classifier against its held-out rows.
//! With `--history DIR` each run's event log is kept and rendered as an HTML report in
//! `DIR` (task timeline, workers, supersteps, clocks), as `weir history --html` would.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use weir_datasets::samples_dir;
use weir_engine::observe::read_log;
use weir_engine::ui::history_html;

use crate::run::{run_job, RunOptions};
use crate::Registry;

pub fn demo(registry: &Registry, workers: usize, history: Option<&Path>) -> anyhow::Result<()> {
    let samples = samples_dir();
    let text = samples.join("text");
    let graph = samples.join("graphalytics/test-pr-directed.properties");
    let mushrooms = samples.join("ml/agaricus.train.libsvm");
    if !text.is_dir() || !graph.is_file() || !mushrooms.is_file() {
        bail!("the bundled samples are missing from {}", samples.display());
    }
    let out = tempfile::Builder::new().prefix("weir-demo-").tempdir()?;
    let opts = |name: &str| RunOptions {
        workers,
        threads: 1,
        local: false,
        partitions: None,
        output: Some(out.path().join(name)),
        format: "tsv".into(),
        metrics_json: None,
        quiet: true,
        silent: false,
        skip_bad_records: false,
        listen: None,
        secret_file: None,
        join_workers: None,
        join_timeout: 60,
        heartbeat_timeout: 5,
        checkpoint_every: 10,
        event_log: history.map(|dir| dir.join(format!("{name}.jsonl"))),
        ui: None,
        no_ui: true,
        ui_linger: 0,
    };
    println!("weir demo: a local cluster of {workers} worker processes\n");

    let started = Instant::now();
    println!(
        "== wordcount (MapReduce: map, combine, shuffle, reduce) on {}",
        text.display()
    );
    let wc = run_job(
        registry,
        "wordcount",
        &["--input".into(), text.to_string_lossy().into_owned()],
        &opts("wordcount"),
    )?;
    println!(
        "   {:.2}s, {} stages, {} tasks\n",
        wc.wall_seconds,
        wc.stages.len(),
        wc.stages.iter().map(|s| s.tasks).sum::<usize>()
    );

    println!(
        "== pagerank (Pregel: a vertex program on the graph held in worker memory) on {}",
        graph.display()
    );
    let pr = run_job(
        registry,
        "pagerank",
        &["--dataset".into(), graph.to_string_lossy().into_owned()],
        &opts("pagerank"),
    )?;
    let expected =
        crate::jobs::graph_input::read_expected(&samples.join("graphalytics/test-pr-directed-PR"))
            .context("reading the expected PageRank output")?;
    let got = read_parts(&out.path().join("pagerank"))?;
    let mut worst = 0.0f64;
    for (v, want) in &expected {
        let want: f64 = want.parse().unwrap_or(f64::NAN);
        let Some(have) = got.get(v) else {
            bail!("vertex {v} is missing from the output")
        };
        worst = worst.max(((have - want) / want).abs());
    }
    let verdict = if worst <= 1e-4 {
        "matches"
    } else {
        "DIFFERS FROM"
    };
    println!(
        "   {:.2}s, {} stages; {verdict} the Graphalytics expected output (largest relative error {worst:.1e})\n",
        pr.wall_seconds,
        pr.stages.len()
    );
    let accuracy = classify(registry, &samples, &opts("logreg"))?;
    println!("demo finished in {:.2}s", started.elapsed().as_secs_f64());
    if let Some(dir) = history {
        for name in ["wordcount", "pagerank", "logreg"] {
            let log = dir.join(format!("{name}.jsonl"));
            let read = read_log(&log)?;
            let html = dir.join(format!("{name}.html"));
            std::fs::write(&html, history_html(&read.events, read.stopped.as_deref()))
                .with_context(|| html.display().to_string())?;
        }
        println!(
            "each run's report (task timeline, workers, supersteps, clocks): {}/{{wordcount,pagerank,logreg}}.html",
            dir.display()
        );
    }
    if worst > 1e-4 {
        bail!("pagerank does not match the expected output");
    }
    if accuracy < 0.99 {
        bail!("logistic regression reached only {accuracy:.4} on the held-out rows");
    }
    Ok(())
}

/// Logistic regression on the parameter server over the bundled mushrooms; returns the
/// held-out accuracy.
fn classify(
    registry: &Registry,
    samples: &std::path::Path,
    opts: &RunOptions,
) -> anyhow::Result<f64> {
    let train = samples.join("ml/agaricus.train.libsvm");
    let test = samples.join("ml/agaricus.test.libsvm");
    println!(
        "== logreg (parameter server: sharded weights, trainers pull and push per minibatch) on {}",
        train.display()
    );
    let args: Vec<String> = [
        "--input",
        &train.to_string_lossy(),
        "--test",
        &test.to_string_lossy(),
        "--epochs",
        "5",
        "--batch",
        "64",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let lr = run_job(registry, "logreg", &args, opts)?;
    let accuracy = lr
        .result
        .get("test_accuracy")
        .and_then(|v| v.as_f64())
        .context("logreg reported no test accuracy")?;
    let bytes = |k: &str| lr.result.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    println!(
        "   {:.2}s; held-out accuracy {accuracy:.4}; {} KB pulled and {} KB pushed\n",
        lr.wall_seconds,
        bytes("bytes_pulled") / 1000,
        bytes("bytes_pushed") / 1000
    );
    Ok(accuracy)
}

fn read_parts(dir: &std::path::Path) -> anyhow::Result<std::collections::HashMap<u64, f64>> {
    let mut out = std::collections::HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        for line in std::fs::read_to_string(&path)?.lines() {
            let mut it = line.split('\t');
            if let (Some(v), Some(r)) = (it.next(), it.next()) {
                out.insert(v.parse()?, r.parse()?);
            }
        }
    }
    Ok(out)
}
