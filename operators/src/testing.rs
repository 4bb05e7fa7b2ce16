//! Helpers for tests and doctests: run a job body in-process and get its value back.
//!
//! ```
//! use weir_operators::prelude::*;
//! let n = weir_operators::testing::local(|ctx| ctx.parallelize((0..10).collect::<Vec<u32>>(), 3)?.count());
//! assert_eq!(n, 10);
//! ```

use weir_engine::local::run_local;
use weir_engine::{JobContext, JobOptions, Result};

/// Runs `body` in-process with 2 task threads and returns its value. Panics if the job fails
/// (this is a test helper).
pub fn local<R>(body: impl FnOnce(&JobContext) -> Result<R>) -> R {
    local_with(2, body)
}

/// Runs `body` in-process with `threads` task threads.
pub fn local_with<R>(threads: usize, body: impl FnOnce(&JobContext) -> Result<R>) -> R {
    try_local(threads, body).expect("the job failed")
}

/// Runs `body` in-process with `threads` task threads and returns its outcome.
pub fn try_local<R>(threads: usize, body: impl FnOnce(&JobContext) -> Result<R>) -> Result<R> {
    let options = JobOptions {
        parallelism: threads * 2,
        threads,
        ..JobOptions::default()
    };
    let mut out = None;
    run_local("test", &[], options, Default::default(), |ctx| {
        out = Some(body(ctx)?);
        Ok(())
    })?;
    Ok(out.expect("set when the body succeeds"))
}
