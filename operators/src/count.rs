//! `count`: the number of records.

use std::sync::Arc;

use weir_engine::shuffle::block::{decode_value, encode_value};
use weir_engine::Result;

use crate::action::FnResultTask;
use crate::dataset::{Data, Dataset};

impl<T: Data> Dataset<T> {
    /// Counts the records.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let n = weir_operators::testing::local(|ctx| ctx.parallelize(vec![1, 2, 3], 2)?.count());
    /// assert_eq!(n, 3);
    /// ```
    pub fn count(&self) -> Result<u64> {
        let node = self.node.clone();
        let task = FnResultTask(move |p, tc: &weir_engine::TaskContext| {
            let n = node.compute(p, tc)?.count() as u64;
            tc.check()?;
            encode_value(&n)
        });
        self.ctx
            .run_action("count", self.id, Arc::new(task), |parts| {
                let mut total = 0u64;
                for bytes in parts {
                    total += decode_value::<u64>(&bytes)?;
                }
                Ok(total)
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local;

    #[test]
    fn counts_across_partitions() {
        assert_eq!(local(|ctx| ctx.generate(12345, 7, |i| i)?.count()), 12345);
    }
}
