//! The driver's scheduler: turns an action into stages and tasks, places tasks on workers,
//! recovers from lost workers and lost map outputs, and frees what the job can no longer
//! read.
//!
//! Stages are cut at shuffles: a shuffle's map side is one stage (one task per map
//! partition), an action's partitions are the final stage. The scheduler keeps no fixed
//! stage graph; after every batch of events it walks the plan from the action's node down
//! to what it still misses ([`stages`]), stopping at fully cached datasets and complete
//! shuffles, so a walk costs the frontier of uncomputed work and never the whole history of
//! an iterative job. A lost worker needs no special path: its map outputs and cached
//! partitions disappear from the trackers, its running tasks are forgotten, and the next
//! walk recomputes what is missing from lineage.
//!
//! Placement ([`placement`]): a task whose input is a cached partition goes to the worker
//! that holds it, queued there at once (several per slot, so a stage of local tasks costs
//! one round trip, not one per task); other tasks take free slots, least loaded first.
//!
//! Trust ([`events`]): every id, index and kind a worker reports is checked against the
//! scheduler's own records; a report that does not fit evicts that worker with a one-line
//! reason, and its tasks run again elsewhere.
//!
//! Lifetimes ([`release`]): at each action, shuffle outputs and cached partitions that no
//! dataset the job still holds can read are dropped on every worker.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

mod events;
mod placement;
mod progress;
mod release;
mod service_recovery;
mod session_replies;
mod sessions;
mod stages;

pub use sessions::{
    Checkpoint, Master, ServiceSnapshots, SessionOutcome, SessionResults, SessionRun,
};

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::metrics::{JobMetrics, StageMetrics, WorkerMetrics};
use crate::observe::{Event, Recorder};
use crate::plan::{ActionId, NodeId, Plan, SessionId, ShuffleId};
use crate::protocol::{SessionReply, TaskKind, TaskOutcome};
use crate::task::WorkerId;

/// How long a task waits for a slot on the worker holding its cached input before it may
/// run elsewhere (and compute the partition again from lineage).
pub const LOCALITY_WAIT: Duration = Duration::from_millis(1500);
/// Fetch failures tolerated per action (at least; four per partition on wide actions)
/// before the job fails.
const MAX_FETCH_FAILURES: u32 = 64;
/// Attempts per task lost with its worker before the job fails.
const MAX_TASK_ATTEMPTS: u32 = 8;
/// How often the scheduler looks again while nothing happens (a locality wait may expire).
const IDLE_LOOK: Duration = Duration::from_millis(50);

/// What happens to the cluster, as the scheduler hears it.
#[derive(Debug)]
pub enum SchedulerEvent {
    TaskDone {
        worker: WorkerId,
        outcome: TaskOutcome,
    },
    WorkerJoined {
        worker: WorkerId,
        slots: usize,
        data_address: String,
        host: String,
        pid: u32,
    },
    Session {
        worker: WorkerId,
        session: SessionId,
        reply: SessionReply,
    },
    WorkerLost {
        worker: WorkerId,
        reason: String,
        /// Set when the worker could not run the job at all (it refused the job, or its
        /// copy of the job function failed): before the job starts, that fails the run.
        job_error: bool,
    },
}

/// Receives progress as the scheduler runs (terminal progress bars).
pub trait ProgressSink: Send + Sync {
    fn stage_started(&self, stage: usize, name: &str, tasks: usize);
    fn task_finished(&self, stage: usize, records: u64, bytes: u64);
    fn stage_finished(&self, stage: usize);
}

