//! Plumbing shared by the actions: a [`ResultTask`] made from a closure.

use weir_engine::plan::ResultTask;
use weir_engine::{TaskContext, TaskError};

/// A result task from a closure.
pub(crate) struct FnResultTask<F>(pub F);

impl<F> ResultTask for FnResultTask<F>
where
    F: Fn(usize, &TaskContext) -> Result<Vec<u8>, TaskError> + Send + Sync + 'static,
{
    fn run(&self, partition: usize, tc: &TaskContext) -> Result<Vec<u8>, TaskError> {
        (self.0)(partition, tc)
    }
}
