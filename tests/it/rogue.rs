//! A worker that authenticates and then lies: it plays the worker protocol by hand and
//! answers a task with a crafted `TaskDone` (a wrong kind, an out-of-range map or
//! partition, a fetch failure of an unknown shuffle or map output, a task it was never
//! given …). The driver must evict it with a one-line reason, never panic, and finish the
//! job with the honest worker, with the reference's output.

use std::path::Path;
use std::time::Duration;

use weir::engine::auth::{join_driver, Secret};
use weir::engine::frame::{framed, Frame, FrameKind};
use weir::engine::protocol::{
    binary_version, encode, receive, DriverMessage, TaskDescription, TaskKind, TaskOutcome,
    TaskSuccess, WorkerMessage,
};
use weir::engine::task::TaskMetrics;
use weir::engine::TaskError;

use super::util::*;

/// The lies the rogue tells, one per run.
#[derive(Debug, Clone, Copy)]
enum Lie {
    /// A map task reported as a result task.
    WrongKind,
    /// The task's own kind with a map index past the shuffle's map partitions.
    MapOutOfRange,
    /// A result of a partition past the action's partitions.
    PartitionOutOfRange,
    /// A map output with the wrong number of reduce partitions.
    WrongSizes,
    /// A fetch failure of a shuffle that does not exist.
    UnknownShuffle,
    /// A fetch failure of a map output past the shuffle's map partitions.
    FetchMapOutOfRange,
    /// A report of a task it was never given.
    NeverGiven,
    /// A cached partition of a node the plan does not have.
    CachedNowhere,
}

fn outcome(desc: &TaskDescription, result: Result<TaskSuccess, TaskError>) -> TaskOutcome {
    TaskOutcome {
        task_id: desc.task_id,
        kind: desc.kind,
        result,
        metrics: TaskMetrics::default(),
        seconds: 0.001,
    }
}

impl Lie {
    /// The crafted answer to `desc`, or `None` to wait for a task that suits the lie.
    fn answer(self, desc: &TaskDescription) -> Option<TaskOutcome> {
        let map_output = Ok(TaskSuccess::MapOutput { sizes: vec![0; 4] });
        let mut out = outcome(desc, map_output.clone());
        match (self, desc.kind) {
            (Lie::WrongKind, TaskKind::ShuffleMap { .. }) => {
                out.kind = TaskKind::Result {
                    action: 0,
                    partition: 0,
                };
            }
            (Lie::MapOutOfRange, TaskKind::ShuffleMap { shuffle, .. }) => {
                out.kind = TaskKind::ShuffleMap {
                    shuffle,
                    map: 1_000_000,
                };
            }
            (Lie::PartitionOutOfRange, TaskKind::Result { action, .. }) => {
                out.kind = TaskKind::Result {
                    action,
                    partition: 1_000_000,
                };
                out.result = Ok(TaskSuccess::Result(Vec::new()));
            }
            (Lie::WrongSizes, TaskKind::ShuffleMap { .. }) => {
                out.result = Ok(TaskSuccess::MapOutput {
                    sizes: vec![1; 977],
                });
            }
            (Lie::UnknownShuffle, _) => out.result = Err(fetch_failed(999_999, 0, 1)),
            (Lie::FetchMapOutOfRange, _) => {
                let (&shuffle, holders) = desc.locations.shuffles.iter().next()?;
                let holder = holders.iter().flatten().next().copied().unwrap_or(1);
                out.result = Err(fetch_failed(shuffle, 1_000_000, holder));
            }
            (Lie::NeverGiven, _) => out.task_id = desc.task_id + 1_000_000,
            (Lie::CachedNowhere, TaskKind::ShuffleMap { .. }) => {
                out.metrics.cached = vec![(1_000_000, 0)];
            }
            _ => return None,
        }
        Some(out)
    }
}

fn fetch_failed(shuffle: usize, map_partition: usize, worker: u32) -> TaskError {
    TaskError::FetchFailed {
        shuffle,
        map_partition,
        worker,
        message: "crafted".into(),
    }
}

