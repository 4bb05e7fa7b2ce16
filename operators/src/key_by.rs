//! `key_by`: pairs every record with a key computed from it.

use std::sync::Arc;

use crate::dataset::{Data, Dataset};

impl<T: Data> Dataset<T> {
    /// Makes `(key(&record), record)` pairs.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| ctx.parallelize(vec!["bb".to_string()], 1)?.key_by(|s| s.len()).collect());
    /// assert_eq!(out, vec![(2, "bb".to_string())]);
    /// ```
    pub fn key_by<K: Data>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
    ) -> Dataset<(K, T)> {
        let key = Arc::new(key);
        self.narrow("key_by", false, move |_, records, _| {
            let key = key.clone();
            Box::new(records.map(move |x| (key(&x), x)))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local;

    #[test]
    fn keys_every_record() {
        let out = local(|ctx| {
            ctx.parallelize(vec![3u32, 4], 2)?
                .key_by(|x| x % 2)
                .collect()
        });
        assert_eq!(out, vec![(1, 3), (0, 4)]);
    }
}
