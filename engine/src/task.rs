//! What a running task sees: its partition, its metrics, the worker's shuffle store and
//! cache, and the map-output locations of the shuffles it reads.
//!
//! A task runs on one thread of the worker's rayon pool from start to end, so the task's
//! counters are reachable from user closures through a thread-local "current task" slot
//! (set for the task's duration by [`TaskContext::enter`]), the way Spark's `TaskContext.get`
//! works. Counters from successful attempts only are summed at the driver, so a retried task
//! does not count twice.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::TaskError;
use crate::executor::WorkerEnv;
use crate::plan::{NodeId, ShuffleId};
use crate::shuffle::{ShuffleBlocks, ShuffleWriter};

/// Identifies a worker.
pub type WorkerId = u32;

/// Where each map output of one shuffle lives: `maps[m]` is the worker holding map partition `m`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ShuffleLocations {
    /// Per shuffle read by the task: the holder of each map partition (`None` if lost).
    pub shuffles: BTreeMap<ShuffleId, Vec<Option<WorkerId>>>,
    /// Data-plane address of each worker named above.
    pub addresses: BTreeMap<WorkerId, String>,
}

/// Figures a task reports; summed per stage by the driver.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskMetrics {
    pub records_in: u64,
    pub records_out: u64,
    pub bytes_in: u64,
    pub shuffle_write_bytes: u64,
    pub shuffle_read_bytes: u64,
    pub spill_bytes: u64,
    /// Seconds spent encoding combined map output and handing blocks to the shuffle store.
    #[serde(default)]
    pub shuffle_write_seconds: f64,
    /// Seconds a reduce task waited for shuffle blocks (remote fetches, spilled reads).
    #[serde(default)]
    pub shuffle_read_seconds: f64,
    /// The worker process's peak resident set, in bytes, when the task ended.
    #[serde(default)]
    pub worker_peak_rss_bytes: u64,
    /// Of `shuffle_read_bytes`: the bytes read from each worker's map outputs.
    #[serde(default)]
    pub shuffle_read_from: Vec<(WorkerId, u64)>,
    /// Malformed records skipped, per source partition `(node, partition)`: a source read
    /// twice (by two stages) reports the same lines twice, and the driver counts them once.
    pub bad_records: Vec<((NodeId, usize), u64)>,
    /// Partitions this task stored in the worker's cache.
    pub cached: Vec<(NodeId, usize)>,
    /// Counter increments by counter name.
    pub counters: BTreeMap<String, i64>,
}

impl TaskMetrics {
    /// Counts `bytes` of shuffle input read from worker `from`'s map outputs.
    pub fn add_shuffle_read(&mut self, from: WorkerId, bytes: u64) {
        self.shuffle_read_bytes += bytes;
        match self.shuffle_read_from.iter_mut().find(|(w, _)| *w == from) {
            Some((_, b)) => *b += bytes,
            None => self.shuffle_read_from.push((from, bytes)),
        }
    }
}

thread_local! {
    static CURRENT_TASK: RefCell<Option<Arc<Mutex<TaskMetrics>>>> = const { RefCell::new(None) };
}

/// Adds `delta` to counter `name` of the task running on this thread; returns false when no
/// task runs here (driver-side code).
pub fn add_to_current_task_counter(name: &str, delta: i64) -> bool {
    CURRENT_TASK.with(|c| match c.borrow().as_ref() {
        Some(m) => {
            let mut m = m.lock();
            match m.counters.get_mut(name) {
                Some(v) => *v += delta,
                None => {
                    m.counters.insert(name.to_string(), delta);
                }
            }
            true
        }
        None => false,
    })
}

/// The running task's view of its worker. Cheap to clone: iterators that outlive the call
/// that made them keep a clone to report failures and figures.
#[derive(Clone)]
pub struct TaskContext {
    /// The partition of the task's node this task computes.
    pub partition: usize,
    /// Attempt number, from 0.
    pub attempt: u32,
    env: Arc<WorkerEnv>,
    locations: Arc<ShuffleLocations>,
    metrics: Arc<Mutex<TaskMetrics>>,
    error: Arc<Mutex<Option<TaskError>>>,
}

