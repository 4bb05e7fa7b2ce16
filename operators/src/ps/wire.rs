//! The parameter server's messages on the push exchange, and their compact encoding.
//!
//! Trainers send a shard [`Pull`]s (the keys a minibatch reads) and [`Push`]es (its
//! gradients for them, which also advance the trainer's clock at the shard); the shard
//! answers each pull with an [`Answer`]. Keys are sorted and travel as varint deltas, so a
//! sparse minibatch's keys take a byte or two each; values travel as raw little-endian
//! `f32`, and a decoded push keeps them where they arrived ([`Floats`]) rather than copying
//! them out. A message that does not decode (truncated, keys out of order, a count that
//! does not match) is refused with the reason.
//!
//! ```text
//!  Pull   = 0u8  trainer u32  request u64  clock u64  exact u8  keys
//!  Push   = 1u8  trainer u32  clock u64  keys  0-3 zero bytes  values (keys × width)
//!  Answer =      request u64  applied u64  values (keys × width)
//!  keys   = 0u8  count varint, first key varint, then each gap to the previous key varint
//!         | 1u8  count varint   (the list the trainer last listed to this shard, again)
//! ```
//!
//! A message holds one request or several back to back (a trainer sends a push with the
//! next clock's pull). A push's values start at a multiple of four bytes from the
//! request's start, so that a shard reads them in place when the message arrives aligned. A list sent again is key
//! caching (see `key_cache`): the shard reads it as the rows it
//! resolved the trainer's last listed keys to.

use bytes::{Buf, BufMut, Bytes};

#[cfg(test)]
use crate::ps::wire_keys::put_varint;
pub use crate::ps::wire_keys::{KeyIter, KeyList, Keys, OutgoingKeys};

/// A trainer asks a shard for the values of `keys`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pull {
    pub trainer: u32,
    /// Names the answer (the answer carries it back).
    pub request: u64,
    /// The trainer's clock: how many minibatches it has pushed.
    pub clock: u64,
    /// Wait for every update before `clock`, whatever the consistency (an evaluation).
    pub exact: bool,
    pub keys: KeyList,
}

/// A trainer's gradients for `keys` (`width` floats each) at `clock`.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    pub trainer: u32,
    pub clock: u64,
    pub keys: KeyList,
    pub values: Floats,
}

/// Little-endian `f32`s left in the bytes they arrived in (a slice of the message), read
/// a run at a time into the reader's own buffer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Floats(Bytes);

impl Floats {
    /// The bytes of `values`.
    pub fn from_slice(values: &[f32]) -> Floats {
        let mut bytes = Vec::with_capacity(values.len() * 4);
        put_values(&mut bytes, values);
        Floats(bytes.into())
    }

    /// How many floats.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Floats `from..from + out.len()`, into `out`.
    pub fn read_into(&self, from: usize, out: &mut [f32]) {
        read_floats(&self.0[from * 4..(from + out.len()) * 4], out);
    }

    /// The floats in place, when their bytes are aligned for it (little-endian only).
    pub fn as_aligned(&self) -> Option<&[f32]> {
        if cfg!(target_endian = "little") {
            bytemuck::try_cast_slice(&self.0).ok()
        } else {
            None
        }
    }

    /// Every float, copied out.
    pub fn to_vec(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.len()];
        self.read_into(0, &mut out);
        out
    }
}

/// A shard's answer to a pull.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub request: u64,
    /// The shard's applied clock when it answered: every trainer's updates before it
    /// were in.
    pub applied: u64,
    pub values: Vec<f32>,
}

/// What a trainer sends a shard.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Pull(Pull),
    Push(Push),
}

const PULL: u8 = 0;
const PUSH: u8 = 1;

impl Pull {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let listed = self.keys.listed_keys();
        let keys = self.keys.outgoing(&listed);
        encode_pull(self.trainer, self.request, self.clock, self.exact, keys)
    }
}

/// The bytes of a pull, from borrowed keys.
pub fn encode_pull(
    trainer: u32,
    request: u64,
    clock: u64,
    exact: bool,
    keys: OutgoingKeys<'_>,
) -> Vec<u8> {
    let mut out = Vec::new();
    put_pull(&mut out, trainer, request, clock, exact, keys);
    out
}

/// Appends a pull to `out` (a message that may hold requests already).
pub fn put_pull(
    out: &mut Vec<u8>,
    trainer: u32,
    request: u64,
    clock: u64,
    exact: bool,
    keys: OutgoingKeys<'_>,
) {
    out.reserve(22 + keys.size_hint());
    out.put_u8(PULL);
    out.put_u32_le(trainer);
    out.put_u64_le(request);
    out.put_u64_le(clock);
    out.put_u8(exact as u8);
    keys.put(out);
}

