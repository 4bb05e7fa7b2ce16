//! `take` and `first`: the first records of a dataset, in partition order, without reading
//! whole partitions.

use std::sync::Arc;

use weir_engine::shuffle::block::{decode_value, encode_value};
use weir_engine::{Result, TaskContext};

use crate::action::FnResultTask;
use crate::dataset::{Data, Dataset};

impl<T: Data> Dataset<T> {
    /// The first `n` records (fewer if the dataset is smaller), partition 0 first. Each
    /// partition stops reading after `n` records. Every process receives the same vector.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| ctx.parallelize((0..100).collect::<Vec<u32>>(), 4)?.take(3));
    /// assert_eq!(out, vec![0, 1, 2]);
    /// ```
    pub fn take(&self, n: usize) -> Result<Vec<T>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let node = self.node.clone();
        let task = FnResultTask(move |p, tc: &TaskContext| {
            let records: Vec<T> = node.compute(p, tc)?.take(n).collect();
            tc.check()?;
            tc.with_metrics(|m| m.records_out += records.len() as u64);
            encode_value(&records)
        });
        self.ctx
            .run_action("take", self.id, Arc::new(task), move |parts| {
                let mut out = Vec::new();
                for bytes in parts {
                    if out.len() >= n {
                        break;
                    }
                    out.extend(decode_value::<Vec<T>>(&bytes)?);
                }
                out.truncate(n);
                Ok(out)
            })
    }

    /// The first record, if there is one.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let (first, none) = weir_operators::testing::local(|ctx| {
    ///     let words = ctx.parallelize(vec!["x".to_string(), "y".to_string()], 2)?;
    ///     Ok((words.first()?, words.filter(|_| false).first()?))
    /// });
    /// assert_eq!((first, none), (Some("x".to_string()), None));
    /// ```
    pub fn first(&self) -> Result<Option<T>> {
        Ok(self.take(1)?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::{local, local_with};

    #[test]
    fn matches_the_prefix_of_the_sequence() {
        let data: Vec<u32> = (0..1_000).collect();
        for threads in [1, 3] {
            for partitions in [1, 4, 7] {
                let d = data.clone();
                let got = local_with(threads, move |ctx| {
                    let ds = ctx.parallelize(d, partitions)?;
                    let mut got = Vec::new();
                    for n in [0, 1, 5, 142, 999, 1_000, 5_000] {
                        got.push((n, ds.take(n)?));
                    }
                    Ok(got)
                });
                for (n, records) in got {
                    assert_eq!(records, data[..n.min(data.len())].to_vec(), "take({n})");
                }
            }
        }
    }

    #[test]
    fn skips_empty_leading_partitions() {
        let (some, first) = local(|ctx| {
            let ds = ctx.generate(100, 5, |i| i)?.filter(|i| *i >= 60);
            Ok((ds.take(3)?, ds.first()?))
        });
        assert_eq!(some, vec![60, 61, 62]);
        assert_eq!(first, Some(60));
    }

    #[test]
    fn each_partition_stops_reading_after_n() {
        let read = local(|ctx| {
            let reads = ctx.counter("reads");
            let ds = ctx.generate(40_000, 4, |i| i)?.map(move |x| {
                reads.add(1);
                x
            });
            assert_eq!(ds.take(5)?, vec![0, 1, 2, 3, 4]);
            Ok(ctx.counter_values()?.get("reads").copied().unwrap_or(0))
        });
        assert!(read <= 4 * 5, "read {read} records");
    }
}
