//! Long-lived tasks, the driver's side: it opens a session's partitions on the workers
//! holding their cached input, runs the barrier of every step (each worker reports, the
//! master decides the next step's control bytes or the end), and closes the session.
//! The data of a step never passes through here: the workers push it to each other (see
//! `session` and `exchange`).
//!
//! Replies are checked like task reports: a reply from a worker outside the session, of
//! another step, or naming a partition the worker does not hold evicts that worker. A
//! worker lost during a session fails the session (checkpoints come with Pregel).

use super::*;
use crate::protocol::SessionCommand;

/// Decides after step `step`, from every partition's report (by partition): the next
/// step's control bytes, or `None` to end the session.
pub type Master<'a> = dyn FnMut(u64, &[Vec<u8>]) -> Result<Option<Vec<u8>>> + 'a;

impl Scheduler {
    /// Runs session `session` from `control` (step 0's control bytes) until `master` ends
    /// it; returns each partition's result.
    pub fn run_session(
        &mut self,
        session: SessionId,
        control: Vec<u8>,
        master: &mut Master<'_>,
    ) -> Result<Vec<Vec<u8>>> {
        let entry = self
            .plan
            .session(session)
            .ok_or_else(|| Error::job(format!("session {session} is not in the plan")))?;
        let placement = self.session_placement(entry.task.node())?;
        let mut workers = placement.clone();
        workers.sort_unstable();
        workers.dedup();
        let addresses = workers
            .iter()
            .map(|w| (*w, self.workers[w].data_address.clone()))
            .collect();
        let open = SessionCommand::Open {
            fingerprint: entry.fingerprint,
            placement: placement.clone(),
            addresses,
        };
        self.broadcast_session(session, &workers, &open);
        self.session_replies(session, &workers, |r| matches!(r, SessionReply::Opened))?;
        let (mut control, mut step) = (control, 0u64);
        loop {
            let command = SessionCommand::Step { step, control };
            self.broadcast_session(session, &workers, &command);
            let replies = self.session_replies(
                session,
                &workers,
                |r| matches!(r, SessionReply::StepDone { step: s, .. } if *s == step),
            )?;
            let reports = self.by_partition(session, &placement, replies)?;
            match master(step, &reports)? {
                Some(next) => (control, step) = (next, step + 1),
                None => break,
            }
        }
        self.broadcast_session(session, &workers, &SessionCommand::Close);
        let replies = self.session_replies(session, &workers, |r| {
            matches!(r, SessionReply::Closed { .. })
        })?;
        for (worker, reply) in &replies {
            if let SessionReply::Closed { cached, .. } = reply {
                self.register_session_output(session, *worker, &placement, cached)?;
            }
        }
        self.by_partition(session, &placement, replies)
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

    /// Waits for one reply that `fits` from each of `workers`, handling other events as
    /// they come.
    fn session_replies(
        &mut self,
        session: SessionId,
        workers: &[WorkerId],
        fits: impl Fn(&SessionReply) -> bool,
    ) -> Result<Vec<(WorkerId, SessionReply)>> {
        let mut got: BTreeMap<WorkerId, SessionReply> = BTreeMap::new();
        while got.len() < workers.len() {
            if let Some(lost) = workers.iter().find(|w| !self.is_alive(**w)) {
                return Err(Error::job(format!(
                    "worker {lost} was lost during session {session}"
                )));
            }
            let event = match self.events.recv_timeout(IDLE_LOOK) {
                Ok(ev) => ev,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::NoWorkers("the cluster backend stopped".into()))
                }
            };
            match event {
                SchedulerEvent::Session {
                    worker,
                    session: s,
                    reply,
                } if s == session && workers.contains(&worker) => match reply {
                    SessionReply::Failed(e) => return Err(e.into()),
                    r if fits(&r) && !got.contains_key(&worker) => {
                        got.insert(worker, r);
                    }
                    _ => {
                        let reason = format!("answered session {session} out of turn");
                        self.evict_worker(worker, reason)?;
                    }
                },
                other => self.handle(other, None)?,
            }
        }
        Ok(got.into_iter().collect())
    }

    /// Each partition's bytes from the workers' replies; a worker naming a partition it
    /// does not hold is evicted.
    fn by_partition(
        &mut self,
        session: SessionId,
        placement: &[WorkerId],
        replies: Vec<(WorkerId, SessionReply)>,
    ) -> Result<Vec<Vec<u8>>> {
        let mut out: Vec<Option<Vec<u8>>> = vec![None; placement.len()];
        for (worker, reply) in replies {
            let items = match reply {
                SessionReply::StepDone { reports, .. } => reports,
                SessionReply::Closed { results, .. } => results,
                _ => Vec::new(),
            };
            for (p, bytes) in items {
                let p = p as usize;
                if placement.get(p) != Some(&worker) || out[p].is_some() {
                    let reason = format!(
                        "reported partition {p} of session {session}, which it does not hold"
                    );
                    self.evict_worker(worker, reason)?;
                    return Err(Error::job(format!(
                        "session {session} lost worker {worker}"
                    )));
                }
                out[p] = Some(bytes);
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(p, b)| {
                b.ok_or_else(|| {
                    Error::job(format!("no report for partition {p} of session {session}"))
                })
            })
            .collect()
    }
}
