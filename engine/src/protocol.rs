//! Every message between the driver and a worker, and between workers, in one place.
//!
//! Control messages travel as bincode bodies of [`FrameKind::Control`](crate::frame::FrameKind)
//! frames after the authentication handshake (`auth`). The data plane (shuffle fetches between
//! workers) uses the `Fetch*` frame kinds with the bodies defined at the bottom.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::frame::{Frame, FrameError, FrameKind};
use crate::plan::{ActionId, NodeId, SessionId, ShuffleId};
use crate::task::{ShuffleLocations, TaskMetrics, WorkerId};

/// Options every process of a job must agree on; sent by the driver with [`DriverMessage::JobStart`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobOptions {
    /// Default number of partitions for shuffles and inputs (the cluster's total task slots
    /// times a small factor), so every process builds the same plan.
    pub parallelism: usize,
    /// Worker processes in the job (as started).
    pub workers: usize,
    /// Task slots (threads) per worker.
    pub threads: usize,
    /// Skip malformed input records (counted) instead of failing.
    pub skip_bad_records: bool,
    /// Output directory of `save`, if any.
    pub output: Option<std::path::PathBuf>,
    /// Output format: `tsv` or `parquet`.
    pub format: String,
    /// The job prints nothing on stdout (benchmark runs).
    pub silent: bool,
    /// Sessions that can (Pregel runs) take a checkpoint every this many steps; 0 never.
    pub checkpoint_every: u64,
    /// The driver records events (an event log or the web UI): session partitions report
    /// their progress as they go.
    #[serde(default)]
    pub record_events: bool,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            parallelism: 2,
            workers: 1,
            threads: 1,
            skip_bad_records: false,
            output: None,
            format: "tsv".into(),
            silent: false,
            checkpoint_every: 10,
            record_events: false,
        }
    }
}

/// Which piece of work a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskKind {
    /// Map partition `map` of shuffle `shuffle`.
    ShuffleMap { shuffle: ShuffleId, map: usize },
    /// Partition `partition` of action `action`.
    Result { action: ActionId, partition: usize },
}

/// A task as sent to a worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskDescription {
    pub task_id: u64,
    pub kind: TaskKind,
    pub attempt: u32,
    /// The driver's plan fingerprint at the action or shuffle; a mismatch refuses the task.
    pub fingerprint: u64,
    /// Holders of the map outputs the task may read.
    pub locations: ShuffleLocations,
}

/// What a successful task produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum TaskSuccess {
    /// Bytes written per reduce partition.
    MapOutput { sizes: Vec<u64> },
    /// The action's bytes for this partition.
    Result(Vec<u8>),
}

/// A finished task attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskOutcome {
    pub task_id: u64,
    pub kind: TaskKind,
    pub result: Result<TaskSuccess, TaskError>,
    pub metrics: TaskMetrics,
    pub seconds: f64,
}

/// What the driver asks of a worker's part of a session (see `session`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum SessionCommand {
    /// Open the partitions `placement` (the worker of each partition) puts on this worker.
    Open {
        fingerprint: u64,
        placement: Vec<WorkerId>,
        /// Data-plane address of every worker of the session.
        addresses: BTreeMap<WorkerId, String>,
        /// The exchange channel the session's checkpoints live on (kept across the
        /// attempts of one run).
        checkpoints: u64,
        /// Start from a checkpoint instead of the input.
        restore: Option<SessionRestore>,
        /// The worker of each service shard (see `session::service`).
        services: Vec<WorkerId>,
        /// Start the service shards from their snapshots instead of afresh.
        service_restore: Option<ServiceRestore>,
    },
    /// Run step `step` of every local partition with the barrier's `control` bytes;
    /// with `checkpoint`, first snapshot each partition and its inbox, keep the snapshot
    /// and push a replica to the next worker. Checkpoints older than `forget_before` are
    /// dropped.
    Step {
        step: u64,
        control: Vec<u8>,
        checkpoint: bool,
        forget_before: u64,
    },
    /// Finish every local partition and send the results.
    Close,
    /// Drop the session's partitions (a worker was lost); keep its checkpoints.
    Abort,
}

/// Where a restored session starts: the checkpoint of step `step`, and for each
/// partition the worker that holds its snapshot and hands it over.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRestore {
    pub step: u64,
    pub sources: Vec<WorkerId>,
}

/// Where a session's service shards start again: the snapshots tagged `tag`, each
/// handed over by the worker `sources[shard]`, the attempt's first step being `step`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceRestore {
    pub step: u64,
    pub tag: u64,
    pub sources: Vec<WorkerId>,
}

