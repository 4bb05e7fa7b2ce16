//! `map`: one record in, one record out.

use std::sync::Arc;

use crate::dataset::{Data, Dataset};

impl<T: Data> Dataset<T> {
    /// Applies `f` to every record.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| ctx.parallelize(vec![1, 2, 3], 2)?.map(|x| x * 10).collect());
    /// assert_eq!(out, vec![10, 20, 30]);
    /// ```
    pub fn map<U: Data>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> Dataset<U> {
        let f = Arc::new(f);
        self.narrow("map", false, move |_, records, _| {
            let f = f.clone();
            Box::new(records.map(move |x| f(x)))
        })
    }
}

impl<K: Data, V: Data> Dataset<(K, V)> {
    /// Applies `f` to the values of a keyed dataset, keeping keys and partitioning.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| ctx.parallelize(vec![('a', 1)], 1)?.map_values(|v| v + 1).collect());
    /// assert_eq!(out, vec![('a', 2)]);
    /// ```
    pub fn map_values<U: Data>(
        &self,
        f: impl Fn(V) -> U + Send + Sync + 'static,
    ) -> Dataset<(K, U)> {
        let f = Arc::new(f);
        self.narrow("map_values", true, move |_, records, _| {
            let f = f.clone();
            Box::new(records.map(move |(k, v)| (k, f(v))))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local;

    #[test]
    fn map_runs_on_every_partition_in_order() {
        let out = local(|ctx| {
            ctx.parallelize((0..100).collect::<Vec<i64>>(), 7)?
                .map(|x| x * x)
                .collect()
        });
        assert_eq!(out, (0..100).map(|x| x * x).collect::<Vec<i64>>());
    }
}