/// Who watches a run: terminal progress bars and the event log (which feeds the web UI).
#[derive(Clone, Default)]
pub struct Observers {
    pub progress: Option<Arc<dyn ProgressSink>>,
    pub recorder: Option<Recorder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum StageKey {
    Shuffle(ShuffleId),
    Action(ActionId),
}

struct WorkerState {
    slots: usize,
    running: usize,
    /// Which of its slots hold an attempt, for the timeline (queued local tasks past its
    /// slots take the indices after them).
    slot_busy: Vec<bool>,
    alive: bool,
    data_address: String,
    metrics: WorkerMetrics,
}

/// A task attempt the driver launched and has not heard back from.
struct Running {
    kind: TaskKind,
    worker: WorkerId,
    stage: usize,
    /// The shuffles the task was told where to read: the only ones it may fail to fetch.
    reads: Vec<ShuffleId>,
    partition: usize,
    attempt: u32,
    slot: usize,
}

/// A task waiting for a slot.
struct Pending {
    kind: TaskKind,
    preferred: Vec<WorkerId>,
    since: Instant,
}

/// One action being run: its results so far and its queue.
struct ActionRun {
    action: ActionId,
    node: NodeId,
    fingerprint: u64,
    results: Vec<Option<Vec<u8>>>,
    pending: VecDeque<Pending>,
    fetch_failures: u32,
}

impl ActionRun {
    fn finished(&self) -> bool {
        self.results.iter().all(Option::is_some)
    }
}

/// The driver's scheduler. Owned by the job thread; events arrive on a channel.
pub struct Scheduler {
    plan: Arc<Plan>,
    cluster: Cluster,
    events: Receiver<SchedulerEvent>,
    workers: BTreeMap<WorkerId, WorkerState>,
    map_outputs: HashMap<ShuffleId, Vec<Option<WorkerId>>>,
    cache_locations: HashMap<(NodeId, usize), BTreeSet<WorkerId>>,
    forced: HashSet<ShuffleId>,
    stage_ids: HashMap<StageKey, usize>,
    stages: Vec<StageMetrics>,
    stage_done: Vec<bool>,
    attempts: HashMap<TaskKind, u32>,
    /// The worker a task's last attempt failed on: the next attempt goes elsewhere when
    /// another worker is alive (so a worker that fails everything at once cannot hold a
    /// stage back).
    failed_on: HashMap<TaskKind, WorkerId>,
    running: HashMap<u64, Running>,
    /// Sessions given up after a lost worker: their late replies are ignored.
    aborted_sessions: HashSet<SessionId>,
    bad_records: HashMap<(NodeId, usize), u64>,
    next_task_id: u64,
    progress: Option<Arc<dyn ProgressSink>>,
    recorder: Option<Recorder>,
    metrics: JobMetrics,
    started: Instant,
}

impl Scheduler {
    /// A scheduler for `plan` that runs tasks on `cluster` and hears `events`.
    pub fn new(plan: Arc<Plan>, cluster: Cluster, events: Receiver<SchedulerEvent>) -> Self {
        Scheduler {
            plan,
            cluster,
            events,
            workers: BTreeMap::new(),
            map_outputs: HashMap::new(),
            cache_locations: HashMap::new(),
            forced: HashSet::new(),
            stage_ids: HashMap::new(),
            stages: Vec::new(),
            stage_done: Vec::new(),
            attempts: HashMap::new(),
            failed_on: HashMap::new(),
            running: HashMap::new(),
            aborted_sessions: HashSet::new(),
            bad_records: HashMap::new(),
            next_task_id: 0,
            progress: None,
            recorder: None,
            metrics: JobMetrics::default(),
            started: Instant::now(),
        }
    }

    /// Reports progress and events to `observers`.
    pub fn set_observers(&mut self, observers: Observers) {
        self.progress = observers.progress;
        self.recorder = observers.recorder;
    }

    /// Records `event` in the run's event log, if it keeps one.
    pub fn record(&self, event: Event) {
        if let Some(r) = &self.recorder {
            r.record(event);
        }
    }

    /// The run's event log, if it keeps one.
    pub fn recorder(&self) -> Option<Recorder> {
        self.recorder.clone()
    }

    /// Whether the run keeps an event log (so that building an event is worth it).
    pub fn recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// Live workers.
    pub fn live_workers(&self) -> usize {
        self.workers.values().filter(|w| w.alive).count()
    }

