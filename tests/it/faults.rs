//! Fault tolerance: worker processes killed (SIGKILL) or frozen (SIGSTOP) in the middle of
//! a job. `WEIR_INJECT_TASK_DELAY_MS` slows every task so the job is still running when the
//! test strikes; the worker pids are the driver's children found through `/proc`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::util::*;

/// A running `weir run JOB_ARGS --workers N` whose workers were struck.
pub(super) struct Struck {
    pub driver: Proc,
    pub metrics: PathBuf,
    pub out_dir: PathBuf,
}

/// Starts the job, waits for its `workers` worker processes, and `after` the start sends
/// `signal` to the first `victims` of them (in pid order). Fails the test if the job had
/// already ended by then, since the fault would then prove nothing.
#[allow(clippy::too_many_arguments)]
pub(super) fn strike(
    tmp: &Path,
    job_args: &[String],
    workers: usize,
    extra: &[&str],
    delay_ms: u64,
    after: Duration,
    victims: usize,
    signal: libc::c_int,
) -> Struck {
    let out_dir = tmp.join("out");
    let metrics = tmp.join("metrics.json");
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(job_args.iter().cloned());
    args.extend(
        [
            "--workers",
            &workers.to_string(),
            "--quiet",
            "--output",
            &path_str(&out_dir),
            "--metrics-json",
            &path_str(&metrics),
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string()),
    );
    let mut cmd = weir(&args);
    cmd.env("WEIR_INJECT_TASK_DELAY_MS", delay_ms.to_string());
    // A killed worker cannot remove its spill directory: keep those in the test's folder.
    cmd.env("TMPDIR", tmp);
    let started = Instant::now();
    let mut driver = Proc::spawn(cmd);
    let pids = wait_for_workers(&mut driver, workers, Duration::from_secs(60));
    std::thread::sleep(after.saturating_sub(started.elapsed()));
    assert!(
        driver.is_running(),
        "the job ended before the workers were struck; make it slower"
    );
    for pid in pids.iter().take(victims) {
        let rc = unsafe { libc::kill(*pid as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
    }
    Struck {
        driver,
        metrics,
        out_dir,
    }
}

pub(super) fn lost_workers(metrics: &Path) -> u64 {
    let m = read_metrics(metrics);
    let lost = m["workers_lost"].as_u64().expect("workers_lost");
    let flagged = m["workers_detail"]
        .as_array()
        .expect("workers_detail")
        .iter()
        .filter(|w| w["lost"].as_bool() == Some(true))
        .count() as u64;
    assert_eq!(lost, flagged, "workers_lost disagrees with workers_detail");
    lost
}

/// Failed task attempts over all stages.
fn failed_attempts(metrics: &Path) -> u64 {
    let m = read_metrics(metrics);
    let stages = m["stages"].as_array().expect("stages");
    stages
        .iter()
        .map(|s| s["failed_tasks"].as_u64().expect("failed_tasks"))
        .sum()
}

#[test]
fn wordcount_survives_a_killed_worker() {
    let tmp = tempfile::tempdir().unwrap();
    let text = gen_text(tmp.path(), "5MB", 3);
    let want = weir::jobs::wordcount::reference(std::slice::from_ref(&text), false).unwrap();
    let job = vec!["wordcount".into(), "--input".into(), path_str(&text)];
    let run = strike(
        tmp.path(),
        &job,
        3,
        &["--partitions", "24"],
        150,
        Duration::from_secs(1),
        1,
        libc::SIGKILL,
    );
    run.driver.wait(TIMEOUT).assert_ok();
    let got = word_counts(&read_parts(&run.out_dir));
    assert_eq!(
        got.len(),
        want.len(),
        "distinct words after a worker was killed"
    );
    assert!(
        got == want,
        "word counts differ from the reference after a worker was killed"
    );
    assert_eq!(lost_workers(&run.metrics), 1);
}

#[test]
fn wordcount_survives_a_worker_killed_during_a_wide_reduce() {
    // 150 reduce partitions: when the worker dies in the reduce stage, many reduce tasks
    // are already queued. They must wait for the lost map outputs to be recomputed rather
    // than run (and fail) against missing outputs until the job gives up.
    let tmp = tempfile::tempdir().unwrap();
    let text = gen_text(tmp.path(), "5MB", 3);
    let want = weir::jobs::wordcount::reference(std::slice::from_ref(&text), false).unwrap();
    let job = vec!["wordcount".into(), "--input".into(), path_str(&text)];
    let run = strike(
        tmp.path(),
        &job,
        3,
        &["--partitions", "150"],
        50,
        Duration::from_millis(900),
        1,
        libc::SIGKILL,
    );
    run.driver.wait(TIMEOUT).assert_ok();
    let got = word_counts(&read_parts(&run.out_dir));
    assert!(
        got == want,
        "word counts differ from the reference after a worker was killed"
    );
    assert_eq!(lost_workers(&run.metrics), 1);
    // The lost worker ran one task and the others may have been fetching from it: a
    // handful of failed attempts. Many more means tasks ran against missing map outputs.
    let failed = failed_attempts(&run.metrics);
    assert!(
        failed <= 12,
        "{failed} failed task attempts after losing one worker of three"
    );
}

#[test]
fn pagerank_dataflow_survives_a_killed_worker() {
    // Killed after the links are cached and several iterations have run: the lost cached
    // partitions and map outputs must be recomputed from lineage.
    let props = samples().join("graphalytics/test-pr-directed.properties");
    let problem = pr_problem(&props);
    let tmp = tempfile::tempdir().unwrap();
    let job = vec![
        "pagerank".into(),
        "--model".into(),
        "dataflow".into(),
        "--dataset".into(),
        path_str(&props),
    ];
    let run = strike(
        tmp.path(),
        &job,
        3,
        &["--partitions", "6"],
        60,
        Duration::from_millis(1500),
        1,
        libc::SIGKILL,
    );
    run.driver.wait(TIMEOUT).assert_ok();
    let got = ranks(&read_parts(&run.out_dir));
    assert_ranks_close(
        &got,
        &problem.reference(),
        1e-9,
        "pagerank after a kill vs reference",
    );
    assert_ranks_close(
        &got,
        &problem.expected(),
        1e-4,
        "pagerank after a kill vs Graphalytics",
    );
    assert_eq!(lost_workers(&run.metrics), 1);
}

#[test]
fn killing_every_worker_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let text = gen_text(tmp.path(), "2MB", 4);
    let job = vec!["wordcount".into(), "--input".into(), path_str(&text)];
    let run = strike(
        tmp.path(),
        &job,
        2,
        &["--partitions", "16"],
        150,
        Duration::from_secs(1),
        2,
        libc::SIGKILL,
    );
    let output = run.driver.wait(Duration::from_secs(60));
    let last = output.assert_clean_error();
    assert!(
        last.contains("worker"),
        "the error should say the workers were lost: {last}"
    );
    assert!(
        !run.out_dir.exists(),
        "a failed job left its output directory"
    );
    assert_eq!(staging_leftovers(tmp.path()), Vec::<String>::new());
    assert!(!run.metrics.exists(), "a failed job wrote a metrics file");
}

#[test]
fn a_frozen_worker_is_lost_after_the_heartbeat_timeout() {
    // SIGSTOP keeps the worker's sockets open but silent: only the heartbeat timeout can
    // tell the driver it is gone, and no fetch from it may hang the job.
    let tmp = tempfile::tempdir().unwrap();
    let text = gen_text(tmp.path(), "3MB", 5);
    let want = weir::jobs::wordcount::reference(std::slice::from_ref(&text), true).unwrap();
    let job = vec![
        "wordcount".into(),
        "--lowercase".into(),
        "--input".into(),
        path_str(&text),
    ];
    let run = strike(
        tmp.path(),
        &job,
        3,
        &["--partitions", "18", "--heartbeat-timeout", "2"],
        150,
        Duration::from_secs(1),
        1,
        libc::SIGSTOP,
    );
    // Unharmed, the job takes about 3 s; a lost worker costs the 2 s heartbeat timeout and
    // the re-run of its work. A minute is far more than that.
    let output = run.driver.wait_explained(
        Duration::from_secs(60),
        "the job must recover from a frozen worker soon after --heartbeat-timeout 2",
    );
    output.assert_ok();
    let got = word_counts(&read_parts(&run.out_dir));
    assert!(
        got == want,
        "word counts differ from the reference after a worker froze"
    );
    assert_eq!(lost_workers(&run.metrics), 1);
}
