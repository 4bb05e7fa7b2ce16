//! Weir's engine: plans and stages, the driver's scheduler, workers and their task
//! executor, the shuffle over TCP, authentication, and run metrics.
//!
//! The engine is type-erased: it sees datasets as [`plan::PlanNode`]s and runs typed work
//! through [`plan::ShuffleMapTask`] and [`plan::ResultTask`], which the operators crate
//! implements. Jobs reach it through [`JobContext`].
//!
//! Roles: [`local::run_local`] runs a job in one process; [`driver::run_driver`] runs the
//! driver of a cluster and [`worker::run_worker`] a worker process; the same binary plays
//! every role.

#![warn(missing_docs)]
#![allow(missing_docs)]

pub mod auth;
pub mod cluster;
pub mod context;
pub mod driver;
pub mod error;
pub mod exchange;
pub mod executor;
pub mod frame;
pub mod hash;
pub mod local;
pub mod metrics;
pub mod observe;
pub mod plan;
pub mod process;
pub mod protocol;
pub mod scheduler;
pub mod session;
pub mod shuffle;
pub mod task;
pub mod ui;
pub mod worker;

pub use context::{Broadcast, Counter, JobContext};
pub use error::{Error, Result, TaskError};
pub use metrics::{peak_rss_bytes, JobMetrics};
pub use protocol::JobOptions;
pub use task::TaskContext;
