//! Run metrics: per stage, per worker, and the job's own figures, written as JSON by
//! `--metrics-json` and read by `weir bench`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One stage's figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct StageMetrics {
    pub id: usize,
    pub name: String,
    /// Task attempts that succeeded.
    pub tasks: usize,
    /// Task attempts that failed or were lost and re-run.
    pub failed_tasks: usize,
    /// Wall-clock seconds from the stage's first task launch to its last task's end.
    pub seconds: f64,
    /// Seconds since the job started when the stage's first task was launched.
    pub start_seconds: f64,
    /// Sum of the task durations (compute time across slots).
    pub task_seconds: f64,
    pub records_in: u64,
    pub records_out: u64,
    pub bytes_in: u64,
    pub shuffle_write_bytes: u64,
    pub shuffle_read_bytes: u64,
    pub spill_bytes: u64,
}

impl StageMetrics {
    /// Adds one successful task attempt's figures.
    pub fn add_task(&mut self, task: &crate::task::TaskMetrics, seconds: f64) {
        self.tasks += 1;
        self.task_seconds += seconds;
        self.records_in += task.records_in;
        self.records_out += task.records_out;
        self.bytes_in += task.bytes_in;
        self.shuffle_write_bytes += task.shuffle_write_bytes;
        self.shuffle_read_bytes += task.shuffle_read_bytes;
        self.spill_bytes += task.spill_bytes;
    }
}

/// One worker's figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkerMetrics {
    pub id: u32,
    pub host: String,
    /// Task attempts it finished.
    pub tasks: usize,
    /// Sum of its task durations.
    pub busy_seconds: f64,
    /// Whether it was lost during the job.
    pub lost: bool,
}

/// One task attempt on the timeline.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskSpan {
    pub stage: usize,
    pub worker: u32,
    pub start_seconds: f64,
    pub seconds: f64,
    pub ok: bool,
}

/// Everything measured about one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct JobMetrics {
    pub job: String,
    pub args: Vec<String>,
    pub workers: usize,
    pub threads: usize,
    pub wall_seconds: f64,
    pub stages: Vec<StageMetrics>,
    pub workers_detail: Vec<WorkerMetrics>,
    /// Counters summed over successful task attempts.
    pub counters: BTreeMap<String, i64>,
    /// Malformed records skipped under `--skip-bad-records`.
    pub bad_records: u64,
    /// Workers lost during the job.
    pub workers_lost: usize,
    /// The job's own figures (`ctx.set_result`).
    pub result: serde_json::Map<String, serde_json::Value>,
    pub timeline: Vec<TaskSpan>,
}