impl Push {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let listed = self.keys.listed_keys();
        let keys = self.keys.outgoing(&listed);
        encode_push(self.trainer, self.clock, keys, &self.values.to_vec())
    }
}

/// The bytes of a push, from borrowed keys and values.
pub fn encode_push(trainer: u32, clock: u64, keys: OutgoingKeys<'_>, values: &[f32]) -> Vec<u8> {
    let mut out = Vec::new();
    put_push(&mut out, trainer, clock, keys, values);
    out
}

/// Appends a push to `out` (a message that may hold requests already); its values start
/// at a multiple of four bytes from the push's first byte.
pub fn put_push(
    out: &mut Vec<u8>,
    trainer: u32,
    clock: u64,
    keys: OutgoingKeys<'_>,
    values: &[f32],
) {
    let start = out.len();
    out.reserve(16 + keys.size_hint() + values.len() * 4);
    out.put_u8(PUSH);
    out.put_u32_le(trainer);
    out.put_u64_le(clock);
    keys.put(out);
    let used = out.len() - start;
    out.resize(start + used.next_multiple_of(4), 0);
    put_values(out, values);
}

impl Request {
    /// Decodes a message of exactly one request; `width` floats per key.
    pub fn decode(message: &Bytes, width: usize) -> Result<Request, String> {
        let mut requests = Request::decode_all(message, width)?;
        match (requests.pop(), requests.len()) {
            (Some(request), 0) => Ok(request),
            _ => Err(format!("{} requests where one was due", requests.len() + 1)),
        }
    }

    /// Decodes a trainer's message: one or more requests back to back (a push and the
    /// next clock's pull travel together); `width` floats per key. A push's values stay
    /// in `message`'s bytes.
    pub fn decode_all(message: &Bytes, width: usize) -> Result<Vec<Request>, String> {
        let mut rest = &message[..];
        let mut requests = Vec::with_capacity(2);
        loop {
            requests.push(decode_one(message, &mut rest, width)?);
            if rest.is_empty() {
                return Ok(requests);
            }
        }
    }
}

/// Decodes the request at the front of `rest` (a view into `message`) and moves past it.
fn decode_one(message: &Bytes, rest: &mut &[u8], width: usize) -> Result<Request, String> {
    let start = message.len() - rest.len();
    let mut bytes = *rest;
    let kind = take_u8(&mut bytes)?;
    let trainer = take_u32(&mut bytes)?;
    let request = match kind {
        PULL => {
            let request = take_u64(&mut bytes)?;
            let clock = take_u64(&mut bytes)?;
            let exact = take_u8(&mut bytes)? != 0;
            let keys = KeyList::take(message, &mut bytes)?;
            Request::Pull(Pull {
                trainer,
                request,
                clock,
                exact,
                keys,
            })
        }
        PUSH => {
            let clock = take_u64(&mut bytes)?;
            let keys = KeyList::take(message, &mut bytes)?;
            // The values start at a multiple of four bytes from the request's start.
            let used = message.len() - bytes.len() - start;
            let padding = used.next_multiple_of(4) - used;
            if bytes.len() < padding {
                return Err("the message ends early".into());
            }
            bytes = &bytes[padding..];
            let len = keys
                .len()
                .checked_mul(width * 4)
                .filter(|len| *len <= bytes.len())
                .ok_or_else(|| format!("{} keys' values in {} bytes", keys.len(), bytes.len()))?;
            let at = message.len() - bytes.len();
            let values = Floats(message.slice(at..at + len));
            bytes = &bytes[len..];
            Request::Push(Push {
                trainer,
                clock,
                keys,
                values,
            })
        }
        other => return Err(format!("unknown parameter-server message kind {other}")),
    };
    *rest = bytes;
    Ok(request)
}

impl Answer {
    /// The answer's bytes.
    pub fn encode(request: u64, applied: u64, values: &[f32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + values.len() * 4);
        out.put_u64_le(request);
        out.put_u64_le(applied);
        put_values(&mut out, values);
        out
    }

