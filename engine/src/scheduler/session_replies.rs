//! The replies of a session's workers, the driver's side: waiting for one reply from each
//! worker of a step (or of the opening or the close) while the scheduler's other events
//! go on, and taking each partition's bytes from them.
//!
//! Replies are checked like task reports: a reply from a worker outside the session, of
//! another step, or naming a partition the worker does not hold evicts that worker.

use super::*;
use crate::error::TaskError;

/// How long a failed step waits for news of a lost worker before the failure is taken as
/// the session's own.
const LOSS_GRACE: Duration = Duration::from_secs(10);

/// What waiting for replies came to.
pub(super) enum Replies {
    All(Vec<(WorkerId, SessionReply)>),
    Lost(Vec<WorkerId>),
}

impl Scheduler {
    /// Waits for one reply that `fits` from each of `workers`, handling other events as
    /// they come; stops early when one of them is lost. A failure reported by a worker
    /// is held back briefly: a peer's loss makes the others fail too, and the loss is
    /// what the attempt ends with.
    pub(super) fn session_replies(
        &mut self,
        session: SessionId,
        workers: &[WorkerId],
        fits: impl Fn(&SessionReply) -> bool,
    ) -> Result<Replies> {
        let mut got: BTreeMap<WorkerId, SessionReply> = BTreeMap::new();
        let mut failure: Option<(Instant, TaskError)> = None;
        let mut failed: BTreeSet<WorkerId> = BTreeSet::new();
        while got.len() + failed.len() < workers.len() {
            let lost: Vec<WorkerId> = workers
                .iter()
                .copied()
                .filter(|w| !self.is_alive(*w))
                .collect();
            if !lost.is_empty() {
                return Ok(Replies::Lost(lost));
            }
            if let Some((since, e)) = &failure {
                if since.elapsed() > LOSS_GRACE {
                    return Err(e.clone().into());
                }
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
                    SessionReply::Progress { events } => {
                        self.session_progress(worker, session, &events)?;
                    }
                    SessionReply::Failed(e) => {
                        failed.insert(worker);
                        failure.get_or_insert((Instant::now(), e));
                    }
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
        if let Some((_, e)) = failure {
            return Err(e.into());
        }
        Ok(Replies::All(got.into_iter().collect()))
    }

    /// Each partition's bytes from the workers' replies; a worker naming a partition it
    /// does not hold is evicted.
    pub(super) fn by_partition(
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
