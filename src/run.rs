//! `weir run` and `weir worker`: run options, starting local workers, the driver, and the
//! metrics file.
//!
//! `weir run JOB [JOB ARGS] --workers N` listens on loopback with a fresh secret and starts N
//! worker processes of this same binary. With `--listen ADDR --secret-file F --join-workers
//! N` it starts none and waits for N workers started by hand (`weir worker --join ADDR
//! --secret-file F`) on other hosts. `--workers 0` (or `--local`) runs in this process.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use weir_engine::auth::Secret;
use weir_engine::driver::{run_driver, DriverConfig};
use weir_engine::local::run_local;
use weir_engine::scheduler::{Observers, ProgressSink};
use weir_engine::worker::{run_worker, WorkerConfig};
use weir_engine::{JobMetrics, JobOptions};

use crate::progress::Bars;
use crate::watch::Watch;
use crate::Registry;

/// Options of `weir run` itself (everything else goes to the job).
#[derive(Debug, Clone, Parser)]
#[command(name = "weir run", no_binary_name = true)]
pub struct RunOptions {
    /// Worker processes to start on this machine (0: run in this process).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Task threads per worker.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Run in this process (same as --workers 0).
    #[arg(long)]
    pub local: bool,
    /// Partitions for inputs and shuffles (default: 3 per task slot).
    #[arg(long)]
    pub partitions: Option<usize>,
    /// Write the result as part files into this directory.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Part file format: tsv or parquet.
    #[arg(long, default_value = "tsv", value_parser = ["tsv", "parquet"])]
    pub format: String,
    /// Write run metrics as JSON to this file.
    #[arg(long)]
    pub metrics_json: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Skip malformed input records (counted in the metrics) instead of failing.
    #[arg(long)]
    pub skip_bad_records: bool,
    /// Listen on this address and wait for workers started by hand (multi-host).
    #[arg(long, requires = "secret_file")]
    pub listen: Option<SocketAddr>,
    /// File with the shared secret (required with --listen).
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// With --listen: how many workers to wait for.
    #[arg(long, requires = "listen")]
    pub join_workers: Option<usize>,
    /// Seconds to wait for the workers to join.
    #[arg(long, default_value_t = 60)]
    pub join_timeout: u64,
    /// The job prints nothing on stdout (set by `weir bench`).
    #[arg(skip)]
    pub silent: bool,
    /// Seconds of silence after which a worker counts as lost.
    #[arg(long, default_value_t = 5)]
    pub heartbeat_timeout: u64,
    /// Pregel runs checkpoint every K supersteps, parameter-server shards every K clocks,
    /// replicated to another worker (0: never).
    #[arg(long, default_value_t = 10)]
    pub checkpoint_every: u64,
    /// Write the run's event log (JSON lines) to this file. Without it, a run writes one
    /// when WEIR_EVENT_LOG_DIR names a directory (a file per run), and none otherwise.
    #[arg(long)]
    pub event_log: Option<PathBuf>,
    /// Serve the live web UI on this address (default: loopback, the first free port from
    /// 4040). On an address other than loopback it asks for a token, printed with the URL.
    #[arg(long, conflicts_with = "no_ui")]
    pub ui: Option<SocketAddr>,
    /// No web UI.
    #[arg(long)]
    pub no_ui: bool,
    /// Keep serving the web UI this many seconds after the job ends.
    #[arg(long, default_value_t = 0)]
    pub ui_linger: u64,
}

const VALUE_OPTIONS: &[&str] = &[
    "--workers",
    "--threads",
    "--partitions",
    "--output",
    "--format",
    "--metrics-json",
    "--listen",
    "--secret-file",
    "--join-workers",
    "--join-timeout",
    "--heartbeat-timeout",
    "--checkpoint-every",
    "--event-log",
    "--ui",
    "--ui-linger",
];
const FLAG_OPTIONS: &[&str] = &["--local", "--quiet", "--skip-bad-records", "--no-ui"];

