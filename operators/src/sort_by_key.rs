//! `sort_by_key`: a total order over a keyed dataset, by range partitioning.
//!
//! A first pass samples the keys of every partition (a reservoir sample per partition, with
//! the partition's record count so large partitions weigh more), and the driver picks the
//! keys that cut the sample into equal weights. Every process gets the same bounds; records
//! then move to the range their key falls in, and each range is sorted. Partition `i` holds
//! the keys in `(bounds[i - 1], bounds[i]]`, so reading the partitions in order reads the
//! records in key order.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use weir_engine::hash::mix64;
use weir_engine::shuffle::block::{decode_value, encode_value};
use weir_engine::{Result, TaskContext};

use crate::action::FnResultTask;
use crate::dataset::{Data, Dataset, Key};
use crate::shuffle::{partition_by, KeyPartitioner};

/// Sampled keys wanted per output partition, spread over the input partitions.
const SAMPLE_PER_PARTITION: usize = 20;
/// Cap on the sampled keys wanted in all.
const MAX_SAMPLE: usize = 1 << 20;

/// The range a key falls in: the first bound not below it, so a key equal to a bound goes
/// to the lower of the two partitions the bound separates.
fn range_of<K: Ord>(bounds: &[K], key: &K) -> usize {
    bounds.partition_point(|b| b < key)
}

/// Up to `partitions - 1` distinct, increasing bounds cutting the weighted sample into
/// ranges of about equal weight.
fn choose_bounds<K: Ord>(mut weighted: Vec<(K, f64)>, partitions: usize) -> Vec<K> {
    weighted.sort_by(|a, b| a.0.cmp(&b.0));
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    let step = total / partitions as f64;
    let mut bounds: Vec<K> = Vec::with_capacity(partitions.saturating_sub(1));
    let (mut cumulative, mut target) = (0.0, step);
    for (key, weight) in weighted {
        if bounds.len() + 1 >= partitions {
            break;
        }
        cumulative += weight;
        let above_last = match bounds.last() {
            Some(last) => key > *last,
            None => true,
        };
        if cumulative >= target && above_last {
            bounds.push(key);
            target += step;
        }
    }
    bounds
}

impl<K: Key + Ord, V: Data> Dataset<(K, V)> {
    /// The records sorted by key (equal keys in no particular order) across at most
    /// `partitions` partitions, each holding a range of keys: collecting the result gives
    /// the records in key order. There are fewer partitions when the sample shows fewer
    /// distinct keys.
    ///
    /// Runs a sampling pass over the input at once (to choose the ranges), so it returns a
    /// `Result`; persist the input first if it is expensive to compute.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let out = weir_operators::testing::local(|ctx| {
    ///     ctx.parallelize(vec![(3, 'c'), (1, 'a'), (4, 'd'), (2, 'b')], 2)?.sort_by_key(2)?.collect()
    /// });
    /// assert_eq!(out, vec![(1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')]);
    /// ```
    pub fn sort_by_key(&self, partitions: usize) -> Result<Dataset<(K, V)>> {
        let partitions = partitions.max(1);
        let bounds = if partitions == 1 {
            Vec::new()
        } else {
            self.sample_bounds(partitions)?
        };
        let ranges = bounds.len() + 1;
        let bounds = Arc::new(bounds);
        let partitioner: KeyPartitioner<K> = Arc::new(move |k: &K| range_of(&bounds, k));
        let sorted = partition_by(self, "sort_by_key", ranges, partitioner).narrow(
            "sort_by_key",
            false,
            |_, records, _| {
                let mut records: Vec<(K, V)> = records.collect();
                records.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Box::new(records.into_iter())
            },
        );
        Ok(sorted)
    }

