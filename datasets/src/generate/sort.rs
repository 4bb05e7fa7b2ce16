//! Sort benchmark records in gensort's binary layout, 100 bytes each, generated
//! per record index.
//!
//! Layout: bytes 0..10 a random key; 10..12 `00 11`; 12..44 the record number as
//! 32 uppercase hex digits; 44..48 `88 99 AA BB`; 48..96 filler of twelve
//! four-byte runs of one hex digit each taken from the random bits; 96..100
//! `CC DD EE FF`.

use std::ops::Range;
use std::path::Path;

use super::writer::{write_chunks, Take};
use super::{mix64, stream_seed};
use crate::error::Result;

/// The size of one record.
pub const SORT_RECORD_BYTES: usize = 100;
/// The size of the key that records are sorted by.
pub const SORT_KEY_BYTES: usize = 10;

const SORT_TAG: u64 = 0x736f_7274_7265_636f;
/// Records per generated chunk of a file (1 MB).
const RECORDS_PER_CHUNK: u64 = 10_000;

fn hex_digit(v: u64) -> u8 {
    b"0123456789ABCDEF"[(v & 0xf) as usize]
}

/// Fills `out` with record `index` of the stream `seed`.
pub fn sort_record(seed: u64, index: u64, out: &mut [u8; SORT_RECORD_BYTES]) {
    let base = stream_seed(seed, SORT_TAG, index);
    let hi = mix64(base);
    let lo = mix64(base ^ 0x5851_f42d_4c95_7f2d);
    // The key: the 10 most significant bytes of the 128-bit random number.
    out[..8].copy_from_slice(&hi.to_be_bytes());
    out[8..10].copy_from_slice(&lo.to_be_bytes()[..2]);
    out[10] = 0x00;
    out[11] = 0x11;
    // A 128-bit record number whose high half is zero.
    out[12..28].fill(b'0');
    for i in 0..16 {
        out[28 + i] = hex_digit(index >> (60 - 4 * i));
    }
    out[44..48].copy_from_slice(&[0x88, 0x99, 0xAA, 0xBB]);
    for i in 0..12 {
        let digit = hex_digit(lo >> (44 - 4 * i));
        out[48 + 4 * i..52 + 4 * i].fill(digit);
    }
    out[96..100].copy_from_slice(&[0xCC, 0xDD, 0xEE, 0xFF]);
}

/// Appends the records with indices in `range` to `out`.
pub fn sort_records(seed: u64, range: Range<u64>, out: &mut Vec<u8>) {
    let mut record = [0u8; SORT_RECORD_BYTES];
    out.reserve((range.end.saturating_sub(range.start)) as usize * SORT_RECORD_BYTES);
    for index in range {
        sort_record(seed, index, &mut record);
        out.extend_from_slice(&record);
    }
}

/// Writes `size_bytes / 100` records (indices from 0) and returns how many.
pub fn write_sort_file(path: &Path, size_bytes: u64, seed: u64) -> Result<u64> {
    let records = size_bytes / SORT_RECORD_BYTES as u64;
    write_chunks(
        path,
        b"",
        Some(records.div_ceil(RECORDS_PER_CHUNK)),
        |index, buf| {
            let from = index * RECORDS_PER_CHUNK;
            sort_records(seed, from..(from + RECORDS_PER_CHUNK).min(records), buf);
        },
        |_, chunk| Take {
            bytes: chunk.len(),
            done: false,
        },
    )?;
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{for_each_record, plan_record_splits};

    #[test]
    fn layout_matches_gensort() {
        let mut r = [0u8; SORT_RECORD_BYTES];
        sort_record(1, 0x1234_abcd, &mut r);
        assert_eq!(&r[10..12], &[0x00, 0x11]);
        assert_eq!(&r[12..44], format!("{:032X}", 0x1234_abcd_u64).as_bytes());
        assert_eq!(&r[44..48], &[0x88, 0x99, 0xAA, 0xBB]);
        for group in r[48..96].chunks(4) {
            assert!(group.iter().all(|&b| b == group[0]));
            assert!(group[0].is_ascii_hexdigit() && !group[0].is_ascii_lowercase());
        }
        assert_eq!(&r[96..], &[0xCC, 0xDD, 0xEE, 0xFF]);
        let mut again = [0u8; SORT_RECORD_BYTES];
        sort_record(1, 0x1234_abcd, &mut again);
        assert_eq!(r, again);
        sort_record(2, 0x1234_abcd, &mut again);
        assert_ne!(r[..SORT_KEY_BYTES], again[..SORT_KEY_BYTES]);
    }

    #[test]
    fn keys_are_spread_out() {
        let mut buf = Vec::new();
        sort_records(3, 0..4096, &mut buf);
        let mut first_bytes = [0u32; 256];
        for rec in buf.chunks(SORT_RECORD_BYTES) {
            first_bytes[rec[0] as usize] += 1;
        }
        // 16 expected per value; none should be wildly off.
        assert!(first_bytes.iter().all(|&c| c < 48));
        let mut keys: Vec<&[u8]> = buf.chunks(SORT_RECORD_BYTES).map(|r| &r[..10]).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 4096);
    }

    #[test]
    fn file_holds_whole_records_readable_by_splits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sort.bin");
        let n = write_sort_file(&path, 2_500_050, 7).unwrap();
        assert_eq!(n, 25_000);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2_500_000);
        let splits = plan_record_splits(std::slice::from_ref(&path), 100, 7).unwrap();
        let mut index = 0u64;
        let mut want = [0u8; SORT_RECORD_BYTES];
        for split in &splits {
            for_each_record::<crate::DatasetError>(split, SORT_RECORD_BYTES, |rec| {
                sort_record(7, index, &mut want);
                assert_eq!(rec, &want[..]);
                index += 1;
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(index, n);
    }
}
