//! `aggregate_by_key`: folds each key's values into an accumulator of another type, starting
//! from a zero value, combining on the map side before the shuffle.

use std::sync::Arc;

use crate::dataset::{Data, Dataset, Key};
use crate::shuffle::{combine_by_key, Aggregator};

impl<K: Key, V: Data> Dataset<(K, V)> {
    /// Folds each key's values into a `C`: every map partition starts each key at a copy of
    /// `zero` and folds its values in with `seq`; the partial results are then merged with
    /// `comb`. The result has the default number of partitions, hash-partitioned by key.
    ///
    /// `zero` must be neutral for `comb`, and `comb` associative and commutative, since the
    /// number and order of partial results depends on the partitioning.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// // Sum and count per key, for a mean.
    /// let mut out = weir_operators::testing::local(|ctx| {
    ///     ctx.parallelize(vec![('a', 1u64), ('b', 5), ('a', 3)], 2)?
    ///         .aggregate_by_key((0u64, 0u64), |(s, n), v| (s + v, n + 1), |a, b| (a.0 + b.0, a.1 + b.1))
    ///         .collect()
    /// });
    /// out.sort();
    /// assert_eq!(out, vec![('a', (4, 2)), ('b', (5, 1))]);
    /// ```
    pub fn aggregate_by_key<C: Data>(
        &self,
        zero: C,
        seq: impl Fn(C, V) -> C + Send + Sync + 'static,
        comb: impl Fn(C, C) -> C + Send + Sync + 'static,
    ) -> Dataset<(K, C)> {
        let seq = Arc::new(seq);
        let first = seq.clone();
        let aggregator = Aggregator {
            create: Arc::new(move |v| first(zero.clone(), v)),
            merge_value: Arc::new(move |c, v| seq(c, v)),
            merge_combiners: Arc::new(comb),
        };
        combine_by_key(
            self,
            "aggregate_by_key",
            self.ctx.parallelism(),
            aggregator,
            true,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::{local, local_with};
    use crate::Partitioning;
    use std::collections::BTreeMap;

    #[test]
    fn matches_a_sequential_fold_into_another_type() {
        let data: Vec<(u32, u32)> = (0..5_000u32).map(|i| (i * 7919 % 37, i)).collect();
        // Per key: (sum, max, count).
        let mut expected: BTreeMap<u32, (u64, u32, u32)> = BTreeMap::new();
        for &(k, v) in &data {
            let e = expected.entry(k).or_insert((0, 0, 0));
            *e = (e.0 + v as u64, e.1.max(v), e.2 + 1);
        }
        for (threads, partitions) in [(1, 1), (2, 4), (3, 7)] {
            let data = data.clone();
            let out = local_with(threads, move |ctx| {
                ctx.parallelize(data, partitions)?
                    .aggregate_by_key(
                        (0u64, 0u32, 0u32),
                        |(s, m, n), v| (s + v as u64, m.max(v), n + 1),
                        |a, b| (a.0 + b.0, a.1.max(b.1), a.2 + b.2),
                    )
                    .collect()
            });
            assert_eq!(out.len(), expected.len());
            let got: BTreeMap<u32, (u64, u32, u32)> = out.into_iter().collect();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn the_result_is_hash_partitioned_and_empty_input_gives_nothing() {
        let (partitioning, parts, out) = local(|ctx| {
            let ds = ctx
                .parallelize(Vec::<(String, u8)>::new(), 3)?
                .aggregate_by_key(
                    Vec::<u8>::new(),
                    |mut c, v| {
                        c.push(v);
                        c
                    },
                    |mut a, b| {
                        a.extend(b);
                        a
                    },
                );
            Ok((ds.partitioning(), ds.num_partitions(), ds.collect()?))
        });
        assert_eq!(partitioning, Some(Partitioning::Hash(parts)));
        assert!(out.is_empty());
    }
}
