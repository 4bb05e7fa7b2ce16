//! Long-lived tasks, the driver's side: it opens a session's partitions on the workers
//! holding their cached input, runs the barrier of every step (each worker reports, the
//! master decides the next step's control bytes or the end), and closes the session.
//! The data of a step never passes through here: the workers push it to each other (see
//! `session` and `exchange`).
//!
//! Every `checkpoint_every` steps the workers snapshot their partitions and replicate
//! them (`session::checkpoint`); a checkpoint is complete once every worker finished the
//! step after it. A worker lost during a session ends the attempt with
//! [`SessionOutcome::Lost`]: the survivors drop their partitions, and the outcome names
//! the last complete checkpoint if every partition still has a live snapshot holder. The
//! job (every process alike) then rebuilds the lost input from lineage and opens the
//! session again from that checkpoint, or from the start. Their replies are gathered and
//! checked in `session_replies`.

use serde::{Deserialize, Serialize};

pub use super::service_recovery::ServiceSnapshots;
use super::session_replies::Replies;
use super::*;
use crate::protocol::{SessionCommand, SessionRestore};
use crate::session::checkpoint::{checkpoint_channel, replica_of};

/// Decides after step `step`, from every partition's report (by partition): the next
/// step's control bytes, or `None` to end the session.
pub type Master<'a> = dyn FnMut(u64, &[Vec<u8>]) -> Result<Option<Vec<u8>>> + 'a;

/// How one attempt of a session runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionRun {
    /// Take a checkpoint every this many steps (0: never).
    pub checkpoint_every: u64,
    /// Start from this checkpoint (of an earlier attempt) instead of the input.
    pub restore: Option<Checkpoint>,
    /// Start the service shards from these snapshots, at this first step.
    pub resume_services: Option<(u64, ServiceSnapshots)>,
}

/// A complete checkpoint: the step it was taken at, the control bytes of that step, and
/// the workers holding each partition's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub step: u64,
    pub control: Vec<u8>,
    pub holders: Vec<Vec<WorkerId>>,
    /// The channel the snapshots live on.
    pub channel: u64,
}

/// What a closed session gave: each partition's result and each service shard's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionResults {
    pub partitions: Vec<Vec<u8>>,
    pub services: Vec<Vec<u8>>,
}

/// How an attempt of a session ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SessionOutcome {
    /// It closed.
    Closed(SessionResults),
    /// Workers were lost at step `step`; `checkpoint` is the last complete checkpoint
    /// when every partition still has a live holder of its snapshot.
    Lost {
        step: u64,
        workers: Vec<WorkerId>,
        checkpoint: Option<Checkpoint>,
        /// The newest complete service snapshots that survived, in a session with
        /// services that keeps them.
        services: Option<ServiceSnapshots>,
    },
}

/// An attempt whose partitions are open.
struct Opened {
    placement: Vec<WorkerId>,
    /// The worker of each service shard.
    services: Vec<WorkerId>,
    workers: Vec<WorkerId>,
    channel: u64,
    first_step: u64,
}

/// The checkpoints of an attempt: the last complete one, and the one taken but not yet
/// known to have reached every replica.
struct Checkpoints {
    complete: Option<Checkpoint>,
    pending: Option<Checkpoint>,
    forget_before: u64,
}

