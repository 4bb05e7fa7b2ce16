//! Sort of 100-byte records on one thread, with the result of
//! `weir_jobs::sort::reference`: every record, in bytewise order, back to back.
//!
//! The technique:
//!
//! * All input files are read into one `Vec<u8>`; records are never copied until the
//!   final gather.
//! * Each record becomes one `u128`: its 10-byte key big-endian in the top 80 bits and
//!   its record number in the low 48, so comparing two integers orders by key (and by
//!   position among equal keys).
//! * A counting pass scatters the integers into 65,536 buckets by their top 16 bits;
//!   each bucket is then small enough to `sort_unstable` in cache.
//! * Runs of equal keys (rare with random keys) are re-sorted by their whole records,
//!   so the output is the bytewise order of the records and deterministic.
//! * The records are gathered into the output in order.

use std::io;
use std::path::PathBuf;

use weir_datasets::{SORT_KEY_BYTES, SORT_RECORD_BYTES};

const INDEX_BITS: u32 = 48;
const BUCKET_BITS: u32 = 16;

/// Every record of `files`, sorted bytewise, back to back. A file that is not a whole
/// number of records is an [`io::ErrorKind::InvalidData`] error.
pub fn sort_files(files: &[PathBuf]) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    for path in files {
        let start = all.len();
        let mut file = std::fs::File::open(path)?;
        io::Read::read_to_end(&mut file, &mut all)?;
        if (all.len() - start) % SORT_RECORD_BYTES != 0 {
            let message = format!("{}: not a whole number of records", path.display());
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
    }
    Ok(sort_records(&all))
}

/// The records of `records` (a whole number of 100-byte records), sorted bytewise.
///
/// # Panics
///
/// If `records` is not a whole number of records, or holds 2^48 records or more.
pub fn sort_records(records: &[u8]) -> Vec<u8> {
    assert_eq!(
        records.len() % SORT_RECORD_BYTES,
        0,
        "not a whole number of records"
    );
    assert!(
        ((records.len() / SORT_RECORD_BYTES) as u64) < 1 << INDEX_BITS,
        "too many records"
    );
    let order = sorted_order(records);
    let mut out = Vec::with_capacity(records.len());
    for &i in &order {
        let at = i as usize * SORT_RECORD_BYTES;
        out.extend_from_slice(&records[at..at + SORT_RECORD_BYTES]);
    }
    out
}

/// The record numbers of `records` in sorted order.
fn sorted_order(records: &[u8]) -> Vec<u64> {
    let n = records.len() / SORT_RECORD_BYTES;
    let mut counts = vec![0usize; 1 << BUCKET_BITS];
    let mut keys = Vec::with_capacity(n);
    for (i, record) in records.chunks_exact(SORT_RECORD_BYTES).enumerate() {
        let key = packed(record, i as u64);
        counts[bucket(key)] += 1;
        keys.push(key);
    }
    // Bucket starts, then a stable scatter.
    let mut starts = Vec::with_capacity(counts.len() + 1);
    let mut total = 0;
    for &c in &counts {
        starts.push(total);
        total += c;
    }
    starts.push(total);
    let mut next = starts.clone();
    let mut scattered = vec![0u128; n];
    for &key in &keys {
        let b = bucket(key);
        scattered[next[b]] = key;
        next[b] += 1;
    }
    drop(keys);
    for w in starts.windows(2) {
        scattered[w[0]..w[1]].sort_unstable();
    }
    let mut order: Vec<u64> = scattered
        .iter()
        .map(|&k| (k & ((1 << INDEX_BITS) - 1)) as u64)
        .collect();
    // Equal keys: order by the whole records.
    let mut i = 0;
    while i < n {
        let key = scattered[i] >> INDEX_BITS;
        let mut j = i + 1;
        while j < n && scattered[j] >> INDEX_BITS == key {
            j += 1;
        }
        if j - i > 1 {
            order[i..j].sort_unstable_by(|&a, &b| record(records, a).cmp(record(records, b)));
        }
        i = j;
    }
    order
}

#[inline]
fn record(records: &[u8], i: u64) -> &[u8] {
    let at = i as usize * SORT_RECORD_BYTES;
    &records[at..at + SORT_RECORD_BYTES]
}

/// The record's key in the top 80 bits and its number in the low 48.
#[inline]
fn packed(record: &[u8], index: u64) -> u128 {
    let mut key = [0u8; 16];
    key[..SORT_KEY_BYTES].copy_from_slice(&record[..SORT_KEY_BYTES]);
    u128::from_be_bytes(key) | index as u128
}

#[inline]
fn bucket(key: u128) -> usize {
    (key >> (128 - BUCKET_BITS)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_sorted(records: &[u8]) -> Vec<u8> {
        let mut all: Vec<&[u8]> = records.chunks_exact(SORT_RECORD_BYTES).collect();
        all.sort();
        all.concat()
    }

    #[test]
    fn matches_std_sort_on_generated_records() {
        let mut records = Vec::new();
        weir_datasets::generate::sort_records(7, 0..50_000, &mut records);
        assert_eq!(sort_records(&records), std_sorted(&records));
    }

    #[test]
    fn equal_keys_fall_back_to_the_whole_record() {
        let mut records = Vec::new();
        let mut record = [0u8; SORT_RECORD_BYTES];
        for i in (0..3000u64).rev() {
            weir_datasets::sort_record(12, i, &mut record);
            record[..SORT_KEY_BYTES].fill([0x00, 0x7f, 0xff][(i % 3) as usize]);
            records.extend_from_slice(&record);
        }
        weir_datasets::generate::sort_records(3, 0..1000, &mut records);
        // Exact duplicates too.
        records.extend_from_within(..SORT_RECORD_BYTES * 10);
        assert_eq!(sort_records(&records), std_sorted(&records));
    }

    #[test]
    fn sorts_files_like_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.dat");
        weir_datasets::write_sort_file(&a, 300_000, 11).unwrap();
        let b = dir.path().join("b.dat");
        let mut records = Vec::new();
        weir_datasets::generate::sort_records(5, 0..777, &mut records);
        std::fs::write(&b, &records).unwrap();
        let files = vec![a, b];
        let expected = weir_jobs::sort::reference(&files).unwrap();
        assert_eq!(expected.len(), 300_000 + 77_700);
        assert_eq!(sort_files(&files).unwrap(), expected);
        let bad = dir.path().join("bad.dat");
        std::fs::write(&bad, [0u8; 150]).unwrap();
        let err = sort_files(&[bad]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn empty_input_sorts_to_nothing() {
        assert!(sort_records(&[]).is_empty());
    }
}
