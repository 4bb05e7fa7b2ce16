//! Observability: the events of a run ([`event`]), written to an event log off the hot path
//! ([`recorder`]), folded into a view of the run ([`view`]) that the live web UI, the JSON
//! API, `/metrics` ([`prometheus`]) and the history server serve, and read back from a log
//! file ([`reader`]).

pub mod event;
pub mod live;
pub mod prometheus;
pub mod reader;
pub mod recorder;
pub mod view;

pub use event::{Event, Locality, Stamped, TaskFigures, FORMAT_VERSION};
pub use live::LiveRun;
pub use reader::{read_log, LogRead};
pub use recorder::{record, EventLog, Recorder};
pub use view::{run_id, RunView};

/// The environment variable naming a directory to keep one event log per run in.
pub const EVENT_LOG_DIR_ENV: &str = "WEIR_EVENT_LOG_DIR";

/// The file a run's event log goes to in `dir`: `JOB-UNIXSECONDS-PID.jsonl`.
pub fn log_file_in(dir: &std::path::Path, job: &str) -> std::path::PathBuf {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    dir.join(format!("{}.jsonl", run_id(job, unix, std::process::id())))
}

/// Unix time now, in seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