/// A worker's answer to a [`SessionCommand`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum SessionReply {
    /// Its partitions are open.
    Opened,
    /// Step `step` ran on its partitions: each partition's report.
    StepDone {
        step: u64,
        reports: Vec<(u32, Vec<u8>)>,
    },
    /// Its partitions' results, and the partitions of persisted nodes they left in the
    /// worker's cache (a Pregel run's output).
    Closed {
        results: Vec<(u32, Vec<u8>)>,
        cached: Vec<(NodeId, usize)>,
        /// The results of its service shards.
        services: Vec<(u32, Vec<u8>)>,
    },
    /// Its partitions of the session are dropped; `snapshots` are the `(shard, tag)`
    /// service snapshots it holds on checkpoint channel `channel`.
    Aborted {
        channel: u64,
        snapshots: Vec<(u32, u64)>,
    },
    /// The session failed here.
    Failed(TaskError),
    /// Events of the running step, recorded by its partitions as they go (a JSON array of
    /// [`crate::observe::Event`]; only the kinds a partition may report, see
    /// `Outbox::record`), for the run's event log and live UI.
    Progress { events: Vec<u8> },
}

/// Driver → worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum DriverMessage {
    /// The job to build: name, arguments, options, and every driver value so far (so a
    /// worker that joins late replays the job to where the driver is).
    JobStart {
        job: String,
        args: Vec<String>,
        options: JobOptions,
        values: Vec<Vec<u8>>,
    },
    /// The next value of the driver's value log (an action's result, a broadcast, a split list).
    DriverValue { seq: u64, bytes: Vec<u8> },
    /// Run a task.
    RunTask(TaskDescription),
    /// Drop every map output of these shuffles and every cached partition of these nodes:
    /// no stage the job can still run reads them.
    Release {
        shuffles: Vec<ShuffleId>,
        nodes: Vec<NodeId>,
    },
    /// A step of a session of long-lived tasks.
    Session {
        session: SessionId,
        command: SessionCommand,
    },
    /// The job is over (finished, or failed for a reason of its own); exit.
    Shutdown { reason: String, ok: bool },
    /// This worker may not take part any more (its plan differs from the driver's, or it
    /// misbehaved); exit with the reason.
    Evicted { reason: String },
}

/// Worker → driver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum WorkerMessage {
    /// After authentication: where this worker serves shuffle blocks, and its task slots.
    Register {
        data_address: String,
        threads: usize,
        pid: u32,
        host: String,
    },
    /// Still alive.
    Heartbeat,
    /// A task finished (successfully or not).
    TaskDone(TaskOutcome),
    /// The worker cannot take part (unknown job, bad arguments); it exits after sending this.
    Refuse { reason: String },
    /// The worker's copy of the job function failed.
    JobFailed { message: String },
    /// The answer to a session command.
    Session {
        session: SessionId,
        reply: SessionReply,
    },
}

/// Data plane: a reduce task asks a peer for its blocks of some map outputs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FetchRequest {
    pub shuffle: ShuffleId,
    pub reduce: usize,
    pub maps: Vec<u32>,
}

/// Data plane: a peer could not serve a map output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FetchFailure {
    pub map: u32,
    pub message: String,
}

/// Why no control message could be read from a connection.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The peer closed the connection.
    #[error("connection closed")]
    Closed,
    /// Nothing arrived in time.
    #[error("silent for {0}s")]
    Silent(u64),
    /// The bytes were not a frame.
    #[error("malformed frame: {0}")]
    Frame(#[from] FrameError),
    /// A frame of another kind than control.
    #[error("unexpected {0:?} frame")]
    Unexpected(FrameKind),
    /// A control frame whose body is not a message.
    #[error("{0}")]
    Malformed(String),
}

/// Reads the next control message from `frames`, waiting at most `timeout` when given:
/// the one way the driver and the workers receive on their control connections.
pub async fn receive<T, S>(frames: &mut S, timeout: Option<Duration>) -> Result<T, ReceiveError>
where
    T: serde::de::DeserializeOwned,
    S: Stream<Item = Result<Frame, FrameError>> + Unpin,
{
    let next = match timeout {
        Some(limit) => tokio::time::timeout(limit, frames.next())
            .await
            .map_err(|_| ReceiveError::Silent(limit.as_secs()))?,
        None => frames.next().await,
    };
    let frame = next.ok_or(ReceiveError::Closed)??;
    if frame.kind != FrameKind::Control {
        return Err(ReceiveError::Unexpected(frame.kind));
    }
    decode(&frame.body).map_err(ReceiveError::Malformed)
}

/// The identity sent in the handshake: package version and wire version.
pub fn binary_version() -> String {
    format!(
        "{}+wire{}",
        env!("CARGO_PKG_VERSION"),
        crate::frame::WIRE_VERSION
    )
}

/// Encodes a control message body.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    bincode::serialize(message).expect("control messages always serialize")
}

/// Decodes a control message body; a malformed body is an error, never a panic.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit(body.len() as u64 + 1024)
        .deserialize(body)
        .map_err(|e| format!("malformed message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let m = DriverMessage::Shutdown {
            reason: "done".into(),
            ok: true,
        };
        assert_eq!(decode::<DriverMessage>(&encode(&m)).unwrap(), m);
        assert!(decode::<DriverMessage>(&[0xff, 0xff, 0xff, 0xff, 1, 2]).is_err());
        // A huge length prefix must not allocate or panic.
        let mut evil = vec![0u8; 4];
        evil.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<WorkerMessage>(&evil).is_err());
    }
}
