//! Splits of files of fixed-size binary records (such as gensort's 100-byte sort
//! records) and their reader. Splits reuse [`TextSplit`] and always start and end
//! on record boundaries.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::error::{DatasetError, Result};
use crate::text::{cut, file_size, share, TextSplit, READ_BUFFER_BYTES};

/// Cuts files of fixed-size records into about `target_splits` ranges in total,
/// each a whole number of records. A file whose size is not a multiple of
/// `record_len` is an [`DatasetError::Invalid`] error naming it; empty files
/// produce no split.
pub fn plan_record_splits(
    files: &[PathBuf],
    record_len: u64,
    target_splits: usize,
) -> Result<Vec<TextSplit>> {
    if record_len == 0 {
        return Err(DatasetError::Other("record length must be positive".into()));
    }
    let mut sizes = Vec::with_capacity(files.len());
    for path in files {
        let size = file_size(path)?;
        if size % record_len != 0 {
            return Err(DatasetError::invalid(
                path,
                format!("size {size} is not a multiple of the record length {record_len}"),
            ));
        }
        sizes.push(size);
    }
    let total_records: u64 = sizes.iter().map(|s| s / record_len).sum();
    let target = target_splits.max(1) as u64;
    let mut splits = Vec::new();
    for (path, &size) in files.iter().zip(&sizes) {
        let records = size / record_len;
        if records == 0 {
            continue;
        }
        let n = share(records, target, total_records).clamp(1, records);
        cut(path, size, n, record_len, &mut splits);
    }
    Ok(splits)
}

/// Calls `f` with each `record_len`-byte record of the split, in order.
pub fn for_each_record<E: From<DatasetError>>(
    split: &TextSplit,
    record_len: usize,
    mut f: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let path = &split.path;
    let len = record_len as u64;
    if record_len == 0 || split.start % len != 0 || split.end % len != 0 {
        return Err(E::from(DatasetError::invalid(
            path,
            format!(
                "split [{}, {}) is not aligned to records of {record_len} bytes",
                split.start, split.end
            ),
        )));
    }
    let io_err = |e| E::from(DatasetError::io(path, e));
    if split.start >= split.end {
        return Ok(());
    }
    let mut file = File::open(path).map_err(io_err)?;
    file.seek(SeekFrom::Start(split.start)).map_err(io_err)?;
    let per_read = (READ_BUFFER_BYTES / record_len).max(1) * record_len;
    let mut remaining = split.len();
    let mut buf = vec![0u8; per_read.min(usize::try_from(remaining).unwrap_or(per_read))];
    while remaining > 0 {
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(buf.len()));
        let mut filled = 0;
        while filled < want {
            match file.read(&mut buf[filled..want]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        if filled < want {
            return Err(E::from(DatasetError::invalid(
                path,
                format!(
                    "file ended at byte {} inside split [{}, {})",
                    split.end - remaining + filled as u64,
                    split.start,
                    split.end
                ),
            )));
        }
        for record in buf[..want].chunks_exact(record_len) {
            f(record)?;
        }
        remaining -= want as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_on_record_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        let b = dir.path().join("b.bin");
        let rec = |i: u8| [i; 10];
        std::fs::write(&a, (0..37u8).flat_map(rec).collect::<Vec<_>>()).unwrap();
        std::fs::write(&b, (37..40u8).flat_map(rec).collect::<Vec<_>>()).unwrap();
        for target in 1..50 {
            let splits = plan_record_splits(&[a.clone(), b.clone()], 10, target).unwrap();
            assert!(splits.iter().all(|s| s.start % 10 == 0 && s.end % 10 == 0));
            let mut seen = Vec::new();
            for split in &splits {
                for_each_record::<DatasetError>(split, 10, |r| {
                    assert!(r.iter().all(|&x| x == r[0]));
                    seen.push(r[0]);
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(seen, (0..40).collect::<Vec<u8>>(), "target {target}");
        }
    }

    #[test]
    fn record_file_of_wrong_size_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("odd.bin");
        std::fs::write(&a, [0u8; 105]).unwrap();
        let err = plan_record_splits(&[a], 100, 2).unwrap_err();
        assert!(matches!(err, DatasetError::Invalid { .. }));
        assert!(err.to_string().contains("odd.bin"));
    }

    #[test]
    fn truncated_record_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("short.bin");
        std::fs::write(&a, [0u8; 50]).unwrap();
        let split = TextSplit {
            path: a,
            start: 0,
            end: 100,
            first_line: None,
        };
        let err = for_each_record::<DatasetError>(&split, 10, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("short.bin"));
    }
}
