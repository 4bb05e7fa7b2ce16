//! Shuffle blocks: batches of serialized records with a checksum.
//!
//! A block is `[record count u32][crc32 of payload u32][payload]`, little-endian, where the
//! payload is the records one after another in bincode's varint encoding. Records are
//! appended to a [`BlockBuilder`] without any per-record allocation; a block is cut when it
//! reaches [`TARGET_BLOCK_BYTES`], so blocks, not records, cross threads and sockets.

use bincode::Options;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::TaskError;

/// Size at which a builder's block is considered full.
pub const TARGET_BLOCK_BYTES: usize = 1 << 20;
const HEADER: usize = 8;

fn codec() -> impl Options + Copy {
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .allow_trailing_bytes()
}

/// Appends records into one block.
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    count: u32,
}

impl Default for BlockBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        BlockBuilder {
            buf: vec![0; HEADER],
            count: 0,
        }
    }

    /// Appends one record.
    #[inline]
    pub fn push<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<(), TaskError> {
        codec()
            .serialize_into(&mut self.buf, record)
            .map_err(|e| TaskError::failed(format!("encoding a record: {e}")))?;
        self.count += 1;
        Ok(())
    }

    /// Records appended since the last [`finish`](Self::finish).
    pub fn records(&self) -> u32 {
        self.count
    }

    /// Whether the block reached its target size.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.buf.len() >= TARGET_BLOCK_BYTES
    }

    /// Whether no record was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Seals the block and starts a new one.
    pub fn finish(&mut self) -> Bytes {
        let mut buf = std::mem::replace(&mut self.buf, vec![0; HEADER]);
        let crc = crc32fast::hash(&buf[HEADER..]);
        buf[0..4].copy_from_slice(&self.count.to_le_bytes());
        buf[4..8].copy_from_slice(&crc.to_le_bytes());
        self.count = 0;
        Bytes::from(buf)
    }
}

/// Checks a block's header and checksum; returns its record count.
pub fn verify_block(block: &[u8]) -> Result<u32, String> {
    if block.len() < HEADER {
        return Err(format!(
            "block of {} bytes is shorter than its header",
            block.len()
        ));
    }
    let count = u32::from_le_bytes(block[0..4].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(block[4..8].try_into().expect("4 bytes"));
    if crc32fast::hash(&block[HEADER..]) != crc {
        return Err("block checksum mismatch".into());
    }
    Ok(count)
}

/// Iterates the records of a verified block.
pub struct BlockRecords<T> {
    data: Bytes,
    pos: usize,
    remaining: u32,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> BlockRecords<T> {
    /// Verifies `block` and returns an iterator over its records.
    pub fn new(block: Bytes) -> Result<Self, TaskError> {
        let count = verify_block(&block).map_err(TaskError::Failed)?;
        Ok(BlockRecords {
            data: block,
            pos: HEADER,
            remaining: count,
            _t: std::marker::PhantomData,
        })
    }
}

impl<T: DeserializeOwned> Iterator for BlockRecords<T> {
    type Item = Result<T, TaskError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let mut slice = &self.data[self.pos..];
        let before = slice.len();
        match codec().deserialize_from::<_, T>(&mut slice) {
            Ok(v) => {
                self.pos += before - slice.len();
                Some(Ok(v))
            }
            Err(e) => {
                self.remaining = 0;
                Some(Err(TaskError::failed(format!(
                    "decoding a shuffle record: {e}"
                ))))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

/// Serializes a value with the block codec (for driver values and results).
pub fn encode_value<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, TaskError> {
    codec()
        .serialize(value)
        .map_err(|e| TaskError::failed(format!("encoding a value: {e}")))
}

/// Deserializes a value written by [`encode_value`].
pub fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, TaskError> {
    codec()
        .deserialize(bytes)
        .map_err(|e| TaskError::failed(format!("decoding a value: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_a_block() {
        let mut b = BlockBuilder::new();
        for i in 0..1000u64 {
            b.push(&(format!("w{i}"), i)).unwrap();
        }
        let block = b.finish();
        assert!(b.is_empty());
        let back: Vec<(String, u64)> = BlockRecords::new(block)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back.len(), 1000);
        assert_eq!(back[999], ("w999".to_string(), 999));
    }

    #[test]
    fn a_flipped_bit_is_detected() {
        let mut b = BlockBuilder::new();
        b.push(&"hello").unwrap();
        let mut raw = b.finish().to_vec();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(BlockRecords::<String>::new(Bytes::from(raw)).is_err());
        assert!(verify_block(&[1, 2]).is_err());
    }

    #[test]
    fn a_wrong_type_is_an_error_not_a_panic() {
        let mut b = BlockBuilder::new();
        b.push(&(1u8, 2u8)).unwrap();
        let r: Vec<Result<(String, String), _>> = BlockRecords::new(b.finish()).unwrap().collect();
        assert!(r[0].is_err());
    }
}
