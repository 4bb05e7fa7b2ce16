//! Long-lived tasks, the worker's side: the partitions of a session (a Pregel run, a
//! parameter-server job) stay open in worker memory from the driver's `Open` to its
//! `Close`, and step through the supersteps or clocks the driver's barrier runs.
//!
//! ```text
//!  driver                         worker W (partitions p, q)            other workers
//!  Open{placement} ─────────────▶ open p, q from their cached input
//!                  ◀───────────── Opened
//!  Step{s, control} ────────────▶ wait until every worker flushed s-1 ◀── flush(s-1)
//!                                 p.step(s, inbox of p at s-1) ──push──▶ batches for s
//!                                 q.step(s, …)
//!                                 flush(s) to every worker ───────────▶
//!                  ◀───────────── StepDone{s, reports}
//!  (barrier: every worker done; the master decides the next control or the end)
//!  Close ───────────────────────▶ p.finish(), q.finish()
//!                  ◀───────────── Closed{results}
//! ```
//!
//! Batches travel through the push exchange (`exchange`), straight between workers; the
//! driver only carries the small control and report bytes. Checkpoints, restores and
//! aborts after a lost worker are in `checkpoint`. Every command runs on the
//! worker's task pool, never on the I/O runtime; a worker's partitions step in parallel on
//! its task threads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::Mutex;
use rayon::prelude::*;

use crate::error::TaskError;
use crate::exchange::{ChannelId, Delivery, Pusher};
use crate::executor::{panic_message, WorkerEnv, PLAN_WAIT};
use crate::observe::Event;
use crate::plan::{SessionId, SessionPartition, SessionTask};
use crate::protocol::{ServiceRestore, SessionCommand, SessionReply, SessionRestore};
use crate::task::{ShuffleLocations, TaskContext, WorkerId};
use service::{Route, RunningService, SnapshotPlace};

/// Snapshots of each service shard a holder keeps.
pub const SNAPSHOTS_KEPT: usize = 3;

/// How long a step waits for the other workers' batches of the step before.
pub const STEP_INPUT_WAIT: Duration = Duration::from_secs(120);

/// Where a partition's step pushes its batches: to any partition of the session, on
/// whichever worker holds it, or to the session's service shards; and, in a session with
/// services, where the partition's answers arrive.
pub struct Outbox<'a> {
    pusher: &'a Pusher,
    session: SessionId,
    step: u64,
    /// Where `record` sends events: `None` when the driver records none.
    progress: Option<&'a ProgressSender>,
    route: &'a Route,
    answers: Option<&'a Receiver<Delivery>>,
    batches: u64,
    bytes: u64,
}

impl Outbox<'_> {
    /// Reports `events` to the driver now, for the run's event log and live UI, when it
    /// records events (else nothing happens). A partition may report its own progress
    /// only: parameter-server [`Event::Clock`]s; the driver evicts a worker that sends any
    /// other kind. Call it once per batch of events (a window of clocks), not per record.
    pub fn record(&self, events: &[Event]) {
        if let (Some(send), false) = (self.progress, events.is_empty()) {
            if let Ok(events) = serde_json::to_vec(events) {
                send(SessionReply::Progress { events });
            }
        }
    }

    /// Whether [`record`](Self::record) reports anything (so that building events is worth
    /// it).
    pub fn recording(&self) -> bool {
        self.progress.is_some()
    }

    /// How many partitions the session has.
    pub fn partitions(&self) -> usize {
        self.route.placement.len()
    }

    /// How many service shards the session has.
    pub fn services(&self) -> usize {
        self.route.services.len()
    }

    /// Pushes `payload` to partition `to`, for its next step.
    pub fn send(&mut self, to: usize, payload: impl Into<Bytes>) -> Result<(), TaskError> {
        if to >= self.partitions() {
            return Err(TaskError::failed(format!(
                "partition {to} is not in the session"
            )));
        }
        self.push(self.step, to as u32, payload.into())
    }

    /// Pushes `payload` under `tag` to service shard `shard`.
    pub fn send_to_service(
        &mut self,
        shard: u32,
        tag: u64,
        payload: impl Into<Bytes>,
    ) -> Result<(), TaskError> {
        self.push(tag, service::service_target(shard), payload.into())
    }

    /// The next batch pushed to this partition (a service's answer), waiting at most
    /// `timeout`; only in a session with services.
    pub fn receive(&self, timeout: Duration) -> Result<Delivery, TaskError> {
        let answers = self.answers.ok_or_else(|| {
            TaskError::failed("this session's partitions get no answers (it has no services)")
        })?;
        spin_receive::recv_spinning(answers, timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => TaskError::failed(format!(
                "no answer from the session's services within {}s",
                timeout.as_secs()
            )),
            RecvTimeoutError::Disconnected => {
                TaskError::Cancelled("the session was closed or given up".into())
            }
        })
    }

    fn push(&mut self, tag: u64, to: u32, payload: Bytes) -> Result<(), TaskError> {
        self.batches += 1;
        self.bytes += payload.len() as u64;
        self.route
            .push(self.pusher, self.session as u64, tag, to, payload)
    }

    /// Batches and bytes pushed so far in this step.
    pub fn sent(&self) -> (u64, u64) {
        (self.batches, self.bytes)
    }
}

