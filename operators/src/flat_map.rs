//! `flat_map`: one record in, any number out.

use std::sync::Arc;

use crate::dataset::{Data, Dataset};

impl<T: Data> Dataset<T> {
    /// Replaces every record with the records `f` returns.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| {
    ///     ctx.parallelize(vec!["a b".to_string(), "c".to_string()], 2)?
    ///         .flat_map(|line| line.split_whitespace().map(str::to_string).collect::<Vec<_>>())
    ///         .collect()
    /// });
    /// assert_eq!(out, vec!["a", "b", "c"]);
    /// ```
    pub fn flat_map<U: Data, I>(&self, f: impl Fn(T) -> I + Send + Sync + 'static) -> Dataset<U>
    where
        I: IntoIterator<Item = U> + 'static,
    {
        let f = Arc::new(f);
        self.narrow("flat_map", false, move |_, records, _| {
            let f = f.clone();
            Box::new(records.flat_map(move |x| f(x)))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local;

    #[test]
    fn flat_map_expands_and_drops() {
        let out = local(|ctx| {
            ctx.parallelize(vec![0usize, 1, 2, 3], 2)?
                .flat_map(|n| vec![n; n])
                .collect()
        });
        assert_eq!(out, vec![1, 2, 2, 3, 3, 3]);
    }
}
