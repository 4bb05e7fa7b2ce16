//! Where the scheduler's tasks run: one closed enum over the two ways Weir executes, as
//! timely's allocator is one enum over its thread, process and TCP variants.
//!
//! * [`Cluster::InProcess`]: one worker inside the driver's process (`--local`, the tests'
//!   first shape); tasks run on its thread pool and report straight into the scheduler's
//!   event channel.
//! * [`Cluster::Remote`]: worker processes on this or other hosts, reached over the
//!   authenticated TCP control connections the driver keeps (see `driver`).
//!
//! The scheduler only ever launches tasks, evicts workers and releases state through this
//! type, so both shapes run the same scheduling code.

use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::driver::RemoteWorkers;
use crate::executor::{run_task, WorkerEnv};
use crate::plan::{NodeId, SessionId, ShuffleId};
use crate::protocol::{SessionCommand, TaskDescription};
use crate::scheduler::SchedulerEvent;
use crate::task::WorkerId;

/// The workers a scheduler drives.
pub enum Cluster {
    /// One worker in this process.
    InProcess(InProcess),
    /// Worker processes over TCP.
    Remote(RemoteWorkers),
}

/// The worker of an in-process run.
pub struct InProcess {
    env: Arc<WorkerEnv>,
    events: Sender<SchedulerEvent>,
}

impl InProcess {
    /// A worker running tasks on `env` and reporting to `events`.
    pub fn new(env: Arc<WorkerEnv>, events: Sender<SchedulerEvent>) -> Self {
        InProcess { env, events }
    }

    /// The shuffles in the worker's store and the nodes in its cache, ascending.
    pub fn holdings(&self) -> (Vec<ShuffleId>, Vec<NodeId>) {
        (self.env.shuffle.shuffle_ids(), self.env.cache.nodes())
    }
}

impl Cluster {
    /// Starts a task on `worker`; its outcome arrives as a [`SchedulerEvent::TaskDone`].
    pub fn launch(&mut self, worker: WorkerId, task: TaskDescription) {
        match self {
            Cluster::InProcess(local) => {
                let env = local.env.clone();
                let events = local.events.clone();
                local.env.pool.spawn(move || {
                    let outcome = run_task(&env, task);
                    let _ = events.send(SchedulerEvent::TaskDone { worker, outcome });
                });
            }
            Cluster::Remote(remote) => remote.launch(worker, task),
        }
    }

    /// Sends a session command to `worker`; its reply arrives as a
    /// [`SchedulerEvent::Session`].
    pub fn session(&mut self, worker: WorkerId, session: SessionId, command: SessionCommand) {
        match self {
            Cluster::InProcess(local) => {
                let env = local.env.clone();
                let events = local.events.clone();
                local.env.pool.spawn(move || {
                    let to_driver = events.clone();
                    let progress = move |reply| {
                        let _ = to_driver.send(SchedulerEvent::Session {
                            worker,
                            session,
                            reply,
                        });
                    };
                    let reply = crate::session::handle(&env, session, command, &progress);
                    let _ = events.send(SchedulerEvent::Session {
                        worker,
                        session,
                        reply,
                    });
                });
            }
            Cluster::Remote(remote) => remote.session(worker, session, command),
        }
    }

    /// Stops using `worker`, telling it why.
    pub fn evict(&mut self, worker: WorkerId, reason: &str) {
        match self {
            // The only worker of an in-process run is never sent away: losing it ends the job.
            Cluster::InProcess(_) => {}
            Cluster::Remote(remote) => remote.evict(worker, reason),
        }
    }

    /// Tells `worker` to drop the map outputs of `shuffles` and the cached partitions of
    /// `nodes`: no stage the job can still run reads them.
    pub fn release(&mut self, worker: WorkerId, shuffles: &[ShuffleId], nodes: &[NodeId]) {
        match self {
            Cluster::InProcess(local) => {
                for &s in shuffles {
                    local.env.shuffle.remove_shuffle(s);
                }
                for &n in nodes {
                    local.env.cache.remove_node(n);
                }
            }
            Cluster::Remote(remote) => remote.release(worker, shuffles, nodes),
        }
    }
}