    /// Samples the keys of every partition and picks the range bounds on the driver.
    fn sample_bounds(&self, partitions: usize) -> Result<Vec<K>> {
        let inputs = self.num_partitions().max(1);
        let wanted = (SAMPLE_PER_PARTITION * partitions).min(MAX_SAMPLE);
        let per_input = wanted.div_ceil(inputs) + SAMPLE_PER_PARTITION;
        let node = self.node.clone();
        let task = FnResultTask(move |p, tc: &TaskContext| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix64(p as u64));
            let mut sample: Vec<K> = Vec::new();
            let mut seen = 0u64;
            for (key, _) in node.compute(p, tc)? {
                if sample.len() < per_input {
                    sample.push(key);
                } else {
                    let j = rng.gen_range(0..=seen);
                    if let Some(slot) = usize::try_from(j).ok().and_then(|j| sample.get_mut(j)) {
                        *slot = key;
                    }
                }
                seen += 1;
            }
            tc.check()?;
            encode_value(&(seen, sample))
        });
        self.ctx
            .run_action("sample_keys", self.id, Arc::new(task), move |parts| {
                let mut weighted = Vec::new();
                for bytes in parts {
                    let (count, sample) = decode_value::<(u64, Vec<K>)>(&bytes)?;
                    if !sample.is_empty() {
                        let weight = count as f64 / sample.len() as f64;
                        weighted.extend(sample.into_iter().map(|k| (k, weight)));
                    }
                }
                Ok(choose_bounds(weighted, partitions))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::{choose_bounds, range_of};
    use crate::prelude::*;
    use crate::testing::{local, local_with};

    fn sequential_sort(mut data: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
        data.sort();
        data
    }

    /// Sorted by key, and the same records as the sequential sort.
    fn check(mut out: Vec<(u32, u32)>, expected: &[(u32, u32)]) {
        assert!(
            out.windows(2).all(|w| w[0].0 <= w[1].0),
            "not sorted by key"
        );
        let keys: Vec<u32> = expected.iter().map(|r| r.0).collect();
        assert_eq!(out.iter().map(|r| r.0).collect::<Vec<_>>(), keys);
        out.sort();
        assert_eq!(out, expected);
    }

    #[test]
    fn keys_equal_to_a_bound_go_to_the_lower_range() {
        let bounds = [10, 20];
        let got: Vec<usize> = [0, 10, 11, 20, 21]
            .iter()
            .map(|k| range_of(&bounds, k))
            .collect();
        assert_eq!(got, vec![0, 0, 1, 1, 2]);
        assert_eq!(range_of(&[] as &[u8], &5), 0);
    }

    #[test]
    fn bounds_are_distinct_and_follow_the_weights() {
        let sample: Vec<(u32, f64)> = (0..100).map(|k| (k, 1.0)).collect();
        assert_eq!(choose_bounds(sample, 4), vec![24, 49, 74]);
        let same: Vec<(u32, f64)> = vec![(7, 1.0); 50];
        assert_eq!(choose_bounds(same, 4), vec![7]);
        assert!(choose_bounds(Vec::<(u32, f64)>::new(), 4).is_empty());
        // Heavier samples pull the bounds towards them.
        let mut skewed: Vec<(u32, f64)> = (0..10).map(|k| (k, 100.0)).collect();
        skewed.extend((10..100).map(|k| (k, 1.0)));
        assert_eq!(choose_bounds(skewed, 2), vec![5]);
    }

    #[test]
    fn matches_a_sequential_sort_with_balanced_ranges() {
        let data: Vec<(u32, u32)> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) % 100_000, i))
            .collect();
        let expected = sequential_sort(data.clone());
        for (threads, inputs, partitions) in [(1, 1, 3), (2, 4, 4), (3, 7, 5)] {
            let data = data.clone();
            let (sizes, out) = local_with(threads, move |ctx| {
                let sorted = ctx.parallelize(data, inputs)?.sort_by_key(partitions)?;
                let sizes = sorted
                    .map_partitions(|_, r| std::iter::once(r.count()))
                    .collect()?;
                Ok((sizes, sorted.collect()?))
            });
            check(out, &expected);
            assert_eq!(sizes.len(), partitions);
            let even = 20_000 / partitions;
            assert!(
                sizes.iter().all(|&n| n > even / 2 && n < even * 2),
                "unbalanced: {sizes:?}"
            );
        }
    }

    #[test]
    fn skewed_keys_with_many_duplicates() {
        // Key 0 holds most records; a few other keys are repeated too.
        let data: Vec<(u32, u32)> = (0..10_000u32)
            .map(|i| (if i % 10 < 8 { 0 } else { i % 7 }, i))
            .collect();
        let expected = sequential_sort(data.clone());
        for threads in [1, 3] {
            let data = data.clone();
            let (parts, out) = local_with(threads, move |ctx| {
                let sorted = ctx.parallelize(data, 5)?.sort_by_key(6)?;
                Ok((sorted.num_partitions(), sorted.collect()?))
            });
            assert!((1..=6).contains(&parts));
            check(out, &expected);
        }
    }

    #[test]
    fn empty_and_single_partition_sorts() {
        let (empty, one) = local(|ctx| {
            let empty = ctx
                .parallelize(Vec::<(u32, u32)>::new(), 3)?
                .sort_by_key(4)?;
            let one = ctx
                .parallelize(vec![(5u32, 0u32), (1, 1), (3, 2), (1, 3)], 3)?
                .sort_by_key(1)?;
            Ok((
                (empty.num_partitions(), empty.collect()?),
                (one.num_partitions(), one.collect()?),
            ))
        });
        assert_eq!(empty, (1, vec![]));
        assert_eq!(one.0, 1);
        check(
            one.1,
            &sequential_sort(vec![(5, 0), (1, 1), (3, 2), (1, 3)]),
        );
    }

    #[test]
    fn string_keys_from_a_shuffled_input() {
        let words: Vec<String> = (0..3_000u32)
            .map(|i| format!("w{:04}", i * 7 % 1_000))
            .collect();
        let mut expected: Vec<(String, u64)> = words.iter().map(|w| (w.clone(), 3)).collect();
        expected.sort();
        expected.dedup();
        let out = local_with(3, move |ctx| {
            ctx.parallelize(words, 4)?
                .map(|w| (w, 1u64))
                .reduce_by_key(|a, b| a + b)
                .sort_by_key(3)?
                .collect()
        });
        assert_eq!(out, expected);
    }
}
