//! Weir's measuring tools, kept out of the library a user's binary links: `weir bench`
//! (speedup, compare and the contender processes), the single-threaded baselines that set
//! the COST bar, the timely-dataflow and differential-dataflow peers, and the plots.
//!
//! The `weir` binary turns these on with its default `bench` feature and hands them a
//! [`Host`]: its job registry and the way it runs a job (`weir run`), so this crate needs
//! nothing of the `weir` crate itself.

pub mod baselines;
pub mod bench;
pub mod peers;

use weir_engine::JobMetrics;
use weir_jobs::Registry;

pub use bench::{bench_command, BenchCommand};

/// Runs a registered job quietly (no output, no progress bars) on `workers` local worker
/// processes with `threads` task threads each, as `weir run` does, and returns its metrics.
pub type RunJob =
    dyn Fn(&Registry, &str, &[String], usize, usize) -> anyhow::Result<JobMetrics> + Sync;

/// What the measuring tools need of the binary that runs them.
pub struct Host<'a> {
    /// The jobs the binary knows.
    pub registry: &'a Registry,
    /// How the binary runs one of them.
    pub run_job: &'a RunJob,
}

impl Host<'_> {
    /// Runs `job` with `args` on `workers` worker processes of `threads` threads each.
    pub fn run(
        &self,
        job: &str,
        args: &[String],
        workers: usize,
        threads: usize,
    ) -> anyhow::Result<JobMetrics> {
        (self.run_job)(self.registry, job, args, workers, threads)
    }
}
