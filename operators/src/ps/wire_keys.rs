//! The keys of a pull or push as they travel: sorted and distinct, a count, the first key
//! and then each gap to the key before, as varints, so that a sparse minibatch's keys take
//! a byte or two each. [`Keys`] checks them once, when their message is decoded, and reads
//! them again as often as needed without copying them out; runs of eight one-byte gaps are
//! written and checked a word at a time. A list the trainer last listed to the same shard
//! travels again as its count ([`KeyList::Again`], [`OutgoingKeys::Again`]; see
//! `key_cache`).

use bytes::{BufMut, Bytes};

/// The kinds of a key list on the wire.
const LISTED: u8 = 0;
const AGAIN: u8 = 1;

/// Sorted, distinct keys as they travel (a count, the first key, then the gaps, as
/// varints), checked once when their message is decoded and then read as often as
/// needed without being copied out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Keys {
    /// The first key's varint and the gaps'.
    bytes: Bytes,
    count: usize,
    first: u64,
    last: u64,
}

impl Keys {
    /// The encoding of `keys` (sorted, distinct).
    pub fn from_slice(keys: &[u64]) -> Keys {
        let mut out = Vec::with_capacity(keys.len() * 2 + 10);
        put_keys(&mut out, keys);
        let bytes = Bytes::from(out);
        let mut rest = &bytes[..];
        Keys::take(&bytes, &mut rest).expect("keys encoded here decode")
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The smallest and largest key.
    pub fn bounds(&self) -> Option<(u64, u64)> {
        (self.count > 0).then_some((self.first, self.last))
    }

    /// The keys in order.
    pub fn iter(&self) -> KeyIter<'_> {
        KeyIter {
            rest: &self.bytes,
            previous: 0,
            left: self.count,
            started: false,
        }
    }

    /// The keys, copied out.
    pub fn to_vec(&self) -> Vec<u64> {
        self.iter().collect()
    }

    /// Checks the keys at the front of `rest` (a view into `message`) and takes them.
    pub(crate) fn take(message: &Bytes, rest: &mut &[u8]) -> Result<Keys, String> {
        let count = take_varint(rest)?;
        // Each key takes at least a byte: a count beyond the bytes left is a lie.
        if count > rest.len() as u64 {
            return Err(format!("{count} keys in {} bytes", rest.len()));
        }
        let count = count as usize;
        let start = message.len() - rest.len();
        let (first, last) = scan_keys(rest, count)?;
        let end = message.len() - rest.len();
        Ok(Keys {
            bytes: message.slice(start..end),
            count,
            first,
            last,
        })
    }
}

/// A message's keys as they arrived: listed, or the list the trainer last listed to the
/// shard sent again (its length).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyList {
    Listed(Keys),
    Again(usize),
}

impl KeyList {
    /// `keys` (sorted, distinct), listed.
    pub fn of(keys: &[u64]) -> KeyList {
        KeyList::Listed(Keys::from_slice(keys))
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        match self {
            KeyList::Listed(keys) => keys.len(),
            KeyList::Again(count) => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the keys at the front of `rest` (a view into `message`) and takes them.
    pub(crate) fn take(message: &Bytes, rest: &mut &[u8]) -> Result<KeyList, String> {
        let (&kind, after) = rest
            .split_first()
            .ok_or_else(|| "the message ends early".to_string())?;
        *rest = after;
        match kind {
            LISTED => Ok(KeyList::Listed(Keys::take(message, rest)?)),
            AGAIN => {
                let count = take_varint(rest)?;
                let count = usize::try_from(count)
                    .map_err(|_| format!("a key list of {count} keys sent again"))?;
                Ok(KeyList::Again(count))
            }
            other => Err(format!("unknown key list kind {other}")),
        }
    }

    /// The keys a listing carries; none for a list sent again.
    pub(crate) fn listed_keys(&self) -> Vec<u64> {
        match self {
            KeyList::Listed(keys) => keys.to_vec(),
            KeyList::Again(_) => Vec::new(),
        }
    }

    pub(crate) fn outgoing<'k>(&self, listed: &'k [u64]) -> OutgoingKeys<'k> {
        match self {
            KeyList::Listed(_) => OutgoingKeys::Listed(listed),
            KeyList::Again(count) => OutgoingKeys::Again(*count),
        }
    }
}