impl Scheduler {
    /// Runs one attempt of session `session` from `control` (the first step's control
    /// bytes, unless it restores a checkpoint) until `master` ends it or a worker is lost.
    pub fn run_session(
        &mut self,
        session: SessionId,
        control: Vec<u8>,
        run: &SessionRun,
        master: &mut Master<'_>,
    ) -> Result<SessionOutcome> {
        let opened = match self.open_session(session, run)? {
            Ok(opened) => opened,
            Err(lost) => return Ok(lost),
        };
        let control = run.restore.as_ref().map_or(control, |c| c.control.clone());
        // The restored checkpoint stays valid until a later one completes.
        let mut checkpoints = Checkpoints {
            complete: run.restore.clone(),
            pending: None,
            forget_before: 0,
        };
        let step = match self.run_steps(session, &opened, control, run, master, &mut checkpoints)? {
            Ok(last) => last,
            Err(lost) => return Ok(lost),
        };
        let workers = &opened.workers;
        self.broadcast_session(session, workers, &SessionCommand::Close);
        let closed = |r: &SessionReply| matches!(r, SessionReply::Closed { .. });
        let replies = match self.session_replies(session, workers, closed)? {
            Replies::All(replies) => replies,
            Replies::Lost(lost) => {
                let checkpoint = checkpoints.complete.filter(|c| self.recoverable(c));
                return Ok(self.give_up(session, workers, step, lost, checkpoint));
            }
        };
        for (worker, reply) in &replies {
            if let SessionReply::Closed { cached, .. } = reply {
                self.register_session_output(session, *worker, &opened.placement, cached)?;
            }
        }
        let services = self.service_results(session, &opened.services, &replies)?;
        Ok(SessionOutcome::Closed(SessionResults {
            partitions: self.by_partition(session, &opened.placement, replies)?,
            services,
        }))
    }

