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
    /// Of `task_seconds`: encoding combined map output and storing blocks.
    #[serde(default)]
    pub shuffle_write_seconds: f64,
    /// Of `task_seconds`: waiting for shuffle blocks to arrive.
    #[serde(default)]
    pub shuffle_read_seconds: f64,
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
        self.shuffle_write_seconds += task.shuffle_write_seconds;
        self.shuffle_read_seconds += task.shuffle_read_seconds;
    }

    /// Splits the stage's `slots × seconds` into compute, shuffle write, shuffle read and
    /// idle time. Stages that overlap in time each count the full span, so idle time
    /// is floored at zero rather than shared between them.
    pub fn time_breakdown(&self, slots: usize) -> TimeBreakdown {
        let finite = |x: f64| if x.is_finite() { x.max(0.0) } else { 0.0 };
        let task = finite(self.task_seconds);
        let shuffle_write = finite(self.shuffle_write_seconds).min(task);
        let shuffle_read = finite(self.shuffle_read_seconds).min(task - shuffle_write);
        TimeBreakdown {
            compute: task - shuffle_write - shuffle_read,
            shuffle_write,
            shuffle_read,
            idle: finite(self.seconds * slots as f64 - task),
        }
    }
}

/// Where one stage's slot-seconds went (see [`StageMetrics::time_breakdown`]).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct TimeBreakdown {
    /// Task time not spent on the shuffle: reading inputs and running operators.
    pub compute: f64,
    /// Encoding combined map output and storing blocks.
    pub shuffle_write: f64,
    /// Waiting for shuffle blocks.
    pub shuffle_read: f64,
    /// Slots without a task of this stage while the stage ran.
    pub idle: f64,
}

/// The peak resident set of this process in bytes (0 where the platform does not say).
pub fn peak_rss_bytes() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes into the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: getrusage succeeded, so it filled the struct.
    let usage = unsafe { usage.assume_init() };
    // macOS reports bytes, Linux and the BSDs kilobytes.
    let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
    (usage.ru_maxrss.max(0) as u64) * unit
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
    /// Its process's peak resident set in bytes, as of its last finished task.
    #[serde(default)]
    pub peak_rss_bytes: u64,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breakdown_splits_slot_seconds() {
        let stage = StageMetrics {
            seconds: 2.0,
            task_seconds: 3.0,
            shuffle_write_seconds: 0.5,
            shuffle_read_seconds: 1.0,
            ..Default::default()
        };
        let b = stage.time_breakdown(2);
        assert_eq!(
            b,
            TimeBreakdown {
                compute: 1.5,
                shuffle_write: 0.5,
                shuffle_read: 1.0,
                idle: 1.0
            }
        );
        let parts = b.compute + b.shuffle_write + b.shuffle_read + b.idle;
        assert!((parts - 4.0).abs() < 1e-12);
    }

    #[test]
    fn breakdown_never_goes_negative() {
        // Overlapping stages: more task time than the span's slots; timers above the total.
        let stage = StageMetrics {
            seconds: 1.0,
            task_seconds: 3.0,
            shuffle_write_seconds: 2.0,
            shuffle_read_seconds: f64::NAN,
            ..Default::default()
        };
        let b = stage.time_breakdown(2);
        assert_eq!(
            (b.compute, b.shuffle_write, b.shuffle_read, b.idle),
            (1.0, 2.0, 0.0, 0.0)
        );
        let b = StageMetrics {
            shuffle_write_seconds: 5.0,
            shuffle_read_seconds: 5.0,
            task_seconds: 3.0,
            ..Default::default()
        }
        .time_breakdown(1);
        assert_eq!(
            (b.compute, b.shuffle_write, b.shuffle_read),
            (0.0, 3.0, 0.0)
        );
    }

    #[test]
    fn peak_rss_is_reported() {
        assert!(peak_rss_bytes() > 1 << 20);
    }
}