/// A message's keys as they leave: listed, or sent again as the count of the list last
/// listed to the same shard (see `key_cache::SentKeys`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutgoingKeys<'k> {
    Listed(&'k [u64]),
    Again(usize),
}

impl OutgoingKeys<'_> {
    pub fn len(&self) -> usize {
        match self {
            OutgoingKeys::Listed(keys) => keys.len(),
            OutgoingKeys::Again(count) => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        match self {
            OutgoingKeys::Listed(keys) => {
                out.put_u8(LISTED);
                put_keys(out, keys);
            }
            OutgoingKeys::Again(count) => {
                out.put_u8(AGAIN);
                put_varint(out, *count as u64);
            }
        }
    }

    /// Bytes the keys take at the most.
    pub(crate) fn size_hint(&self) -> usize {
        match self {
            OutgoingKeys::Listed(keys) => 11 + keys.len() * 2,
            OutgoingKeys::Again(_) => 11,
        }
    }
}

/// The keys of [`Keys`], decoded one at a time.
pub struct KeyIter<'a> {
    rest: &'a [u8],
    previous: u64,
    left: usize,
    started: bool,
}

impl Iterator for KeyIter<'_> {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The bytes were checked when the keys were taken: every varint is whole.
        let step = match self.rest.first() {
            Some(&b) if b < 0x80 => {
                self.rest = &self.rest[1..];
                u64::from(b)
            }
            _ => take_varint(&mut self.rest).unwrap_or(0),
        };
        self.previous = if self.started {
            self.previous.wrapping_add(step)
        } else {
            self.started = true;
            step
        };
        Some(self.previous)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for KeyIter<'_> {}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn take_varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes
            .split_first()
            .ok_or_else(|| "the message ends early".to_string())?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a varint longer than 64 bits".into())
}

pub(crate) fn put_keys(out: &mut Vec<u8>, keys: &[u64]) {
    put_varint(out, keys.len() as u64);
    let Some((&first, rest)) = keys.split_first() else {
        return;
    };
    put_varint(out, first);
    out.reserve(rest.len());
    let mut previous = first;
    let mut runs = rest.chunks_exact(8);
    for run in &mut runs {
        // Eight gaps of a byte each, written at once; else each as a varint.
        let mut gaps = [0u8; 8];
        let mut small = true;
        let mut p = previous;
        for (gap, &k) in gaps.iter_mut().zip(run) {
            let d = k.wrapping_sub(p);
            small &= d < 0x80;
            *gap = d as u8;
            p = k;
        }
        if small {
            out.extend_from_slice(&gaps);
        } else {
            for &k in run {
                put_varint(out, k.wrapping_sub(previous));
                previous = k;
            }
        }
        previous = p;
    }
    for &k in runs.remainder() {
        put_varint(out, k.wrapping_sub(previous));
        previous = k;
    }
}

/// Checks `count` keys at the front of `rest` (the first key, then gaps of at least one,
/// as whole varints, never past `u64::MAX`), moves `rest` past them and returns the first
/// and last key. Eight one-byte gaps are checked at once.
fn scan_keys(rest: &mut &[u8], count: usize) -> Result<(u64, u64), String> {
    if count == 0 {
        return Ok((0, 0));
    }
    let first = take_varint(rest)?;
    let mut key = first;
    let mut seen = 1;
    while seen < count {
        if count - seen >= 8 && rest.len() >= 8 {
            const HIGH: u64 = 0x8080_8080_8080_8080;
            const LOW: u64 = 0x0101_0101_0101_0101;
            let word = u64::from_le_bytes(rest[..8].try_into().expect("eight bytes"));
            let one_byte_each = word & HIGH == 0;
            let no_zero_gap = word.wrapping_sub(LOW) & !word & HIGH == 0;
            if one_byte_each && no_zero_gap && key < u64::MAX - 8 * 0x80 {
                key += rest[..8].iter().map(|&b| u64::from(b)).sum::<u64>();
                *rest = &rest[8..];
                seen += 8;
                continue;
            }
        }
        let gap = take_varint(rest)?;
        if gap == 0 {
            return Err(format!("key {seen} repeats the key before it"));
        }
        key = key
            .checked_add(gap)
            .ok_or_else(|| format!("key {seen} overflows"))?;
        seen += 1;
    }
    Ok((first, key))
}
