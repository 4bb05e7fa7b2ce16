//! The scheduler's event handling: a joined worker, a lost worker (its running tasks, map
//! outputs and cached partitions forgotten, so the next walk recomputes them from
//! lineage), and a finished task.
//!
//! A finished task is checked before anything of it is believed: the task id must be one
//! the driver gave this very worker, the kind must be the one it gave, a map output must
//! have one size per reduce partition, a fetch failure must name a shuffle the task was
//! told to read, a map partition of it and a known worker, and every cached or bad-record
//! partition must exist. A report that does not fit evicts the worker with a one-line
//! reason; its tasks and outputs are then recomputed on the others.

use super::*;
use crate::error::TaskError;
use crate::metrics::TaskSpan;
use crate::observe::TaskFigures;
use crate::protocol::TaskSuccess;
use crate::task::TaskMetrics;

impl Scheduler {
    /// Applies one event; results of `run`'s tasks land in it.
    pub(super) fn handle(
        &mut self,
        event: SchedulerEvent,
        run: Option<&mut ActionRun>,
    ) -> Result<()> {
        match event {
            SchedulerEvent::WorkerJoined {
                worker,
                slots,
                data_address,
                host,
                pid,
            } => {
                self.join(worker, slots, data_address, host, pid);
                Ok(())
            }
            SchedulerEvent::WorkerLost { worker, reason, .. } => self.lose_worker(worker, &reason),
            SchedulerEvent::TaskDone { worker, outcome } => self.task_done(worker, outcome, run),
            SchedulerEvent::Session {
                worker, session, ..
            } => {
                if self.is_alive(worker) && !self.aborted_sessions.contains(&session) {
                    let reason = format!("answered session {session}, which is not running");
                    self.evict_worker(worker, reason)?;
                }
                Ok(())
            }
        }
    }

    fn join(
        &mut self,
        worker: WorkerId,
        slots: usize,
        data_address: String,
        host: String,
        pid: u32,
    ) {
        tracing::info!("worker {worker} joined from {host} with {slots} slots");
        self.record(Event::WorkerJoined {
            worker,
            host: host.clone(),
            pid,
            slots: slots.max(1),
            address: data_address.clone(),
        });
        self.workers.insert(
            worker,
            WorkerState {
                slots: slots.max(1),
                running: 0,
                slot_busy: Vec::new(),
                alive: true,
                data_address,
                metrics: WorkerMetrics {
                    id: worker,
                    host,
                    ..Default::default()
                },
            },
        );
    }

    pub(super) fn lose_worker(&mut self, worker: WorkerId, reason: &str) -> Result<()> {
        self.drop_worker(worker, reason, false)
    }

    /// Forgets `worker` and what it held; `evicted` when the driver sent it away.
    fn drop_worker(&mut self, worker: WorkerId, reason: &str, evicted: bool) -> Result<()> {
        let Some(w) = self.workers.get_mut(&worker) else {
            return Ok(());
        };
        if !w.alive {
            return Ok(());
        }
        w.alive = false;
        w.running = 0;
        w.slot_busy.clear();
        w.metrics.lost = true;
        let reason_text = reason.to_string();
        self.record(if evicted {
            Event::WorkerEvicted {
                worker,
                reason: reason_text,
            }
        } else {
            Event::WorkerLost {
                worker,
                reason: reason_text,
            }
        });
        let lost_tasks: Vec<u64> = self
            .running
            .iter()
            .filter(|(_, r)| r.worker == worker)
            .map(|(id, _)| *id)
            .collect();
        let mut lost_outputs = 0;
        for holders in self.map_outputs.values_mut() {
            for h in holders.iter_mut().filter(|h| **h == Some(worker)) {
                *h = None;
                lost_outputs += 1;
            }
        }
        let mut lost_cached = 0;
        for holders in self.cache_locations.values_mut() {
            if holders.remove(&worker) && holders.is_empty() {
                lost_cached += 1;
            }
        }
        if lost_outputs + lost_cached > 0 {
            self.record(Event::Recompute {
                reason: format!("worker {worker} lost"),
                map_outputs: lost_outputs,
                cached_partitions: lost_cached,
            });
        }
        tracing::warn!(
            "worker {worker} lost ({reason}); re-running its {} running tasks and {lost_outputs} map outputs on the others",
            lost_tasks.len()
        );
        for id in lost_tasks {
            let r = self.running.remove(&id).expect("listed above");
            self.stages[r.stage].failed_tasks += 1;
            if self.attempts.get(&r.kind).copied().unwrap_or(0) >= MAX_TASK_ATTEMPTS {
                return Err(Error::job(format!(
                    "{:?} was lost with its worker {MAX_TASK_ATTEMPTS} times; giving up",
                    r.kind
                )));
            }
        }
        self.cluster.evict(worker, reason);
        Ok(())
    }

