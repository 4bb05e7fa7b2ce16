//! A worker process: joins a driver, receives the job, replays the job function to build the
//! same plan, runs the tasks the driver sends on its thread pool, and serves its map outputs
//! to other workers.
//!
//! Threads: the tokio runtime does only I/O (control connection, heartbeats, the shuffle
//! server and fetches); tasks run on the rayon pool; the job function runs on its own thread
//! and blocks whenever it needs a value only the driver has.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::SplitStream;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::auth::{join_driver, Secret};
use crate::context::{JobContext, ValueInbox};
use crate::error::{Error, Result};
use crate::exchange::Network;
use crate::executor::{run_task, WorkerEnv};
use crate::frame::{framed, Frame, FrameKind, FramedStream};
use crate::local::shuffle_memory_budget;
use crate::plan::Plan;
use crate::protocol::{
    binary_version, encode, receive, DriverMessage, JobOptions, SessionCommand, WorkerMessage,
};
use crate::shuffle::fetch::serve_blocks;
use crate::shuffle::ShuffleStore;

/// A job function ready to run.
pub type JobFn = Box<dyn FnOnce(&JobContext) -> Result<()> + Send>;

/// Finds the job a driver asks for. Implemented by the job registry.
pub trait JobResolver: Send + Sync {
    /// The job function for `job` with `args`, or why this binary cannot run it.
    fn resolve(&self, job: &str, args: &[String]) -> std::result::Result<JobFn, String>;
}

/// How a worker runs.
pub struct WorkerConfig {
    /// The driver's address.
    pub driver: String,
    /// The shared secret.
    pub secret: Secret,
    /// How long to keep trying to reach the driver.
    pub connect_timeout: Duration,
    /// Heartbeat period.
    pub heartbeat: Duration,
}

/// The job as the driver sent it.
struct JobStart {
    job: String,
    args: Vec<String>,
    options: JobOptions,
    values: Vec<Vec<u8>>,
}

/// What the control loop serves: this worker's part of the running job.
struct Running {
    env: Arc<WorkerEnv>,
    inbox: Arc<ValueInbox>,
    plan: Arc<Plan>,
    /// Where task outcomes and heartbeats go (the control connection's writer).
    to_driver: UnboundedSender<WorkerMessage>,
    /// Keeps the spill directory until the worker ends.
    _spill: tempfile::TempDir,
}

/// Runs a worker until the driver ends the job. Returns an error if the worker was refused,
/// lost the driver, or could not run the job.
pub fn run_worker(config: WorkerConfig, resolver: &dyn JobResolver) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("weir-worker-io")
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the worker's network threads", e))?;
    let outcome = runtime.block_on(serve(config, resolver, runtime.handle().clone()));
    runtime.shutdown_background();
    outcome
}

