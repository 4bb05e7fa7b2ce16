//! `cogroup`: for every key of either of two keyed datasets, its values on each side.
//!
//! Both sides are hash-partitioned the same way (a side already partitioned that way is
//! used as it is, with no shuffle), then partition `p` of the result reads partition `p` of
//! each side narrowly. Keeping a large, reused side hash-partitioned and persisted (the links
//! of PageRank) means only the other side moves on each iteration. `join` and
//! `left_outer_join` are built on this.

use weir_engine::plan::Dependency;

use crate::dataset::{Data, Dataset, Key, NodeBuilder, Partitioning, Records};
use crate::shuffle::{hash_partitioned, FxHashMap};

impl<K: Key, V: Data> Dataset<(K, V)> {
    /// Each key found on either side, with its values from `self` and from `other`
    /// (one of the two vectors may be empty). The result is hash-partitioned over the
    /// partition count of whichever side is already hash-partitioned (`self` first), or
    /// the default number of partitions, so it can itself be joined without a shuffle.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let mut out = weir_operators::testing::local(|ctx| {
    ///     let ages = ctx.parallelize(vec![('a', 30), ('b', 40)], 2)?;
    ///     let pets = ctx.parallelize(vec![('a', "cat".to_string()), ('c', "dog".to_string())], 1)?;
    ///     ages.cogroup(&pets).collect()
    /// });
    /// out.sort();
    /// assert_eq!(out, vec![
    ///     ('a', (vec![30], vec!["cat".to_string()])),
    ///     ('b', (vec![40], vec![])),
    ///     ('c', (vec![], vec!["dog".to_string()])),
    /// ]);
    /// ```
    #[allow(clippy::type_complexity)] // the shape is the point: a key and both sides' values
    pub fn cogroup<W: Data>(&self, other: &Dataset<(K, W)>) -> Dataset<(K, (Vec<V>, Vec<W>))> {
        let partitions = match (self.partitioning, other.partitioning) {
            (Some(Partitioning::Hash(n)), _) | (None, Some(Partitioning::Hash(n))) => n,
            (None, None) => self.ctx.parallelism(),
        }
        .max(1);
        let left = hash_partitioned(self, "cogroup", partitions);
        let right = hash_partitioned(other, "cogroup", partitions);
        let dependencies = vec![
            Dependency::OneToOne { parent: left.id },
            Dependency::OneToOne { parent: right.id },
        ];
        let (left, right) = (left.node, right.node);
        let mut out =
            NodeBuilder::new("cogroup", partitions, dependencies).build(&self.ctx, move |p, tc| {
                let mut table: FxHashMap<K, (Vec<V>, Vec<W>)> = FxHashMap::default();
                for (k, v) in left.compute(p, tc)? {
                    table.entry(k).or_default().0.push(v);
                }
                tc.check()?;
                for (k, w) in right.compute(p, tc)? {
                    table.entry(k).or_default().1.push(w);
                }
                tc.check()?;
                Ok(Box::new(table.into_iter()) as Records<(K, (Vec<V>, Vec<W>))>)
            });
        out.partitioning = Some(Partitioning::Hash(partitions));
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::prelude::*;
    use crate::testing::local_with;
    use crate::Partitioning;
    use std::collections::BTreeMap;

    /// Shuffles registered in the job's plan so far.
    pub(crate) fn shuffles(ctx: &JobContext) -> usize {
        (0..)
            .take_while(|&i| ctx.plan().shuffle(i).is_some())
            .count()
    }

    type Group = (Vec<u32>, Vec<String>);
    type Groups = BTreeMap<u32, Group>;
    type Left = Vec<(u32, u32)>;
    type Right = Vec<(u32, String)>;

    fn sequential(left: &[(u32, u32)], right: &[(u32, String)]) -> Groups {
        let mut out = Groups::new();
        for (k, v) in left {
            out.entry(*k).or_default().0.push(*v);
        }
        for (k, w) in right {
            out.entry(*k).or_default().1.push(w.clone());
        }
        for (vs, ws) in out.values_mut() {
            vs.sort();
            ws.sort();
        }
        out
    }

    fn normalised(out: Vec<(u32, Group)>) -> Groups {
        let n = out.len();
        let groups: Groups = out
            .into_iter()
            .map(|(k, (mut vs, mut ws))| {
                vs.sort();
                ws.sort();
                (k, (vs, ws))
            })
            .collect();
        assert_eq!(groups.len(), n, "a key appears twice");
        groups
    }

    fn sides() -> (Left, Right) {
        let left = (0..2_000u32).map(|i| (i * 7 % 150, i)).collect();
        let right = (0..500u32)
            .map(|i| (i * 13 % 200 + 50, format!("w{i}")))
            .collect();
        (left, right)
    }

    #[test]
    fn matches_a_sequential_cogroup() {
        let (left, right) = sides();
        let expected = sequential(&left, &right);
        for (threads, lp, rp) in [(1, 1, 1), (2, 3, 5), (3, 8, 2)] {
            let (l, r) = (left.clone(), right.clone());
            let (partitioning, parts, out) = local_with(threads, move |ctx| {
                let ds = ctx.parallelize(l, lp)?.cogroup(&ctx.parallelize(r, rp)?);
                Ok((ds.partitioning(), ds.num_partitions(), ds.collect()?))
            });
            assert_eq!(partitioning, Some(Partitioning::Hash(parts)));
            assert_eq!(normalised(out), expected);
        }
    }

    #[test]
    fn a_co_partitioned_side_is_not_shuffled_again() {
        let (left, right) = sides();
        let expected = sequential(&left, &right);
        let (outs, shuffles_added, partitioning) = local_with(3, move |ctx| {
            // Like PageRank's links: partitioned once, persisted, joined every iteration.
            let links = ctx.parallelize(left, 4)?.partition_by_key(5).persist();
            let before = shuffles(ctx);
            let mut outs = Vec::new();
            let mut partitioning = Vec::new();
            for _ in 0..2 {
                let ranks = ctx.parallelize(right.clone(), 3)?;
                let grouped = links.cogroup(&ranks);
                partitioning.push(grouped.partitioning());
                outs.push(grouped.collect()?);
            }
            // The other side as the already partitioned one: its partitioning wins.
            let flipped = ctx.parallelize(right.clone(), 2)?.cogroup(&links);
            partitioning.push(flipped.partitioning());
            Ok((outs, shuffles(ctx) - before, partitioning))
        });
        assert_eq!(shuffles_added, 3, "one shuffle per unpartitioned side only");
        assert!(partitioning
            .iter()
            .all(|p| *p == Some(Partitioning::Hash(5))));
        for out in outs {
            assert_eq!(normalised(out), expected);
        }
    }

    #[test]
    fn cogrouping_two_co_partitioned_sides_adds_no_shuffle() {
        let (added, out) = local_with(2, |ctx| {
            let a = ctx
                .parallelize(vec![(1u32, 1u32), (2, 2)], 2)?
                .partition_by_key(3);
            let b = ctx
                .parallelize(vec![(2u32, "x".to_string())], 1)?
                .partition_by_key(3);
            let before = shuffles(ctx);
            let grouped = a.cogroup(&b);
            Ok((shuffles(ctx) - before, grouped.collect()?))
        });
        assert_eq!(added, 0);
        let mut expected = Groups::new();
        expected.insert(1, (vec![1], vec![]));
        expected.insert(2, (vec![2], vec!["x".to_string()]));
        assert_eq!(normalised(out), expected);
    }
}
