//! `filter`: keeps the records a predicate accepts.

use std::sync::Arc;

use crate::dataset::{Data, Dataset};

impl<T: Data> Dataset<T> {
    /// Keeps the records for which `keep` returns true.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| ctx.parallelize((1..=6).collect::<Vec<u32>>(), 2)?.filter(|x| x % 2 == 0).collect());
    /// assert_eq!(out, vec![2, 4, 6]);
    /// ```
    pub fn filter(&self, keep: impl Fn(&T) -> bool + Send + Sync + 'static) -> Dataset<T> {
        let keep = Arc::new(keep);
        self.narrow("filter", true, move |_, records, _| {
            let keep = keep.clone();
            Box::new(records.filter(move |x| keep(x)))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local;

    #[test]
    fn filter_can_drop_everything() {
        let out = local(|ctx| {
            ctx.parallelize(vec![1, 2, 3], 3)?
                .filter(|_| false)
                .collect()
        });
        assert!(out.is_empty());
    }
}
