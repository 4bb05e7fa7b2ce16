//! The driver of a cluster run: accepts workers over TCP, authenticates them, hands them the
//! job, runs the job function with the scheduler, and tells everyone when it is over.
//!
//! Each worker connection has a reader (worker messages become scheduler events; silence
//! past the heartbeat timeout or a closed connection makes the worker lost) and a writer fed
//! by a channel. Driver values are sent to every connected worker in order; a worker that
//! joins later gets all earlier values with its `JobStart`, so it can catch up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::auth::{accept_worker, Secret};
use crate::cluster::Cluster;
use crate::context::JobContext;
use crate::error::{Error, Result};
use crate::frame::{framed, Frame, FrameKind, FramedStream};
use crate::metrics::JobMetrics;
use crate::observe::{record, unix_now, Event, Recorder};
use crate::plan::{NodeId, Plan, SessionId, ShuffleId};
use crate::protocol::{
    binary_version, encode, receive, DriverMessage, JobOptions, ReceiveError, SessionCommand,
    TaskDescription, WorkerMessage,
};
use crate::scheduler::{Observers, Scheduler, SchedulerEvent};
use crate::task::WorkerId;

/// How a driver runs.
pub struct DriverConfig {
    /// Address to listen on (`127.0.0.1:0` for a local cluster).
    pub listen: SocketAddr,
    /// The shared secret workers must prove.
    pub secret: Secret,
    /// Workers to wait for before the job starts.
    pub workers: usize,
    /// How long to wait for them.
    pub join_timeout: Duration,
    /// A worker silent this long is lost.
    pub heartbeat_timeout: Duration,
    /// Job name and arguments, sent to the workers.
    pub job: String,
    pub args: Vec<String>,
    /// Options every process agrees on.
    pub options: JobOptions,
    /// Progress bars and the event log.
    pub observers: Observers,
}

struct Shared {
    /// Every driver value so far; locked while a worker is added so none is missed.
    values: Mutex<Vec<Vec<u8>>>,
    connections: Mutex<BTreeMap<WorkerId, UnboundedSender<DriverMessage>>>,
    writers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    next_id: AtomicU32,
    events: Sender<SchedulerEvent>,
    finished: AtomicBool,
    job: String,
    args: Vec<String>,
    options: JobOptions,
    secret: Secret,
    heartbeat_timeout: Duration,
}

impl Shared {
    fn send(&self, worker: WorkerId, message: DriverMessage) {
        if let Some(tx) = self.connections.lock().get(&worker) {
            let _ = tx.send(message);
        }
    }

    /// Appends value `seq` to the log and sends it to every connected worker.
    fn publish(&self, seq: u64, bytes: &[u8]) {
        let mut values = self.values.lock();
        debug_assert_eq!(values.len() as u64, seq);
        values.push(bytes.to_vec());
        for tx in self.connections.lock().values() {
            let _ = tx.send(DriverMessage::DriverValue {
                seq,
                bytes: bytes.to_vec(),
            });
        }
    }
}

/// The worker processes of a cluster run, as the scheduler's [`Cluster::Remote`] reaches
/// them: through the writers of their control connections.
pub struct RemoteWorkers {
    shared: Arc<Shared>,
}

impl RemoteWorkers {
    pub(crate) fn launch(&self, worker: WorkerId, task: TaskDescription) {
        self.shared.send(worker, DriverMessage::RunTask(task));
    }

    pub(crate) fn evict(&self, worker: WorkerId, reason: &str) {
        let tx = self.shared.connections.lock().remove(&worker);
        if let Some(tx) = tx {
            let _ = tx.send(DriverMessage::Evicted {
                reason: reason.to_string(),
            });
        }
    }

    pub(crate) fn session(&self, worker: WorkerId, session: SessionId, command: SessionCommand) {
        self.shared
            .send(worker, DriverMessage::Session { session, command });
    }

    pub(crate) fn release(&self, worker: WorkerId, shuffles: &[ShuffleId], nodes: &[NodeId]) {
        self.shared.send(
            worker,
            DriverMessage::Release {
                shuffles: shuffles.to_vec(),
                nodes: nodes.to_vec(),
            },
        );
    }
}

