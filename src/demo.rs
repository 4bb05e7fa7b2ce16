//! `weir demo`: a local cluster runs wordcount and pagerank on the bundled samples and
//! prints what it found and how long it took; pagerank is checked against the Graphalytics
//! expected output shipped with the sample.

use std::time::Instant;

use anyhow::{bail, Context};
use weir_datasets::samples_dir;

use crate::run::{run_job, RunOptions};
use crate::Registry;

pub fn demo(registry: &Registry, workers: usize) -> anyhow::Result<()> {
    let samples = samples_dir();
    let text = samples.join("text");
    let graph = samples.join("graphalytics/test-pr-directed.properties");
    if !text.is_dir() || !graph.is_file() {
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
    println!("demo finished in {:.2}s", started.elapsed().as_secs_f64());
    if worst > 1e-4 {
        bail!("pagerank does not match the expected output");
    }
    Ok(())
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
