//! The events of a run, as the event log writes them: one JSON object a line, each with the
//! seconds since the job started (`t`) and its kind (`event`). The first line of a log is
//! always `job_start`, which carries the format's [`FORMAT_VERSION`]; a reader refuses a
//! log of another version. The format is documented in `docs/event-log.md`.

use serde::{Deserialize, Serialize};

/// Version of the event log format (in `job_start`). Adding an optional field keeps it;
/// renaming or removing one, or changing what a field means, raises it.
pub const FORMAT_VERSION: u32 = 1;

/// An event with the time it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    /// Seconds since the job started, by the driver's clock.
    pub t: f64,
    #[serde(flatten)]
    pub event: Event,
}

/// Where a task ran relative to its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Locality {
    /// On a worker holding its cached input partition.
    ProcessLocal,
    /// Its input was read from files or shuffle outputs: no worker is closer than another.
    Any,
    /// Its cached input was elsewhere, and it ran here after the locality wait.
    Remote,
}

/// What a finished task attempt reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskFigures {
    /// Wall seconds of the attempt on its worker.
    pub seconds: f64,
    /// Of `seconds`: not shuffle read or write.
    pub compute_seconds: f64,
    /// Of `seconds`: waiting for shuffle blocks.
    pub shuffle_read_seconds: f64,
    /// Of `seconds`: encoding and storing map output.
    pub shuffle_write_seconds: f64,
    pub records_in: u64,
    pub records_out: u64,
    pub bytes_in: u64,
    pub shuffle_read_bytes: u64,
    pub shuffle_write_bytes: u64,
    pub spill_bytes: u64,
    /// The worker process's peak resident set when the attempt ended.
    pub peak_rss_bytes: u64,
    /// Shuffle bytes read from each worker: `[worker, bytes]` pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shuffle_read_from: Vec<(u32, u64)>,
}

/// One thing that happened in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The job started (always the first line).
    JobStart {
        version: u32,
        job: String,
        args: Vec<String>,
        /// Worker processes asked for (1 for an in-process run).
        workers: usize,
        threads: usize,
        /// Unix time of `t = 0`.
        unix_seconds: f64,
        /// The driver's process id.
        pid: u32,
    },
    /// The job ended; `error` says why when it failed.
    JobEnd {
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    WorkerJoined {
        worker: u32,
        host: String,
        pid: u32,
        slots: usize,
        /// Its data server's address (`local` in an in-process run).
        address: String,
    },
    /// A worker died, went silent, or its connection closed.
    WorkerLost {
        worker: u32,
        reason: String,
    },
    /// The driver sent a worker away: its report did not fit the driver's records.
    WorkerEvicted {
        worker: u32,
        reason: String,
    },
    /// A stage was given tasks to run (again, after a recomputation).
    StageSubmitted {
        stage: usize,
        name: String,
        /// The stage's partitions: one task each.
        tasks: usize,
        /// The tasks queued now (fewer than `tasks` when part of the stage is done, or
        /// when lost outputs are computed again).
        queued: usize,
        /// The stages whose shuffle output this stage reads.
        parents: Vec<usize>,
        /// Whether the stage writes a shuffle (a map side) rather than an action's result.
        shuffle_map: bool,
    },
    StageCompleted {
        stage: usize,
    },
    TaskStart {
        task: u64,
        stage: usize,
        partition: usize,
        worker: u32,
        /// The worker's slot (0-based) the attempt occupies, for the timeline.
        slot: usize,
        attempt: u32,
        locality: Locality,
    },
    TaskEnd {
        task: u64,
        stage: usize,
        partition: usize,
        worker: u32,
        slot: usize,
        attempt: u32,
        ok: bool,
        #[serde(flatten)]
        figures: TaskFigures,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<String>,
    },
    /// Work done before is done again from lineage: map outputs or cached partitions lost
    /// with a worker, or a shuffle output a reader could not fetch.
    Recompute {
        reason: String,
        map_outputs: usize,
        cached_partitions: usize,
    },
    /// A step of a long-lived session (a Pregel superstep, a parameter-server step) ended
    /// at its barrier.
    SessionStep {
        session: usize,
        name: String,
        step: u64,
        /// Seconds from the step's command to its last report.
        seconds: f64,
    },
    /// A Pregel superstep's figures.
    Superstep {
        step: u64,
        active_vertices: u64,
        messages: u64,
        /// Messages that crossed partitions in batches, after combining.
        delivered: u64,
    },
    /// A session checkpoint was taken (`complete: false`) or reached every replica.
    Checkpoint {
        session: usize,
        step: u64,
        complete: bool,
    },
    /// A session lost workers and rolls back to a checkpoint or restarts from lineage.
    SessionLost {
        session: usize,
        step: u64,
        workers: Vec<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restore_step: Option<u64>,
    },
    /// A parameter-server trainer's progress: its clock, the loss of its latest minibatches
    /// and the staleness its pulls saw (its clock minus the oldest clock of the updates
    /// they were guaranteed).
    Clock {
        trainer: u32,
        /// The worker the trainer runs on, as the driver knows it (it fills this in for
        /// the reports it receives).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worker: Option<u32>,
        clock: u64,
        loss: f64,
        staleness: u64,
    },
    /// Parameter-server shards were restored from their replicas after a lost worker.
    ServerRestore {
        shards: Vec<u32>,
        /// The clock the restored snapshots were taken at.
        clock: u64,
    },
}
