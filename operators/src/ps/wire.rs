//! The parameter server's messages on the push exchange, and their compact encoding.
//!
//! Trainers send a shard [`Pull`]s (the keys a minibatch reads) and [`Push`]es (its
//! gradients for them, which also advance the trainer's clock at the shard); the shard
//! answers each pull with an [`Answer`]. Keys are sorted and travel as varint deltas, so a
//! sparse minibatch's keys take a byte or two each; values travel as raw little-endian
//! `f32`. A message that does not decode (truncated, keys out of order, a count that does
//! not match) is refused with the reason.
//!
//! ```text
//!  Pull   = 0u8  trainer u32  request u64  clock u64  exact u8  keys
//!  Push   = 1u8  trainer u32  clock u64  keys  values (keys × width)
//!  Answer =      request u64  applied u64  values (keys × width)
//!  keys   = count varint, first key varint, then each gap to the previous key varint
//! ```

use bytes::{Buf, BufMut};

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
    pub keys: Vec<u64>,
}

/// A trainer's gradients for `keys` (`width` floats each) at `clock`.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    pub trainer: u32,
    pub clock: u64,
    pub keys: Vec<u64>,
    pub values: Vec<f32>,
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
        encode_pull(
            self.trainer,
            self.request,
            self.clock,
            self.exact,
            &self.keys,
        )
    }
}

/// The bytes of a pull, from borrowed keys.
pub fn encode_pull(trainer: u32, request: u64, clock: u64, exact: bool, keys: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + keys.len() * 2);
    out.put_u8(PULL);
    out.put_u32_le(trainer);
    out.put_u64_le(request);
    out.put_u64_le(clock);
    out.put_u8(exact as u8);
    put_keys(&mut out, keys);
    out
}

impl Push {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode_push(self.trainer, self.clock, &self.keys, &self.values)
    }
}

/// The bytes of a push, from borrowed keys and values.
pub fn encode_push(trainer: u32, clock: u64, keys: &[u64], values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + keys.len() * 2 + values.len() * 4);
    out.put_u8(PUSH);
    out.put_u32_le(trainer);
    out.put_u64_le(clock);
    put_keys(&mut out, keys);
    put_values(&mut out, values);
    out
}

impl Request {
    /// Decodes a trainer's message; `width` floats per key.
    pub fn decode(mut bytes: &[u8], width: usize) -> Result<Request, String> {
        let kind = take_u8(&mut bytes)?;
        let trainer = take_u32(&mut bytes)?;
        let request = match kind {
            PULL => {
                let request = take_u64(&mut bytes)?;
                let clock = take_u64(&mut bytes)?;
                let exact = take_u8(&mut bytes)? != 0;
                let keys = take_keys(&mut bytes)?;
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
                let keys = take_keys(&mut bytes)?;
                let values = take_values(&mut bytes, keys.len() * width)?;
                Request::Push(Push {
                    trainer,
                    clock,
                    keys,
                    values,
                })
            }
            other => return Err(format!("unknown parameter-server message kind {other}")),
        };
        if !bytes.is_empty() {
            return Err(format!("{} bytes after the message", bytes.len()));
        }
        Ok(request)
    }
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

    /// Decodes an answer of `count` floats.
    pub fn decode(mut bytes: &[u8], count: usize) -> Result<Answer, String> {
        let request = take_u64(&mut bytes)?;
        let applied = take_u64(&mut bytes)?;
        let values = take_values(&mut bytes, count)?;
        if !bytes.is_empty() {
            return Err(format!("{} bytes after the answer", bytes.len()));
        }
        Ok(Answer {
            request,
            applied,
            values,
        })
    }

