//! Key caching (the parameter server paper's §5.2): a trainer that sends a shard the same
//! key list as the last time (a minibatch's push after its pull, a dense model's every
//! pull and push) sends only the list's length, and the shard uses the rows it resolved
//! the list to the last time.
//!
//! Each side keeps one list per peer: the trainer, the keys it last listed to each shard
//! ([`SentKeys`]); the shard, the rows of the keys each trainer last listed to it
//! ([`KnownKeys`]). A trainer's keys are a [`KeySet`], shared rather than copied, so that
//! a push of the set its pull listed is known for the same list without comparing a key. A trainer's messages to a shard arrive in the order sent (one link per
//! pair of workers, or the worker's own mailbox), so "the list before" means the same on
//! both sides. Both start empty with the session: after a lost worker every trainer and
//! shard is opened again, so neither keeps a list the other has lost. A message that
//! refers to a list the shard does not hold, or of another length, is refused.

use std::ops::{Deref, Range};
use std::sync::Arc;

use crate::ps::wire::{KeyList, OutgoingKeys};

/// A row of a shard's values: a key minus the shard's first key. Four bytes, so that
/// applying a push or gathering a pull reads half the bytes of rows it would as `usize`
/// (both are bound by memory); a shard holds at most [`MAX_SHARD_KEYS`] keys.
pub type Row = u32;

/// The most keys one shard holds: as many as a [`Row`] can number.
pub const MAX_SHARD_KEYS: u64 = Row::MAX as u64 + 1;

/// The rows of a shard's values a key list names, in the list's order; shared by the
/// cache and the pushes and pulls that wait on it.
pub type Rows = Arc<[Row]>;

/// Sorted, distinct keys, shared by the pulls and pushes that send them and by the
/// cache of what was sent.
#[derive(Debug, Clone, Default)]
pub struct KeySet(Arc<Vec<u64>>);

impl KeySet {
    /// `keys`, which must be sorted and distinct.
    pub fn new(keys: Vec<u64>) -> Result<KeySet, String> {
        if let Some(at) = keys.windows(2).position(|w| w[0] >= w[1]) {
            return Err(format!(
                "keys must be sorted and distinct: key {} is {} after {}",
                at + 1,
                keys[at + 1],
                keys[at]
            ));
        }
        Ok(KeySet(Arc::new(keys)))
    }

    /// Whether `self` and `other` are one set (not merely equal keys).
    pub fn same(&self, other: &KeySet) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// This set if it holds `keys`, else a new set of them.
    pub fn reuse_for(&self, keys: &[u64]) -> Result<KeySet, String> {
        if self.0[..] == *keys {
            Ok(self.clone())
        } else {
            KeySet::new(keys.to_vec())
        }
    }
}

impl Deref for KeySet {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        &self.0
    }
}

/// A trainer's side: the keys it last listed to each shard (a run of a set).
#[derive(Debug, Default)]
pub struct SentKeys {
    last: Vec<Option<(KeySet, Range<usize>)>>,
}

impl SentKeys {
    /// Whether `set[run]` is the list last sent to `shard` (then it travels as its
    /// length); if not, remembers it as that list (then it travels listed). The same set
    /// and run is known at once; another set is compared key by key.
    pub fn again(&mut self, shard: u32, set: &KeySet, run: Range<usize>) -> bool {
        let shard = shard as usize;
        if self.last.len() <= shard {
            self.last.resize_with(shard + 1, || None);
        }
        let again = match &self.last[shard] {
            Some((last, r)) if last.same(set) && *r == run => return true,
            Some((last, r)) => last[r.clone()] == set[run.clone()],
            None => false,
        };
        self.last[shard] = Some((set.clone(), run));
        again
    }

    /// `set[run]` to send `shard`: its count if it is the list last sent there, else
    /// listed (and kept as that list).
    pub fn outgoing<'k>(
        &mut self,
        shard: u32,
        set: &'k KeySet,
        run: Range<usize>,
    ) -> OutgoingKeys<'k> {
        if self.again(shard, set, run.clone()) {
            OutgoingKeys::Again(run.len())
        } else {
            OutgoingKeys::Listed(&set[run])
        }
    }
}

/// A shard's side: the rows of the key list each trainer last listed.
#[derive(Debug)]
pub struct KnownKeys {
    last: Vec<Option<Rows>>,
    /// The shard's keys are `first_key..first_key + keys`.
    first_key: u64,
    keys: u64,
}

