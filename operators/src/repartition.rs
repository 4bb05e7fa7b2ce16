//! `repartition` and `partition_by_key`: change how many partitions a dataset has.
//!
//! `repartition` spreads records evenly whatever they are: each map partition deals its
//! records round-robin over the new partitions, starting at a place derived from its own
//! index so that small partitions do not all fill partition 0. The dealing depends only on
//! the partition index and the record's position, so a recomputed partition sends every
//! record where it went before. `partition_by_key` hash-partitions by key instead, which is
//! what lets later joins and cogroups with the same partition count skip their shuffle.

use std::sync::Arc;

use weir_engine::hash::mix64;

use crate::dataset::{Data, Dataset, Key};
use crate::shuffle::{hash_partitioned, partition_by, KeyPartitioner};

impl<T: Data> Dataset<T> {
    /// The same records in `partitions` partitions (at least one) of nearly equal size,
    /// through a shuffle. The order of records is not kept.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let (parts, mut out) = weir_operators::testing::local(|ctx| {
    ///     let ds = ctx.parallelize((0..10).collect::<Vec<u32>>(), 1)?.repartition(3);
    ///     Ok((ds.num_partitions(), ds.collect()?))
    /// });
    /// out.sort();
    /// assert_eq!((parts, out), (3, (0..10).collect::<Vec<u32>>()));
    /// ```
    pub fn repartition(&self, partitions: usize) -> Dataset<T> {
        let partitions = partitions.max(1);
        let n = partitions as u64;
        let keyed = self.narrow("repartition", false, move |p, records, _| {
            // Below `n`, so adding positions never wraps and the dealing stays round-robin.
            let start = mix64(p as u64) % n;
            Box::new(records.enumerate().map(move |(i, x)| (start + i as u64, x)))
        });
        let partitioner: KeyPartitioner<u64> = Arc::new(move |h: &u64| (h % n) as usize);
        partition_by(&keyed, "repartition", partitions, partitioner).narrow(
            "repartition",
            false,
            |_, records, _| Box::new(records.map(|(_, x)| x)),
        )
    }
}

impl<K: Key, V: Data> Dataset<(K, V)> {
    /// The records hash-partitioned by key over `partitions` partitions (at least one),
    /// Spark's `partitionBy`. Nothing moves when the dataset is already partitioned that
    /// way. Persist the result to join it repeatedly with only the other side shuffled.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let same = weir_operators::testing::local(|ctx| {
    ///     let ds = ctx.parallelize(vec![(1u32, 'a'), (2, 'b'), (1, 'c')], 2)?.partition_by_key(4);
    ///     // Both records with key 1 are now in the same partition.
    ///     let with_index = ds.map_partitions(|p, records| records.map(move |(k, _)| (k, p)));
    ///     let placed = with_index.collect()?;
    ///     Ok(placed.iter().filter(|(k, _)| *k == 1).map(|(_, p)| *p).collect::<Vec<_>>())
    /// });
    /// assert_eq!(same.len(), 2);
    /// assert_eq!(same[0], same[1]);
    /// ```
    pub fn partition_by_key(&self, partitions: usize) -> Dataset<(K, V)> {
        hash_partitioned(self, "partition_by_key", partitions.max(1))
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::{local, local_with};
    use crate::Partitioning;
    use weir_engine::hash::partition_of;

    fn partition_sizes<T: Data>(ds: &Dataset<T>) -> Result<Vec<usize>> {
        ds.map_partitions(|_, records| std::iter::once(records.count()))
            .collect()
    }

    #[test]
    fn repartition_keeps_every_record_and_balances() {
        for (threads, from, to) in [(1, 1, 4), (2, 3, 4), (3, 8, 3), (3, 5, 1)] {
            let (sizes, mut out) = local_with(threads, move |ctx| {
                let ds = ctx.generate(10_001, from, |i| i)?.repartition(to);
                Ok((partition_sizes(&ds)?, ds.collect()?))
            });
            out.sort();
            assert_eq!(out, (0..10_001).collect::<Vec<u64>>());
            assert_eq!(sizes.len(), to);
            let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(hi - lo <= from, "uneven: {sizes:?}");
        }
    }

    #[test]
    fn repartition_of_skewed_input_evens_it_out() {
        let sizes = local(|ctx| {
            // One partition holds nearly everything.
            let skewed = ctx
                .generate(4_000, 4, |i| i)?
                .filter(|i| *i < 1_000 || *i == 3_999);
            partition_sizes(&skewed.repartition(4))
        });
        assert_eq!(sizes.iter().sum::<usize>(), 1_001);
        assert!(sizes.iter().all(|&n| (249..=252).contains(&n)), "{sizes:?}");
    }

    #[test]
    fn partition_by_key_places_keys_by_hash() {
        let data: Vec<(String, u32)> = (0..500u32).map(|i| (format!("k{}", i % 37), i)).collect();
        for threads in [1, 3] {
            let data = data.clone();
            let (partitioning, placed) = local_with(threads, move |ctx| {
                let ds = ctx.parallelize(data, 3)?.partition_by_key(5);
                let placed = ds
                    .map_partitions(|p, records| records.map(move |(k, v)| (p, k, v)))
                    .collect()?;
                Ok((ds.partitioning(), placed))
            });
            assert_eq!(partitioning, Some(Partitioning::Hash(5)));
            assert_eq!(placed.len(), 500);
            for (p, k, _) in &placed {
                assert_eq!(*p, partition_of(k, 5));
            }
        }
    }

    #[test]
    fn partition_by_key_twice_shuffles_once() {
        let same = local(|ctx| {
            let a = ctx.parallelize(vec![(1u8, 1u8)], 1)?.partition_by_key(3);
            Ok(a.partition_by_key(3).id() == a.id())
        });
        assert!(same);
    }
}