/// Runs the driver: listens, calls `on_listening` with the bound address (to start local
/// workers), waits for the workers, runs `job`, and shuts the workers down.
pub fn run_driver<F>(
    config: DriverConfig,
    on_listening: impl FnOnce(SocketAddr) -> Result<()>,
    job: F,
) -> Result<JobMetrics>
where
    F: FnOnce(&JobContext) -> Result<()>,
{
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("weir-driver-io")
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the driver's network threads", e))?;
    let listener = runtime
        .block_on(TcpListener::bind(config.listen))
        .map_err(|e| Error::io(format!("listening on {}", config.listen), e))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::io("reading the listening address", e))?;
    let (events_tx, events_rx) = crossbeam_channel::unbounded();
    let shared = Arc::new(Shared {
        values: Mutex::default(),
        connections: Mutex::default(),
        writers: Mutex::default(),
        next_id: AtomicU32::new(1),
        events: events_tx,
        finished: AtomicBool::new(false),
        job: config.job.clone(),
        args: config.args.clone(),
        options: config.options.clone(),
        secret: config.secret,
        heartbeat_timeout: config.heartbeat_timeout,
    });
    runtime.spawn(accept_loop(listener, shared.clone()));
    tracing::info!("driver listening on {address}");

    let plan = Plan::new();
    let cluster = Cluster::Remote(RemoteWorkers {
        shared: shared.clone(),
    });
    let mut scheduler = Scheduler::new(plan.clone(), cluster, events_rx);
    let recorder = config.observers.recorder.clone();
    record_job_start(&recorder, &config.job, &config.args, &config.options);
    scheduler.set_observers(config.observers);
    let outcome = on_listening(address)
        .and_then(|()| scheduler.wait_for_workers(config.workers, config.join_timeout))
        .map(|()| {
            let publisher = shared.clone();
            let publish = Box::new(move |seq: u64, bytes: &[u8]| publisher.publish(seq, bytes));
            let ctx = JobContext::driver(plan.clone(), config.options.clone(), scheduler, publish);
            let result = job(&ctx);
            (ctx, result)
        });
    plan.close("job ended");
    let reason = match &outcome {
        Ok((_, Ok(()))) => "job finished".to_string(),
        Ok((_, Err(e))) | Err(e) => format!("job failed: {e}"),
    };
    let ok = matches!(&outcome, Ok((_, Ok(()))));
    record_job_end(&recorder, &reason, ok);
    shut_down_workers(&runtime, &shared, reason, ok);
    runtime.shutdown_background();
    let (ctx, result) = outcome?;
    result?;
    let mut metrics = ctx.metrics();
    metrics.job = config.job;
    metrics.args = config.args;
    metrics.wall_seconds = started.elapsed().as_secs_f64();
    Ok(metrics)
}

/// Records the start of the job, the first event of its log.
pub(crate) fn record_job_start(
    recorder: &Option<Recorder>,
    job: &str,
    args: &[String],
    options: &JobOptions,
) {
    record(recorder, || Event::JobStart {
        version: crate::observe::FORMAT_VERSION,
        job: job.to_string(),
        args: args.to_vec(),
        workers: options.workers,
        threads: options.threads,
        unix_seconds: unix_now() - recorder.as_ref().map_or(0.0, Recorder::now),
        pid: std::process::id(),
    });
}

/// Records the end of the job; `reason` is why it failed when not `ok`.
pub(crate) fn record_job_end(recorder: &Option<Recorder>, reason: &str, ok: bool) {
    record(recorder, || Event::JobEnd {
        ok,
        error: (!ok).then(|| reason.to_string()),
    });
}

/// Tells every worker the job is over and lets the writers flush that before returning.
fn shut_down_workers(runtime: &tokio::runtime::Runtime, shared: &Shared, reason: String, ok: bool) {
    shared.finished.store(true, Ordering::SeqCst);
    let connections = std::mem::take(&mut *shared.connections.lock());
    for tx in connections.values() {
        let _ = tx.send(DriverMessage::Shutdown {
            reason: reason.clone(),
            ok,
        });
    }
    drop(connections);
    let writers = std::mem::take(&mut *shared.writers.lock());
    runtime.block_on(async {
        let _ =
            tokio::time::timeout(Duration::from_secs(3), futures::future::join_all(writers)).await;
    });
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(serve_worker(stream, peer, shared.clone()));
            }
            Err(e) => {
                tracing::error!("driver stopped accepting workers: {e}");
                return;
            }
        }
    }
}

/// What a worker says of itself when it registers.
struct Registration {
    data_address: String,
    host: String,
    pid: u32,
}

