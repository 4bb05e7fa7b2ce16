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

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::unbounded_channel;

use crate::auth::{join_driver, Secret};
use crate::context::{JobContext, ValueInbox};
use crate::error::{Error, Result};
use crate::executor::{run_task, WorkerEnv};
use crate::frame::{framed, Frame, FrameKind, FramedStream};
use crate::local::shuffle_memory_budget;
use crate::plan::Plan;
use crate::protocol::{binary_version, decode, encode, DriverMessage, WorkerMessage};
use crate::shuffle::fetch::{serve_blocks, TcpFetcher};
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

async fn next_message(conn: &mut FramedStream, driver: &str) -> Result<Option<DriverMessage>> {
    let peer_err = |message: String| Error::Peer {
        peer: format!("driver at {driver}"),
        message,
    };
    match conn.next().await {
        None => Ok(None),
        Some(Err(e)) => Err(peer_err(format!("malformed frame: {e}"))),
        Some(Ok(f)) if f.kind == FrameKind::Control => decode(&f.body).map(Some).map_err(peer_err),
        Some(Ok(f)) => Err(peer_err(format!("unexpected {:?} frame", f.kind))),
    }
}

async fn serve(
    config: WorkerConfig,
    resolver: &dyn JobResolver,
    runtime: tokio::runtime::Handle,
) -> Result<()> {
    let driver = config.driver.clone();
    let stream = connect_with_retry(&driver, config.connect_timeout).await?;
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
    .map_err(|e| Error::Peer {
        peer: format!("driver at {driver}"),
        message: e.to_string(),
    })?;
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
        .map_err(|e| Error::Peer {
            peer: format!("driver at {driver}"),
            message: format!("registering: {e}"),
        })?;
    let Some(DriverMessage::JobStart {
        job,
        args,
        options,
        values,
    }) = next_message(&mut conn, &driver).await?
    else {
        return Err(Error::Peer {
            peer: format!("driver at {driver}"),
            message: "did not send the job".into(),
        });
    };
    tracing::info!("worker {worker_id}: job {job} {args:?}");
    let (mut sink, mut stream) = conn.split();
    let (tx, mut rx) = unbounded_channel::<WorkerMessage>();
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink
                .send(Frame::new(FrameKind::Control, encode(&m)))
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let job_fn = match resolver.resolve(&job, &args) {
        Ok(f) => f,
        Err(reason) => {
            let _ = tx.send(WorkerMessage::Refuse {
                reason: reason.clone(),
            });
            drop(tx);
            let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
            return Err(Error::Config(format!("cannot run job {job}: {reason}")));
        }
    };
    let secret = Arc::new(config.secret);
    let spill = tempfile::Builder::new()
        .prefix("weir-spill-")
        .tempdir()
        .map_err(|e| Error::io("creating a spill directory", e))?;
    let store = ShuffleStore::new(shuffle_memory_budget(), spill.path().to_path_buf());
    tokio::spawn(serve_blocks(
        data_listener,
        store.clone(),
        secret.clone(),
        worker_id,
    ));
    let plan = Plan::new();
    let fetcher = Arc::new(TcpFetcher::new(runtime, secret));
    let env = WorkerEnv::new(
        worker_id,
        plan.clone(),
        store.clone(),
        Some(fetcher),
        options.clone(),
    )?;
    let inbox = ValueInbox::with_values(values);

    // The job function replays on its own thread.
    let job_ctx = JobContext::follower(plan.clone(), options, inbox.clone());
    let job_tx = tx.clone();
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

    let heartbeat_tx = tx.clone();
    let period = config.heartbeat;
    let heartbeat = tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            if heartbeat_tx.send(WorkerMessage::Heartbeat).is_err() {
                break;
            }
        }
    });

    let outcome = loop {
        let message = match stream.next().await {
            None => {
                break Err(Error::Peer {
                    peer: format!("driver at {driver}"),
                    message: "connection lost".into(),
                })
            }
            Some(Err(e)) => {
                break Err(Error::Peer {
                    peer: format!("driver at {driver}"),
                    message: format!("malformed frame: {e}"),
                })
            }
            Some(Ok(f)) if f.kind != FrameKind::Control => {
                break Err(Error::Peer {
                    peer: format!("driver at {driver}"),
                    message: format!("unexpected {:?} frame", f.kind),
                })
            }
            Some(Ok(f)) => match decode::<DriverMessage>(&f.body) {
                Ok(m) => m,
                Err(e) => {
                    break Err(Error::Peer {
                        peer: format!("driver at {driver}"),
                        message: e,
                    })
                }
            },
        };
        match message {
            DriverMessage::RunTask(task) => {
                let env = env.clone();
                let tx = tx.clone();
                env.clone().pool.spawn(move || {
                    let outcome = run_task(&env, task);
                    let _ = tx.send(WorkerMessage::TaskDone(outcome));
                });
            }
            DriverMessage::DriverValue { seq, bytes } => inbox.push(seq, bytes),
            DriverMessage::RemoveShuffle { shuffle } => store.remove_shuffle(shuffle),
            DriverMessage::Shutdown { reason, ok } => {
                // A failed job is reported by the driver; the worker just leaves.
                if !ok {
                    tracing::info!("driver ended the job: {reason}");
                }
                break Ok(());
            }
            DriverMessage::Evicted { reason } => {
                break Err(Error::Peer {
                    peer: format!("driver at {driver}"),
                    message: format!("refused this worker: {reason}"),
                })
            }
            DriverMessage::JobStart { .. } => {
                break Err(Error::Peer {
                    peer: format!("driver at {driver}"),
                    message: "sent the job twice".into(),
                })
            }
        }
    };
    let reason = match &outcome {
        Ok(()) => "job finished".to_string(),
        Err(e) => e.to_string(),
    };
    inbox.close(&reason);
    plan.close(&reason);
    heartbeat.abort();
    drop(tx);
    writer.abort();
    outcome
}
