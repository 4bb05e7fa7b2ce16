//! `join` and `left_outer_join`: pairs of values sharing a key, built on
//! [`cogroup`](crate::Dataset::cogroup).
//!
//! Each key's cogrouped values are turned into their pairs one at a time, so a key with
//! many values on both sides never has its cross product in memory. The keys are unchanged,
//! so the result keeps the cogroup's hash partitioning.

use std::vec::IntoIter;

use crate::dataset::{Data, Dataset, Key};

/// The cross product of one key's values, streamed: `(key, v, w)` for every `v` then `w`.
struct Pairs<K, V, W> {
    key: K,
    left: Vec<V>,
    right: Vec<W>,
    i: usize,
    j: usize,
}

impl<K: Clone, V: Clone, W: Clone> Pairs<K, V, W> {
    fn new(key: K, left: Vec<V>, right: Vec<W>) -> Self {
        Pairs {
            key,
            left,
            right,
            i: 0,
            j: 0,
        }
    }
}

impl<K: Clone, V: Clone, W: Clone> Iterator for Pairs<K, V, W> {
    type Item = (K, (V, W));

    fn next(&mut self) -> Option<Self::Item> {
        let v = self.left.get(self.i)?;
        let w = self.right.get(self.j)?;
        let item = (self.key.clone(), (v.clone(), w.clone()));
        self.j += 1;
        if self.j == self.right.len() {
            self.j = 0;
            self.i += 1;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let total = self.left.len() * self.right.len();
        let done = self.i * self.right.len() + self.j;
        let left = total.saturating_sub(done);
        (left, Some(left))
    }
}

/// One key's rows of a left outer join.
enum LeftRows<K, V, W> {
    /// The key has values on the right: their cross product.
    Matched(Pairs<K, V, W>),
    /// It has none: each left value with `None`.
    Unmatched(K, IntoIter<V>),
}

impl<K: Clone, V: Clone, W: Clone> Iterator for LeftRows<K, V, W> {
    type Item = (K, (V, Option<W>));

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            LeftRows::Matched(pairs) => pairs.next().map(|(k, (v, w))| (k, (v, Some(w)))),
            LeftRows::Unmatched(key, values) => values.next().map(|v| (key.clone(), (v, None))),
        }
    }
}

impl<K: Key, V: Data> Dataset<(K, V)> {
    /// The inner join: `(k, (v, w))` for every `v` of `self` and `w` of `other` sharing key
    /// `k`. Partitioned like [`cogroup`](Self::cogroup): a side already hash-partitioned is
    /// not shuffled.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let mut out = weir_operators::testing::local(|ctx| {
    ///     let ages = ctx.parallelize(vec![('a', 30), ('b', 40), ('a', 31)], 2)?;
    ///     let pets = ctx.parallelize(vec![('a', "cat".to_string()), ('c', "dog".to_string())], 1)?;
    ///     ages.join(&pets).collect()
    /// });
    /// out.sort();
    /// assert_eq!(out, vec![('a', (30, "cat".to_string())), ('a', (31, "cat".to_string()))]);
    /// ```
    pub fn join<W: Data>(&self, other: &Dataset<(K, W)>) -> Dataset<(K, (V, W))> {
        self.cogroup(other).narrow("join", true, |_, records, _| {
            Box::new(records.flat_map(|(k, (vs, ws))| Pairs::new(k, vs, ws)))
        })
    }

