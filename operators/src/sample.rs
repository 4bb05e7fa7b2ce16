//! `sample`: a random subset of the records, each kept independently with a given
//! probability.
//!
//! Each partition draws from its own generator seeded from the sample's seed and the
//! partition index, so a partition computed again (a retried task, a lost cache) keeps
//! exactly the same records, and the same seed gives the same sample on every run.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use weir_engine::hash::mix64;

use crate::dataset::{Data, Dataset};

/// The generator partition `partition` of a sample with `seed` draws from.
fn partition_rng(seed: u64, partition: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(mix64(seed ^ partition as u64))
}

impl<T: Data> Dataset<T> {
    /// Keeps each record with probability `fraction` (clamped to `[0, 1]`; NaN keeps
    /// nothing), deterministically for a given `seed`. Partitioning is kept.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let (a, b, all) = weir_operators::testing::local(|ctx| {
    ///     let ds = ctx.parallelize((0..1_000).collect::<Vec<u32>>(), 4)?;
    ///     Ok((ds.sample(0.1, 7).collect()?, ds.sample(0.1, 7).collect()?, ds.sample(1.0, 7).count()?))
    /// });
    /// assert_eq!(a, b); // the same seed keeps the same records
    /// assert!(a.len() > 50 && a.len() < 150);
    /// assert_eq!(all, 1_000);
    /// ```
    pub fn sample(&self, fraction: f64, seed: u64) -> Dataset<T> {
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self.narrow("sample", true, move |p, records, _| {
            let mut rng = partition_rng(seed, p);
            Box::new(records.filter(move |_| rng.gen::<f64>() < fraction))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::partition_rng;
    use crate::prelude::*;
    use crate::testing::{local, local_with};
    use rand::Rng;

    /// Records tagged with the partition they are in.
    fn tagged(ctx: &JobContext, n: u64, partitions: usize) -> Result<Dataset<(usize, u64)>> {
        Ok(ctx
            .generate(n, partitions, |i| i)?
            .map_partitions(|p, records| records.map(move |x| (p, x))))
    }

    /// The same Bernoulli draws, made one partition after another.
    fn sequential(records: &[(usize, u64)], fraction: f64, seed: u64) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        let mut current = None;
        let mut rng = partition_rng(seed, 0);
        for &(p, x) in records {
            if current != Some(p) {
                current = Some(p);
                rng = partition_rng(seed, p);
            }
            if rng.gen::<f64>() < fraction {
                out.push((p, x));
            }
        }
        out
    }

    #[test]
    fn matches_sequential_draws() {
        for (threads, partitions) in [(1, 1), (2, 4), (3, 9)] {
            let (all, sampled) = local_with(threads, move |ctx| {
                let ds = tagged(ctx, 5_000, partitions)?;
                Ok((ds.collect()?, ds.sample(0.3, 42).collect()?))
            });
            assert_eq!(sampled, sequential(&all, 0.3, 42));
            assert!((1_200..1_800).contains(&sampled.len()), "{}", sampled.len());
        }
    }

    #[test]
    fn recomputation_and_seeds() {
        let (first, again, other) = local(|ctx| {
            let ds = ctx.generate(2_000, 3, |i| i)?;
            let s = ds.sample(0.5, 1);
            Ok((s.collect()?, s.collect()?, ds.sample(0.5, 2).collect()?))
        });
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn fractions_outside_the_unit_interval_clamp() {
        let counts = local(|ctx| {
            let ds = ctx.generate(500, 3, |i| i)?;
            let mut counts = Vec::new();
            for f in [-1.0, 0.0, 1.0, 2.5, f64::NAN] {
                counts.push(ds.sample(f, 9).count()?);
            }
            Ok(counts)
        });
        assert_eq!(counts, vec![0, 0, 500, 500, 0]);
    }
}