/// Splits `weir run` arguments into the job name, the run options and the job's arguments.
pub fn split_run_args(args: &[String]) -> anyhow::Result<(String, Vec<String>, Vec<String>, bool)> {
    let mut job = None;
    let (mut run, mut rest, mut help) = (Vec::new(), Vec::new(), false);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let name = a.split('=').next().unwrap_or(a);
        if a == "--help" || a == "-h" {
            help = true;
        } else if VALUE_OPTIONS.contains(&name) {
            run.push(a.clone());
            if !a.contains('=') {
                i += 1;
                let v = args.get(i).ok_or_else(|| anyhow!("{a} needs a value"))?;
                run.push(v.clone());
            }
        } else if FLAG_OPTIONS.contains(&a.as_str()) {
            run.push(a.clone());
        } else if job.is_none() && !a.starts_with('-') {
            job = Some(a.clone());
        } else {
            rest.push(a.clone());
        }
        i += 1;
    }
    let job = match job {
        Some(j) => j,
        None if help => String::new(),
        None => bail!("which job? usage: weir run JOB [ARGS] (see 'weir jobs')"),
    };
    Ok((job, run, rest, help))
}

fn print_help(registry: &Registry, job: &str) -> anyhow::Result<()> {
    use clap::CommandFactory;
    if let Some(mut cmd) = registry.command(job) {
        println!("{}", cmd.render_help());
    } else if !job.is_empty() {
        bail!("unknown job '{job}' (see 'weir jobs')");
    }
    let mut run = RunOptions::command()
        .name("weir run JOB")
        .about("Run options (any job)");
    println!("{}", run.render_help());
    Ok(())
}

/// `weir run …`
pub fn run_command(registry: &Registry, args: &[String]) -> anyhow::Result<()> {
    let (job, run_args, job_args, help) = split_run_args(args)?;
    if help {
        return print_help(registry, &job);
    }
    let opts = RunOptions::try_parse_from(&run_args)
        .map_err(|e| anyhow!("{}", weir_jobs::clap_error_line(&e)))?;
    let metrics = run_job(registry, &job, &job_args, &opts)?;
    if !opts.quiet {
        eprintln!(
            "{job}: {:.2}s with {} worker(s) x {} thread(s)",
            metrics.wall_seconds, metrics.workers, metrics.threads
        );
    }
    Ok(())
}

/// Writes the metrics JSON atomically.
pub fn write_metrics(path: &Path, metrics: &JobMetrics) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(metrics)?;
    std::fs::write(&tmp, text).with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, path).with_context(|| path.display().to_string())?;
    Ok(())
}

/// Runs a job quietly, with no output, on `workers` local worker processes of `threads`
/// threads each: what the measuring tools (`weir bench`) run.
#[cfg(feature = "bench")]
pub fn run_quietly(
    registry: &Registry,
    job: &str,
    job_args: &[String],
    workers: usize,
    threads: usize,
) -> anyhow::Result<JobMetrics> {
    let mut opts = RunOptions::try_parse_from([
        "--quiet".to_string(),
        "--no-ui".into(),
        "--workers".into(),
        workers.to_string(),
        "--threads".into(),
        threads.max(1).to_string(),
    ])
    .map_err(|e| anyhow!("{}", weir_jobs::clap_error_line(&e)))?;
    opts.silent = true;
    run_job(registry, job, job_args, &opts)
}

