//! The driver's scheduler: turns an action into stages and tasks, places tasks on workers,
//! and recovers from lost workers and lost map outputs.
//!
//! Stages are cut at shuffles: a shuffle's map side is one stage (one task per map
//! partition), an action's partitions are the final stage. The scheduler does not keep a
//! fixed stage graph; after every event it asks the plan which shuffle outputs the action
//! still misses (walking narrow dependencies, stopping at fully cached datasets), runs those
//! whose own inputs are complete, and runs the action's tasks once nothing is missing. So a
//! lost worker needs no special path: its map outputs and cached partitions disappear from
//! the trackers, its running tasks are forgotten, and the next look at the plan recomputes
//! what is missing from lineage. Map outputs complete from an earlier action are reused.
//!
//! Placement: a task whose input is a cached partition prefers the worker that holds it and
//! waits up to [`LOCALITY_WAIT`] for a slot there; other tasks go to any free slot.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

mod events;

use crate::error::{Error, Result, TaskError};
use crate::metrics::{JobMetrics, StageMetrics, TaskSpan, WorkerMetrics};
use crate::plan::{ActionId, Dependency, NodeId, Plan, ShuffleId};
use crate::protocol::{TaskDescription, TaskKind, TaskOutcome, TaskSuccess};
use crate::task::{ShuffleLocations, WorkerId};

/// How long a task waits for a slot on the worker holding its cached input.
pub const LOCALITY_WAIT: Duration = Duration::from_millis(1500);
/// Fetch failures tolerated per action (at least; four per partition on wide actions)
/// before the job fails.
const MAX_FETCH_FAILURES: u32 = 64;
/// Attempts per task lost with its worker before the job fails.
const MAX_TASK_ATTEMPTS: u32 = 8;

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
    },
    WorkerLost {
        worker: WorkerId,
        reason: String,
        /// Set when the worker could not run the job at all (it refused the job, or its
        /// copy of the job function failed): before the job starts, that fails the run.
        job_error: bool,
    },
}

/// Where tasks go: in-process threads or worker processes.
pub trait Backend: Send {
    /// Starts a task on a worker; its outcome arrives as a [`SchedulerEvent::TaskDone`].
    fn launch(&mut self, worker: WorkerId, task: TaskDescription);
    /// Stops using a worker (refused or misbehaving).
    fn evict(&mut self, worker: WorkerId, reason: &str);
}

/// Receives progress as the scheduler runs (terminal progress bars, the web UI).
pub trait ProgressSink: Send + Sync {
    fn stage_started(&self, stage: usize, name: &str, tasks: usize);
    fn task_finished(&self, stage: usize, records: u64, bytes: u64);
    fn stage_finished(&self, stage: usize);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum StageKey {
    Shuffle(ShuffleId),
    Action(ActionId),
}

struct WorkerState {
    slots: usize,
    running: usize,
    alive: bool,
    data_address: String,
    metrics: WorkerMetrics,
}

struct Running {
    kind: TaskKind,
    worker: WorkerId,
    stage: usize,
    started: Instant,
}

struct Pending {
    kind: TaskKind,
    preferred: Vec<WorkerId>,
    since: Instant,
}

/// The driver's scheduler. Owned by the job thread; events arrive on a channel.
pub struct Scheduler {
    plan: Arc<Plan>,
    backend: Box<dyn Backend>,
    events: Receiver<SchedulerEvent>,
    workers: BTreeMap<WorkerId, WorkerState>,
    map_outputs: HashMap<ShuffleId, Vec<Option<WorkerId>>>,
    cache_locations: HashMap<(NodeId, usize), BTreeSet<WorkerId>>,
    forced: HashSet<ShuffleId>,
    stage_ids: HashMap<StageKey, usize>,
    stages: Vec<StageMetrics>,
    stage_done: Vec<bool>,
    attempts: HashMap<TaskKind, u32>,
    running: HashMap<u64, Running>,
    bad_records: HashMap<(NodeId, usize), u64>,
    next_task_id: u64,
    progress: Option<Arc<dyn ProgressSink>>,
    metrics: JobMetrics,
    started: Instant,
}

impl Scheduler {
    /// A scheduler for `plan` that launches through `backend` and hears `events`.
    pub fn new(
        plan: Arc<Plan>,
        backend: Box<dyn Backend>,
        events: Receiver<SchedulerEvent>,
    ) -> Self {
        Scheduler {
            plan,
            backend,
            events,
            workers: BTreeMap::new(),
            map_outputs: HashMap::new(),
            cache_locations: HashMap::new(),
            forced: HashSet::new(),
            stage_ids: HashMap::new(),
            stages: Vec::new(),
            stage_done: Vec::new(),
            attempts: HashMap::new(),
            running: HashMap::new(),
            bad_records: HashMap::new(),
            next_task_id: 0,
            progress: None,
            metrics: JobMetrics::default(),
            started: Instant::now(),
        }
    }

