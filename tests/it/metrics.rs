//! `--metrics-json`: the file's fields and their consistency (task counts per stage and per
//! worker add up, shuffle bytes written are the bytes read, the job's own results match
//! the reference) for a cluster run and an in-process run.

use std::collections::BTreeSet;

use serde_json::Value;

use super::util::*;

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a non-negative integer in {v}"))
}

fn f(v: &Value, key: &str) -> f64 {
    let x = v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"));
    assert!(x.is_finite() && x >= 0.0, "{key} = {x}");
    x
}

/// Runs wordcount on the bundled text with `shape` and returns its metrics.
fn wordcount_metrics(shape: &[&str]) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let input = samples().join("text");
    let metrics = tmp.path().join("m.json");
    let mut args = vec![
        "run".to_string(),
        "wordcount".into(),
        "--input".into(),
        path_str(&input),
        "--quiet".into(),
        "--partitions".into(),
        "7".into(),
        "--output".into(),
        path_str(&tmp.path().join("out")),
        "--metrics-json".into(),
        path_str(&metrics),
    ];
    args.extend(shape.iter().map(|s| s.to_string()));
    run_weir(&args).assert_ok();
    let m = read_metrics(&metrics);
    assert_eq!(m["job"], "wordcount");
    assert_eq!(m["args"], serde_json::json!(["--input", path_str(&input)]));
    assert!(f(&m, "wall_seconds") > 0.0);
    assert_eq!(u(&m, "bad_records"), 0);
    assert_eq!(u(&m, "workers_lost"), 0);

    let reference = weir::jobs::wordcount::reference(&expand(&input), false).unwrap();
    let words: u64 = reference.values().sum();
    assert_eq!(
        u(&m["result"], "distinct_words"),
        reference.len() as u64,
        "{}",
        m["result"]
    );
    assert_eq!(u(&m["result"], "words"), words, "{}", m["result"]);
    assert_eq!(
        u(&m["counters"], "words"),
        words,
        "counters: {}",
        m["counters"]
    );

    let stages = m["stages"].as_array().expect("stages");
    assert!(!stages.is_empty());
    let mut ids = BTreeSet::new();
    for s in stages {
        assert!(ids.insert(u(s, "id")), "stage id repeated: {s}");
        assert!(!s["name"].as_str().expect("name").is_empty());
        for key in [
            "tasks",
            "records_in",
            "records_out",
            "shuffle_write_bytes",
            "shuffle_read_bytes",
        ] {
            u(s, key);
        }
        f(s, "seconds");
        assert!(u(s, "tasks") > 0, "a stage without tasks: {s}");
    }
    let sum = |key: &str| stages.iter().map(|s| u(s, key)).sum::<u64>();
    assert_eq!(
        sum("shuffle_write_bytes"),
        sum("shuffle_read_bytes"),
        "every shuffle byte written is read once in a run without failures"
    );
    // The reduce side of the word counts has one task per partition.
    let reduce = stages
        .iter()
        .find(|s| u(s, "shuffle_read_bytes") > 0)
        .expect("a stage reading a shuffle");
    assert_eq!(u(reduce, "tasks"), 7, "--partitions 7: {reduce}");
    assert!(
        stages
            .iter()
            .any(|s| u(s, "records_out") == reference.len() as u64),
        "no stage wrote the {} distinct words",
        reference.len()
    );

    let detail = m["workers_detail"].as_array().expect("workers_detail");
    let mut worker_ids = BTreeSet::new();
    for w in detail {
        assert!(worker_ids.insert(u(w, "id")), "worker id repeated: {w}");
        u(w, "tasks");
        f(w, "busy_seconds");
    }
    let worker_tasks: u64 = detail.iter().map(|w| u(w, "tasks")).sum();
    assert_eq!(
        sum("tasks"),
        worker_tasks,
        "stage and worker task counts differ"
    );
    if let Some(timeline) = m["timeline"].as_array() {
        let ok = timeline.iter().filter(|t| t["ok"] == true).count() as u64;
        assert_eq!(ok, worker_tasks, "timeline and task counts differ");
    }
    m
}

#[test]
fn metrics_of_a_three_worker_run() {
    let m = wordcount_metrics(&["--workers", "3"]);
    assert_eq!(u(&m, "workers"), 3);
    assert_eq!(u(&m, "threads"), 1);
    let detail = m["workers_detail"].as_array().unwrap();
    assert_eq!(detail.len(), 3, "{detail:?}");
    let stages = m["stages"].as_array().unwrap();
    assert!(
        stages
            .iter()
            .map(|s| u(s, "shuffle_write_bytes"))
            .sum::<u64>()
            > 0
    );
    assert!(
        stages
            .iter()
            .map(|s| u(s, "shuffle_read_bytes"))
            .sum::<u64>()
            > 0
    );
}

#[test]
fn metrics_of_an_in_process_run() {
    let m = wordcount_metrics(&["--local", "--threads", "3"]);
    assert_eq!(u(&m, "workers"), 1);
    assert_eq!(u(&m, "threads"), 3);
}

#[test]
fn metrics_of_pagerank_report_its_parameters() {
    let tmp = tempfile::tempdir().unwrap();
    let props = samples().join("graphalytics/test-pr-directed.properties");
    let metrics = tmp.path().join("m.json");
    run_weir(&[
        "run",
        "pagerank",
        "--dataset",
        &path_str(&props),
        "--workers",
        "2",
        "--quiet",
        "--metrics-json",
        &path_str(&metrics),
    ])
    .assert_ok();
    let m = read_metrics(&metrics);
    assert_eq!(m["job"], "pagerank");
    assert_eq!(u(&m["result"], "vertices"), 50);
    assert_eq!(u(&m["result"], "iterations"), 14);
    assert_eq!(m["result"]["damping"].as_f64(), Some(0.85));
    assert_eq!(m["workers_detail"].as_array().unwrap().len(), 2);
}
