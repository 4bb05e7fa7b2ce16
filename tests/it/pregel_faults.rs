//! Pregel runs that lose worker processes (SIGKILL, or SIGSTOP and missed heartbeats)
//! mid-job: the run goes back to its last complete checkpoint, replicated on another
//! worker, or starts again from superstep 0 when a partition lost its checkpoint too,
//! and ends with the output of an undisturbed run. `WEIR_INJECT_TASK_DELAY_MS` slows every partition's superstep so the
//! job is still running when the test strikes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::faults::{lost_workers, strike};
use super::util::*;

/// A graph with a long chain (hundreds of supersteps for BFS and SSSP from vertex 0) and
/// edges back along it, which keep the distances but give the messages more to do.
fn chain_graph(dir: &Path) -> PathBuf {
    let path = dir.join("chain.e");
    let mut text = String::new();
    for v in 0..300u64 {
        text.push_str(&format!("{v} {} {}\n", v + 1, 1 + v % 3));
        if v % 7 == 0 {
            text.push_str(&format!("{v} {} {}\n", (v * 13 + 5) % (v + 1), 5 + v % 4));
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The output of an undisturbed run, sorted.
fn undisturbed(dir: &Path, job: &[String]) -> Vec<String> {
    let mut lines = run_shape(job, &["--workers", "3"], &dir.join("undisturbed"));
    lines.sort();
    lines
}

/// Kills `victims` of `workers` workers mid-run and checks the output equals an
/// undisturbed run's; returns the driver's stderr.
fn survives(job: &[String], workers: usize, victims: usize, extra: &[&str]) -> String {
    survives_signal(job, workers, victims, extra, libc::SIGKILL)
}

/// As [`survives`], striking with `signal`.
fn survives_signal(
    job: &[String],
    workers: usize,
    victims: usize,
    extra: &[&str],
    signal: libc::c_int,
) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let mut job = job.to_vec();
    let edges = chain_graph(tmp.path());
    job.extend(["--edges".into(), path_str(&edges)]);
    let want = undisturbed(tmp.path(), &job);
    let run = strike(
        tmp.path(),
        &job,
        workers,
        extra,
        5,
        Duration::from_millis(1500),
        victims,
        signal,
    );
    let out = run.driver.wait(TIMEOUT);
    out.assert_ok();
    let mut got = read_parts(&run.out_dir);
    got.sort();
    assert_eq!(got.len(), want.len(), "{job:?}: vertices after the kill");
    assert!(
        got == want,
        "{job:?}: the output differs from an undisturbed run's"
    );
    assert_eq!(lost_workers(&run.metrics), victims as u64);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("pregel: lost worker"))
        .collect();
    assert!(
        !lines.is_empty(),
        "no word of the loss on stderr:\n{}",
        out.stderr
    );
    out.stderr
}

fn job(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn pagerank_rolls_back_to_a_checkpoint_after_a_killed_worker() {
    let stderr = survives(&job(&["pagerank", "--iterations", "400"]), 3, 1, &[]);
    assert!(
        stderr.contains("rolling back to the checkpoint of superstep"),
        "{stderr}"
    );
}

#[test]
fn bfs_rolls_back_to_a_checkpoint_after_a_killed_worker() {
    let stderr = survives(
        &job(&["bfs", "--source", "0"]),
        3,
        1,
        &["--checkpoint-every", "5"],
    );
    assert!(
        stderr.contains("rolling back to the checkpoint of superstep"),
        "{stderr}"
    );
}

#[test]
fn sssp_rolls_back_to_a_checkpoint_after_a_killed_worker() {
    let stderr = survives(&job(&["sssp", "--source", "0"]), 3, 1, &[]);
    assert!(
        stderr.contains("rolling back to the checkpoint of superstep"),
        "{stderr}"
    );
}

#[test]
fn a_frozen_worker_is_lost_after_the_heartbeat_timeout_and_the_run_rolls_back() {
    // SIGSTOP keeps the worker's connections open but silent: only its missed heartbeats
    // tell the driver, and no push to it may hang the survivors.
    let stderr = survives_signal(
        &job(&["sssp", "--source", "0"]),
        3,
        1,
        &["--heartbeat-timeout", "2"],
        libc::SIGSTOP,
    );
    assert!(
        stderr.contains("rolling back to the checkpoint of superstep"),
        "{stderr}"
    );
}

#[test]
fn without_checkpoints_a_lost_worker_restarts_the_run_from_superstep_0() {
    let args = job(&["bfs", "--source", "0"]);
    let stderr = survives(&args, 3, 1, &["--checkpoint-every", "0"]);
    assert!(
        stderr.contains("restarting from superstep 0 from lineage"),
        "{stderr}"
    );
}

#[test]
fn two_of_four_workers_killed_at_once_still_give_the_right_output() {
    // Whether a partition lost both its snapshot and the replica depends on which two
    // die (neighbours in worker order share them): the run either rolls back or starts
    // again from superstep 0, and says which in one line.
    let stderr = survives(&job(&["sssp", "--source", "0"]), 4, 2, &[]);
    let said = stderr
        .lines()
        .filter(|l| l.starts_with("pregel: lost worker"))
        .count();
    assert!(said >= 1, "{stderr}");
    assert!(
        stderr.contains("rolling back") || stderr.contains("restarting from superstep 0"),
        "{stderr}"
    );
}