async fn connect_with_retry(address: &str, timeout: Duration) -> Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    loop {
        match TcpStream::connect(address).await {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::Peer {
                    peer: format!("driver at {address}"),
                    message: format!("cannot connect: {e}"),
                })
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// An error naming the driver as the peer at fault.
fn driver_error(driver: &str, message: impl Into<String>) -> Error {
    Error::Peer {
        peer: format!("driver at {driver}"),
        message: message.into(),
    }
}

async fn serve(
    config: WorkerConfig,
    resolver: &dyn JobResolver,
    runtime: tokio::runtime::Handle,
) -> Result<()> {
    let driver = config.driver.clone();
    let (mut conn, worker_id, data_listener) = join(&config).await?;
    let start = match receive::<DriverMessage, _>(&mut conn, None).await {
        Ok(DriverMessage::JobStart {
            job,
            args,
            options,
            values,
        }) => JobStart {
            job,
            args,
            options,
            values,
        },
        Ok(_) => return Err(driver_error(&driver, "did not send the job")),
        Err(e) => return Err(driver_error(&driver, e.to_string())),
    };
    tracing::info!("worker {worker_id}: job {} {:?}", start.job, start.args);
    let (sink, mut frames) = conn.split();
    let (to_driver, writer) = start_writer(sink);
    let job_fn = match resolver.resolve(&start.job, &start.args) {
        Ok(f) => f,
        Err(reason) => {
            let _ = to_driver.send(WorkerMessage::Refuse {
                reason: reason.clone(),
            });
            drop(to_driver);
            let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
            return Err(Error::Config(format!(
                "cannot run job {}: {reason}",
                start.job
            )));
        }
    };
    let secret = Arc::new(config.secret);
    let running = start_job(
        worker_id,
        start,
        job_fn,
        to_driver,
        data_listener,
        secret,
        runtime,
    )?;
    let heartbeat = spawn_heartbeat(running.to_driver.clone(), config.heartbeat);
    let outcome = control_loop(&mut frames, &running, &driver).await;
    let reason = match &outcome {
        Ok(()) => "job finished".to_string(),
        Err(e) => e.to_string(),
    };
    running.inbox.close(&reason);
    running.env.mailbox.close(&reason);
    running.plan.close(&reason);
    heartbeat.abort();
    writer.abort();
    outcome
}

/// Connects to the driver, authenticates, starts the shuffle server's listener and
/// registers; returns the connection, this worker's id and the listener.
async fn join(config: &WorkerConfig) -> Result<(FramedStream, u32, TcpListener)> {
    let driver = &config.driver;
    let stream = connect_with_retry(driver, config.connect_timeout).await?;
    let local_ip = stream
        .local_addr()
        .map_err(|e| Error::io("reading the local address", e))?
        .ip();
    let mut conn = framed(stream);
    let worker_id = join_driver(
        &mut conn,
        &config.secret,
        &binary_version(),
        Duration::from_secs(10),
    )
    .await
    .map_err(|e| driver_error(driver, e.to_string()))?;
    // The shuffle server listens on the address this host uses to reach the driver, so
    // other workers can reach it the same way.
    let data_listener = TcpListener::bind(SocketAddr::new(local_ip, 0))
        .await
        .map_err(|e| Error::io("starting the shuffle server", e))?;
    let data_address = data_listener
        .local_addr()
        .map_err(|e| Error::io("reading the shuffle server's address", e))?
        .to_string();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let register = WorkerMessage::Register {
        data_address,
        threads: 0, // the job's options decide the slots
        pid: std::process::id(),
        host,
    };
    conn.send(Frame::new(FrameKind::Control, encode(&register)))
        .await
        .map_err(|e| driver_error(driver, format!("registering: {e}")))?;
    Ok((conn, worker_id, data_listener))
}

/// Starts the task writing this worker's messages to the driver.
fn start_writer(
    mut sink: futures::stream::SplitSink<FramedStream, Frame>,
) -> (UnboundedSender<WorkerMessage>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = unbounded_channel::<WorkerMessage>();
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let frame = Frame::new(FrameKind::Control, encode(&m));
            if sink.send(frame).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    (tx, writer)
}

/// Sets up the shuffle store, the shuffle server and the task environment, and starts the
/// job function on its own thread.
fn start_job(
    worker_id: u32,
    start: JobStart,
    job_fn: JobFn,
    to_driver: UnboundedSender<WorkerMessage>,
    data_listener: TcpListener,
    secret: Arc<Secret>,
    runtime: tokio::runtime::Handle,
) -> Result<Running> {
    let spill = tempfile::Builder::new()
        .prefix("weir-spill-")
        .tempdir()
        .map_err(|e| Error::io("creating a spill directory", e))?;
    let store = ShuffleStore::new(shuffle_memory_budget(), spill.path().to_path_buf());
    let plan = Plan::new();
    let network = Network {
        runtime,
        secret: secret.clone(),
    };
    let env = WorkerEnv::new(
        worker_id,
        plan.clone(),
        store.clone(),
        Some(network),
        start.options.clone(),
    )?;
    tokio::spawn(serve_blocks(
        data_listener,
        store,
        env.mailbox.clone(),
        secret,
        worker_id,
    ));
    let inbox = ValueInbox::with_values(start.values);
    // The job function replays on its own thread.
    let job_ctx = JobContext::follower(plan.clone(), start.options, inbox.clone());
    let job_tx = to_driver.clone();
    std::thread::Builder::new()
        .name("weir-job".into())
        .spawn(move || match job_fn(&job_ctx) {
            Ok(()) | Err(Error::Stopped(_)) => {}
            Err(e) => {
                let _ = job_tx.send(WorkerMessage::JobFailed {
                    message: e.to_string(),
                });
            }
        })
        .map_err(|e| Error::io("starting the job thread", e))?;
    Ok(Running {
        env,
        inbox,
        plan,
        to_driver,
        _spill: spill,
    })
}

fn spawn_heartbeat(
    to_driver: UnboundedSender<WorkerMessage>,
    period: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            if to_driver.send(WorkerMessage::Heartbeat).is_err() {
                break;
            }
        }
    })
}

/// Serves the driver's messages until it ends the job (or breaks the protocol).
async fn control_loop(
    frames: &mut SplitStream<FramedStream>,
    running: &Running,
    driver: &str,
) -> Result<()> {
    loop {
        let message = receive::<DriverMessage, _>(frames, None)
            .await
            .map_err(|e| match e {
                crate::protocol::ReceiveError::Closed => driver_error(driver, "connection lost"),
                other => driver_error(driver, other.to_string()),
            })?;
        match message {
            DriverMessage::RunTask(task) => {
                let env = running.env.clone();
                let tx = running.to_driver.clone();
                running.env.pool.spawn(move || {
                    let outcome = run_task(&env, task);
                    let _ = tx.send(WorkerMessage::TaskDone(outcome));
                });
            }
            DriverMessage::Session { session, command } => {
                if command == SessionCommand::Abort {
                    // Wakes a step of the session waiting for a lost worker's batches,
                    // which may hold the task thread the abort itself will run on.
                    running
                        .env
                        .mailbox
                        .abort_channel(session as u64, "the session was given up");
                }
                let env = running.env.clone();
                let tx = running.to_driver.clone();
                running.env.pool.spawn(move || {
                    let to_driver = tx.clone();
                    let progress = move |reply| {
                        let _ = to_driver.send(WorkerMessage::Session { session, reply });
                    };
                    let reply = crate::session::handle(&env, session, command, &progress);
                    let _ = tx.send(WorkerMessage::Session { session, reply });
                });
            }
            DriverMessage::DriverValue { seq, bytes } => running.inbox.push(seq, bytes),
            DriverMessage::Release { shuffles, nodes } => {
                // Freeing deletes spill files and large buffers: off the I/O runtime.
                let env = running.env.clone();
                running.env.pool.spawn(move || {
                    for s in shuffles {
                        env.shuffle.remove_shuffle(s);
                    }
                    for n in nodes {
                        env.cache.remove_node(n);
                    }
                });
            }
            DriverMessage::Shutdown { reason, ok } => {
                // A failed job is reported by the driver; the worker just leaves.
                if !ok {
                    tracing::info!("driver ended the job: {reason}");
                }
                return Ok(());
            }
            DriverMessage::Evicted { reason } => {
                return Err(driver_error(
                    driver,
                    format!("refused this worker: {reason}"),
                ))
            }
            DriverMessage::JobStart { .. } => {
                return Err(driver_error(driver, "sent the job twice"))
            }
        }
    }
}
