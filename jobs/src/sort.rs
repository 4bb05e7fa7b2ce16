//! `sort`: sorts 100-byte records (gensort's layout) by their 10-byte key, compared
//! bytewise, into part files holding the records unchanged: read in name order
//! (`part-00000.dat`, `part-00001.dat`, …) the part files are the sorted input. Records
//! with equal keys are ordered by their remaining bytes, so the output is deterministic.
//!
//! `sort_by_key` range-partitions the records (a sampling pass picks the ranges) and sorts
//! each range. A record travels as a [`SortRecord`]: its bytes, encoded as one byte string,
//! with a copy of its key beside them so that most comparisons never leave the sort's
//! array. Without `--output` the job checks the order of its result instead of saving it.

use std::cmp::Ordering;
use std::path::PathBuf;

use serde::de::{Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use weir_datasets::{SORT_KEY_BYTES, SORT_RECORD_BYTES};
use weir_engine::{JobContext, Result};
use weir_operators::prelude::*;

use crate::registry::Job;

/// Sorts 100-byte records by their 10-byte key.
#[derive(Debug, Clone, clap::Parser)]
pub struct Sort {
    /// Input file, directory or glob of 100-byte records (repeatable).
    #[arg(long = "input", required = true)]
    pub inputs: Vec<String>,
}

impl Job for Sort {
    const NAME: &'static str = "sort";
    const ABOUT: &'static str = "Sorts 100-byte records by their 10-byte key (raw part files)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let sorted = sorted_records(ctx, &self.inputs)?;
        if let Some(dir) = ctx.options().output.clone() {
            let saved = sorted.save_raw(&dir)?;
            ctx.set_result("records", saved.records);
            if ctx.should_print() {
                println!("{} records sorted into {}", saved.records, dir.display());
            }
        } else {
            let check = check_order(&sorted)?;
            ctx.set_result("records", check.records);
            ctx.set_result("sorted", check.sorted);
            if ctx.should_print() {
                let first = check.first_key.as_deref().map(hex).unwrap_or_default();
                println!(
                    "{} records, sorted: {}, first key: {first}",
                    check.records, check.sorted
                );
            }
        }
        Ok(())
    }
}

/// A record with a copy of its key (the first [`SORT_KEY_BYTES`] bytes, zero-padded),
/// ordered like its bytes. Encoded as the record's bytes only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortRecord {
    key: [u8; SORT_KEY_BYTES],
    record: Vec<u8>,
}

impl SortRecord {
    /// Wraps `record`.
    pub fn new(record: Vec<u8>) -> Self {
        let mut key = [0u8; SORT_KEY_BYTES];
        let n = record.len().min(SORT_KEY_BYTES);
        key[..n].copy_from_slice(&record[..n]);
        SortRecord { key, record }
    }

    /// The record's bytes.
    pub fn into_record(self) -> Vec<u8> {
        self.record
    }
}

impl Ord for SortRecord {
    /// The bytewise order of the records: a zero-padded prefix never orders two records
    /// against their bytes, and equal keys fall back to the whole records.
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| self.record.cmp(&other.record))
    }
}

impl PartialOrd for SortRecord {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for SortRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.record)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = SortRecord;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a record's bytes")
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> std::result::Result<SortRecord, E> {
        Ok(SortRecord::new(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> std::result::Result<SortRecord, E> {
        Ok(SortRecord::new(v.to_vec()))
    }
}

impl<'de> Deserialize<'de> for SortRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_byte_buf(RecordVisitor)
    }
}

/// The distributed sort: the records of `inputs` in order, over up to `ctx.parallelism()`
/// partitions that hold consecutive ranges.
pub fn sorted_records(ctx: &JobContext, inputs: &[String]) -> Result<Dataset<Vec<u8>>> {
    Ok(ctx
        .record_file(inputs, SORT_RECORD_BYTES)?
        .map(|r| (SortRecord::new(r), ()))
        .sort_by_key(ctx.parallelism())?
        .map(|(r, ())| r.into_record()))
}

/// What [`check_order`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCheck {
    pub records: u64,
    /// Whether every record is not below the one before it (partitions read in order).
    pub sorted: bool,
    /// The first record's key.
    pub first_key: Option<Vec<u8>>,
}

