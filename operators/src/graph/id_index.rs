//! [`IdIndex`]: vertex ids to dense indexes while a graph is built, by direct indexing
//! when the ids are dense enough and by hashing when they are not.
//!
//! Real vertex ids are usually small integers (SNAP, Graphalytics and R-MAT graphs number
//! their vertices from 0 or 1), so a table indexed by `id - min` costs a few bytes per
//! vertex and answers without hashing or searching. Ids spread over a wide range (hashes,
//! sparse keys) fall back to an FxHash table. Either way, [`IdIndex::sorted`] numbers
//! the distinct ids in ascending order, which is how a partition's vertices get their
//! local indexes.

use rustc_hash::FxHashMap;

/// Table entries allowed per indexed id: a table of `u32` spans at most this many times
/// the number of ids (plus [`DIRECT_SLACK`]) before hashing is used instead.
const DIRECT_SPAN_PER_ID: u64 = 32;
/// A span this small always uses a table.
const DIRECT_SLACK: u64 = 1 << 16;

/// No entry in a direct table.
const ABSENT: u32 = u32::MAX;

/// Ids to their indexes.
#[derive(Debug, Clone)]
pub enum IdIndex {
    /// `table[id - min]` is the index of `id`, or [`ABSENT`].
    Direct { min: u64, table: Vec<u32> },
    /// Ids spread too widely for a table.
    Hashed(FxHashMap<u64, u32>),
}

/// Whether ids in `min..=max`, `count` of them, are dense enough for a direct table.
fn direct_span(min: u64, max: u64, count: usize) -> Option<usize> {
    let span = max.checked_sub(min)?.checked_add(1)?;
    let limit = (count as u64)
        .saturating_mul(DIRECT_SPAN_PER_ID)
        .saturating_add(DIRECT_SLACK);
    (span <= limit).then_some(span as usize)
}

impl IdIndex {
    /// The distinct ids among `ids` (several passes over it), ascending, and the index
    /// of each id as its position among them. `count` bounds how many ids there are.
    pub fn sorted<I>(ids: impl Fn() -> I, count: usize) -> (Vec<u64>, IdIndex)
    where
        I: Iterator<Item = u64>,
    {
        IdIndex::sorted_from(|f| ids().for_each(f), count)
    }

    /// As [`sorted`](Self::sorted), with the ids visited by `visit`, which calls its
    /// argument once per id (for ids kept in columns that are cheaper to walk than to
    /// iterate).
    pub fn sorted_from(visit: impl Fn(&mut dyn FnMut(u64)), count: usize) -> (Vec<u64>, IdIndex) {
        let (mut min, mut max) = (u64::MAX, 0);
        visit(&mut |id| {
            min = min.min(id);
            max = max.max(id);
        });
        if let Some(span) = direct_span(min, max, count) {
            let mut table = vec![ABSENT; span];
            visit(&mut |id| table[(id - min) as usize] = 0);
            let mut sorted = Vec::new();
            for (offset, entry) in table.iter_mut().enumerate() {
                if *entry != ABSENT {
                    *entry = sorted.len() as u32;
                    sorted.push(min + offset as u64);
                }
            }
            return (sorted, IdIndex::Direct { min, table });
        }
        let mut sorted: Vec<u64> = Vec::with_capacity(count);
        visit(&mut |id| sorted.push(id));
        sorted.sort_unstable();
        sorted.dedup();
        sorted.shrink_to_fit();
        let index = IdIndex::of_sorted(&sorted);
        (sorted, index)
    }

    /// The index of `sorted` (ascending, distinct): each id to its position.
    pub fn of_sorted(sorted: &[u64]) -> IdIndex {
        IdIndex::with_values(sorted, (0..sorted.len() as u32).collect())
    }

    /// Each of the distinct `ids` (ascending) to the value at its position.
    pub fn with_values(ids: &[u64], values: Vec<u32>) -> IdIndex {
        debug_assert_eq!(ids.len(), values.len());
        let (Some(&min), Some(&max)) = (ids.first(), ids.last()) else {
            return IdIndex::Hashed(FxHashMap::default());
        };
        if let Some(span) = direct_span(min, max, ids.len()) {
            let mut table = vec![ABSENT; span];
            for (&id, &value) in ids.iter().zip(&values) {
                table[(id - min) as usize] = value;
            }
            return IdIndex::Direct { min, table };
        }
        IdIndex::Hashed(ids.iter().copied().zip(values).collect())
    }

    /// The index of `id`, if it has one.
    #[inline]
    pub fn get(&self, id: u64) -> Option<u32> {
        match self {
            IdIndex::Direct { min, table } => {
                let at = id.checked_sub(*min)?;
                match table.get(usize::try_from(at).ok()?) {
                    Some(&ABSENT) | None => None,
                    Some(&i) => Some(i),
                }
            }
            IdIndex::Hashed(map) => map.get(&id).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_ids_use_a_table_and_number_in_ascending_order() {
        let ids = [7u64, 3, 9, 3, 7, 100];
        let (sorted, index) = IdIndex::sorted(|| ids.iter().copied(), ids.len());
        assert_eq!(sorted, vec![3, 7, 9, 100]);
        assert!(matches!(index, IdIndex::Direct { .. }));
        assert_eq!(index.get(3), Some(0));
        assert_eq!(index.get(100), Some(3));
        assert_eq!(index.get(4), None);
        assert_eq!(index.get(2), None);
        assert_eq!(index.get(u64::MAX), None);
    }

    #[test]
    fn sparse_ids_are_hashed_with_the_same_numbering() {
        let ids = [u64::MAX, 5, 1 << 40, 5];
        let (sorted, index) = IdIndex::sorted(|| ids.iter().copied(), ids.len());
        assert_eq!(sorted, vec![5, 1 << 40, u64::MAX]);
        assert!(matches!(index, IdIndex::Hashed(_)));
        assert_eq!(index.get(1 << 40), Some(1));
        assert_eq!(index.get(u64::MAX), Some(2));
        assert_eq!(index.get(6), None);
    }

    #[test]
    fn values_follow_their_ids() {
        let index = IdIndex::with_values(&[10, 20, 30], vec![5, 6, 7]);
        assert_eq!(index.get(20), Some(6));
        assert_eq!(index.get(25), None);
        let empty = IdIndex::with_values(&[], vec![]);
        assert_eq!(empty.get(0), None);
    }
}