/// Clears the thread's current task when dropped.
pub struct CurrentTaskGuard(());

impl Drop for CurrentTaskGuard {
    fn drop(&mut self) {
        CURRENT_TASK.with(|c| *c.borrow_mut() = None);
    }
}

impl TaskContext {
    /// A context for one task attempt.
    pub fn new(
        env: Arc<WorkerEnv>,
        partition: usize,
        attempt: u32,
        locations: ShuffleLocations,
    ) -> Self {
        TaskContext {
            partition,
            attempt,
            env,
            locations: Arc::new(locations),
            metrics: Arc::default(),
            error: Arc::default(),
        }
    }

    /// Makes this task the thread's current task (for counters) until the guard drops.
    pub fn enter(&self) -> CurrentTaskGuard {
        CURRENT_TASK.with(|c| *c.borrow_mut() = Some(self.metrics.clone()));
        CurrentTaskGuard(())
    }

    /// Records a failure found while streaming records (a malformed input line, a bad
    /// shuffle block): iterators cannot return errors, so they stop and leave the error here.
    /// The first error wins; the task fails with it when its pipeline ends.
    pub fn fail(&self, error: TaskError) {
        let mut slot = self.error.lock();
        if slot.is_none() {
            *slot = Some(error);
        }
    }

    /// Whether a failure was recorded.
    pub fn has_failed(&self) -> bool {
        self.error.lock().is_some()
    }

    /// The recorded failure, if any.
    pub fn take_error(&self) -> Option<TaskError> {
        self.error.lock().take()
    }

    /// `Err` with the recorded failure, if any.
    pub fn check(&self) -> Result<(), TaskError> {
        match self.take_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The worker this task runs on.
    pub fn worker_id(&self) -> WorkerId {
        self.env.worker_id
    }

    /// Whether malformed input records are skipped (and counted) instead of failing the job.
    pub fn skip_bad_records(&self) -> bool {
        self.env.options.skip_bad_records
    }

    /// Updates this task's metrics.
    pub fn with_metrics<R>(&self, f: impl FnOnce(&mut TaskMetrics) -> R) -> R {
        f(&mut self.metrics.lock())
    }

    /// A snapshot of this task's metrics.
    pub fn metrics(&self) -> TaskMetrics {
        self.metrics.lock().clone()
    }

    /// A writer for map partition `map_partition` of shuffle `shuffle`.
    pub fn shuffle_writer(
        &self,
        shuffle: ShuffleId,
        map_partition: usize,
        reduce_partitions: usize,
    ) -> ShuffleWriter {
        ShuffleWriter::new(
            self.env.shuffle.clone(),
            shuffle,
            map_partition,
            reduce_partitions,
        )
    }

    /// The blocks of reduce partition `reduce` of `shuffle`, from every map output, local
    /// ones read directly and remote ones fetched over TCP, several in flight.
    pub fn read_shuffle(
        &self,
        shuffle: ShuffleId,
        reduce: usize,
    ) -> Result<ShuffleBlocks, TaskError> {
        crate::shuffle::read_blocks(
            &self.env,
            &self.locations,
            shuffle,
            reduce,
            self.metrics.clone(),
        )
    }

    /// The cached partition `(node, partition)` on this worker, if present.
    pub fn cached<T: Send + Sync + 'static>(
        &self,
        node: NodeId,
        partition: usize,
    ) -> Option<Arc<Vec<T>>> {
        self.env.cache.get(node, partition)
    }

    /// Whether persisted node `node` still keeps its partitions (the job did not
    /// unpersist it).
    pub fn keeps_cached(&self, node: NodeId) -> bool {
        self.env.plan.is_cached_node(node)
    }

    /// Stores a computed partition in this worker's cache.
    pub fn store_cached<T: Send + Sync + 'static>(
        &self,
        node: NodeId,
        partition: usize,
        data: Arc<Vec<T>>,
    ) {
        self.env.cache.put(node, partition, data);
        self.metrics.lock().cached.push((node, partition));
    }
}