    /// Sends away a worker whose report does not fit the driver's records.
    pub(super) fn evict_worker(&mut self, worker: WorkerId, reason: String) -> Result<()> {
        tracing::error!("evicting worker {worker}: {reason}");
        self.drop_worker(worker, &reason, true)
    }

    fn task_done(
        &mut self,
        worker: WorkerId,
        outcome: TaskOutcome,
        run: Option<&mut ActionRun>,
    ) -> Result<()> {
        if !self.workers.get(&worker).is_some_and(|w| w.alive) {
            // A late report from a worker already lost or evicted: its work runs again.
            return Ok(());
        }
        if let Err(reason) = self.check_outcome(worker, &outcome) {
            return self.evict_worker(worker, reason);
        }
        let task = self
            .running
            .remove(&outcome.task_id)
            .expect("checked above");
        self.account(worker, &task, &outcome);
        match outcome.result {
            Ok(success) => {
                self.failed_on.remove(&task.kind);
                self.succeeded(worker, &task, &outcome.metrics, outcome.seconds);
                self.register(worker, &task, success, run);
                Ok(())
            }
            Err(error) => self.failed(worker, &task, error, run),
        }
    }

    /// Why `outcome` does not fit what the driver asked of `worker`, if it does not.
    fn check_outcome(&self, worker: WorkerId, outcome: &TaskOutcome) -> Result<(), String> {
        let id = outcome.task_id;
        let Some(task) = self.running.get(&id) else {
            return Err(format!("reported task {id}, which it is not running"));
        };
        if task.worker != worker {
            return Err(format!(
                "reported task {id}, which worker {} runs",
                task.worker
            ));
        }
        if outcome.kind != task.kind {
            return Err(format!(
                "reported task {id} as {:?}; it is {:?}",
                outcome.kind, task.kind
            ));
        }
        self.check_partitions(&outcome.metrics)?;
        match (&outcome.result, task.kind) {
            (Ok(TaskSuccess::MapOutput { sizes }), TaskKind::ShuffleMap { shuffle, .. }) => {
                let reducers = self
                    .plan
                    .shuffle(shuffle)
                    .map(|e| e.task.num_reduce_partitions());
                if reducers != Some(sizes.len()) {
                    return Err(format!(
                        "reported {} output sizes for shuffle {shuffle}, which has {reducers:?} reduce partitions",
                        sizes.len()
                    ));
                }
                Ok(())
            }
            (Ok(TaskSuccess::Result(_)), TaskKind::Result { .. }) => Ok(()),
            (Ok(_), kind) => Err(format!("answered {kind:?} with the wrong kind of result")),
            (
                Err(TaskError::FetchFailed {
                    shuffle,
                    map_partition,
                    worker: holder,
                    ..
                }),
                _,
            ) => self.check_fetch_failure(task, *shuffle, *map_partition, *holder),
            (Err(_), _) => Ok(()),
        }
    }