/// One worker's connection, from the handshake to its loss.
async fn serve_worker(stream: tokio::net::TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let (conn, registration) = match admit(stream, id, &shared).await {
        Ok(admitted) => admitted,
        Err(e) => {
            tracing::error!("refused worker at {peer}: {e}");
            return;
        }
    };
    tracing::info!("worker {id} at {peer} registered");
    if shared.finished.load(Ordering::SeqCst) {
        return;
    }
    let (sink, mut frames) = conn.split();
    let writer = start_writer(id, sink, &shared);
    let _ = shared.events.send(SchedulerEvent::WorkerJoined {
        worker: id,
        slots: shared.options.threads,
        data_address: registration.data_address,
        host: registration.host,
        pid: registration.pid,
    });
    let (reason, job_error) = read_worker(id, &mut frames, &shared).await;
    if !shared.finished.load(Ordering::SeqCst) {
        tracing::warn!("worker {id} at {peer}: {reason}");
    }
    if shared.connections.lock().remove(&id).is_some() {
        writer.abort();
    }
    let _ = shared.events.send(SchedulerEvent::WorkerLost {
        worker: id,
        reason,
        job_error,
    });
}

/// Authenticates a worker and reads its registration.
async fn admit(
    stream: tokio::net::TcpStream,
    id: WorkerId,
    shared: &Shared,
) -> std::result::Result<(FramedStream, Registration), String> {
    let mut conn = framed(stream);
    accept_worker(
        &mut conn,
        &shared.secret,
        &binary_version(),
        id,
        Duration::from_secs(10),
    )
    .await
    .map_err(|e| e.to_string())?;
    match receive::<WorkerMessage, _>(&mut conn, Some(Duration::from_secs(10))).await {
        Ok(WorkerMessage::Register {
            data_address,
            host,
            pid,
            ..
        }) => {
            tracing::debug!("worker {id} is pid {pid} on {host}");
            Ok((
                conn,
                Registration {
                    data_address,
                    host,
                    pid,
                },
            ))
        }
        Ok(other) => Err(format!("sent {other:?} instead of registering")),
        Err(ReceiveError::Silent(_)) => Err("did not register in time".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Starts the task that writes the driver's messages to worker `id`, beginning with the
/// job and every driver value so far.
fn start_writer(
    id: WorkerId,
    mut sink: SplitSink<FramedStream, Frame>,
    shared: &Shared,
) -> tokio::task::AbortHandle {
    let (tx, mut rx) = unbounded_channel::<DriverMessage>();
    {
        let values = shared.values.lock();
        let _ = tx.send(DriverMessage::JobStart {
            job: shared.job.clone(),
            args: shared.args.clone(),
            options: shared.options.clone(),
            values: values.clone(),
        });
        shared.connections.lock().insert(id, tx);
    }
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let last = matches!(
                message,
                DriverMessage::Shutdown { .. } | DriverMessage::Evicted { .. }
            );
            let frame = Frame::new(FrameKind::Control, encode(&message));
            if sink.send(frame).await.is_err() || last {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let abort = writer.abort_handle();
    shared.writers.lock().push(writer);
    abort
}

/// Passes worker `id`'s messages to the scheduler until the connection ends; returns why
/// it ended and whether the worker could not run the job at all.
async fn read_worker(
    id: WorkerId,
    frames: &mut SplitStream<FramedStream>,
    shared: &Shared,
) -> (String, bool) {
    loop {
        let message =
            match receive::<WorkerMessage, _>(frames, Some(shared.heartbeat_timeout)).await {
                Ok(m) => m,
                Err(ReceiveError::Silent(s)) => return (format!("no heartbeat for {s}s"), false),
                Err(e) => return (e.to_string(), false),
            };
        match message {
            WorkerMessage::Heartbeat => {}
            WorkerMessage::TaskDone(outcome) => {
                let _ = shared.events.send(SchedulerEvent::TaskDone {
                    worker: id,
                    outcome,
                });
            }
            WorkerMessage::Refuse { reason } => {
                return (format!("refused the job: {reason}"), true)
            }
            WorkerMessage::JobFailed { message } => {
                return (format!("could not run the job: {message}"), true)
            }
            WorkerMessage::Session { session, reply } => {
                let _ = shared.events.send(SchedulerEvent::Session {
                    worker: id,
                    session,
                    reply,
                });
            }
            WorkerMessage::Register { .. } => return ("registered twice".to_string(), false),
        }
    }
}
