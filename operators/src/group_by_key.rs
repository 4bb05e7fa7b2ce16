//! `group_by_key`: gathers each key's values into one vector.
//!
//! There is no map-side combine: grouping does not shrink the data, so building per-key
//! vectors before the shuffle would only cost memory (Spark makes the same choice). Prefer
//! `reduce_by_key` or `aggregate_by_key` when the values are folded afterwards anyway.

use std::sync::Arc;

use crate::dataset::{Data, Dataset, Key};
use crate::shuffle::{combine_by_key, Aggregator};

impl<K: Key, V: Data> Dataset<(K, V)> {
    /// Each key with all of its values, into the default number of partitions,
    /// hash-partitioned by key. The order of the values within a group is not specified.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let mut out = weir_operators::testing::local(|ctx| {
    ///     ctx.parallelize(vec![('a', 1), ('b', 2), ('a', 3)], 2)?.group_by_key().collect()
    /// });
    /// out.sort();
    /// for (_, values) in &mut out {
    ///     values.sort();
    /// }
    /// assert_eq!(out, vec![('a', vec![1, 3]), ('b', vec![2])]);
    /// ```
    pub fn group_by_key(&self) -> Dataset<(K, Vec<V>)> {
        let aggregator = Aggregator {
            create: Arc::new(|v| vec![v]),
            merge_value: Arc::new(|mut c: Vec<V>, v| {
                c.push(v);
                c
            }),
            merge_combiners: Arc::new(|mut a: Vec<V>, mut b: Vec<V>| {
                if a.len() < b.len() {
                    std::mem::swap(&mut a, &mut b);
                }
                a.append(&mut b);
                a
            }),
        };
        combine_by_key(
            self,
            "group_by_key",
            self.ctx.parallelism(),
            aggregator,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local_with;
    use crate::Partitioning;
    use std::collections::BTreeMap;

    #[test]
    fn matches_a_sequential_grouping() {
        let data: Vec<(String, u32)> = (0..3_000u32)
            .map(|i| (format!("k{}", i * 31 % 53), i))
            .collect();
        let mut expected: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (k, v) in &data {
            expected.entry(k.clone()).or_default().push(*v);
        }
        for (threads, partitions) in [(1, 1), (2, 5), (3, 8)] {
            let data = data.clone();
            let out = local_with(threads, move |ctx| {
                let ds = ctx.parallelize(data, partitions)?.group_by_key();
                assert_eq!(
                    ds.partitioning(),
                    Some(Partitioning::Hash(ds.num_partitions()))
                );
                ds.collect()
            });
            assert_eq!(out.len(), expected.len(), "a key appears twice");
            let got: BTreeMap<String, Vec<u32>> = out
                .into_iter()
                .map(|(k, mut vs)| {
                    vs.sort();
                    (k, vs)
                })
                .collect();
            assert_eq!(got, expected);
        }
    }
}