    fn check_fetch_failure(
        &self,
        task: &Running,
        shuffle: ShuffleId,
        map: usize,
        holder: WorkerId,
    ) -> Result<(), String> {
        if !task.reads.contains(&shuffle) {
            return Err(format!(
                "reported a failed fetch from shuffle {shuffle}, which its task does not read"
            ));
        }
        let maps = self.plan.node(self.map_node(shuffle)).num_partitions();
        if map >= maps {
            return Err(format!(
                "reported a failed fetch of map output {map} of shuffle {shuffle}, which has {maps}"
            ));
        }
        if !self.workers.contains_key(&holder) {
            return Err(format!(
                "reported a failed fetch from worker {holder}, which never joined"
            ));
        }
        Ok(())
    }

    /// Every partition a task says it cached or read bad records from must exist.
    fn check_partitions(&self, m: &TaskMetrics) -> Result<(), String> {
        let cached = m.cached.iter().map(|k| (k, true));
        let sources = m.bad_records.iter().map(|(k, _)| (k, false));
        for (&(node, partition), must_persist) in cached.chain(sources) {
            let fits = self.plan.get_node(node).is_some_and(|n| {
                partition < n.num_partitions() && (!must_persist || n.is_persisted())
            });
            if !fits {
                return Err(format!(
                    "named partition {partition} of node {node}, which the plan does not have"
                ));
            }
        }
        Ok(())
    }

    /// The figures every attempt adds, successful or not.
    fn account(&mut self, worker: WorkerId, task: &Running, outcome: &TaskOutcome) {
        let now = self.started.elapsed().as_secs_f64();
        let seconds = if outcome.seconds.is_finite() {
            outcome.seconds.clamp(0.0, now)
        } else {
            0.0
        };
        if let Some(w) = self.workers.get_mut(&worker) {
            w.running = w.running.saturating_sub(1);
            if let Some(busy) = w.slot_busy.get_mut(task.slot) {
                *busy = false;
            }
            w.metrics.busy_seconds += seconds;
            w.metrics.peak_rss_bytes = w
                .metrics
                .peak_rss_bytes
                .max(outcome.metrics.worker_peak_rss_bytes);
        }
        self.metrics.timeline.push(TaskSpan {
            stage: task.stage,
            worker,
            start_seconds: now - seconds,
            seconds,
            ok: outcome.result.is_ok(),
        });
        if self.recording() {
            self.record(task_end(worker, task, outcome, seconds));
        }
    }

    /// The figures and cached partitions of a successful attempt.
    fn succeeded(&mut self, worker: WorkerId, task: &Running, m: &TaskMetrics, seconds: f64) {
        if let Some(w) = self.workers.get_mut(&worker) {
            w.metrics.tasks += 1;
        }
        self.stages[task.stage].add_task(m, seconds);
        for (source, n) in &m.bad_records {
            let seen = self.bad_records.entry(*source).or_default();
            *seen = (*seen).max(*n);
        }
        for (k, v) in &m.counters {
            *self.metrics.counters.entry(k.clone()).or_default() += v;
        }
        for &(node, partition) in &m.cached {
            if self.plan.is_cached_node(node) {
                self.cache_locations
                    .entry((node, partition))
                    .or_default()
                    .insert(worker);
            } else {
                // Cached by a worker whose job thread had not reached `unpersist` yet.
                self.cluster.release(worker, &[], &[node]);
            }
        }
        if let Some(p) = &self.progress {
            p.task_finished(
                task.stage,
                m.records_out.max(m.records_in),
                m.bytes_in + m.shuffle_read_bytes,
            );
        }
    }