impl KnownKeys {
    /// The cache of a shard holding keys `first_key..first_key + keys`, for `trainers`.
    pub fn new(trainers: usize, first_key: u64, keys: u64) -> KnownKeys {
        KnownKeys {
            last: vec![None; trainers],
            first_key,
            keys,
        }
    }

    /// The rows `trainer`'s `keys` name: a listed list's keys checked to be the shard's
    /// and kept as the trainer's list; a list sent again, the rows kept.
    pub fn resolve(&mut self, trainer: u32, keys: &KeyList) -> Result<Rows, String> {
        let t = trainer as usize;
        if t >= self.last.len() {
            return Err(format!("trainer {trainer} is not one of the job's"));
        }
        match keys {
            KeyList::Listed(listed) => {
                if let Some((first, last)) = listed.bounds() {
                    if first < self.first_key || last - self.first_key >= self.keys {
                        return Err(format!(
                            "keys {first}..={last} are not all in the shard's range {}..{}",
                            self.first_key,
                            self.first_key + self.keys
                        ));
                    }
                }
                let first_key = self.first_key;
                // In range, so below `MAX_SHARD_KEYS` (see `ServerShard::new`).
                let rows: Rows = listed.iter().map(|k| (k - first_key) as Row).collect();
                self.last[t] = Some(rows.clone());
                Ok(rows)
            }
            KeyList::Again(count) => match &self.last[t] {
                Some(rows) if rows.len() == *count => Ok(rows.clone()),
                Some(rows) => Err(format!(
                    "trainer {trainer} sent its key list of {count} keys again, but its list \
                     here has {}",
                    rows.len()
                )),
                None => Err(format!(
                    "trainer {trainer} sent its key list again, but has listed none here"
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps::wire::Keys;

    #[test]
    fn a_trainer_lists_keys_once_per_shard_until_they_change() {
        let mut sent = SentKeys::default();
        let set = |keys: &[u64]| KeySet::new(keys.to_vec()).unwrap();
        let (a, b) = (set(&[3, 4, 9]), set(&[3, 5]));
        assert!(!sent.again(1, &a, 0..2));
        assert!(sent.again(1, &a, 0..2));
        assert!(
            sent.again(1, &set(&[3, 4]), 0..2),
            "equal keys of another set"
        );
        assert!(!sent.again(1, &a, 1..3), "another run of the set");
        assert!(!sent.again(0, &a, 1..3), "each shard has its own list");
        assert!(!sent.again(1, &b, 0..2));
        assert!(!sent.again(1, &a, 0..2));
        assert!(
            !sent.again(2, &a, 0..0),
            "an empty list is listed first too"
        );
        assert!(sent.again(2, &b, 1..1));
        assert_eq!(sent.outgoing(1, &a, 0..2), OutgoingKeys::Again(2));
        assert_eq!(sent.outgoing(1, &b, 0..2), OutgoingKeys::Listed(&[3, 5]));
    }

    #[test]
    fn a_key_set_is_sorted_and_distinct_and_reused_when_it_holds_the_keys() {
        assert!(KeySet::new(vec![1, 1])
            .unwrap_err()
            .contains("key 1 is 1 after 1"));
        assert!(KeySet::new(vec![2, 1]).is_err());
        let set = KeySet::new(vec![1, 5]).unwrap();
        assert!(set.reuse_for(&[1, 5]).unwrap().same(&set));
        assert!(!set.reuse_for(&[1, 6]).unwrap().same(&set));
        assert!(set.reuse_for(&[6, 1]).is_err());
    }

    #[test]
    fn a_shard_resolves_a_list_and_its_repeats_to_rows() {
        let mut known = KnownKeys::new(2, 100, 50);
        let listed = KeyList::Listed(Keys::from_slice(&[100, 107, 149]));
        assert_eq!(&known.resolve(1, &listed).unwrap()[..], &[0, 7, 49]);
        assert_eq!(
            &known.resolve(1, &KeyList::Again(3)).unwrap()[..],
            &[0, 7, 49]
        );
        assert_eq!(
            known.resolve(0, &KeyList::Again(3)),
            Err("trainer 0 sent its key list again, but has listed none here".into())
        );
        assert!(known.resolve(1, &KeyList::Again(2)).is_err());
        assert!(known.resolve(2, &listed).is_err(), "no trainer 2");
        for outside in [&[99u64, 100][..], &[149, 150]] {
            let outside = KeyList::Listed(Keys::from_slice(outside));
            assert!(known.resolve(0, &outside).is_err());
        }
    }
}