/// Counts the records of `ds` and checks that, read partition by partition, they are in
/// bytewise order. Sends one small summary per partition to the driver.
pub fn check_order(ds: &Dataset<Vec<u8>>) -> Result<OrderCheck> {
    let parts = ds
        .map_partitions(|_, records| {
            let (mut count, mut sorted) = (0u64, true);
            let mut first: Option<Vec<u8>> = None;
            let mut last: Option<Vec<u8>> = None;
            for r in records {
                if let Some(prev) = &last {
                    sorted &= prev <= &r;
                } else {
                    first = Some(r.clone());
                }
                last = Some(r);
                count += 1;
            }
            std::iter::once((count, sorted, first, last))
        })
        .collect()?;
    let mut check = OrderCheck {
        records: 0,
        sorted: true,
        first_key: None,
    };
    let mut previous: Option<Vec<u8>> = None;
    for (count, sorted, first, last) in parts {
        check.records += count;
        check.sorted &= sorted;
        if let Some(first) = first {
            if let Some(prev) = &previous {
                check.sorted &= *prev <= first;
            }
            if check.first_key.is_none() {
                check.first_key = Some(first[..first.len().min(SORT_KEY_BYTES)].to_vec());
            }
        }
        if last.is_some() {
            previous = last;
        }
    }
    Ok(check)
}

/// Lower-case hexadecimal digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sequential reference: every record of `files`, sorted bytewise, back to back.
pub fn reference(files: &[PathBuf]) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    for f in files {
        let bytes = std::fs::read(f)?;
        if bytes.len() % SORT_RECORD_BYTES != 0 {
            let message = format!("{}: not a whole number of records", f.display());
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                message,
            ));
        }
        all.extend_from_slice(&bytes);
    }
    let mut records: Vec<&[u8]> = all.chunks_exact(SORT_RECORD_BYTES).collect();
    records.sort_unstable();
    Ok(records.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_operators::testing::{local_with, try_local};

    /// A gensort file and one whose keys repeat (three keys, payloads in descending order).
    fn inputs(dir: &std::path::Path) -> Vec<PathBuf> {
        let a = dir.join("a.dat");
        weir_datasets::write_sort_file(&a, 200_000, 11).unwrap();
        let mut dups = Vec::new();
        let mut record = [0u8; SORT_RECORD_BYTES];
        for i in (0..600u64).rev() {
            weir_datasets::sort_record(12, i, &mut record);
            record[..SORT_KEY_BYTES].fill([0x00, 0x7f, 0xff][(i % 3) as usize]);
            dups.extend_from_slice(&record);
        }
        let b = dir.join("b.dat");
        std::fs::write(&b, &dups).unwrap();
        vec![a, b]
    }

    fn read_parts(dir: &std::path::Path) -> (usize, Vec<u8>) {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "dat"))
            .collect();
        names.sort();
        let bytes = names
            .iter()
            .flat_map(|p| std::fs::read(p).unwrap())
            .collect();
        (names.len(), bytes)
    }

    #[test]
    fn part_files_concatenate_to_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        let files = inputs(dir.path());
        let expected = reference(&files).unwrap();
        assert_eq!(expected.len(), 200_000 + 60_000);
        let input: Vec<String> = files.iter().map(|f| f.to_string_lossy().into()).collect();
        for threads in [1, 3] {
            let out = dir.path().join(format!("out-{threads}"));
            let (input, o) = (input.clone(), out.clone());
            let (saved, check) = local_with(threads, move |ctx| {
                let sorted = sorted_records(ctx, &input)?;
                Ok((sorted.save_raw(&o)?, check_order(&sorted)?))
            });
            let (parts, got) = read_parts(&out);
            assert_eq!(saved.records, 2_600);
            assert_eq!(parts, saved.parts);
            assert!(threads == 1 || parts > 1, "one range only");
            assert!(got == expected, "threads={threads}: not the sorted input");
            assert!(check.sorted);
            assert_eq!(check.records, 2_600);
            assert_eq!(
                check.first_key.as_deref(),
                Some(&expected[..SORT_KEY_BYTES])
            );
        }
    }

    #[test]
    fn unsorted_data_is_reported_and_the_job_runs() {
        let records: Vec<Vec<u8>> = (0..50u8)
            .rev()
            .map(|i| vec![i; SORT_RECORD_BYTES])
            .collect();
        let check = local_with(2, move |ctx| check_order(&ctx.parallelize(records, 3)?));
        assert_eq!((check.records, check.sorted), (50, false));
        assert_eq!(check.first_key, Some(vec![49; SORT_KEY_BYTES]));
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<String> = inputs(dir.path())
            .iter()
            .map(|f| f.to_string_lossy().into())
            .collect();
        try_local(2, move |ctx| Sort { inputs }.run(ctx)).unwrap();
    }

    #[test]
    fn a_partial_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.dat");
        std::fs::write(&path, [7u8; 250]).unwrap();
        let input = vec![path.to_string_lossy().into_owned()];
        let err = try_local(1, move |ctx| sorted_records(ctx, &input)?.count()).unwrap_err();
        assert!(err.to_string().contains("short.dat"), "{err}");
        assert!(reference(&[path]).is_err());
    }
}