    /// Records a map output's holder or an action's partition.
    fn register(
        &mut self,
        worker: WorkerId,
        task: &Running,
        success: TaskSuccess,
        run: Option<&mut ActionRun>,
    ) {
        match (task.kind, success) {
            (TaskKind::ShuffleMap { shuffle, map }, TaskSuccess::MapOutput { .. }) => {
                match self.map_outputs.get_mut(&shuffle) {
                    Some(h) => h[map] = Some(worker),
                    // The shuffle was released while this attempt ran: nothing reads it.
                    None => self.cluster.release(worker, &[shuffle], &[]),
                }
                if self.complete(shuffle) {
                    self.finish_stage(task.stage);
                }
            }
            (TaskKind::Result { action, partition }, TaskSuccess::Result(bytes)) => {
                if let Some(run) = run.filter(|r| r.action == action) {
                    run.results[partition] = Some(bytes);
                }
            }
            _ => unreachable!("the kind of result was checked"),
        }
    }

    fn failed(
        &mut self,
        worker: WorkerId,
        task: &Running,
        error: TaskError,
        run: Option<&mut ActionRun>,
    ) -> Result<()> {
        self.stages[task.stage].failed_tasks += 1;
        self.failed_on.insert(task.kind, worker);
        match error {
            TaskError::FetchFailed {
                shuffle,
                map_partition,
                worker: holder,
                message,
            } => {
                tracing::warn!(
                    "task on worker {worker} could not fetch map output {map_partition} of shuffle {shuffle} from worker {holder}: {message}; recomputing it"
                );
                if let Some(h) = self.map_outputs.get_mut(&shuffle) {
                    if h[map_partition] == Some(holder) || holder == worker {
                        h[map_partition] = None;
                    }
                }
                self.forced.insert(shuffle);
                self.record(Event::Recompute {
                    reason: format!(
                        "worker {worker} could not fetch map output {map_partition} of shuffle {shuffle} from worker {holder}"
                    ),
                    map_outputs: 1,
                    cached_partitions: 0,
                });
                if let Some(run) = run {
                    run.fetch_failures += 1;
                    if run.fetch_failures > MAX_FETCH_FAILURES.max(4 * run.results.len() as u32) {
                        return Err(Error::job("too many shuffle fetch failures; giving up"));
                    }
                }
                Ok(())
            }
            TaskError::PlanMismatch {
                action,
                driver,
                worker: theirs,
            } => {
                let reason = format!(
                    "plan mismatch at {action}: driver fingerprint {driver:016x}, worker {theirs:016x} (different binary or job arguments)"
                );
                tracing::error!("worker {worker} refused: {reason}");
                self.lose_worker(worker, &reason)
            }
            TaskError::Cancelled(reason) => {
                tracing::warn!("task cancelled on worker {worker}: {reason}");
                Ok(())
            }
            TaskError::Failed(message) => Err(Error::Job(message)),
        }
    }
}

/// The event of a finished attempt.
fn task_end(worker: WorkerId, task: &Running, outcome: &TaskOutcome, seconds: f64) -> Event {
    let m = &outcome.metrics;
    let read = m.shuffle_read_seconds.clamp(0.0, seconds);
    let write = m.shuffle_write_seconds.clamp(0.0, seconds - read);
    Event::TaskEnd {
        task: outcome.task_id,
        stage: task.stage,
        partition: task.partition,
        worker,
        slot: task.slot,
        attempt: task.attempt,
        ok: outcome.result.is_ok(),
        figures: TaskFigures {
            seconds,
            compute_seconds: seconds - read - write,
            shuffle_read_seconds: read,
            shuffle_write_seconds: write,
            records_in: m.records_in,
            records_out: m.records_out,
            bytes_in: m.bytes_in,
            shuffle_read_bytes: m.shuffle_read_bytes,
            shuffle_write_bytes: m.shuffle_write_bytes,
            spill_bytes: m.spill_bytes,
            peak_rss_bytes: m.worker_peak_rss_bytes,
            shuffle_read_from: m.shuffle_read_from.clone(),
        },
        failure: outcome.result.as_ref().err().map(ToString::to_string),
    }
}