    /// The left outer join: like [`join`](Self::join), and every `v` of `self` whose key has
    /// no value in `other` as `(k, (v, None))`.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let mut out = weir_operators::testing::local(|ctx| {
    ///     let ages = ctx.parallelize(vec![('a', 30), ('b', 40)], 2)?;
    ///     let pets = ctx.parallelize(vec![('a', "cat".to_string()), ('c', "dog".to_string())], 1)?;
    ///     ages.left_outer_join(&pets).collect()
    /// });
    /// out.sort();
    /// assert_eq!(out, vec![('a', (30, Some("cat".to_string()))), ('b', (40, None))]);
    /// ```
    pub fn left_outer_join<W: Data>(
        &self,
        other: &Dataset<(K, W)>,
    ) -> Dataset<(K, (V, Option<W>))> {
        self.cogroup(other)
            .narrow("left_outer_join", true, |_, records, _| {
                Box::new(records.flat_map(|(k, (vs, ws))| {
                    if ws.is_empty() {
                        LeftRows::Unmatched(k, vs.into_iter())
                    } else {
                        LeftRows::Matched(Pairs::new(k, vs, ws))
                    }
                }))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::Pairs;
    use crate::cogroup::tests::shuffles;
    use crate::prelude::*;
    use crate::testing::local_with;
    use crate::Partitioning;

    type Left = Vec<(u32, u32)>;
    type Right = Vec<(u32, String)>;

    fn sides() -> (Left, Right) {
        // Keys 0..60 on the left, 40..100 on the right, several values per key on both.
        let left = (0..600u32).map(|i| (i % 60, i)).collect();
        let right = (0..300u32)
            .map(|i| (40 + i % 60, format!("w{i}")))
            .collect();
        (left, right)
    }

    fn nested_loop_join(left: &Left, right: &Right) -> Vec<(u32, (u32, String))> {
        let mut out = Vec::new();
        for (k, v) in left {
            for (k2, w) in right {
                if k == k2 {
                    out.push((*k, (*v, w.clone())));
                }
            }
        }
        out.sort();
        out
    }

    fn nested_loop_left_outer(left: &Left, right: &Right) -> Vec<(u32, (u32, Option<String>))> {
        let mut out = Vec::new();
        for (k, v) in left {
            let before = out.len();
            for (k2, w) in right {
                if k == k2 {
                    out.push((*k, (*v, Some(w.clone()))));
                }
            }
            if out.len() == before {
                out.push((*k, (*v, None)));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn pairs_stream_the_cross_product_in_order() {
        let pairs: Vec<_> = Pairs::new('k', vec![1, 2], vec!['x', 'y', 'z']).collect();
        assert_eq!(pairs.len(), 6);
        assert_eq!(pairs[0], ('k', (1, 'x')));
        assert_eq!(pairs[5], ('k', (2, 'z')));
        assert_eq!(Pairs::new('k', vec![1], Vec::<u8>::new()).count(), 0);
        assert_eq!(Pairs::new('k', Vec::<u8>::new(), vec![1]).count(), 0);
        assert_eq!(
            Pairs::new('k', vec![1, 2], vec![3]).size_hint(),
            (2, Some(2))
        );
    }

    #[test]
    fn joins_match_nested_loops() {
        let (left, right) = sides();
        let inner = nested_loop_join(&left, &right);
        let outer = nested_loop_left_outer(&left, &right);
        for (threads, lp, rp) in [(1, 1, 1), (2, 4, 3), (3, 7, 5)] {
            let (l, r) = (left.clone(), right.clone());
            let (mut got_inner, mut got_outer, partitioning) = local_with(threads, move |ctx| {
                let l = ctx.parallelize(l, lp)?;
                let r = ctx.parallelize(r, rp)?;
                let joined = l.join(&r);
                let partitioning = (joined.partitioning(), joined.num_partitions());
                Ok((
                    joined.collect()?,
                    l.left_outer_join(&r).collect()?,
                    partitioning,
                ))
            });
            got_inner.sort();
            got_outer.sort();
            assert_eq!(got_inner, inner);
            assert_eq!(got_outer, outer);
            assert_eq!(partitioning.0, Some(Partitioning::Hash(partitioning.1)));
        }
    }

    #[test]
    fn joining_with_a_partitioned_persisted_side_shuffles_only_the_other() {
        let (left, right) = sides();
        let inner = nested_loop_join(&left, &right);
        let (added, mut got) = local_with(3, move |ctx| {
            let links = ctx.parallelize(left, 3)?.partition_by_key(4).persist();
            let before = shuffles(ctx);
            let joined = links.join(&ctx.parallelize(right, 2)?);
            assert_eq!(joined.partitioning(), Some(Partitioning::Hash(4)));
            Ok((shuffles(ctx) - before, joined.collect()?))
        });
        assert_eq!(added, 1);
        got.sort();
        assert_eq!(got, inner);
    }

    #[test]
    fn joining_with_an_empty_side() {
        let out = local_with(2, |ctx| {
            let l = ctx.parallelize(vec![(1u8, 1u8), (2, 2)], 2)?;
            let r = ctx.parallelize(Vec::<(u8, u8)>::new(), 2)?;
            Ok((
                l.join(&r).collect()?,
                l.left_outer_join(&r).collect()?.len(),
            ))
        });
        assert!(out.0.is_empty());
        assert_eq!(out.1, 2);
    }
}
