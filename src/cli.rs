//! The command line: `weir jobs`, `weir run`, `weir worker`, `weir demo`, `weir bench`, `weir history`,
//! `weir graphalytics`, `weir datasets`.
//!
//! Errors end as one line `error: …` on stderr and exit code 2; a closed stdout (a pipe to
//! `head`) ends quietly with 0.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::Registry;

/// Weir: distributed MapReduce, Pregel and parameter-server jobs.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about, disable_help_subcommand = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lists the jobs.
    Jobs,
    /// Runs a job: `weir run JOB [JOB ARGS] [--workers N] [--threads T] …` (see `weir run JOB --help`).
    #[command(disable_help_flag = true)]
    Run {
        /// The job and its arguments, mixed with the run options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Runs a worker that joins a driver (for multi-host runs).
    Worker {
        /// The driver's address (HOST:PORT).
        #[arg(long)]
        join: String,
        /// File holding the shared secret.
        #[arg(long)]
        secret_file: PathBuf,
        /// How long to keep trying to reach the driver, in seconds.
        #[arg(long, default_value_t = 30)]
        connect_timeout: u64,
    },
    /// Runs wordcount, pagerank and logistic regression on bundled data with a local
    /// cluster of 2 workers.
    Demo {
        /// Worker processes.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Keep each run's event log in this directory and write its HTML report there.
        #[arg(long)]
        history: Option<PathBuf>,
    },
    /// Benchmarks: `weir bench speedup JOB [JOB ARGS] --workers 1,2,4 …` (see `weir bench speedup --help`).
    #[cfg(feature = "bench")]
    Bench {
        #[command(subcommand)]
        command: weir_bench::BenchCommand,
    },
    /// Runs the LDBC Graphalytics algorithms a dataset lists, validates them against the
    /// expected outputs and reports times, EVPS and PASS/FAIL.
    Graphalytics(crate::graphalytics::GraphalyticsArgs),
    /// A run from its event log: a summary, a self-contained HTML report (`--html`), or a
    /// history server over a directory of logs (`serve DIR`).
    History(crate::history::HistoryArgs),
    /// Dataset tools.
    Datasets {
        #[command(subcommand)]
        command: crate::generate::DatasetsCommand,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}

/// Prints a failure as one line and picks the exit code.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            // Join the chain, leaving out causes a message already quotes.
            let mut message = String::new();
            for cause in e.chain() {
                let text = cause.to_string();
                if !message.contains(&text) {
                    if !message.is_empty() {
                        message.push_str(": ");
                    }
                    message.push_str(&text);
                }
            }
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

pub(crate) fn main_with(registry: Registry) -> ExitCode {
    init_logging();
    // A panic anywhere is a bug; say so in one line rather than a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        // `println!` to a closed pipe (`weir … | head`) is not an error.
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error: {msg}{at}");
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", weir_jobs::clap_error_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Jobs => {
            for (name, about) in registry.list() {
                println!("{name:<16} {about}");
            }
            Ok(())
        }
        Command::Run { args } => crate::run::run_command(&registry, &args),
        Command::Worker {
            join,
            secret_file,
            connect_timeout,
        } => crate::run::worker_command(&registry, &join, &secret_file, connect_timeout),
        Command::Demo { workers, history } => {
            crate::demo::demo(&registry, workers, history.as_deref())
        }
        #[cfg(feature = "bench")]
        Command::Bench { command } => weir_bench::bench_command(
            &weir_bench::Host {
                registry: &registry,
                run_job: &crate::run::run_quietly,
            },
            command,
        ),
        Command::Graphalytics(args) => crate::graphalytics::graphalytics_command(&registry, &args),
        Command::Datasets { command } => crate::generate::datasets_command(command),
        Command::History(args) => crate::history::history_command(args),
    };
    report(result)
}
