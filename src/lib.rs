//! Weir: a distributed dataflow engine for MapReduce, Pregel and the parameter server.
//!
//! This crate is the `weir` command and the one dependency a user's own binary needs: it
//! re-exports the engine, the Dataset API, the built-in jobs and the dataset readers, and
//! [`main_with`] runs Weir's whole command line with a registry that includes the user's
//! own jobs (see `examples/custom-job`).
//!
//! The measuring tools (`weir bench`, baselines, peers, plots) live in the `weir-bench`
//! crate behind the default `bench` feature; a user's binary that depends on `weir` with
//! `default-features = false` builds none of them.

mod allocator;
pub mod cli;
mod demo;
mod generate;
mod graphalytics;
mod history;
mod progress;
mod run;
mod watch;

#[cfg(feature = "bench")]
pub use weir_bench as bench;
pub use weir_datasets as datasets;
pub use weir_engine as engine;
pub use weir_jobs as jobs;
pub use weir_jobs::{Job, Registry};
pub use weir_operators as operators;
pub use weir_operators::prelude;

/// Runs the `weir` command line with `registry`'s jobs; returns the process exit code.
pub fn main_with(registry: Registry) -> std::process::ExitCode {
    allocator::return_large_buffers_to_the_os();
    cli::main_with(registry)
}
