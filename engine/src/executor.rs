//! The worker side of task execution: the worker's environment (plan, shuffle store, cache,
//! data plane, thread pool) and [`run_task`], which runs one task attempt on it.
//!
//! The same code runs tasks in every mode: the in-process local mode calls it directly, a
//! worker process calls it for each `RunTask` from the driver.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::TaskError;
use crate::exchange::{Mailbox, Network, Pusher};
use crate::plan::{NodeId, Plan};
use crate::protocol::{JobOptions, TaskDescription, TaskKind, TaskOutcome, TaskSuccess};
use crate::session::SessionHost;
use crate::shuffle::fetch::TcpFetcher;
use crate::shuffle::ShuffleStore;
use crate::task::{TaskContext, WorkerId};

/// How long a task waits for its worker's job thread to reach the task's action or shuffle.
pub const PLAN_WAIT: Duration = Duration::from_secs(120);

/// Partitions of persisted datasets held in a worker's memory.
#[derive(Default)]
pub struct CacheStore {
    partitions: Mutex<HashMap<(NodeId, usize), Arc<dyn Any + Send + Sync>>>,
}

impl CacheStore {
    /// The cached partition, if present and of type `Vec<T>`.
    pub fn get<T: Send + Sync + 'static>(
        &self,
        node: NodeId,
        partition: usize,
    ) -> Option<Arc<Vec<T>>> {
        let any = self.partitions.lock().get(&(node, partition))?.clone();
        any.downcast::<Vec<T>>().ok()
    }

    /// Stores a partition.
    pub fn put<T: Send + Sync + 'static>(&self, node: NodeId, partition: usize, data: Arc<Vec<T>>) {
        self.partitions.lock().insert((node, partition), data);
    }

    /// Drops every partition of `node`.
    pub fn remove_node(&self, node: NodeId) {
        self.partitions.lock().retain(|k, _| k.0 != node);
    }

    /// The nodes with partitions held here, ascending.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = self.partitions.lock().keys().map(|k| k.0).collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }
}

/// Everything a worker's tasks share.
pub struct WorkerEnv {
    /// This worker's id (0 in local mode).
    pub worker_id: WorkerId,
    /// The job's plan as built by this process.
    pub plan: Arc<Plan>,
    /// Map outputs held here.
    pub shuffle: Arc<ShuffleStore>,
    /// Persisted partitions held here.
    pub cache: CacheStore,
    /// Fetches blocks from other workers; `None` when there are none (local mode).
    pub fetcher: Option<TcpFetcher>,
    /// Batches other workers (and this one) pushed to this worker's long-lived tasks.
    pub mailbox: Arc<Mailbox>,
    /// Pushes batches to the workers holding their targets.
    pub pusher: Pusher,
    /// The partitions of running sessions held here.
    pub sessions: SessionHost,
    /// Where the CPU work runs.
    pub pool: rayon::ThreadPool,
    /// The job's options.
    pub options: JobOptions,
}

impl WorkerEnv {
    /// An environment with `threads` task slots.
    pub fn new(
        worker_id: WorkerId,
        plan: Arc<Plan>,
        shuffle: Arc<ShuffleStore>,
        network: Option<Network>,
        options: JobOptions,
    ) -> Result<Arc<Self>, crate::Error> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.threads.max(1))
            .thread_name(move |i| format!("weir-w{worker_id}-task{i}"))
            .build()
            .map_err(|e| crate::Error::Config(format!("cannot start the task threads: {e}")))?;
        let mailbox = Mailbox::new();
        Ok(Arc::new(WorkerEnv {
            worker_id,
            plan,
            shuffle,
            cache: CacheStore::default(),
            fetcher: network
                .as_ref()
                .map(|n| TcpFetcher::new(n.runtime.clone(), n.secret.clone())),
            pusher: Pusher::new(network, worker_id, mailbox.clone()),
            mailbox,
            sessions: SessionHost::default(),
            pool,
            options,
        }))
    }
}

/// An injected delay before every task (and every superstep or parameter-server clock),
/// from `WEIR_INJECT_TASK_DELAY_MS`: makes stragglers and slow jobs on purpose, for
/// fault-injection tests and for measuring.
pub fn injected_delay() -> Option<Duration> {
    static DELAY: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();
    *DELAY.get_or_init(|| {
        std::env::var("WEIR_INJECT_TASK_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
    })
}

/// Runs one task attempt to completion on the calling thread.
pub fn run_task(env: &Arc<WorkerEnv>, desc: TaskDescription) -> TaskOutcome {
    let started = Instant::now();
    if let Some(delay) = injected_delay() {
        std::thread::sleep(delay);
    }
    let partition = match desc.kind {
        TaskKind::ShuffleMap { map, .. } => map,
        TaskKind::Result { partition, .. } => partition,
    };
    let tc = TaskContext::new(env.clone(), partition, desc.attempt, desc.locations.clone());
    let result = {
        let _current = tc.enter();
        let run = || -> Result<TaskSuccess, TaskError> {
            match desc.kind {
                TaskKind::ShuffleMap { shuffle, map } => {
                    let entry = env.plan.wait_shuffle(shuffle, PLAN_WAIT)?;
                    check_fingerprint(shuffle, desc.fingerprint, entry.fingerprint)?;
                    let sizes = entry.task.run_map(shuffle, map, &tc)?;
                    Ok(TaskSuccess::MapOutput { sizes })
                }
                TaskKind::Result { action, partition } => {
                    let entry = env.plan.wait_action(action, PLAN_WAIT)?;
                    check_fingerprint(action, desc.fingerprint, entry.fingerprint)?;
                    Ok(TaskSuccess::Result(entry.task.run(partition, &tc)?))
                }
            }
        };
        // A panic in user code fails the task with its message instead of killing the worker.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
            Ok(r) => r,
            Err(panic) => Err(TaskError::Failed(format!(
                "task panicked: {}",
                panic_message(&*panic)
            ))),
        }
    };
    let mut metrics = tc.metrics();
    metrics.worker_peak_rss_bytes = crate::metrics::peak_rss_bytes();
    TaskOutcome {
        task_id: desc.task_id,
        kind: desc.kind,
        result,
        metrics,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn check_fingerprint(at: usize, driver: u64, worker: u64) -> Result<(), TaskError> {
    if driver == worker {
        Ok(())
    } else {
        Err(TaskError::PlanMismatch {
            action: at,
            driver,
            worker,
        })
    }
}

/// The message of a caught panic.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}
