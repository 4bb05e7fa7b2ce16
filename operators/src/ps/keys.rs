//! How a parameter table's keys are laid out over the server shards: keys `0..keys`,
//! each holding `width` floats, cut into contiguous ranges, one per shard (range
//! partitioning, as in the parameter server: a trainer's sorted keys split into one
//! request per shard by a walk, not a hash per key).

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// The keys of a parameter table and their shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLayout {
    /// Keys are `0..keys`.
    pub keys: u64,
    /// Floats per key.
    pub width: usize,
    /// Server shards.
    pub shards: u32,
}

impl KeyLayout {
    /// A layout of `keys` keys of `width` floats over `shards` shards (at least one).
    pub fn new(keys: u64, width: usize, shards: u32) -> Self {
        KeyLayout {
            keys,
            width: width.max(1),
            shards: shards.max(1),
        }
    }

    /// The keys shard `shard` holds.
    pub fn range(&self, shard: u32) -> Range<u64> {
        let bound = |s: u64| (self.keys as u128 * s as u128 / self.shards as u128) as u64;
        bound(shard as u64)..bound(shard as u64 + 1)
    }

    /// The shard holding `key`.
    pub fn shard_of(&self, key: u64) -> u32 {
        // The first shard whose range ends after the key.
        let guess = (key as u128 * self.shards as u128 / self.keys.max(1) as u128) as u32;
        let mut s = guess.min(self.shards - 1);
        while s > 0 && self.range(s).start > key {
            s -= 1;
        }
        while s + 1 < self.shards && self.range(s).end <= key {
            s += 1;
        }
        s
    }

    /// Cuts sorted `keys` into one run per shard: `(shard, start..end)` indexes of `keys`,
    /// empty runs included, in shard order.
    pub fn split(&self, keys: &[u64]) -> Vec<(u32, Range<usize>)> {
        let mut runs = Vec::with_capacity(self.shards as usize);
        let mut start = 0;
        for shard in 0..self.shards {
            let end_key = self.range(shard).end;
            let end = start + keys[start..].partition_point(|k| *k < end_key);
            let end = if shard + 1 == self.shards {
                keys.len()
            } else {
                end
            };
            runs.push((shard, start..end));
            start = end;
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_keys_and_each_key_finds_its_shard() {
        for (keys, shards) in [(10, 3), (1, 4), (1_000_003, 7), (5, 5)] {
            let layout = KeyLayout::new(keys, 1, shards);
            let mut next = 0;
            for s in 0..shards {
                let r = layout.range(s);
                assert_eq!(r.start, next);
                for k in r.clone() {
                    assert_eq!(layout.shard_of(k), s, "key {k} of {keys} over {shards}");
                }
                next = r.end;
            }
            assert_eq!(next, keys);
        }
    }

    #[test]
    fn sorted_keys_split_into_one_run_per_shard() {
        let layout = KeyLayout::new(100, 1, 4);
        let keys = [0, 3, 24, 25, 26, 80, 99];
        let runs = layout.split(&keys);
        assert_eq!(
            runs,
            vec![(0, 0..3), (1, 3..5), (2, 5..5), (3, 5..7)],
            "{runs:?}"
        );
    }
}