/// One session's partitions on this worker.
struct LocalSession {
    route: Route,
    partitions: Vec<(u32, Box<dyn SessionPartition>)>,
    /// Each partition's queue of answers, in a session with services.
    answers: HashMap<u32, Receiver<Delivery>>,
    /// The service shards running here.
    services: Vec<RunningService>,
    /// The channel its checkpoints live on.
    checkpoints: ChannelId,
    /// The first step of this attempt (0, or the restored checkpoint's step).
    first_step: u64,
    /// The inboxes of the first step, when restored from a checkpoint.
    restored_inboxes: HashMap<u32, Vec<bytes::Bytes>>,
}

impl LocalSession {
    /// The session's workers, ascending.
    fn workers(&self) -> Vec<WorkerId> {
        let mut workers = self.route.placement.to_vec();
        workers.sort_unstable();
        workers.dedup();
        workers
    }
}

/// The open sessions of a worker.
#[derive(Default)]
pub struct SessionHost {
    sessions: Mutex<HashMap<SessionId, Arc<Mutex<LocalSession>>>>,
}

/// Sends a session's progress to the driver, ahead of the step's reply.
pub type ProgressSender = dyn Fn(SessionReply) + Send + Sync;

/// Runs one command of `session` on this worker; call on the task pool. Progress its
/// partitions record during a step goes to `progress` as it comes.
pub fn handle(
    env: &Arc<WorkerEnv>,
    session: SessionId,
    command: SessionCommand,
    progress: &ProgressSender,
) -> SessionReply {
    let run = || match command {
        SessionCommand::Open {
            fingerprint,
            placement,
            addresses,
            checkpoints,
            restore,
            services,
            service_restore,
        } => {
            let opening = Opening {
                fingerprint,
                route: Route {
                    placement: placement.into(),
                    services: services.into(),
                    addresses: Arc::new(addresses),
                },
                checkpoints,
            };
            open(env, session, opening, restore, service_restore)
        }
        SessionCommand::Step {
            step,
            control,
            checkpoint,
            forget_before,
        } => {
            let local = local_session(env, session)?;
            if forget_before > 0 {
                let channel = local.lock().checkpoints;
                env.mailbox.forget_tags(channel, |t| t < forget_before);
            }
            let progress = env.options.record_events.then_some(progress);
            run_step(env, session, (step, &control, checkpoint), progress)
        }
        SessionCommand::Close => close(env, session),
        SessionCommand::Abort => Ok(checkpoint::abort(env, session)),
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => SessionReply::Failed(e),
        Err(panic) => SessionReply::Failed(TaskError::Failed(format!(
            "session {session} panicked: {}",
            panic_message(&*panic)
        ))),
    }
}

/// What an `Open` command says.
struct Opening {
    fingerprint: u64,
    route: Route,
    checkpoints: ChannelId,
}

fn open(
    env: &Arc<WorkerEnv>,
    session: SessionId,
    opening: Opening,
    restore: Option<SessionRestore>,
    service_restore: Option<ServiceRestore>,
) -> Result<SessionReply, TaskError> {
    let entry = env.plan.wait_session(session, PLAN_WAIT)?;
    if entry.fingerprint != opening.fingerprint {
        return Err(TaskError::PlanMismatch {
            action: session,
            driver: opening.fingerprint,
            worker: entry.fingerprint,
        });
    }
    let mut local = LocalSession {
        route: opening.route,
        partitions: Vec::new(),
        answers: HashMap::new(),
        services: Vec::new(),
        checkpoints: opening.checkpoints,
        first_step: match (&restore, &service_restore) {
            (Some(r), _) => r.step,
            (None, Some(r)) => r.step,
            (None, None) => 0,
        },
        restored_inboxes: HashMap::new(),
    };
    let snapshots = match &restore {
        Some(r) => checkpoint::gather(env, &local, r)?,
        None => HashMap::new(),
    };
    let mine: Vec<usize> = local
        .route
        .placement
        .iter()
        .enumerate()
        .filter(|(_, w)| **w == env.worker_id)
        .map(|(p, _)| p)
        .collect();
    for p in mine {
        let tc = TaskContext::new(env.clone(), p, 0, ShuffleLocations::default());
        let _current = tc.enter();
        let partition = match snapshots.get(&(p as u32)) {
            Some(snapshot) => {
                let (state, inbox) = checkpoint::decode(snapshot, p)?;
                local.restored_inboxes.insert(p as u32, inbox);
                entry.task.restore(p, &tc, &state)?
            }
            None => entry.task.open(p, &tc)?,
        };
        local.partitions.push((p as u32, partition));
        tc.check()?;
    }
    start_services(
        env,
        session,
        entry.task.as_ref(),
        &mut local,
        service_restore.as_ref(),
    )?;
    env.sessions
        .sessions
        .lock()
        .insert(session, Arc::new(Mutex::new(local)));
    Ok(SessionReply::Opened)
}