    /// The front of an answer of `count` floats, which the caller appends with
    /// [`put_values`].
    pub fn start(request: u64, applied: u64, count: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + count * 4);
        out.put_u64_le(request);
        out.put_u64_le(applied);
        out
    }

    /// Decodes an answer of `count` floats.
    pub fn decode(bytes: &[u8], count: usize) -> Result<Answer, String> {
        let mut values = vec![0.0; count];
        let (request, applied) = Answer::decode_into(bytes, &mut values)?;
        Ok(Answer {
            request,
            applied,
            values,
        })
    }

    /// Decodes an answer of `values.len()` floats into `values`; returns its request and
    /// applied clock.
    pub fn decode_into(mut bytes: &[u8], values: &mut [f32]) -> Result<(u64, u64), String> {
        let request = take_u64(&mut bytes)?;
        let applied = take_u64(&mut bytes)?;
        if bytes.len() != values.len() * 4 {
            return Err(format!(
                "{} bytes of values where {} floats were due",
                bytes.len(),
                values.len()
            ));
        }
        read_floats(bytes, values);
        Ok((request, applied))
    }

    /// The request an answer's bytes name, without decoding the rest.
    pub fn request_of(bytes: &[u8]) -> Result<u64, String> {
        let mut b = bytes;
        take_u64(&mut b)
    }
}

/// Appends `values` as little-endian `f32`s.
pub fn put_values(out: &mut Vec<u8>, values: &[f32]) {
    if cfg!(target_endian = "little") {
        out.extend_from_slice(bytemuck::cast_slice(values));
    } else {
        out.reserve(values.len() * 4);
        for v in values {
            out.put_f32_le(*v);
        }
    }
}

