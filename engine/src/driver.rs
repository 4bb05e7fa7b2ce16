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
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::auth::{accept_worker, Secret};
use crate::context::JobContext;
use crate::error::{Error, Result};
use crate::frame::{framed, Frame, FrameKind};
use crate::metrics::JobMetrics;
use crate::plan::Plan;
use crate::protocol::{
    binary_version, decode, encode, DriverMessage, JobOptions, TaskDescription, WorkerMessage,
};
use crate::scheduler::{Backend, ProgressSink, Scheduler, SchedulerEvent};
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
    /// Progress reporting.
    pub progress: Option<Arc<dyn ProgressSink>>,
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
}

struct RemoteBackend {
    shared: Arc<Shared>,
}

impl Backend for RemoteBackend {
    fn launch(&mut self, worker: WorkerId, task: TaskDescription) {
        self.shared.send(worker, DriverMessage::RunTask(task));
    }

    fn evict(&mut self, worker: WorkerId, reason: &str) {
        let tx = self.shared.connections.lock().remove(&worker);
        if let Some(tx) = tx {
            let _ = tx.send(DriverMessage::Evicted {
                reason: reason.to_string(),
            });
        }
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
    let mut scheduler = Scheduler::new(
        plan.clone(),
        Box::new(RemoteBackend {
            shared: shared.clone(),
        }),
        events_rx,
    );
    if let Some(p) = config.progress {
        scheduler.set_progress(p);
    }
    let outcome = on_listening(address)
        .and_then(|()| scheduler.wait_for_workers(config.workers, config.join_timeout))
        .map(|()| {
            let publisher = shared.clone();
            let publish = Box::new(move |seq: u64, bytes: &[u8]| {
                let mut values = publisher.values.lock();
                debug_assert_eq!(values.len() as u64, seq);
                values.push(bytes.to_vec());
                for tx in publisher.connections.lock().values() {
                    let _ = tx.send(DriverMessage::DriverValue {
                        seq,
                        bytes: bytes.to_vec(),
                    });
                }
            });
            let ctx = JobContext::driver(plan.clone(), config.options.clone(), scheduler, publish);
            let result = job(&ctx);
            (ctx, result)
        });
    shared.finished.store(true, Ordering::SeqCst);
    plan.close("job ended");
    let ok = matches!(&outcome, Ok((_, Ok(()))));
    let reason = match &outcome {
        Ok((_, Ok(()))) => "job finished".to_string(),
        Ok((_, Err(e))) | Err(e) => format!("job failed: {e}"),
    };
    let connections = std::mem::take(&mut *shared.connections.lock());
    for tx in connections.values() {
        let _ = tx.send(DriverMessage::Shutdown {
            reason: reason.clone(),
            ok,
        });
    }
    drop(connections);
    // Let the writers flush the shutdown messages before the runtime goes.
    let writers = std::mem::take(&mut *shared.writers.lock());
    runtime.block_on(async {
        let _ =
            tokio::time::timeout(Duration::from_secs(3), futures::future::join_all(writers)).await;
    });
    runtime.shutdown_background();
    let (ctx, result) = outcome?;
    result?;
    let mut metrics = ctx.metrics();
    metrics.job = config.job;
    metrics.args = config.args;
    metrics.wall_seconds = started.elapsed().as_secs_f64();
    Ok(metrics)
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

async fn serve_worker(stream: tokio::net::TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    let mut conn = framed(stream);
    if let Err(e) = accept_worker(
        &mut conn,
        &shared.secret,
        &binary_version(),
        id,
        Duration::from_secs(10),
    )
    .await
    {
        tracing::error!("refused worker at {peer}: {e}");
        return;
    }
    // The worker says where it serves shuffle blocks and how many slots it has.
    let register = match tokio::time::timeout(Duration::from_secs(10), conn.next()).await {
        Ok(Some(Ok(f))) if f.kind == FrameKind::Control => decode::<WorkerMessage>(&f.body),
        Ok(Some(Ok(f))) => Err(format!("unexpected {:?} frame", f.kind)),
        Ok(Some(Err(e))) => Err(e.to_string()),
        Ok(None) => Err("closed the connection".into()),
        Err(_) => Err("did not register in time".into()),
    };
    let (data_address, slots, host) = match register {
        Ok(WorkerMessage::Register {
            data_address,
            host,
            pid,
            ..
        }) => {
            tracing::info!("worker {id} at {peer} (pid {pid}) registered");
            (data_address, shared.options.threads, host)
        }
        Ok(other) => {
            tracing::error!("worker at {peer} sent {other:?} instead of registering");
            return;
        }
        Err(e) => {
            tracing::error!("worker at {peer}: {e}");
            return;
        }
    };
    if shared.finished.load(Ordering::SeqCst) {
        return;
    }
    let (mut sink, mut stream) = conn.split();
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
            if sink
                .send(Frame::new(FrameKind::Control, encode(&message)))
                .await
                .is_err()
                || last
            {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let abort = writer.abort_handle();
    shared.writers.lock().push(writer);
    let _ = shared.events.send(SchedulerEvent::WorkerJoined {
        worker: id,
        slots,
        data_address,
        host,
    });
    let mut job_error = false;
    let reason = loop {
        let frame = match tokio::time::timeout(shared.heartbeat_timeout, stream.next()).await {
            Err(_) => break format!("no heartbeat for {}s", shared.heartbeat_timeout.as_secs()),
            Ok(None) => break "connection closed".to_string(),
            Ok(Some(Err(e))) => break format!("malformed frame: {e}"),
            Ok(Some(Ok(f))) => f,
        };
        if frame.kind != FrameKind::Control {
            break format!("unexpected {:?} frame", frame.kind);
        }
        match decode::<WorkerMessage>(&frame.body) {
            Ok(WorkerMessage::Heartbeat) => {}
            Ok(WorkerMessage::TaskDone(outcome)) => {
                let _ = shared.events.send(SchedulerEvent::TaskDone {
                    worker: id,
                    outcome,
                });
            }
            Ok(WorkerMessage::Refuse { reason }) => {
                job_error = true;
                break format!("refused the job: {reason}");
            }
            Ok(WorkerMessage::JobFailed { message }) => {
                job_error = true;
                break format!("could not run the job: {message}");
            }
            Ok(WorkerMessage::Register { .. }) => break "registered twice".to_string(),
            Err(e) => break e,
        }
    };
    let finished = shared.finished.load(Ordering::SeqCst);
    if !finished {
        tracing::warn!("worker {id} at {peer}: {reason}");
    }
    if shared.connections.lock().remove(&id).is_some() {
        abort.abort();
    }
    let _ = shared.events.send(SchedulerEvent::WorkerLost {
        worker: id,
        reason,
        job_error,
    });
}
