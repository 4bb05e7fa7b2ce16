//! Errors of the engine.
//!
//! [`TaskError`] is what a task reports: it travels from worker to driver, so it is plain
//! data. [`Error`] is what the engine's public API returns: a job that fails, a worker that is
//! refused, a network or configuration problem. Both render as one line fit for `error: …`.

use serde::{Deserialize, Serialize};

/// Why a task did not finish. Carries what the scheduler needs to recover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TaskError {
    /// A deterministic failure (bad input, a user function's error): retrying cannot help,
    /// so the job fails with this message.
    #[error("{0}")]
    Failed(String),
    /// A reduce task could not read a map output; the map output is recomputed from lineage.
    #[error("fetch failed: shuffle {shuffle}, map partition {map_partition}, from worker {worker}: {message}")]
    FetchFailed {
        shuffle: usize,
        map_partition: usize,
        worker: u32,
        message: String,
    },
    /// The worker's plan differs from the driver's at this action.
    #[error(
        "plan mismatch at action {action}: driver fingerprint {driver:016x}, worker {worker:016x}"
    )]
    PlanMismatch {
        action: usize,
        driver: u64,
        worker: u64,
    },
    /// The task was cancelled because the job ended.
    #[error("task cancelled: {0}")]
    Cancelled(String),
}

impl TaskError {
    /// A deterministic failure with the given message.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        TaskError::Failed(message.to_string())
    }
}

impl From<weir_datasets::DatasetError> for TaskError {
    fn from(e: weir_datasets::DatasetError) -> Self {
        TaskError::Failed(e.to_string())
    }
}

impl From<bincode::Error> for TaskError {
    fn from(e: bincode::Error) -> Self {
        TaskError::Failed(format!("decoding a record: {e}"))
    }
}

/// Errors of the engine's public API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The job failed: a task failed deterministically, or the job's own code returned an error.
    #[error("{0}")]
    Job(String),
    /// Input could not be read or parsed.
    #[error(transparent)]
    Dataset(#[from] weir_datasets::DatasetError),
    /// A command-line or configuration value is wrong.
    #[error("{0}")]
    Config(String),
    /// No worker is left to run the job.
    #[error("no workers left: {0}")]
    NoWorkers(String),
    /// A peer broke the protocol, or a connection failed.
    #[error("{peer}: {message}")]
    Peer { peer: String, message: String },
    /// Authentication or version check failed.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// The job was stopped (the driver went away, or the job ended while waiting).
    #[error("job stopped: {0}")]
    Stopped(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A job-level failure with a message.
    pub fn job(message: impl std::fmt::Display) -> Self {
        Error::Job(message.to_string())
    }
}

impl From<TaskError> for Error {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Cancelled(m) => Error::Stopped(m),
            other => Error::Job(other.to_string()),
        }
    }
}

impl From<bincode::Error> for Error {
    fn from(e: bincode::Error) -> Self {
        Error::Job(format!("decoding a value: {e}"))
    }
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
