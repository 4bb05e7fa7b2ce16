//! Services of a session: shards of state that live on a worker from the session's open
//! to its close and answer what the session's partitions push to them (a parameter
//! server's shards, answering the pulls and pushes of the trainers).
//!
//! A session whose task has services ([`SessionTask::services`]) places shard `s` on the
//! `s mod W`-th of its `W` workers. Each worker opens its shards and runs each on a thread
//! of its own, fed by the exchange: batches pushed to target [`service_target`]`(s)` queue
//! up in arrival order ([`Mailbox::subscribe`]) and the thread hands them to
//! [`SessionService::handle`], which answers through [`Replies`]. The partitions of such
//! a session get their answers the same way: each one's batches queue for
//! `Outbox::receive` instead of waiting for a step's flush.
//!
//! ```text
//!  trainer p (worker A)               shard s (thread on worker B)
//!  outbox.send_to_service(s, t, req) ──▶ handle(from A, t, req)
//!                                        replies.to_partition(p, t, answer)
//!  outbox.receive() ◀──────────────────
//! ```
//!
//! A batch a service cannot use (malformed, from outside the session) is refused with a
//! logged line naming the sender, and the service goes on; the first such error also
//! fails the step that is running, so a run never ends quietly on a refused message.
//!
//! [`SessionTask::services`]: crate::plan::SessionTask::services
//! [`Mailbox::subscribe`]: crate::exchange::Mailbox::subscribe

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use crossbeam_channel::Receiver;
use parking_lot::Mutex;

use crate::error::TaskError;
use crate::exchange::{ChannelId, Delivery, Pusher};
use crate::executor::WorkerEnv;
use crate::task::WorkerId;

/// The bit that sets services' targets apart from partitions' in a session's channel.
pub const SERVICE_TARGET: u32 = 1 << 31;

/// The exchange target of service shard `shard`.
pub fn service_target(shard: u32) -> u32 {
    SERVICE_TARGET | shard
}

/// Where a session's partitions and services are: the worker of each, and every
/// worker's data address.
#[derive(Debug, Clone)]
pub struct Route {
    pub placement: Arc<[WorkerId]>,
    pub services: Arc<[WorkerId]>,
    pub addresses: Arc<BTreeMap<WorkerId, String>>,
}

impl Route {
    fn address(&self, worker: WorkerId) -> &str {
        self.addresses
            .get(&worker)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Pushes `payload` to exchange target `to` on the worker that holds it.
    pub(crate) fn push(
        &self,
        pusher: &Pusher,
        channel: ChannelId,
        tag: u64,
        to: u32,
        payload: Bytes,
    ) -> Result<(), TaskError> {
        let worker = if to & SERVICE_TARGET != 0 {
            let shard = to & !SERVICE_TARGET;
            *self.services.get(shard as usize).ok_or_else(|| {
                TaskError::failed(format!("service shard {shard} is not in the session"))
            })?
        } else {
            *self
                .placement
                .get(to as usize)
                .ok_or_else(|| TaskError::failed(format!("partition {to} is not in the session")))?
        };
        pusher.send(worker, self.address(worker), channel, tag, to, payload)
    }
}

/// One shard of a session's service.
pub trait SessionService: Send {
    /// Handles one batch pushed to this shard by worker `from` under `tag`; answers
    /// through `replies`. An error refuses the batch (it is logged and fails the step).
    fn handle(
        &mut self,
        from: WorkerId,
        tag: u64,
        payload: Bytes,
        replies: &mut Replies<'_>,
    ) -> Result<(), TaskError>;

    /// The shard's result, as the bytes the driver gets when the session closes.
    fn finish(&mut self) -> Result<Vec<u8>, TaskError>;
}

/// Where a shard's snapshots go: its session's checkpoint channel, on this worker and on
/// the next one around the ring (its replica).
#[derive(Debug, Clone, Copy)]
pub(super) struct SnapshotPlace {
    pub channel: ChannelId,
    pub me: WorkerId,
    pub replica: WorkerId,
}

/// How a service answers: pushes to the session's partitions or other shards, and keeps
/// its snapshots.
pub struct Replies<'a> {
    pusher: &'a Pusher,
    channel: ChannelId,
    route: &'a Route,
    shard: u32,
    snapshots: SnapshotPlace,
}