/// Reads `out.len()` little-endian `f32`s from `bytes` (exactly that many bytes' worth).
fn read_floats(bytes: &[u8], out: &mut [f32]) {
    if cfg!(target_endian = "little") {
        bytemuck::cast_slice_mut::<f32, u8>(out).copy_from_slice(bytes);
    } else {
        for (v, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
}

fn take_u8(bytes: &mut &[u8]) -> Result<u8, String> {
    if bytes.is_empty() {
        return Err("the message ends early".into());
    }
    Ok(bytes.get_u8())
}

fn take_u32(bytes: &mut &[u8]) -> Result<u32, String> {
    if bytes.len() < 4 {
        return Err("the message ends early".into());
    }
    Ok(bytes.get_u32_le())
}

pub(crate) fn take_u64(bytes: &mut &[u8]) -> Result<u64, String> {
    if bytes.len() < 8 {
        return Err("the message ends early".into());
    }
    Ok(bytes.get_u64_le())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain pull of `keys` by trainer 0.
    fn pull_of(keys: &[u64]) -> Pull {
        Pull {
            trainer: 0,
            request: 1,
            clock: 2,
            exact: false,
            keys: KeyList::of(keys),
        }
    }

    #[test]
    fn messages_round_trip() {
        let pull = Pull {
            trainer: 3,
            request: 77,
            clock: 12,
            exact: true,
            keys: KeyList::of(&[0, 5, 6, 1 << 40]),
        };
        assert_eq!(
            Request::decode(&pull.encode().into(), 2).unwrap(),
            Request::Pull(pull)
        );
        let push = Push {
            trainer: 1,
            clock: 9,
            keys: KeyList::of(&[4, 1_000_000]),
            values: Floats::from_slice(&[1.0, -2.5, 0.0, 7.0]),
        };
        assert_eq!(
            Request::decode(&push.encode().into(), 2).unwrap(),
            Request::Push(push.clone())
        );
        // Keys sent again travel as their count.
        let again = Push {
            keys: KeyList::Again(2),
            ..push.clone()
        };
        let bytes = again.encode();
        // kind, trainer, clock, the list's kind and count, a byte of padding, the values.
        assert_eq!(bytes.len(), 1 + 4 + 8 + 2 + 1 + 4 * 4);
        assert_eq!(
            Request::decode(&bytes.into(), 2).unwrap(),
            Request::Push(again)
        );
        let answer = Answer::encode(77, 10, &[1.5, 2.5]);
        assert_eq!(Answer::request_of(&answer).unwrap(), 77);
        let back = Answer::decode(&answer, 2).unwrap();
        assert_eq!(
            (back.request, back.applied, back.values),
            (77, 10, vec![1.5, 2.5])
        );
    }

    #[test]
    fn a_push_and_a_pull_travel_in_one_message() {
        let push = Push {
            trainer: 1,
            clock: 3,
            keys: KeyList::of(&[2, 9]),
            values: Floats::from_slice(&[1.0, -1.0]),
        };
        let pull = Pull {
            trainer: 1,
            keys: KeyList::Again(2),
            ..pull_of(&[])
        };
        let both: Bytes = [push.encode(), pull.encode(), push.encode()]
            .concat()
            .into();
        // Appended into one buffer, each push's values padded from its own first byte.
        let mut appended = Vec::new();
        let listed = OutgoingKeys::Listed(&[2, 9]);
        put_push(&mut appended, 1, 3, listed, &[1.0, -1.0]);
        let again = OutgoingKeys::Again(2);
        put_pull(
            &mut appended,
            1,
            pull.request,
            pull.clock,
            pull.exact,
            again,
        );
        put_push(&mut appended, 1, 3, listed, &[1.0, -1.0]);
        assert_eq!(appended, both);
        let decoded = Request::decode_all(&both, 1).unwrap();
        assert_eq!(
            decoded,
            [
                Request::Push(push.clone()),
                Request::Pull(pull),
                Request::Push(push)
            ]
        );
        let refused = Request::decode(&both, 1).unwrap_err();
        assert!(
            refused.contains("3 requests where one was due"),
            "{refused}"
        );
        assert!(Request::decode_all(&both.slice(..both.len() - 1), 1).is_err());
    }

    #[test]
    fn many_keys_with_gaps_of_every_size_round_trip() {
        // Runs of keys cross the encoder's stack buffer; gaps take one to ten bytes.
        let mut keys = Vec::new();
        let mut k = 3u64;
        for i in 0..1_000u64 {
            keys.push(k);
            k += 1 + (i % 7) * (i % 7) * 1_000 + if i == 500 { 1 << 50 } else { 0 };
        }
        let values: Vec<f32> = (0..keys.len()).map(|i| i as f32 * 0.5 - 3.0).collect();
        let push = Push {
            trainer: 2,
            clock: 1,
            keys: KeyList::of(&keys),
            values: Floats::from_slice(&values),
        };
        assert_eq!(
            Request::decode(&push.encode().into(), 1).unwrap(),
            Request::Push(push)
        );
    }

    #[test]
    fn sparse_keys_take_about_two_bytes_each() {
        let keys: Vec<u64> = (0..5_000).map(|i| i * 200 + 7).collect();
        let bytes = pull_of(&keys).encode().len();
        assert!(bytes < 5_000 * 2 + 40, "{bytes} bytes");
    }

    #[test]
    fn malformed_messages_are_refused() {
        let push = Push {
            trainer: 1,
            clock: 9,
            keys: KeyList::of(&[4, 8]),
            values: Floats::from_slice(&[1.0, 2.0]),
        }
        .encode();
        // Truncated, trailing bytes, wrong width, unknown kind, a repeated key.
        assert!(Request::decode(&Bytes::copy_from_slice(&push[..push.len() - 1]), 1).is_err());
        let mut long = push.clone();
        long.push(0);
        assert!(Request::decode(&long.into(), 1).is_err());
        assert!(Request::decode(&push.clone().into(), 2).is_err());
        let mut kind = push.clone();
        kind[0] = 9;
        assert!(Request::decode(&kind.into(), 1).is_err());
        let mut list_kind = push.clone();
        list_kind[13] = 2;
        let refused = Request::decode(&list_kind.into(), 1).unwrap_err();
        assert!(refused.contains("unknown key list kind 2"), "{refused}");
        let repeated = encode_push(1, 9, OutgoingKeys::Listed(&[4, 4]), &[1.0, 2.0]);
        assert!(Request::decode(&repeated.into(), 1).is_err());
        assert!(Request::decode(&Bytes::new(), 1).is_err());
        // A huge key count in a few bytes.
        let mut lie = vec![PULL];
        lie.extend_from_slice(&[0; 22]);
        put_varint(&mut lie, u64::MAX);
        assert!(Request::decode(&lie.into(), 1).is_err());
        assert!(Answer::decode(&Answer::encode(1, 2, &[1.0]), 2).is_err());
    }

    #[test]
    fn runs_of_one_byte_gaps_decode_and_a_repeat_among_them_is_refused() {
        let keys: Vec<u64> = (0..1_000u64).map(|k| 5 + 3 * k + k % 2).collect();
        let pull = pull_of(&keys);
        let mut bytes = pull.encode();
        let KeyList::Listed(listed) = &pull.keys else {
            panic!("keys sent again")
        };
        assert_eq!(listed.to_vec(), keys);
        assert_eq!(listed.bounds(), Some((5, keys[999])));
        assert_eq!(
            Request::decode(&bytes.clone().into(), 1).unwrap(),
            Request::Pull(pull)
        );
        // kind, trainer, request, clock, exact: 22 bytes; the list's kind: 1; the count: 2;
        // the first key: 1.
        bytes[26 + 10] = 0;
        let refused = Request::decode(&bytes.into(), 1).unwrap_err();
        assert!(refused.contains("repeats"), "{refused}");
        // Gaps that would carry a key past u64::MAX.
        let mut over = vec![PULL];
        over.extend_from_slice(&[0; 22]);
        put_varint(&mut over, 9);
        put_varint(&mut over, u64::MAX - 3);
        over.extend_from_slice(&[1; 8]);
        let refused = Request::decode(&over.into(), 1).unwrap_err();
        assert!(refused.contains("overflows"), "{refused}");
    }
}
