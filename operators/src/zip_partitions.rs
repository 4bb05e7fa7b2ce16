//! `zip_partitions`: a function over partition `p` of two datasets at once, with no
//! shuffle (Spark's `zipPartitions`).
//!
//! The place for co-partitioned state kept in blocks: a graph partition built once and
//! persisted, zipped each iteration with the values of the same vertices. Both sides must
//! have the same number of partitions; whether their records line up is the caller's
//! business, as it is in Spark.

use std::sync::Arc;

use weir_engine::plan::Dependency;
use weir_engine::{Error, Result};

use crate::dataset::{Data, Dataset, NodeBuilder, Records};

impl<T: Data> Dataset<T> {
    /// Partition `p` of the result is what `f` makes of partition `p` of `self` and
    /// partition `p` of `other`. The result keeps `self`'s partitioning when
    /// `keeps_partitioning` is set (for keyed records `f` leaves where they are).
    /// Fails if the two have different partition counts.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| {
    ///     let a = ctx.parallelize(vec![1u64, 2, 3, 4], 2)?;
    ///     let b = ctx.parallelize(vec![10u64, 20, 30, 40], 2)?;
    ///     a.zip_partitions(&b, false, |_, xs, ys| xs.zip(ys).map(|(x, y)| x + y))?
    ///         .collect()
    /// });
    /// assert_eq!(out, vec![11, 22, 33, 44]);
    /// ```
    pub fn zip_partitions<U: Data, R: Data, I>(
        &self,
        other: &Dataset<U>,
        keeps_partitioning: bool,
        f: impl Fn(usize, Records<T>, Records<U>) -> I + Send + Sync + 'static,
    ) -> Result<Dataset<R>>
    where
        I: Iterator<Item = R> + 'static,
    {
        let partitions = self.num_partitions();
        if other.num_partitions() != partitions {
            return Err(Error::Config(format!(
                "zip_partitions needs equal partition counts, got {partitions} and {}",
                other.num_partitions()
            )));
        }
        let dependencies = vec![
            Dependency::OneToOne { parent: self.id },
            Dependency::OneToOne { parent: other.id },
        ];
        let (left, right) = (self.node.clone(), other.node.clone());
        let f = Arc::new(f);
        let mut out = NodeBuilder::new("zip_partitions", partitions, dependencies).build(
            &self.ctx,
            move |p, tc| {
                let a = left.compute(p, tc)?;
                let b = right.compute(p, tc)?;
                Ok(Box::new(f(p, a, b)) as Records<R>)
            },
        );
        if keeps_partitioning {
            out.partitioning = self.partitioning;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::{local, local_with};

    #[test]
    fn pairs_partition_p_with_partition_p() {
        let out = local(|ctx| {
            let a = ctx.parallelize((0..9u32).collect(), 3)?;
            let b = ctx.parallelize((100..106u32).collect(), 3)?;
            a.zip_partitions(&b, false, |p, xs, ys| {
                std::iter::once((p, xs.collect::<Vec<_>>(), ys.collect::<Vec<_>>()))
            })?
            .collect()
        });
        assert_eq!(
            out,
            vec![
                (0, vec![0, 1, 2], vec![100, 101]),
                (1, vec![3, 4, 5], vec![102, 103]),
                (2, vec![6, 7, 8], vec![104, 105]),
            ]
        );
    }

    #[test]
    fn keeps_the_partitioning_only_when_asked() {
        let (kept, dropped) = local(|ctx| {
            let keyed = ctx
                .parallelize((0..20u64).map(|k| (k, k)).collect(), 2)?
                .partition_by_key(4);
            let other = ctx.parallelize((0..4u64).collect(), 4)?;
            let kept = keyed.zip_partitions(&other, true, |_, xs, _| xs)?;
            let dropped = keyed.zip_partitions(&other, false, |_, xs, _| xs)?;
            Ok((kept.partitioning(), dropped.partitioning()))
        });
        assert_eq!(kept, Some(crate::Partitioning::Hash(4)));
        assert_eq!(dropped, None);
    }

    #[test]
    fn refuses_unequal_partition_counts() {
        let message = local(|ctx| {
            let a = ctx.parallelize(vec![1u8, 2], 2)?;
            let b = ctx.parallelize(vec![1u8, 2, 3], 3)?;
            Ok(match a.zip_partitions(&b, false, |_, x, _| x) {
                Ok(_) => String::new(),
                Err(e) => e.to_string(),
            })
        });
        assert!(
            message.contains("equal partition counts, got 2 and 3"),
            "{message}"
        );
    }

    #[test]
    fn works_across_threads_on_persisted_inputs() {
        let sums = local_with(3, |ctx| {
            let a = ctx.parallelize((0..30u64).collect(), 3)?.persist();
            let b = a.map(|x| x * 2).persist();
            let mut sums = a
                .zip_partitions(&b, false, |_, xs, ys| {
                    std::iter::once(xs.zip(ys).map(|(x, y)| x + y).sum::<u64>())
                })?
                .collect()?;
            sums.sort();
            Ok(sums)
        });
        let expected: Vec<u64> = vec![
            (0..10u64).map(|x| 3 * x).sum(),
            (10..20u64).map(|x| 3 * x).sum(),
            (20..30u64).map(|x| 3 * x).sum(),
        ];
        assert_eq!(sums, expected);
    }
}