    /// Handles events until at least `n` workers are alive or `timeout` passes.
    pub fn wait_for_workers(&mut self, n: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.live_workers() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::NoWorkers(format!(
                    "{} of {n} workers joined within {}s",
                    self.live_workers(),
                    timeout.as_secs()
                )));
            }
            match self.events.recv_timeout(left) {
                Ok(SchedulerEvent::WorkerLost {
                    worker,
                    reason,
                    job_error: true,
                }) => return Err(Error::Job(format!("worker {worker} {reason}"))),
                Ok(ev) => self.handle(ev, None)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::NoWorkers("the cluster backend stopped".into()))
                }
            }
        }
        Ok(())
    }

    /// The metrics gathered so far.
    pub fn metrics(&self) -> JobMetrics {
        let mut m = self.metrics.clone();
        m.stages = self.stages.clone();
        m.workers_detail = self.workers.values().map(|w| w.metrics.clone()).collect();
        m.workers_lost = self.workers.values().filter(|w| w.metrics.lost).count();
        m.bad_records = self.bad_records.values().sum();
        m
    }

    /// The counter totals of successful task attempts so far (without copying the rest of
    /// the metrics, whose timeline grows with the run).
    pub fn counters(&self) -> BTreeMap<String, i64> {
        self.metrics.counters.clone()
    }

    /// The shuffles whose map outputs the driver tracks, ascending (for tests and the UI).
    pub fn tracked_shuffles(&self) -> Vec<ShuffleId> {
        let mut s: Vec<ShuffleId> = self.map_outputs.keys().copied().collect();
        s.sort_unstable();
        s
    }

    /// The nodes with cached partitions somewhere, ascending.
    pub fn cached_nodes(&self) -> Vec<NodeId> {
        let set: BTreeSet<NodeId> = self
            .cache_locations
            .iter()
            .filter(|(_, holders)| !holders.is_empty())
            .map(|((node, _), _)| *node)
            .collect();
        set.into_iter().collect()
    }

    /// What the worker of an in-process run holds: the shuffles in its store and the nodes
    /// in its cache, ascending (`None` for a cluster of worker processes).
    pub fn local_worker_holdings(&self) -> Option<(Vec<ShuffleId>, Vec<NodeId>)> {
        match &self.cluster {
            Cluster::InProcess(local) => Some(local.holdings()),
            Cluster::Remote(_) => None,
        }
    }

    /// Runs action `action` and returns each partition's bytes.
    pub fn run_action(&mut self, action: ActionId) -> Result<Vec<Vec<u8>>> {
        let entry = self
            .plan
            .action(action)
            .ok_or_else(|| Error::job(format!("action {action} is not in the plan")))?;
        self.release_unreachable(entry.node);
        let partitions = self.plan.node(entry.node).num_partitions();
        let mut run = ActionRun {
            action,
            node: entry.node,
            fingerprint: entry.fingerprint,
            results: vec![None; partitions],
            pending: VecDeque::new(),
            fetch_failures: 0,
        };
        while !run.finished() {
            if self.live_workers() == 0 {
                return Err(Error::NoWorkers(
                    "every worker was lost; the job cannot go on".into(),
                ));
            }
            self.enqueue_ready(&mut run);
            self.dispatch(&mut run);
            let event = match self.events.recv_timeout(IDLE_LOOK) {
                Ok(ev) => ev,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::NoWorkers("the cluster backend stopped".into()))
                }
            };
            self.handle(event, Some(&mut run))?;
            // Take whatever else already arrived before walking the plan again.
            while let Ok(ev) = self.events.try_recv() {
                self.handle(ev, Some(&mut run))?;
            }
        }
        if let Some(&stage) = self.stage_ids.get(&StageKey::Action(action)) {
            self.finish_stage(stage);
        }
        self.release_unreachable(run.node);
        Ok(run
            .results
            .into_iter()
            .map(|r| r.expect("all results present"))
            .collect())
    }
}