    /// Each service shard's result from the workers' `Closed` replies; a worker naming a
    /// shard it does not hold is evicted.
    fn service_results(
        &mut self,
        session: SessionId,
        services: &[WorkerId],
        replies: &[(WorkerId, SessionReply)],
    ) -> Result<Vec<Vec<u8>>> {
        let mut out: Vec<Option<Vec<u8>>> = vec![None; services.len()];
        for (worker, reply) in replies {
            let SessionReply::Closed { services: got, .. } = reply else {
                continue;
            };
            for (shard, bytes) in got {
                let s = *shard as usize;
                if services.get(s) != Some(worker) || out[s].is_some() {
                    let reason = format!(
                        "sent service shard {s} of session {session}, which it does not hold"
                    );
                    self.evict_worker(*worker, reason)?;
                    return Err(Error::job(format!(
                        "session {session} lost worker {worker}"
                    )));
                }
                out[s] = Some(bytes.clone());
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(s, b)| {
                b.ok_or_else(|| {
                    Error::job(format!(
                        "no result for service shard {s} of session {session}"
                    ))
                })
            })
            .collect()
    }

    /// Places the session's partitions and opens them (from a checkpoint when `run`
    /// restores one); the outcome instead when workers were lost first.
    fn open_session(
        &mut self,
        session: SessionId,
        run: &SessionRun,
    ) -> Result<std::result::Result<Opened, SessionOutcome>> {
        let entry = self
            .plan
            .session(session)
            .ok_or_else(|| Error::job(format!("session {session} is not in the plan")))?;
        let placement = self.session_placement(entry.task.node())?;
        let mut workers = placement.clone();
        workers.sort_unstable();
        workers.dedup();
        // Snapshots live on the first attempt's checkpoint channel, across attempts.
        let channel = match (&run.restore, &run.resume_services) {
            (Some(c), _) => c.channel,
            (None, Some((_, snapshots))) => snapshots.channel,
            (None, None) => checkpoint_channel(session),
        };
        if let Some(c) = run.restore.as_ref().filter(|c| !self.recoverable(c)) {
            // More workers were lost since the checkpoint was picked.
            let mut lost: Vec<WorkerId> = c.holders.iter().flatten().copied().collect();
            lost.retain(|w| !self.is_alive(*w));
            lost.sort_unstable();
            lost.dedup();
            return Ok(Err(SessionOutcome::Lost {
                step: c.step,
                workers: lost,
                checkpoint: None,
                services: None,
            }));
        }
        let restore = match &run.restore {
            Some(c) => Some(self.restore_sources(c, &placement)?),
            None => None,
        };
        // Service shard s goes to the (s mod W)-th worker of the session.
        let services: Vec<WorkerId> = (0..entry.task.services() as usize)
            .map(|s| workers[s % workers.len()])
            .collect();
        let service_restore = match &run.resume_services {
            Some((step, snapshots)) => Some(self.service_sources(*step, snapshots, &services)?),
            None => None,
        };
        let open = SessionCommand::Open {
            fingerprint: entry.fingerprint,
            placement: placement.clone(),
            addresses: workers
                .iter()
                .map(|w| (*w, self.workers[w].data_address.clone()))
                .collect(),
            checkpoints: channel,
            restore,
            services: services.clone(),
            service_restore,
        };
        self.broadcast_session(session, &workers, &open);
        let first_step = match (&run.restore, &run.resume_services) {
            (Some(c), _) => c.step,
            (None, Some((step, _))) => *step,
            (None, None) => 0,
        };
        let opened = |r: &SessionReply| matches!(r, SessionReply::Opened);
        if let Replies::Lost(lost) = self.session_replies(session, &workers, opened)? {
            let checkpoint = run.restore.clone().filter(|c| self.recoverable(c));
            return Ok(Err(
                self.give_up(session, &workers, first_step, lost, checkpoint)
            ));
        }
        Ok(Ok(Opened {
            placement,
            services,
            workers,
            channel,
            first_step,
        }))
    }

    /// Runs steps until `master` ends the session (returns the last step) or a worker is
    /// lost (returns the outcome), taking the checkpoints `run` asks for.
    fn run_steps(
        &mut self,
        session: SessionId,
        opened: &Opened,
        mut control: Vec<u8>,
        run: &SessionRun,
        master: &mut Master<'_>,
        checkpoints: &mut Checkpoints,
    ) -> Result<std::result::Result<u64, SessionOutcome>> {
        let Opened {
            placement,
            workers,
            channel,
            first_step,
            ..
        } = opened;
        let mut step = *first_step;
        loop {
            let checkpoint =
                step > *first_step && step.checked_rem(run.checkpoint_every) == Some(0);
            let command = SessionCommand::Step {
                step,
                control: control.clone(),
                checkpoint,
                forget_before: checkpoints.forget_before,
            };
            let began = Instant::now();
            self.broadcast_session(session, workers, &command);
            let fits = |r: &SessionReply| matches!(r, SessionReply::StepDone { step: s, .. } if *s == step);
            let replies = match self.session_replies(session, workers, fits)? {
                Replies::All(replies) => replies,
                Replies::Lost(lost) => {
                    let checkpoint = checkpoints.complete.take().filter(|c| self.recoverable(c));
                    return Ok(Err(self.give_up(session, workers, step, lost, checkpoint)));
                }
            };
            // Every worker finished a step after the pending checkpoint: its replicas
            // have all arrived.
            if self.recording() {
                self.record(Event::SessionStep {
                    session,
                    name: self.session_name(session),
                    step,
                    seconds: began.elapsed().as_secs_f64(),
                });
            }
            if let Some(c) = checkpoints.pending.take_if(|c| c.step < step) {
                self.record(Event::Checkpoint {
                    session,
                    step: c.step,
                    complete: true,
                });
                checkpoints.forget_before = c.step;
                checkpoints.complete = Some(c);
            }
            if checkpoint {
                self.record(Event::Checkpoint {
                    session,
                    step,
                    complete: false,
                });
                let holders = placement
                    .iter()
                    .map(|&w| vec![w, replica_of(w, workers)])
                    .collect();
                checkpoints.pending = Some(Checkpoint {
                    step,
                    control: control.clone(),
                    holders,
                    channel: *channel,
                });
            }
            let reports = self.by_partition(session, placement, replies)?;
            match master(step, &reports)? {
                Some(next) => (control, step) = (next, step + 1),
                None => return Ok(Ok(step)),
            }
        }
    }

    /// The name a session was given in the plan.
    fn session_name(&self, session: SessionId) -> String {
        self.plan
            .session(session)
            .map_or_else(String::new, |e| e.name.clone())
    }

    /// Whether every partition of checkpoint `c` has a live holder.
    fn recoverable(&self, c: &Checkpoint) -> bool {
        c.holders
            .iter()
            .all(|h| h.iter().any(|w| self.is_alive(*w)))
    }

    /// Who hands each partition's snapshot to its new worker: the new worker itself
    /// when it holds one, else a live holder.
    fn restore_sources(&self, c: &Checkpoint, placement: &[WorkerId]) -> Result<SessionRestore> {
        let sources = self.snapshot_sources(placement, &c.holders, |p| {
            format!(
                "every holder of partition {p}'s checkpoint of step {} was lost",
                c.step
            )
        })?;
        Ok(SessionRestore {
            step: c.step,
            sources,
        })
    }

    /// For each owner (of a partition or a shard), who hands it its snapshot: the owner
    /// itself when it holds one, else a live holder; `lost(i)` says why there is none.
    pub(super) fn snapshot_sources(
        &self,
        owners: &[WorkerId],
        holders: &[Vec<WorkerId>],
        lost: impl Fn(usize) -> String,
    ) -> Result<Vec<WorkerId>> {
        if owners.len() != holders.len() {
            return Err(Error::job(format!(
                "the snapshots name {} holders' lists for {} owners",
                holders.len(),
                owners.len()
            )));
        }
        owners
            .iter()
            .zip(holders)
            .enumerate()
            .map(|(i, (owner, holders))| {
                if holders.contains(owner) {
                    return Ok(*owner);
                }
                holders
                    .iter()
                    .copied()
                    .find(|w| self.is_alive(*w))
                    .ok_or_else(|| Error::job(lost(i)))
            })
            .collect()
    }

    /// Ends an attempt after losing `lost`: the survivors drop their partitions and say
    /// which service snapshots they hold.
    fn give_up(
        &mut self,
        session: SessionId,
        workers: &[WorkerId],
        step: u64,
        lost: Vec<WorkerId>,
        checkpoint: Option<Checkpoint>,
    ) -> SessionOutcome {
        self.aborted_sessions.insert(session);
        let survivors: Vec<WorkerId> = workers
            .iter()
            .copied()
            .filter(|w| self.is_alive(*w))
            .collect();
        self.broadcast_session(session, &survivors, &SessionCommand::Abort);
        let shards = self
            .plan
            .session(session)
            .map_or(0, |e| e.task.services() as usize);
        let services = if shards > 0 {
            self.surviving_snapshots(session, &survivors, shards)
        } else {
            None
        };
        self.record(Event::SessionLost {
            session,
            step,
            workers: lost.clone(),
            restore_step: checkpoint.as_ref().map(|c| c.step),
        });
        SessionOutcome::Lost {
            step,
            workers: lost,
            checkpoint,
            services,
        }
    }

    /// Records where a closed session left cached partitions of persisted nodes (one per
    /// session partition the worker held); a worker naming another partition is evicted.
    fn register_session_output(
        &mut self,
        session: SessionId,
        worker: WorkerId,
        placement: &[WorkerId],
        cached: &[(NodeId, usize)],
    ) -> Result<()> {
        for &(node, partition) in cached {
            if placement.get(partition) != Some(&worker) {
                let reason = format!(
                    "cached partition {partition} of session {session}, which it does not hold"
                );
                self.evict_worker(worker, reason)?;
                return Err(Error::job(format!(
                    "session {session} lost worker {worker}"
                )));
            }
            if self.plan.is_cached_node(node) {
                self.cache_locations
                    .entry((node, partition))
                    .or_default()
                    .insert(worker);
            } else {
                self.cluster.release(worker, &[], &[node]);
            }
        }
        Ok(())
    }

    /// The worker of each partition: a live holder of the node's cached partition.
    fn session_placement(&self, node: NodeId) -> Result<Vec<WorkerId>> {
        let partitions = self.plan.node(node).num_partitions();
        (0..partitions)
            .map(|p| {
                self.cache_locations
                    .get(&(node, p))
                    .and_then(|holders| holders.iter().copied().find(|&w| self.is_alive(w)))
                    .ok_or_else(|| {
                        Error::job(format!(
                            "partition {p} of the session's input (node {node}) is not cached on a live worker"
                        ))
                    })
            })
            .collect()
    }

    fn broadcast_session(
        &mut self,
        session: SessionId,
        workers: &[WorkerId],
        command: &SessionCommand,
    ) {
        for &w in workers {
            self.cluster.session(w, session, command.clone());
        }
    }
}