    /// Reports progress to `sink`.
    pub fn set_progress(&mut self, sink: Arc<dyn ProgressSink>) {
        self.progress = Some(sink);
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
                Ok(ev) => {
                    self.handle(ev, &mut Vec::new())?;
                }
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

    /// Runs action `action` and returns each partition's bytes.
    pub fn run_action(&mut self, action: ActionId) -> Result<Vec<Vec<u8>>> {
        let entry = self
            .plan
            .action(action)
            .ok_or_else(|| Error::job(format!("action {action} is not in the plan")))?;
        let partitions = self.plan.node(entry.node).num_partitions();
        let mut results: Vec<Option<Vec<u8>>> = vec![None; partitions];
        let mut pending: VecDeque<Pending> = VecDeque::new();
        let mut fetch_failures = 0u32;
        loop {
            if results.iter().all(Option::is_some) {
                break;
            }
            if self.live_workers() == 0 {
                return Err(Error::NoWorkers(
                    "every worker was lost; the job cannot go on".into(),
                ));
            }
            self.enqueue_ready(action, entry.node, &results, &mut pending);
            self.dispatch(&mut pending, action, entry.fingerprint);
            let event = match self.events.recv_timeout(Duration::from_millis(100)) {
                Ok(ev) => ev,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::NoWorkers("the cluster backend stopped".into()))
                }
            };
            let mut done = Vec::new();
            let fetch_failed = self.handle(event, &mut done)?;
            if fetch_failed {
                fetch_failures += 1;
                if fetch_failures > MAX_FETCH_FAILURES.max(4 * partitions as u32) {
                    return Err(Error::job("too many shuffle fetch failures; giving up"));
                }
            }
            for (partition, bytes) in done {
                results[partition] = Some(bytes);
            }
            // Drain whatever else already arrived before looking at the plan again.
            while let Ok(ev) = self.events.try_recv() {
                let mut done = Vec::new();
                self.handle(ev, &mut done)?;
                for (partition, bytes) in done {
                    results[partition] = Some(bytes);
                }
            }
            // Forget the results of other actions that may still have been in flight.
            pending.retain(|p| match p.kind {
                TaskKind::Result {
                    action: a,
                    partition,
                } => a == action && results[partition].is_none(),
                TaskKind::ShuffleMap { shuffle, map } => self.map_outputs[&shuffle][map].is_none(),
            });
        }
        if let Some(&stage) = self.stage_ids.get(&StageKey::Action(action)) {
            self.finish_stage(stage);
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("all results present"))
            .collect())
    }

    fn complete(&self, shuffle: ShuffleId) -> bool {
        self.map_outputs
            .get(&shuffle)
            .is_some_and(|m| m.iter().all(Option::is_some))
    }

    fn fully_cached(&self, node: NodeId) -> bool {
        let n = self.plan.node(node);
        n.is_persisted()
            && (0..n.num_partitions()).all(|p| {
                self.cache_locations
                    .get(&(node, p))
                    .is_some_and(|w| !w.is_empty())
            })
    }

    /// Shuffles whose outputs `node` still misses, deepest first.
    fn missing_shuffles(&self, node: NodeId, out: &mut Vec<ShuffleId>, seen: &mut HashSet<NodeId>) {
        if !seen.insert(node) || self.fully_cached(node) {
            return;
        }
        for dep in self.plan.node(node).dependencies() {
            match dep {
                Dependency::OneToOne { parent } | Dependency::Range { parent, .. } => {
                    self.missing_shuffles(*parent, out, seen)
                }
                Dependency::Shuffle { shuffle } => self.missing_shuffle(*shuffle, out, seen),
            }
        }
    }

    fn missing_shuffle(
        &self,
        shuffle: ShuffleId,
        out: &mut Vec<ShuffleId>,
        seen: &mut HashSet<NodeId>,
    ) {
        if self.complete(shuffle) || out.contains(&shuffle) {
            return;
        }
        let entry = self.plan.shuffle(shuffle).expect("a plan's shuffles exist");
        self.missing_shuffles(entry.task.map_node(), out, seen);
        out.push(shuffle);
    }

    fn enqueue_ready(
        &mut self,
        action: ActionId,
        node: NodeId,
        results: &[Option<Vec<u8>>],
        pending: &mut VecDeque<Pending>,
    ) {
        let mut missing = Vec::new();
        let mut seen = HashSet::new();
        self.missing_shuffles(node, &mut missing, &mut seen);
        let forced: Vec<ShuffleId> = self.forced.iter().copied().collect();
        for s in forced {
            if self.complete(s) {
                self.forced.remove(&s);
            } else {
                self.missing_shuffle(s, &mut missing, &mut HashSet::new());
            }
        }
        // A stage is ready when every shuffle it reads is complete.
        let ready: Vec<ShuffleId> = missing
            .iter()
            .copied()
            .filter(|&s| {
                let map_node = self
                    .plan
                    .shuffle(s)
                    .expect("a plan's shuffles exist")
                    .task
                    .map_node();
                let mut below = Vec::new();
                self.missing_shuffles(map_node, &mut below, &mut HashSet::new());
                below.is_empty()
            })
            .collect();
        // Queued tasks whose inputs were lost meanwhile wait until they are recomputed,
        // instead of being launched to fail.
        pending.retain(|p| match p.kind {
            TaskKind::ShuffleMap { shuffle, .. } => ready.contains(&shuffle),
            TaskKind::Result { .. } => missing.is_empty(),
        });
        let queued: HashSet<TaskKind> = pending.iter().map(|p| p.kind).collect();
        let ready_any = !ready.is_empty();
        for &s in &ready {
            let entry = self.plan.shuffle(s).expect("a plan's shuffles exist");
            let map_node = entry.task.map_node();
            let maps = self.plan.node(map_node).num_partitions();
            let outputs = self
                .map_outputs
                .entry(s)
                .or_insert_with(|| vec![None; maps])
                .clone();
            let name = format!(
                "{} (map side of {})",
                self.plan.node(map_node).name(),
                entry.name
            );
            let stage = self.stage_id(StageKey::Shuffle(s), name);
            let missing_maps = outputs
                .iter()
                .enumerate()
                .filter(|(_, h)| h.is_none())
                .map(|(m, _)| m);
            let tasks: Vec<(TaskKind, usize)> = missing_maps
                .map(|m| (TaskKind::ShuffleMap { shuffle: s, map: m }, m))
                .collect();
            self.queue_tasks(stage, map_node, tasks, &queued, pending);
        }
        if missing.is_empty() {
            let entry = self.plan.action(action).expect("action exists");
            let name = format!("{} on {}", entry.name, self.plan.node(node).name());
            let stage = self.stage_id(StageKey::Action(action), name);
            let missing_parts = results
                .iter()
                .enumerate()
                .filter(|(_, r)| r.is_none())
                .map(|(p, _)| p);
            let tasks: Vec<(TaskKind, usize)> = missing_parts
                .map(|p| {
                    (
                        TaskKind::Result {
                            action,
                            partition: p,
                        },
                        p,
                    )
                })
                .collect();
            self.queue_tasks(stage, node, tasks, &queued, pending);
        } else if !ready_any && self.running.is_empty() && pending.is_empty() {
            // Cannot happen with a well-formed plan; guard against spinning forever.
            tracing::error!("no runnable stage for action {action}; missing shuffles {missing:?}");
        }
    }

    /// Queues the `(task, partition of node)` pairs not already queued or running.
    fn queue_tasks(
        &mut self,
        stage: usize,
        node: NodeId,
        tasks: Vec<(TaskKind, usize)>,
        queued: &HashSet<TaskKind>,
        pending: &mut VecDeque<Pending>,
    ) {
        let mut added = 0;
        for (kind, partition) in tasks {
            if !queued.contains(&kind) && !self.is_running(kind) {
                let preferred = self.preferred_workers(node, partition);
                pending.push_back(Pending {
                    kind,
                    preferred,
                    since: Instant::now(),
                });
                added += 1;
            }
        }
        self.announce(stage, added);
    }

    fn announce(&mut self, stage: usize, added: usize) {
        if added > 0 {
            if self.stages[stage].tasks == 0 && self.stages[stage].failed_tasks == 0 {
                self.stages[stage].start_seconds = self.started.elapsed().as_secs_f64();
            }
            self.stage_done[stage] = false;
            if let Some(p) = &self.progress {
                p.stage_started(stage, &self.stages[stage].name, added);
            }
        }
    }

    fn stage_id(&mut self, key: StageKey, name: String) -> usize {
        if let Some(&id) = self.stage_ids.get(&key) {
            return id;
        }
        let id = self.stages.len();
        self.stages.push(StageMetrics {
            id,
            name,
            ..Default::default()
        });
        self.stage_done.push(false);
        self.stage_ids.insert(key, id);
        id
    }

    fn finish_stage(&mut self, stage: usize) {
        if !std::mem::replace(&mut self.stage_done[stage], true) {
            let s = &mut self.stages[stage];
            s.seconds = self.started.elapsed().as_secs_f64() - s.start_seconds;
            if let Some(p) = &self.progress {
                p.stage_finished(stage);
            }
        }
    }

    /// Workers holding a cached partition that partition `p` of `node` reads narrowly.
    fn preferred_workers(&self, node: NodeId, p: usize) -> Vec<WorkerId> {
        let (mut node, mut p) = (node, p);
        loop {
            let n = self.plan.node(node);
            if n.is_persisted() {
                if let Some(w) = self.cache_locations.get(&(node, p)) {
                    return w
                        .iter()
                        .copied()
                        .filter(|w| self.workers.get(w).is_some_and(|s| s.alive))
                        .collect();
                }
            }
            let next = n.dependencies().iter().find_map(|d| match *d {
                Dependency::OneToOne { parent } => Some((parent, p)),
                Dependency::Range {
                    parent,
                    offset,
                    len,
                } if (offset..offset + len).contains(&p) => Some((parent, p - offset)),
                _ => None,
            });
            match next {
                Some((parent, pp)) => (node, p) = (parent, pp),
                None => return Vec::new(),
            }
        }
    }

    fn dispatch(
        &mut self,
        pending: &mut VecDeque<Pending>,
        action: ActionId,
        action_fingerprint: u64,
    ) {
        let free: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.alive && w.running < w.slots)
            .map(|(id, _)| *id)
            .collect();
        for worker in free {
            while self.workers[&worker].running < self.workers[&worker].slots {
                let pick = pending
                    .iter()
                    .position(|p| p.preferred.contains(&worker))
                    .or_else(|| {
                        pending.iter().position(|p| {
                            p.preferred.is_empty()
                                || p.since.elapsed() >= LOCALITY_WAIT
                                || p.preferred
                                    .iter()
                                    .all(|w| !self.workers.get(w).is_some_and(|s| s.alive))
                        })
                    });
                let Some(i) = pick else { break };
                let task = pending.remove(i).expect("index from position");
                self.launch(worker, task.kind, action, action_fingerprint);
            }
        }
    }

    fn launch(
        &mut self,
        worker: WorkerId,
        kind: TaskKind,
        action: ActionId,
        action_fingerprint: u64,
    ) {
        let (node, fingerprint, stage) = match kind {
            TaskKind::ShuffleMap { shuffle, .. } => {
                let e = self.plan.shuffle(shuffle).expect("shuffle exists");
                (
                    e.task.map_node(),
                    e.fingerprint,
                    self.stage_ids[&StageKey::Shuffle(shuffle)],
                )
            }
            TaskKind::Result { action: a, .. } => {
                debug_assert_eq!(a, action);
                let node = self.plan.action(a).expect("action exists").node;
                (
                    node,
                    action_fingerprint,
                    self.stage_ids[&StageKey::Action(a)],
                )
            }
        };
        let mut locations = ShuffleLocations::default();
        for s in self.plan.shuffles_read_by(node) {
            if let Some(holders) = self.map_outputs.get(&s) {
                for w in holders.iter().flatten() {
                    if let Some(ws) = self.workers.get(w) {
                        locations.addresses.insert(*w, ws.data_address.clone());
                    }
                }
                locations.shuffles.insert(s, holders.clone());
            }
        }
        let attempt = self.attempts.entry(kind).or_default();
        let desc = TaskDescription {
            task_id: self.next_task_id,
            kind,
            attempt: *attempt,
            fingerprint,
            locations,
        };
        *attempt += 1;
        self.running.insert(
            self.next_task_id,
            Running {
                kind,
                worker,
                stage,
                started: Instant::now(),
            },
        );
        self.next_task_id += 1;
        if let Some(w) = self.workers.get_mut(&worker) {
            w.running += 1;
        }
        self.backend.launch(worker, desc);
    }
}
