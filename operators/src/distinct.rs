//! `distinct`: each record once, whatever partition its copies were in.
//!
//! Every record is made a key with no value and the keys are combined away, on the map side
//! first, so each map task sends every record it holds at most once.

use std::sync::Arc;

use crate::dataset::{Dataset, Key};
use crate::shuffle::{combine_by_key, Aggregator};

impl<T: Key> Dataset<T> {
    /// The distinct records, in the default number of partitions, in no particular order.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let mut out = weir_operators::testing::local(|ctx| {
    ///     ctx.parallelize(vec![3, 1, 3, 2, 1], 2)?.distinct().collect()
    /// });
    /// out.sort();
    /// assert_eq!(out, vec![1, 2, 3]);
    /// ```
    pub fn distinct(&self) -> Dataset<T> {
        let keyed = self.narrow("distinct", false, |_, records, _| {
            Box::new(records.map(|x| (x, ())))
        });
        let aggregator = Aggregator {
            create: Arc::new(|()| ()),
            merge_value: Arc::new(|(), ()| ()),
            merge_combiners: Arc::new(|(), ()| ()),
        };
        combine_by_key(&keyed, "distinct", self.ctx.parallelism(), aggregator, true).narrow(
            "distinct",
            false,
            |_, records, _| Box::new(records.map(|(x, ())| x)),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local_with;
    use std::collections::BTreeSet;

    #[test]
    fn matches_a_sequential_set() {
        let data: Vec<String> = (0..4_000u32)
            .map(|i| format!("r{}", i * 17 % 301))
            .collect();
        let expected: BTreeSet<String> = data.iter().cloned().collect();
        for (threads, partitions) in [(1, 1), (2, 3), (3, 9)] {
            let data = data.clone();
            let out = local_with(threads, move |ctx| {
                ctx.parallelize(data, partitions)?.distinct().collect()
            });
            assert_eq!(out.len(), expected.len(), "a record appears twice");
            assert_eq!(out.into_iter().collect::<BTreeSet<_>>(), expected);
        }
    }

    #[test]
    fn distinct_of_nothing_and_of_distinct_records() {
        let (empty, same) = local_with(2, |ctx| {
            let empty = ctx.parallelize(Vec::<u64>::new(), 3)?.distinct().count()?;
            let same = ctx.generate(1_000, 4, |i| i)?.distinct().count()?;
            Ok((empty, same))
        });
        assert_eq!((empty, same), (0, 1_000));
    }
}
