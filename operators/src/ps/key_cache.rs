//! Key caching (the parameter server paper's §5.2): a trainer that sends a shard the same
//! key list as the last time (a minibatch's push after its pull, a dense model's every
//! pull and push) sends only the list's length, and the shard uses the rows it resolved
//! the list to the last time.
//!
//! Each side keeps one list per peer: the trainer, the keys it last listed to each shard
//! ([`SentKeys`]); the shard, the rows of the keys each trainer last listed to it
//! ([`KnownKeys`]). A trainer's messages to a shard arrive in the order sent (one link per
//! pair of workers, or the worker's own mailbox), so "the list before" means the same on
//! both sides. Both start empty with the session: after a lost worker every trainer and
//! shard is opened again, so neither keeps a list the other has lost. A message that
//! refers to a list the shard does not hold, or of another length, is refused.

use std::sync::Arc;

use crate::ps::wire::{KeyList, OutgoingKeys};

/// The rows of a shard's values a key list names (key minus the shard's first key), in
/// the list's order; shared by the cache and the pushes and pulls that wait on it.
pub type Rows = Arc<[usize]>;

/// A trainer's side: the keys it last listed to each shard.
#[derive(Debug, Default)]
pub struct SentKeys {
    last: Vec<Option<Vec<u64>>>,
}

impl SentKeys {
    /// Whether `keys` are the list last sent to `shard` (then they travel as their
    /// length); if not, remembers them as that list (then they travel listed).
    pub fn again(&mut self, shard: u32, keys: &[u64]) -> bool {
        let shard = shard as usize;
        if self.last.len() <= shard {
            self.last.resize_with(shard + 1, || None);
        }
        match &mut self.last[shard] {
            Some(last) if last[..] == *keys => true,
            Some(last) => {
                last.clear();
                last.extend_from_slice(keys);
                false
            }
            none => {
                *none = Some(keys.to_vec());
                false
            }
        }
    }

    /// `keys` to send `shard`: their count if they are the list last sent there, else
    /// listed (and kept as that list).
    pub fn outgoing<'k>(&mut self, shard: u32, keys: &'k [u64]) -> OutgoingKeys<'k> {
        if self.again(shard, keys) {
            OutgoingKeys::Again(keys.len())
        } else {
            OutgoingKeys::Listed(keys)
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
                let rows: Rows = listed.iter().map(|k| (k - first_key) as usize).collect();
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
        assert!(!sent.again(1, &[3, 4]));
        assert!(sent.again(1, &[3, 4]));
        assert!(!sent.again(0, &[3, 4]), "each shard has its own list");
        assert!(!sent.again(1, &[3, 5]));
        assert!(!sent.again(1, &[3, 4]));
        assert!(!sent.again(2, &[]), "an empty list is listed first too");
        assert!(sent.again(2, &[]));
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
