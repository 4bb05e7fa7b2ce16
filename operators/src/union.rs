//! `union`: the records of two datasets, with no shuffle: the result's partitions are the
//! partitions of the first dataset followed by those of the second.

use weir_engine::plan::Dependency;

use crate::dataset::{Data, Dataset, NodeBuilder};

impl<T: Data> Dataset<T> {
    /// All records of `self` and of `other` (duplicates kept), `self`'s partitions first.
    /// Each partition is read narrowly from the side it comes from.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| {
    ///     let a = ctx.parallelize(vec![1, 2], 2)?;
    ///     let b = ctx.parallelize(vec![2, 3, 4], 1)?;
    ///     a.union(&b).collect()
    /// });
    /// assert_eq!(out, vec![1, 2, 2, 3, 4]);
    /// ```
    pub fn union(&self, other: &Dataset<T>) -> Dataset<T> {
        let (first, second) = (self.num_partitions(), other.num_partitions());
        let dependencies = vec![
            Dependency::Range {
                parent: self.id,
                offset: 0,
                len: first,
            },
            Dependency::Range {
                parent: other.id,
                offset: first,
                len: second,
            },
        ];
        let (left, right) = (self.node.clone(), other.node.clone());
        NodeBuilder::new("union", first + second, dependencies).build(&self.ctx, move |p, tc| {
            if p < first {
                left.compute(p, tc)
            } else {
                right.compute(p - first, tc)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local_with;

    #[test]
    fn concatenates_partitions_in_order() {
        for threads in [1, 3] {
            let (parts, out) = local_with(threads, |ctx| {
                let a = ctx.generate(100, 3, |i| i)?;
                let b = ctx.generate(50, 4, |i| 1_000 + i)?;
                let u = a.union(&b);
                Ok((u.num_partitions(), u.collect()?))
            });
            let expected: Vec<u64> = (0..100).chain(1_000..1_050).collect();
            assert_eq!(parts, 7);
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn unions_of_shuffled_persisted_and_same_datasets() {
        let (out, total) = local_with(3, |ctx| {
            let counts = ctx
                .parallelize((0..90u32).map(|i| (i % 9, 1u32)).collect(), 4)?
                .reduce_by_key(|a, b| a + b);
            let cached = ctx.parallelize(vec![(100u32, 1u32)], 1)?.persist();
            let u = counts.union(&cached).union(&cached);
            let twice = u.union(&u);
            Ok((
                u.collect()?,
                twice.map(|(_, n)| n as u64).collect()?.iter().sum::<u64>(),
            ))
        });
        let mut out = out;
        out.sort();
        let mut expected: Vec<(u32, u32)> = (0..9).map(|k| (k, 10)).collect();
        expected.extend([(100, 1), (100, 1)]);
        assert_eq!(out, expected);
        assert_eq!(total, 2 * (90 + 2));
    }
}