impl Replies<'_> {
    /// Pushes `payload` under `tag` to partition `partition`.
    pub fn to_partition(
        &mut self,
        partition: u32,
        tag: u64,
        payload: impl Into<Bytes>,
    ) -> Result<(), TaskError> {
        if partition & SERVICE_TARGET != 0 {
            return Err(TaskError::failed(format!(
                "partition {partition} is not in the session"
            )));
        }
        self.route
            .push(self.pusher, self.channel, tag, partition, payload.into())
    }

    /// Keeps `snapshot` of this shard under `tag` (a clock) here and on the replica
    /// worker, where a later attempt of the session finds it after this worker is lost
    /// (see `SessionTask::restore_service`). Each holder keeps a shard's latest few.
    pub fn keep_snapshot(&mut self, tag: u64, snapshot: impl Into<Bytes>) -> Result<(), TaskError> {
        let snapshot: Bytes = snapshot.into();
        let SnapshotPlace {
            channel,
            me,
            replica,
        } = self.snapshots;
        let target = service_target(self.shard);
        for worker in [me, replica] {
            self.pusher.send(
                worker,
                self.route.address(worker),
                channel,
                tag,
                target,
                snapshot.clone(),
            )?;
            if replica == me {
                break;
            }
        }
        Ok(())
    }

    /// The session's partitions.
    pub fn partitions(&self) -> usize {
        self.route.placement.len()
    }

    /// The worker holding partition `partition`.
    pub fn worker_of(&self, partition: u32) -> Option<WorkerId> {
        self.route.placement.get(partition as usize).copied()
    }
}

/// A shard running on its thread.
pub(super) struct RunningService {
    pub shard: u32,
    thread: JoinHandle<Box<dyn SessionService>>,
    /// The first batch the shard refused, reported by the next step.
    refused: Arc<Mutex<Option<TaskError>>>,
}

impl RunningService {
    /// Starts `service` on a thread of its own, answering the batches of `queue`.
    pub fn start(
        env: Arc<WorkerEnv>,
        channel: ChannelId,
        shard: u32,
        snapshots: SnapshotPlace,
        route: Route,
        mut service: Box<dyn SessionService>,
        queue: Receiver<Delivery>,
    ) -> Result<Self, TaskError> {
        let refused = Arc::new(Mutex::new(None));
        let first_refusal = refused.clone();
        let thread = std::thread::Builder::new()
            .name(format!("weir-service-{shard}"))
            .spawn(move || {
                while let Some(Delivery { header, payload }) =
                    super::spin_receive::recv_spinning_forever(&queue)
                {
                    let mut replies = Replies {
                        pusher: &env.pusher,
                        channel,
                        route: &route,
                        shard,
                        snapshots,
                    };
                    let from = header.from;
                    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        service.handle(from, header.tag, payload, &mut replies)
                    }))
                    .unwrap_or_else(|panic| {
                        Err(TaskError::failed(format!(
                            "it panicked: {}",
                            crate::executor::panic_message(&*panic)
                        )))
                    });
                    if let Err(e) = handled {
                        tracing::warn!(
                            "service shard {shard} refused a batch from worker {from}: {e}"
                        );
                        first_refusal.lock().get_or_insert(e);
                    }
                }
                service
            })
            .map_err(|e| TaskError::failed(format!("starting service shard {shard}: {e}")))?;
        Ok(RunningService {
            shard,
            thread,
            refused,
        })
    }

    /// The first batch the shard refused since the last look, if any.
    pub fn take_refusal(&self) -> Option<TaskError> {
        self.refused.lock().take()
    }

    /// Waits for the shard's thread, once its queue has ended, and returns the shard.
    pub fn join(self) -> Result<Box<dyn SessionService>, TaskError> {
        let shard = self.shard;
        self.thread
            .join()
            .map_err(|_| TaskError::failed(format!("service shard {shard} panicked")))
    }
}
