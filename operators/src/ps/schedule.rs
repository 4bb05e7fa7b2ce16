//! Which examples a trainer's minibatch holds: each epoch a seeded shuffle of the
//! partition's examples, cut into the epoch's clocks. A public function, so that a
//! sequential reference can train on exactly the minibatches a distributed run does.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The order partition `partition` visits its `examples` examples in epoch `epoch`.
pub fn epoch_order(examples: usize, partition: usize, epoch: u64, seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..examples as u32).collect();
    let stream = seed
        ^ (partition as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ epoch.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(stream));
    order
}

/// The examples of minibatch `batch` (of `clocks` per epoch) in `order`: an even cut, so
/// a partition smaller than others has smaller (or empty) minibatches.
pub fn minibatch(order: &[u32], batch: u64, clocks: u64) -> &[u32] {
    let n = order.len() as u128;
    let cut = |b: u64| (n * b as u128 / clocks.max(1) as u128) as usize;
    &order[cut(batch)..cut(batch + 1)]
}

/// Clocks per epoch: enough minibatches of at most `batch` examples for the largest
/// partition.
pub fn clocks_per_epoch(largest_partition: usize, batch: usize) -> u64 {
    (largest_partition.div_ceil(batch.max(1))).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_visits_every_example_once_in_a_seeded_order() {
        let order = epoch_order(100, 1, 3, 42);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<u32>>());
        assert_eq!(order, epoch_order(100, 1, 3, 42));
        assert_ne!(order, epoch_order(100, 1, 4, 42));
        assert_ne!(order, epoch_order(100, 2, 3, 42));
    }

    #[test]
    fn minibatches_cut_the_order_evenly() {
        let order: Vec<u32> = (0..10).collect();
        let clocks = clocks_per_epoch(10, 4);
        assert_eq!(clocks, 3);
        let sizes: Vec<usize> = (0..clocks)
            .map(|b| minibatch(&order, b, clocks).len())
            .collect();
        assert_eq!(sizes, vec![3, 3, 4]);
        assert!(minibatch(&order[..1], 0, 3).is_empty());
        assert_eq!(clocks_per_epoch(0, 4), 1);
    }
}