/// Starts the service shards placed here and subscribes every local partition to its
/// answers, in a session with services.
fn start_services(
    env: &Arc<WorkerEnv>,
    session: SessionId,
    task: &dyn SessionTask,
    local: &mut LocalSession,
    restore: Option<&ServiceRestore>,
) -> Result<(), TaskError> {
    let channel = session as u64;
    let shards = task.services() as usize;
    if local.route.services.len() != shards {
        return Err(TaskError::failed(format!(
            "the driver placed {} service shards of session {session}, its task has {shards}",
            local.route.services.len()
        )));
    }
    if shards == 0 {
        return Ok(());
    }
    // A shard's latest snapshots are kept, the older ones dropped as new ones come.
    env.mailbox.retain_latest(local.checkpoints, SNAPSHOTS_KEPT);
    let mut snapshots = match restore {
        Some(r) => checkpoint::gather_services(env, local, r)?,
        None => HashMap::new(),
    };
    for (p, _) in &local.partitions {
        local.answers.insert(*p, env.mailbox.subscribe(channel, *p));
    }
    let workers = local.workers();
    let place = SnapshotPlace {
        channel: local.checkpoints,
        me: env.worker_id,
        replica: checkpoint::replica_of(env.worker_id, &workers),
    };
    for (shard, worker) in local.route.services.iter().enumerate() {
        if *worker != env.worker_id {
            continue;
        }
        let shard = shard as u32;
        let service = match snapshots.remove(&shard) {
            Some(snapshot) => task.restore_service(shard, &snapshot)?,
            None => task.open_service(shard)?,
        };
        let queue = env
            .mailbox
            .subscribe(channel, service::service_target(shard));
        local.services.push(RunningService::start(
            env.clone(),
            channel,
            shard,
            place,
            local.route.clone(),
            service,
            queue,
        )?);
    }
    Ok(())
}

fn local_session(
    env: &WorkerEnv,
    session: SessionId,
) -> Result<Arc<Mutex<LocalSession>>, TaskError> {
    env.sessions
        .sessions
        .lock()
        .get(&session)
        .cloned()
        .ok_or_else(|| TaskError::failed(format!("session {session} is not open on this worker")))
}

fn run_step(
    env: &Arc<WorkerEnv>,
    session: SessionId,
    (step, control, take_checkpoint): (u64, &[u8], bool),
    progress: Option<&ProgressSender>,
) -> Result<SessionReply, TaskError> {
    let local = local_session(env, session)?;
    let mut local = local.lock();
    let workers = local.workers();
    let first_step = local.first_step;
    let checkpoints = local.checkpoints;
    let mut restored = std::mem::take(&mut local.restored_inboxes);
    let LocalSession {
        route,
        partitions,
        answers,
        services,
        ..
    } = &mut *local;
    let (route, answers): (&Route, &HashMap<u32, Receiver<Delivery>>) = (route, answers);
    let addresses = &route.addresses;
    let channel = session as u64;
    if step > first_step {
        env.mailbox
            .wait_flushed(channel, step - 1, &workers, STEP_INPUT_WAIT)?;
    }
    let inboxes: Vec<Vec<bytes::Bytes>> = partitions
        .iter()
        .map(|(p, _)| match restored.remove(p) {
            Some(inbox) if step == first_step => inbox,
            _ if step > 0 => env.mailbox.take(channel, step - 1, *p),
            _ => Vec::new(),
        })
        .collect();
    let replica = checkpoint::Replica {
        pusher: &env.pusher,
        channel: checkpoints,
        step,
        me: env.worker_id,
        next: checkpoint::replica_of(env.worker_id, &workers),
        addresses,
    };
    let run_one = |p: u32, partition: &mut Box<dyn SessionPartition>, inbox: Vec<bytes::Bytes>| {
        if take_checkpoint {
            replica.keep(p, partition.as_ref(), &inbox)?;
        }
        if let Some(delay) = crate::executor::injected_delay() {
            std::thread::sleep(delay);
        }
        let mut outbox = Outbox {
            pusher: &env.pusher,
            session,
            step,
            progress,
            route,
            answers: answers.get(&p),
            batches: 0,
            bytes: 0,
        };
        Ok((p, partition.step(step, control, inbox, &mut outbox)?))
    };
    let reports = if answers.is_empty() {
        // The partitions of this worker step in parallel on its task threads.
        partitions
            .par_iter_mut()
            .zip(inboxes)
            .map(|((p, partition), inbox)| run_one(*p, partition, inbox))
            .collect::<Result<Vec<_>, TaskError>>()?
    } else {
        let unsubscribe = || {
            for q in answers.keys() {
                env.mailbox.unsubscribe(channel, *q);
            }
        };
        step_on_threads(session, partitions, inboxes, &run_one, &unsubscribe)?
    };
    if let Some(refused) = services.iter().find_map(RunningService::take_refusal) {
        return Err(refused);
    }
    if step > first_step {
        env.mailbox.finish_tag(channel, step - 1);
    }
    let peers: Vec<(WorkerId, String)> = workers
        .iter()
        .map(|w| (*w, addresses.get(w).cloned().unwrap_or_default()))
        .collect();
    env.pusher.flush(&peers, channel, step)?;
    Ok(SessionReply::StepDone { step, reports })
}

