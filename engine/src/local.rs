//! In-process execution: the driver and one worker with `threads` task slots in the same
//! process, no network. The same scheduler, executor and shuffle store as a cluster run, so
//! local runs test the engine, not a shortcut around it.

use std::time::Instant;

use crate::cluster::{Cluster, InProcess};
use crate::context::JobContext;
use crate::driver::{record_job_end, record_job_start};
use crate::error::Result;
use crate::executor::WorkerEnv;
use crate::metrics::JobMetrics;
use crate::plan::Plan;
use crate::protocol::JobOptions;
use crate::scheduler::{Observers, Scheduler, SchedulerEvent};
use crate::shuffle::ShuffleStore;

/// Shuffle output a worker keeps in memory before it spills to disk, unless
/// `WEIR_SHUFFLE_MEMORY` says otherwise: 64 MiB. Past it, map outputs go to local files,
/// as Hadoop's and Spark's always do, where the page cache keeps them fast to read back
/// without counting against the worker's resident set, which a reduce task needs for the
/// records it holds (a sort holds its whole range; a graph partition being built holds
/// its edge blocks and its CSR: with 256 MiB, SSSP on R-MAT 20 peaked at 427 MiB per
/// worker while it built the graph, with 64 MiB at 352).
pub const DEFAULT_SHUFFLE_MEMORY: u64 = 64 << 20;

/// The shuffle memory budget per worker, in bytes.
pub fn shuffle_memory_budget() -> u64 {
    std::env::var("WEIR_SHUFFLE_MEMORY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SHUFFLE_MEMORY)
}

/// Runs `job` in this process with `options.threads` task slots; returns its metrics.
pub fn run_local<F>(
    job_name: &str,
    args: &[String],
    options: JobOptions,
    observers: Observers,
    job: F,
) -> Result<JobMetrics>
where
    F: FnOnce(&JobContext) -> Result<()>,
{
    let started = Instant::now();
    let plan = Plan::new();
    let spill = tempfile::Builder::new()
        .prefix("weir-spill-")
        .tempdir()
        .map_err(|e| crate::Error::io("creating a spill directory", e))?;
    let store = ShuffleStore::new(shuffle_memory_budget(), spill.path().to_path_buf());
    let env = WorkerEnv::new(0, plan.clone(), store, None, options.clone())?;
    let (tx, rx) = crossbeam_channel::unbounded();
    tx.send(SchedulerEvent::WorkerJoined {
        worker: 0,
        slots: options.threads.max(1),
        data_address: "local".into(),
        host: "local".into(),
        pid: std::process::id(),
    })
    .expect("receiver alive");
    let cluster = Cluster::InProcess(InProcess::new(env, tx));
    let mut scheduler = Scheduler::new(plan.clone(), cluster, rx);
    let recorder = observers.recorder.clone();
    record_job_start(&recorder, job_name, args, &options);
    scheduler.set_observers(observers);
    let outcome = scheduler
        .wait_for_workers(1, std::time::Duration::from_secs(5))
        .and_then(|()| {
            let ctx = JobContext::driver(plan.clone(), options, scheduler, Box::new(|_, _| {}));
            let outcome = job(&ctx);
            outcome.map(|()| ctx)
        });
    plan.close("job ended");
    let reason = match &outcome {
        Ok(_) => "job finished".to_string(),
        Err(e) => format!("job failed: {e}"),
    };
    record_job_end(&recorder, &reason, outcome.is_ok());
    let ctx = outcome?;
    let mut metrics = ctx.metrics();
    metrics.job = job_name.to_string();
    metrics.args = args.to_vec();
    metrics.wall_seconds = started.elapsed().as_secs_f64();
    Ok(metrics)
}
