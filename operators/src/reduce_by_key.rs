//! `reduce_by_key`: folds the values of each key with an associative function, combining on
//! the map side before the shuffle.

use std::sync::Arc;

use crate::dataset::{Data, Dataset, Key};
use crate::shuffle::{combine_by_key, Aggregator};

impl<K: Key, V: Data> Dataset<(K, V)> {
    /// Folds each key's values with `f` (associative and commutative), into the default
    /// number of partitions.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let mut out = weir_operators::testing::local(|ctx| {
    ///     ctx.parallelize(vec![('a', 1), ('b', 1), ('a', 1)], 2)?.reduce_by_key(|x, y| x + y).collect()
    /// });
    /// out.sort();
    /// assert_eq!(out, vec![('a', 2), ('b', 1)]);
    /// ```
    pub fn reduce_by_key(&self, f: impl Fn(V, V) -> V + Send + Sync + 'static) -> Dataset<(K, V)> {
        self.reduce_by_key_into(self.ctx.parallelism(), f)
    }

    /// [`reduce_by_key`](Self::reduce_by_key) into `partitions` partitions.
    pub fn reduce_by_key_into(
        &self,
        partitions: usize,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
    ) -> Dataset<(K, V)> {
        combine_by_key(self, "reduce_by_key", partitions, fold_with(f), true)
    }

    /// [`reduce_by_key`](Self::reduce_by_key) for records already folded per key within each
    /// partition (by a `map_partitions` pre-aggregation): skips the map-side combine, which
    /// would find nothing left to fold.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let mut out = weir_operators::testing::local(|ctx| {
    ///     ctx.parallelize(vec![('a', 2), ('b', 1), ('a', 3)], 3)?.reduce_by_key_precombined(|x, y| x + y).collect()
    /// });
    /// out.sort();
    /// assert_eq!(out, vec![('a', 5), ('b', 1)]);
    /// ```
    pub fn reduce_by_key_precombined(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
    ) -> Dataset<(K, V)> {
        combine_by_key(
            self,
            "reduce_by_key",
            self.ctx.parallelism(),
            fold_with(f),
            false,
        )
    }
}

/// The aggregator that folds values with `f`: a value is its own combiner.
fn fold_with<V: Data>(f: impl Fn(V, V) -> V + Send + Sync + 'static) -> Aggregator<V, V> {
    let f = Arc::new(f);
    let g = f.clone();
    Aggregator {
        create: Arc::new(|v| v),
        merge_value: Arc::new(move |a, b| f(a, b)),
        merge_combiners: Arc::new(move |a, b| g(a, b)),
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local_with;
    use std::collections::BTreeMap;

    #[test]
    fn matches_a_sequential_fold() {
        let data: Vec<(u32, u64)> = (0..10_000u64)
            .map(|i| ((i * 7919 % 101) as u32, i))
            .collect();
        let mut expected: BTreeMap<u32, u64> = BTreeMap::new();
        for (k, v) in &data {
            *expected.entry(*k).or_default() += v;
        }
        for threads in [1, 3] {
            let data = data.clone();
            let out = local_with(threads, move |ctx| {
                ctx.parallelize(data, 5)?
                    .reduce_by_key(|a, b| a + b)
                    .collect()
            });
            let got: BTreeMap<u32, u64> = out.into_iter().collect();
            assert_eq!(got, expected);
        }
    }
}