type StepResult = Result<(u32, Vec<u8>), TaskError>;

/// Runs one partition's step: its number, the partition, its inbox.
type StepOne<'a> =
    dyn Fn(u32, &mut Box<dyn SessionPartition>, Vec<bytes::Bytes>) -> StepResult + Sync + 'a;

/// Steps `partitions` each on a thread of its own. Partitions that wait on services'
/// answers wait on each other too (a BSP clock needs every trainer), so none may wait
/// for a task thread. One that fails or panics calls `stop`, which ends the others'
/// waits; the first failure that is not such a cancellation is returned.
fn step_on_threads(
    session: SessionId,
    partitions: &mut [(u32, Box<dyn SessionPartition>)],
    inboxes: Vec<Vec<bytes::Bytes>>,
    run_one: &StepOne<'_>,
    stop: &(dyn Fn() + Sync),
) -> Result<Vec<(u32, Vec<u8>)>, TaskError> {
    std::thread::scope(|scope| {
        let running: Vec<_> = partitions
            .iter_mut()
            .zip(inboxes)
            .map(|((p, partition), inbox)| {
                let p = *p;
                scope.spawn(move || {
                    let run = std::panic::AssertUnwindSafe(|| run_one(p, partition, inbox));
                    let result = std::panic::catch_unwind(run).unwrap_or_else(|panic| {
                        Err(TaskError::failed(format!(
                            "partition {p} of session {session} panicked: {}",
                            panic_message(&*panic)
                        )))
                    });
                    if result.is_err() {
                        stop();
                    }
                    result
                })
            })
            .collect();
        let mut reports = Vec::with_capacity(running.len());
        let mut failure: Option<TaskError> = None;
        for thread in running {
            let result = thread
                .join()
                .unwrap_or_else(|_| Err(TaskError::failed("a partition's thread died")));
            match result {
                Ok(report) => reports.push(report),
                Err(e) => match &failure {
                    Some(TaskError::Cancelled(_)) | None => failure = Some(e),
                    Some(_) => {}
                },
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(reports),
        }
    })
}

fn close(env: &Arc<WorkerEnv>, session: SessionId) -> Result<SessionReply, TaskError> {
    let local = env
        .sessions
        .sessions
        .lock()
        .remove(&session)
        .ok_or_else(|| {
            TaskError::failed(format!("session {session} is not open on this worker"))
        })?;
    env.mailbox.drop_channel(session as u64);
    let mut local = local.lock();
    env.mailbox.drop_channel(local.checkpoints);
    // Dropping the channel ended the services' queues: each thread ends once its queue
    // is drained.
    let mut services = Vec::new();
    for running in std::mem::take(&mut local.services) {
        let shard = running.shard;
        let refused = running.take_refusal();
        let mut service = running.join()?;
        if let Some(e) = refused {
            return Err(e);
        }
        services.push((shard, service.finish()?));
    }
    let mut results = Vec::with_capacity(local.partitions.len());
    let mut cached = Vec::new();
    for (p, partition) in local.partitions.iter_mut() {
        let tc = TaskContext::new(env.clone(), *p as usize, 0, ShuffleLocations::default());
        let _current = tc.enter();
        results.push((*p, partition.finish(&tc)?));
        tc.check()?;
        cached.extend(tc.metrics().cached);
    }
    Ok(SessionReply::Closed {
        results,
        cached,
        services,
    })
}

pub mod checkpoint;
#[cfg(test)]
mod progress_tests;
pub mod service;
pub mod spin_receive;
#[cfg(test)]
mod tests;
