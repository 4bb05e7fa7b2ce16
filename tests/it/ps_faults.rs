//! Parameter-server runs that lose a worker process (SIGKILL) mid-training: the lost
//! shards start again from their snapshots on a survivor, the lost data partitions are
//! read again from lineage, and training goes on from the snapshots' clock. Under BSP the
//! run ends with exactly the weights of an undisturbed run; under ASP within the accuracy
//! tolerance. `WEIR_INJECT_TASK_DELAY_MS` slows every clock so the job is still training
//! when the test strikes.

use std::path::Path;
use std::time::Duration;

use super::faults::{lost_workers, strike};
use super::util::*;

/// A dense classification problem: 3,000 rows of 8 features and 500 held out.
fn data(dir: &Path) -> Vec<String> {
    let train = dir.join("train.csv");
    let test = dir.join("test.csv");
    let args = [
        "datasets",
        "gen",
        "classification",
        "--rows",
        "3000",
        "--features",
        "8",
        "--seed",
        "9",
        "--output",
        &path_str(&train),
        "--test-rows",
        "500",
        "--test-output",
        &path_str(&test),
    ];
    run_weir(&args).assert_ok();
    [
        "logreg",
        "--input",
        &path_str(&train),
        "--test",
        &path_str(&test),
        "--epochs",
        "6",
        "--batch",
        "50",
        "--trainers",
        "3",
        "--checkpoint-every",
        "5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The weights (by key) and the metrics' result of a run of `job` with 3 workers, one of
/// them killed after `after` when `kill`.
fn run(dir: &Path, job: &[String], kill: bool) -> (Vec<String>, serde_json::Value) {
    let delay = 20;
    let struck = strike(
        dir,
        job,
        3,
        &[],
        delay,
        Duration::from_millis(1200),
        usize::from(kill),
        libc::SIGKILL,
    );
    let output = struck.driver.wait(Duration::from_secs(120));
    output.assert_ok();
    if kill {
        assert!(
            output
                .stderr
                .contains("going on from the shards' snapshots of clock"),
            "the run did not resume from snapshots:\n{}",
            output.stderr
        );
        assert_eq!(lost_workers(&struck.metrics), 1);
    }
    let mut lines = read_parts(&struck.out_dir);
    lines.sort();
    (lines, read_metrics(&struck.metrics)["result"].clone())
}

#[test]
fn a_killed_worker_leaves_the_bsp_weights_exactly_as_an_undisturbed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let job = data(tmp.path());
    let calm = tmp.path().join("calm");
    std::fs::create_dir(&calm).unwrap();
    let (want, calm_result) = run(&calm, &job, false);
    let struck = tmp.path().join("struck");
    std::fs::create_dir(&struck).unwrap();
    let (got, result) = run(&struck, &job, true);
    assert_eq!(got, want, "the weights differ from the undisturbed run's");
    for figure in ["loss", "test_loss", "test_accuracy"] {
        assert_eq!(result[figure], calm_result[figure], "{figure}");
    }
    let last = result["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["epoch"], 6);
}

#[test]
fn a_killed_worker_leaves_asp_accuracy_within_one_percent() {
    let tmp = tempfile::tempdir().unwrap();
    let mut job = data(tmp.path());
    job.extend(["--consistency".into(), "asp".into()]);
    let calm = tmp.path().join("calm");
    std::fs::create_dir(&calm).unwrap();
    let (_, want) = run(&calm, &job, false);
    let struck = tmp.path().join("struck");
    std::fs::create_dir(&struck).unwrap();
    let (_, got) = run(&struck, &job, true);
    let (a, b) = (
        want["test_accuracy"].as_f64().unwrap(),
        got["test_accuracy"].as_f64().unwrap(),
    );
    assert!(a > 0.9, "the undisturbed run reached only {a}");
    assert!(
        (a - b).abs() <= 0.01,
        "accuracy {b} after the kill, {a} without"
    );
}