    /// The request an answer's bytes name, without decoding the rest.
    pub fn request_of(bytes: &[u8]) -> Result<u64, String> {
        let mut b = bytes;
        take_u64(&mut b)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = take_u8(bytes)?;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a varint longer than 64 bits".into())
}

/// Keys encoded a run at a time into a buffer on the stack: a key's varint is at most
/// 10 bytes.
const KEY_RUN: usize = 64;

fn put_keys(out: &mut Vec<u8>, keys: &[u64]) {
    put_varint(out, keys.len() as u64);
    let mut previous = 0;
    let mut run = [0u8; KEY_RUN * 10];
    for (c, chunk) in keys.chunks(KEY_RUN).enumerate() {
        let mut at = 0;
        for (i, &k) in chunk.iter().enumerate() {
            let mut v = if c == 0 && i == 0 {
                k
            } else {
                k.wrapping_sub(previous)
            };
            previous = k;
            while v >= 0x80 {
                run[at] = (v as u8) | 0x80;
                at += 1;
                v >>= 7;
            }
            run[at] = v as u8;
            at += 1;
        }
        out.extend_from_slice(&run[..at]);
    }
}

fn take_keys(bytes: &mut &[u8]) -> Result<Vec<u64>, String> {
    let count = take_varint(bytes)?;
    // Each key takes at least a byte: a count beyond the bytes left is a lie.
    if count > bytes.len() as u64 {
        return Err(format!("{count} keys in {} bytes", bytes.len()));
    }
    let mut keys = Vec::with_capacity(count as usize);
    let mut previous = 0u64;
    let mut rest = *bytes;
    for i in 0..count {
        // Most gaps take one byte.
        let gap = match rest.first() {
            Some(&b) if b < 0x80 => {
                rest = &rest[1..];
                u64::from(b)
            }
            _ => take_varint(&mut rest)?,
        };
        let key = if i == 0 {
            gap
        } else if gap == 0 {
            return Err(format!("key {i} repeats the key before it"));
        } else {
            previous
                .checked_add(gap)
                .ok_or_else(|| format!("key {i} overflows"))?
        };
        keys.push(key);
        previous = key;
    }
    *bytes = rest;
    Ok(keys)
}

fn put_values(out: &mut Vec<u8>, values: &[f32]) {
    if cfg!(target_endian = "little") {
        out.extend_from_slice(bytemuck::cast_slice(values));
    } else {
        out.reserve(values.len() * 4);
        for v in values {
            out.put_f32_le(*v);
        }
    }
}

fn take_values(bytes: &mut &[u8], count: usize) -> Result<Vec<f32>, String> {
    let len = count
        .checked_mul(4)
        .filter(|len| *len <= bytes.len())
        .ok_or_else(|| format!("{count} values in {} bytes", bytes.len()))?;
    let (head, rest) = bytes.split_at(len);
    let values = if cfg!(target_endian = "little") {
        let mut values = vec![0.0f32; count];
        bytemuck::cast_slice_mut::<f32, u8>(&mut values).copy_from_slice(head);
        values
    } else {
        head.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    *bytes = rest;
    Ok(values)
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

fn take_u64(bytes: &mut &[u8]) -> Result<u64, String> {
    if bytes.len() < 8 {
        return Err("the message ends early".into());
    }
    Ok(bytes.get_u64_le())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let pull = Pull {
            trainer: 3,
            request: 77,
            clock: 12,
            exact: true,
            keys: vec![0, 5, 6, 1 << 40],
        };
        assert_eq!(
            Request::decode(&pull.encode(), 2).unwrap(),
            Request::Pull(pull)
        );
        let push = Push {
            trainer: 1,
            clock: 9,
            keys: vec![4, 1_000_000],
            values: vec![1.0, -2.5, 0.0, 7.0],
        };
        assert_eq!(
            Request::decode(&push.encode(), 2).unwrap(),
            Request::Push(push)
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
            keys,
            values,
        };
        assert_eq!(
            Request::decode(&push.encode(), 1).unwrap(),
            Request::Push(push)
        );
    }

    #[test]
    fn sparse_keys_take_about_two_bytes_each() {
        let keys: Vec<u64> = (0..5_000).map(|i| i * 200 + 7).collect();
        let pull = Pull {
            trainer: 0,
            request: 0,
            clock: 0,
            exact: false,
            keys,
        };
        let bytes = pull.encode().len();
        assert!(bytes < 5_000 * 2 + 40, "{bytes} bytes");
    }

    #[test]
    fn malformed_messages_are_refused() {
        let push = Push {
            trainer: 1,
            clock: 9,
            keys: vec![4, 8],
            values: vec![1.0, 2.0],
        }
        .encode();
        // Truncated, trailing bytes, wrong width, unknown kind, a repeated key.
        assert!(Request::decode(&push[..push.len() - 1], 1).is_err());
        let mut long = push.clone();
        long.push(0);
        assert!(Request::decode(&long, 1).is_err());
        assert!(Request::decode(&push, 2).is_err());
        let mut kind = push.clone();
        kind[0] = 9;
        assert!(Request::decode(&kind, 1).is_err());
        let repeated = encode_push(1, 9, &[4, 4], &[1.0, 2.0]);
        assert!(Request::decode(&repeated, 1).is_err());
        assert!(Request::decode(&[], 1).is_err());
        // A huge key count in a few bytes.
        let mut lie = vec![PULL];
        lie.extend_from_slice(&[0; 21]);
        put_varint(&mut lie, u64::MAX);
        assert!(Request::decode(&lie, 1).is_err());
        assert!(Answer::decode(&Answer::encode(1, 2, &[1.0]), 2).is_err());
    }
}