/// Runs a job as `opts` say and returns its metrics.
pub fn run_job(
    registry: &Registry,
    job: &str,
    job_args: &[String],
    opts: &RunOptions,
) -> anyhow::Result<JobMetrics> {
    // Parse in the driver first: bad arguments fail before any worker starts.
    let job_fn = registry
        .parse(job, job_args)
        .map_err(|e| anyhow!("{job}: {e}"))?;
    let local = opts.local || (opts.workers == 0 && opts.listen.is_none());
    let workers = if local {
        1
    } else {
        opts.join_workers.unwrap_or(opts.workers).max(1)
    };
    let threads = opts.threads.max(1);
    if let Some(out) = &opts.output {
        weir_datasets::check_output_dir(out)?;
    }
    let mut options = JobOptions {
        parallelism: opts.partitions.unwrap_or(workers * threads * 3).max(1),
        workers,
        threads,
        skip_bad_records: opts.skip_bad_records,
        output: opts
            .output
            .clone()
            .map(|p| std::path::absolute(&p).unwrap_or(p)),
        format: opts.format.clone(),
        silent: opts.silent,
        checkpoint_every: opts.checkpoint_every,
        record_events: false,
    };
    let progress: Option<Arc<dyn ProgressSink>> = if !opts.quiet && std::io::stderr().is_terminal()
    {
        Some(Arc::new(Bars::new()))
    } else {
        None
    };
    let (listen, secret, spawn) = match opts.listen {
        Some(addr) => {
            let file = opts
                .secret_file
                .as_ref()
                .expect("clap requires --secret-file with --listen");
            (addr, Secret::from_file(file)?, false)
        }
        None => {
            // A fresh secret for this run's own workers; the file holds exactly its bytes.
            let text = Secret::generate().to_hex();
            (
                SocketAddr::from(([127, 0, 0, 1], 0)),
                Secret::new(text.into_bytes()),
                true,
            )
        }
    };
    let watch = Watch::start(job, opts, &secret)?;
    options.record_events = watch.recorder().is_some();
    let observers = Observers {
        progress,
        recorder: watch.recorder(),
    };
    if local {
        let outcome = run_local(job, job_args, options, observers, job_fn);
        return finish(outcome, watch, opts);
    }
    let secret_dir = tempfile::Builder::new().prefix("weir-secret-").tempdir()?;
    let secret_path = secret_dir.path().join("secret");
    if spawn {
        write_secret(&secret_path, &secret)?;
    }
    let mut children: Vec<Child> = Vec::new();
    let config = DriverConfig {
        listen,
        secret,
        workers,
        join_timeout: Duration::from_secs(opts.join_timeout),
        heartbeat_timeout: Duration::from_secs(opts.heartbeat_timeout.max(1)),
        job: job.to_string(),
        args: job_args.to_vec(),
        options,
        observers,
    };
    let outcome = run_driver(
        config,
        |addr| {
            if spawn {
                for _ in 0..workers {
                    let child = spawn_worker(&addr, &secret_path)
                        .map_err(|e| weir_engine::Error::io("starting a worker process", e))?;
                    children.push(child);
                }
            } else {
                eprintln!("driver listening on {addr}; waiting for {workers} worker(s)");
            }
            Ok(())
        },
        job_fn,
    );
    reap(&mut children);
    finish(outcome, watch, opts)
}

/// Writes the metrics JSON when asked, then closes the event log and the web UI (after
/// `--ui-linger`).
fn finish(
    outcome: weir_engine::Result<JobMetrics>,
    watch: Watch,
    opts: &RunOptions,
) -> anyhow::Result<JobMetrics> {
    let written = match (&outcome, &opts.metrics_json) {
        (Ok(metrics), Some(path)) => write_metrics(path, metrics),
        _ => Ok(()),
    };
    watch.finish(opts)?;
    written?;
    Ok(outcome?)
}

fn write_secret(path: &Path, secret: &Secret) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| path.display().to_string())?;
    f.write_all(secret.as_bytes())?;
    Ok(())
}

fn spawn_worker(driver: &SocketAddr, secret_file: &Path) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("worker")
        .arg("--join")
        .arg(driver.to_string())
        .arg("--secret-file")
        .arg(secret_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // A worker never outlives its driver.
    weir_engine::process::die_with_parent(&mut cmd);
    cmd.spawn()
}

/// Waits briefly for the workers to exit after the driver's shutdown, then kills stragglers.
fn reap(children: &mut [Child]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for child in children.iter_mut() {
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
    }
}

/// `weir worker --join ADDR --secret-file F`
pub fn worker_command(
    registry: &Registry,
    join: &str,
    secret_file: &Path,
    connect_timeout: u64,
) -> anyhow::Result<()> {
    let secret = read_secret(secret_file)?;
    run_worker(
        WorkerConfig {
            driver: join.to_string(),
            secret,
            connect_timeout: Duration::from_secs(connect_timeout),
            heartbeat: Duration::from_secs(1),
        },
        registry,
    )?;
    Ok(())
}

/// The secret file's content (trailing whitespace trimmed).
fn read_secret(path: &Path) -> anyhow::Result<Secret> {
    Ok(Secret::from_file(path)?)
}