/// Plays a worker that tells `lie` once; returns the driver's reason for evicting it.
async fn play_rogue(port: u16, secret: Secret, lie: Lie) -> Result<String, String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let mut conn = framed(stream);
    join_driver(
        &mut conn,
        &secret,
        &binary_version(),
        Duration::from_secs(10),
    )
    .await
    .map_err(|e| e.to_string())?;
    let send = |m: WorkerMessage| Frame::new(FrameKind::Control, encode(&m));
    use futures::SinkExt;
    conn.send(send(WorkerMessage::Register {
        data_address: "127.0.0.1:9".into(),
        threads: 0,
        pid: std::process::id(),
        host: "rogue".into(),
    }))
    .await
    .map_err(|e| e.to_string())?;
    loop {
        let message = receive::<DriverMessage, _>(&mut conn, Some(Duration::from_secs(60)))
            .await
            .map_err(|e| e.to_string())?;
        let reply = match message {
            DriverMessage::RunTask(desc) => match lie.answer(&desc) {
                Some(lying) => lying,
                // Not a task for this lie: give it back, as a worker whose job ended would.
                None => outcome(&desc, Err(TaskError::Cancelled("busy".into()))),
            },
            DriverMessage::Evicted { reason } => return Ok(reason),
            DriverMessage::Shutdown { .. } => return Err("the job ended without evicting".into()),
            _ => continue,
        };
        let _ = conn.send(send(WorkerMessage::TaskDone(reply))).await;
        let _ = conn.send(send(WorkerMessage::Heartbeat)).await;
    }
}

fn run_with_rogue(tmp: &Path, lie: Lie) {
    let secret_file = tmp.join("secret");
    std::fs::write(&secret_file, "rogue test secret").unwrap();
    let out = tmp.join("out");
    let port = free_port();
    let text = samples().join("text");
    let mut driver = Proc::spawn(weir(&[
        "run",
        "wordcount",
        "--input",
        &path_str(&text),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--secret-file",
        &path_str(&secret_file),
        "--join-workers",
        "2",
        "--partitions",
        "4",
        "--quiet",
        "--output",
        &path_str(&out),
    ]));
    driver.wait_for_stderr("listening on", Duration::from_secs(60));
    let secret = Secret::from_file(&secret_file).unwrap();
    let rogue = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(play_rogue(port, secret, lie))
    });
    // The honest worker joins after the rogue, so the rogue is in from the first stage.
    std::thread::sleep(Duration::from_millis(300));
    let honest = Proc::spawn(weir(&[
        "worker",
        "--join",
        &format!("127.0.0.1:{port}"),
        "--secret-file",
        &path_str(&secret_file),
    ]));
    let done = driver.wait_explained(Duration::from_secs(90), &format!("{lie:?}"));
    let _ = honest.wait(Duration::from_secs(30));
    let reason = rogue.join().unwrap();
    assert_eq!(
        done.code(),
        Some(0),
        "{lie:?}: driver failed:\n{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains("panicked"),
        "{lie:?}:\n{}",
        done.stderr
    );
    let reason = reason.unwrap_or_else(|e| panic!("{lie:?}: the rogue was not evicted: {e}"));
    assert!(!reason.contains('\n'), "{lie:?}: {reason}");
    let evicted = done
        .stderr
        .lines()
        .find(|l| l.contains("evicting worker"))
        .unwrap_or_else(|| panic!("{lie:?}: no eviction logged:\n{}", done.stderr));
    assert!(evicted.contains(&reason), "{lie:?}: {evicted} / {reason}");
    let want = weir::jobs::wordcount::reference(&expand(&text), false).unwrap();
    assert!(
        word_counts(&read_parts(&out)) == want,
        "{lie:?}: word counts differ from the reference"
    );
}

#[test]
fn a_lying_worker_is_evicted_and_the_job_ends_right() {
    for lie in [
        Lie::WrongKind,
        Lie::MapOutOfRange,
        Lie::PartitionOutOfRange,
        Lie::WrongSizes,
        Lie::UnknownShuffle,
        Lie::FetchMapOutOfRange,
        Lie::NeverGiven,
        Lie::CachedNowhere,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        run_with_rogue(tmp.path(), lie);
    }
}
