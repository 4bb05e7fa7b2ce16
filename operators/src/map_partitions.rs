//! `map_partitions`: a function over a whole partition's record stream.

use std::sync::Arc;

use crate::dataset::{Data, Dataset, Records};

impl<T: Data> Dataset<T> {
    /// Replaces each partition with what `f` makes of its records (and its index). The
    /// place for per-partition state, like a local pre-aggregation.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let sums = weir_operators::testing::local(|ctx| {
    ///     ctx.parallelize((1..=4).collect::<Vec<u64>>(), 2)?
    ///         .map_partitions(|_, records| std::iter::once(records.sum::<u64>()))
    ///         .collect()
    /// });
    /// assert_eq!(sums, vec![3, 7]);
    /// ```
    pub fn map_partitions<U: Data, I>(
        &self,
        f: impl Fn(usize, Records<T>) -> I + Send + Sync + 'static,
    ) -> Dataset<U>
    where
        I: Iterator<Item = U> + 'static,
    {
        let f = Arc::new(f);
        self.narrow("map_partitions", false, move |p, records, _| {
            Box::new(f(p, records))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local;

    #[test]
    fn sees_each_partition_once_with_its_index() {
        let out = local(|ctx| {
            ctx.parallelize((0..9).collect::<Vec<u32>>(), 3)?
                .map_partitions(|p, r| std::iter::once((p, r.count())))
                .collect()
        });
        assert_eq!(out, vec![(0, 3), (1, 3), (2, 3)]);
    }
}
