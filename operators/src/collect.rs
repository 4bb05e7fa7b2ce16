//! `collect`: brings every record to the driver, partitions in order.

use std::sync::Arc;

use weir_engine::shuffle::block::{decode_value, encode_value};
use weir_engine::Result;

use crate::action::FnResultTask;
use crate::dataset::{Data, Dataset};

impl<T: Data> Dataset<T> {
    /// All records, partition 0 first. Every process receives the same vector.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| ctx.parallelize(vec!['x', 'y'], 2)?.collect());
    /// assert_eq!(out, vec!['x', 'y']);
    /// ```
    pub fn collect(&self) -> Result<Vec<T>> {
        let node = self.node.clone();
        let task = FnResultTask(move |p, tc: &weir_engine::TaskContext| {
            let records: Vec<T> = node.compute(p, tc)?.collect();
            tc.check()?;
            tc.with_metrics(|m| m.records_out += records.len() as u64);
            encode_value(&records)
        });
        self.ctx
            .run_action("collect", self.id, Arc::new(task), |parts| {
                let mut out = Vec::new();
                for bytes in parts {
                    out.extend(decode_value::<Vec<T>>(&bytes)?);
                }
                Ok(out)
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local;

    #[test]
    fn collects_an_empty_dataset() {
        let out: Vec<u8> = local(|ctx| ctx.parallelize(Vec::<u8>::new(), 4)?.collect());
        assert!(out.is_empty());
    }
}
