//! The scheduler's event handling: a finished task (map output or result registered,
//! metrics summed, failures classified), a joined worker, and a lost worker (its running
//! tasks, map outputs and cached partitions forgotten, so the next look at the plan
//! recomputes them from lineage).

use super::*;

impl Scheduler {
    /// Applies one event. Returns whether it was a fetch failure; finished result
    /// partitions are pushed to `done`.
    pub(super) fn handle(
        &mut self,
        event: SchedulerEvent,
        done: &mut Vec<(usize, Vec<u8>)>,
    ) -> Result<bool> {
        match event {
            SchedulerEvent::WorkerJoined {
                worker,
                slots,
                data_address,
                host,
            } => {
                tracing::info!("worker {worker} joined from {host} with {slots} slots");
                self.workers.insert(
                    worker,
                    WorkerState {
                        slots: slots.max(1),
                        running: 0,
                        alive: true,
                        data_address,
                        metrics: WorkerMetrics {
                            id: worker,
                            host,
                            ..Default::default()
                        },
                    },
                );
                Ok(false)
            }
            SchedulerEvent::WorkerLost { worker, reason, .. } => {
                self.lose_worker(worker, &reason)?;
                Ok(false)
            }
            SchedulerEvent::TaskDone { worker, outcome } => self.task_done(worker, outcome, done),
        }
    }

    fn lose_worker(&mut self, worker: WorkerId, reason: &str) -> Result<()> {
        let Some(w) = self.workers.get_mut(&worker) else {
            return Ok(());
        };
        if !w.alive {
            return Ok(());
        }
        w.alive = false;
        w.running = 0;
        w.metrics.lost = true;
        let lost_tasks: Vec<u64> = self
            .running
            .iter()
            .filter(|(_, r)| r.worker == worker)
            .map(|(id, _)| *id)
            .collect();
        let mut lost_outputs = 0;
        for holders in self.map_outputs.values_mut() {
            for h in holders.iter_mut() {
                if *h == Some(worker) {
                    *h = None;
                    lost_outputs += 1;
                }
            }
        }
        for holders in self.cache_locations.values_mut() {
            holders.remove(&worker);
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
        self.backend.evict(worker, reason);
        Ok(())
    }

    pub(super) fn is_running(&self, kind: TaskKind) -> bool {
        self.running.values().any(|r| r.kind == kind)
    }

    fn task_done(
        &mut self,
        worker: WorkerId,
        outcome: TaskOutcome,
        done: &mut Vec<(usize, Vec<u8>)>,
    ) -> Result<bool> {
        let Some(run) = self.running.remove(&outcome.task_id) else {
            // A late report from a worker already declared lost: its work was re-run.
            return Ok(false);
        };
        let elapsed = run.started.elapsed().as_secs_f64();
        let now = self.started.elapsed().as_secs_f64();
        if let Some(w) = self.workers.get_mut(&worker) {
            w.running = w.running.saturating_sub(1);
            w.metrics.busy_seconds += outcome.seconds;
            w.metrics.peak_rss_bytes = w
                .metrics
                .peak_rss_bytes
                .max(outcome.metrics.worker_peak_rss_bytes);
        }
        self.metrics.timeline.push(TaskSpan {
            stage: run.stage,
            worker,
            start_seconds: now - elapsed,
            seconds: elapsed,
            ok: outcome.result.is_ok(),
        });
        match outcome.result {
            Ok(success) => {
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.metrics.tasks += 1;
                }
                let m = &outcome.metrics;
                self.stages[run.stage].add_task(m, outcome.seconds);
                for (source, n) in &m.bad_records {
                    let seen = self.bad_records.entry(*source).or_default();
                    *seen = (*seen).max(*n);
                }
                for (k, v) in &m.counters {
                    *self.metrics.counters.entry(k.clone()).or_default() += v;
                }
                let alive = self.workers.get(&worker).is_some_and(|w| w.alive);
                if alive {
                    for key in &m.cached {
                        self.cache_locations.entry(*key).or_default().insert(worker);
                    }
                }
                if let Some(p) = &self.progress {
                    p.task_finished(
                        run.stage,
                        m.records_out.max(m.records_in),
                        m.bytes_in + m.shuffle_read_bytes,
                    );
                }
                match (outcome.kind, success) {
                    (TaskKind::ShuffleMap { shuffle, map }, TaskSuccess::MapOutput { .. }) => {
                        if alive {
                            if let Some(h) = self.map_outputs.get_mut(&shuffle) {
                                h[map] = Some(worker);
                            }
                            if self.complete(shuffle) {
                                self.finish_stage(run.stage);
                            }
                        }
                    }
                    (TaskKind::Result { partition, .. }, TaskSuccess::Result(bytes)) => {
                        done.push((partition, bytes));
                    }
                    (kind, _) => {
                        return Err(Error::job(format!(
                            "worker {worker} answered {kind:?} with the wrong kind of result"
                        )))
                    }
                }
                Ok(false)
            }
            Err(TaskError::FetchFailed {
                shuffle,
                map_partition,
                worker: holder,
                message,
            }) => {
                tracing::warn!(
                    "task on worker {worker} could not fetch map output {map_partition} of shuffle {shuffle} from worker {holder}: {message}; recomputing it"
                );
                self.stages[run.stage].failed_tasks += 1;
                if let Some(h) = self.map_outputs.get_mut(&shuffle) {
                    if h.get(map_partition).copied().flatten() == Some(holder) || holder == worker {
                        h[map_partition] = None;
                    }
                }
                self.forced.insert(shuffle);
                Ok(true)
            }
            Err(TaskError::PlanMismatch {
                action,
                driver,
                worker: theirs,
            }) => {
                let reason = format!(
                    "plan mismatch at {action}: driver fingerprint {driver:016x}, worker {theirs:016x} (different binary or job arguments)"
                );
                tracing::error!("worker {worker} refused: {reason}");
                self.stages[run.stage].failed_tasks += 1;
                self.lose_worker(worker, &reason)?;
                Ok(false)
            }
            Err(TaskError::Cancelled(reason)) => {
                self.stages[run.stage].failed_tasks += 1;
                tracing::warn!("task cancelled on worker {worker}: {reason}");
                Ok(false)
            }
            Err(TaskError::Failed(message)) => Err(Error::Job(message)),
        }
    }
}
