//! Byte-range splits of line-oriented text files and their reader, the hot path of
//! every text job, plus the same for fixed-size binary records.
//!
//! Splitting follows Hadoop's rule: a split owns every line whose first byte lies
//! in `[start, end)`. Its reader skips the partial first line when `start > 0` and
//! reads past `end` to finish its last line, so every line is read exactly once.
//! Fixed-size binary records have their own splits in [`crate::records`], also
//! reachable from here.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
pub use crate::records::{for_each_record, plan_record_splits};

/// Largest read buffer of the line and record readers.
pub(crate) const READ_BUFFER_BYTES: usize = 1 << 20;
/// Smallest read buffer of the line reader.
const MIN_READ_BUFFER_BYTES: usize = 8 << 10;

/// A byte range `[start, end)` of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextSplit {
    pub path: PathBuf,
    pub start: u64,
    pub end: u64,
    /// The 1-based number of the first line this split owns, when planned with line
    /// numbers; `None` otherwise (and always for record splits).
    pub first_line: Option<u64>,
}

impl TextSplit {
    /// The number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub(crate) fn file_size(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| DatasetError::io(path, e))?;
    if meta.is_dir() {
        return Err(DatasetError::invalid(path, "is a directory, not a file"));
    }
    Ok(meta.len())
}

/// `round(part * target / total)` without overflow.
pub(crate) fn share(part: u64, target: u64, total: u64) -> u64 {
    let (part, target, total) = (part as u128, target as u128, total as u128);
    ((2 * part * target + total) / (2 * total)) as u64
}

/// Cuts `size` bytes into `n` nearly equal ranges, aligned to `unit` bytes.
pub(crate) fn cut(path: &Path, size: u64, n: u64, unit: u64, out: &mut Vec<TextSplit>) {
    let units = size / unit;
    for i in 0..n {
        let lo = (units as u128 * i as u128 / n as u128) as u64 * unit;
        let hi = (units as u128 * (i + 1) as u128 / n as u128) as u64 * unit;
        out.push(TextSplit {
            path: path.to_path_buf(),
            start: lo,
            end: hi,
            first_line: None,
        });
    }
}

/// Cuts `files` into about `target_splits` byte ranges in total.
///
/// Each file gets a share of the target proportional to its size; each split is at
/// least `min_split_bytes` long except when a whole file is smaller; no split spans
/// two files and empty files produce none. With `with_line_numbers`, every split's
/// `first_line` is set by counting newlines across the files (in parallel, one pass).
pub fn plan_text_splits(
    files: &[PathBuf],
    target_splits: usize,
    min_split_bytes: u64,
    with_line_numbers: bool,
) -> Result<Vec<TextSplit>> {
    let sizes = files
        .iter()
        .map(|p| file_size(p))
        .collect::<Result<Vec<u64>>>()?;
    let total: u64 = sizes.iter().sum();
    let target = target_splits.max(1) as u64;
    let min = min_split_bytes.max(1);
    let mut splits = Vec::new();
    for (path, &size) in files.iter().zip(&sizes) {
        if size == 0 {
            continue;
        }
        let n = share(size, target, total).clamp(1, (size / min).max(1));
        cut(path, size, n, 1, &mut splits);
    }
    if with_line_numbers {
        number_lines(&mut splits)?;
    }
    Ok(splits)
}

/// Sets `first_line` of every split. Splits of one file are consecutive and start
/// at byte 0. The first line owned by a split starting at `s > 0` is
/// `2 + newlines in [0, s - 1)`, so the file is cut into segments between the
/// bytes `s_k - 1` that are counted in parallel and summed.
fn number_lines(splits: &mut [TextSplit]) -> Result<()> {
    let mut segments = Vec::new();
    for (i, split) in splits.iter().enumerate() {
        let next_in_same_file = splits
            .get(i + 1)
            .filter(|next| next.path == split.path && next.start > 0);
        if let Some(next) = next_in_same_file {
            let from = split.start.saturating_sub(1);
            segments.push((i, from, next.start - 1));
        }
    }
    let counts = segments
        .par_iter()
        .map(|&(i, from, to)| count_newlines(&splits[i].path, from, to))
        .collect::<Result<Vec<u64>>>()?;
    let mut count_iter = segments.iter().zip(counts);
    let mut running = 0u64;
    let mut pending = count_iter.next();
    for (i, split) in splits.iter_mut().enumerate() {
        if split.start == 0 {
            running = 0;
            split.first_line = Some(1);
        } else {
            split.first_line = Some(2 + running);
        }
        if let Some((&(seg, _, _), count)) = pending {
            if seg == i {
                running += count;
                pending = count_iter.next();
            }
        }
    }
    Ok(())
}

/// Counts `'\n'` bytes in `[from, to)` of a file.
fn count_newlines(path: &Path, from: u64, to: u64) -> Result<u64> {
    let mut file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
    file.seek(SeekFrom::Start(from))
        .map_err(|e| DatasetError::io(path, e))?;
    let mut remaining = to - from;
    let mut buf = vec![0u8; READ_BUFFER_BYTES.min(remaining as usize).max(1)];
    let mut count = 0u64;
    while remaining > 0 {
        let want = buf.len().min(remaining as usize);
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DatasetError::io(path, e)),
        };
        count += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        remaining -= n as u64;
    }
    Ok(count)
}

/// A forward-only line reader over one file that hands out lines as ranges of its
/// own buffer, so a line is copied only when it straddles two reads.
struct LineReader {
    file: File,
    buf: Vec<u8>,
    /// Start of the unread bytes.
    lo: usize,
    /// End of the valid bytes.
    hi: usize,
    /// Bytes in `[lo, scanned)` are known to hold no newline.
    scanned: usize,
    eof: bool,
}

impl LineReader {
    fn new(file: File, capacity: usize) -> Self {
        LineReader {
            file,
            buf: vec![0; capacity.max(1)],
            lo: 0,
            hi: 0,
            scanned: 0,
            eof: false,
        }
    }

    /// The next line with its terminator, as a range of `self.buf`; `None` at the
    /// end of the file.
    fn next_line(&mut self) -> io::Result<Option<(usize, usize)>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scanned..self.hi]) {
                let start = self.lo;
                let end = self.scanned + i + 1;
                self.lo = end;
                self.scanned = end;
                return Ok(Some((start, end)));
            }
            self.scanned = self.hi;
            if self.eof {
                if self.lo < self.hi {
                    let start = self.lo;
                    self.lo = self.hi;
                    return Ok(Some((start, self.hi)));
                }
                return Ok(None);
            }
            if self.lo > 0 {
                self.buf.copy_within(self.lo..self.hi, 0);
                self.hi -= self.lo;
                self.scanned -= self.lo;
                self.lo = 0;
            }
            if self.hi == self.buf.len() {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
            match self.file.read(&mut self.buf[self.hi..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.hi += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Calls `f(line, line_number)` for each line the split owns.
///
/// The line excludes its trailing `"\n"` or `"\r\n"`; invalid UTF-8 is replaced by
/// U+FFFD as [`String::from_utf8_lossy`] does and never fails. `line_number` is
/// `first_line + index` when `first_line` is set, else 0. An error from `f` stops
/// the reading and is returned as it is.
pub fn for_each_line<E: From<DatasetError>>(
    split: &TextSplit,
    f: impl FnMut(&str, u64) -> Result<(), E>,
) -> Result<(), E> {
    let span = usize::try_from(split.len()).unwrap_or(usize::MAX);
    let capacity = span
        .saturating_add(MIN_READ_BUFFER_BYTES)
        .clamp(MIN_READ_BUFFER_BYTES, READ_BUFFER_BYTES);
    read_lines(split, capacity, f)
}

fn read_lines<E: From<DatasetError>>(
    split: &TextSplit,
    capacity: usize,
    mut f: impl FnMut(&str, u64) -> Result<(), E>,
) -> Result<(), E> {
    let mut lines = SplitLines::with_capacity(split, capacity)?;
    while let Some((text, line_no)) = lines.next_line()? {
        f(text, line_no)?;
    }
    Ok(())
}

/// A pull reader over the lines a split owns: the streaming form of [`for_each_line`],
/// for callers that hand lines on one at a time (an iterator pipeline).
pub struct SplitLines {
    path: PathBuf,
    reader: Option<LineReader>,
    pos: u64,
    end: u64,
    line_no: u64,
    step: u64,
    decoded: String,
}

impl SplitLines {
    /// Opens `split` for reading.
    pub fn open(split: &TextSplit) -> Result<Self> {
        let span = usize::try_from(split.len()).unwrap_or(usize::MAX);
        let capacity = span
            .saturating_add(MIN_READ_BUFFER_BYTES)
            .clamp(MIN_READ_BUFFER_BYTES, READ_BUFFER_BYTES);
        Self::with_capacity(split, capacity)
    }

    fn with_capacity(split: &TextSplit, capacity: usize) -> Result<Self> {
        let path = &split.path;
        let io_err = |e| DatasetError::io(path, e);
        let mut lines = SplitLines {
            path: path.clone(),
            reader: None,
            pos: split.start,
            end: split.end,
            line_no: split.first_line.unwrap_or(0),
            step: u64::from(split.first_line.is_some()),
            decoded: String::new(),
        };
        if split.start >= split.end {
            return Ok(lines);
        }
        let mut file = File::open(path).map_err(io_err)?;
        let skip_partial = split.start > 0;
        if skip_partial {
            // Start one byte early: if that byte ends a line, the line at `start` is ours.
            lines.pos -= 1;
        }
        file.seek(SeekFrom::Start(lines.pos)).map_err(io_err)?;
        let mut reader = LineReader::new(file, capacity);
        if skip_partial {
            match reader.next_line().map_err(io_err)? {
                Some((s, e)) => lines.pos += (e - s) as u64,
                None => return Ok(lines),
            }
        }
        lines.reader = Some(reader);
        Ok(lines)
    }

    /// The next line (without its terminator, decoded lossily) and its line number
    /// (`first_line + index`, or 0 without line numbers); `None` after the last one.
    pub fn next_line(&mut self) -> Result<Option<(&str, u64)>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        let Some((s, e)) = reader
            .next_line()
            .map_err(|e| DatasetError::io(&self.path, e))?
        else {
            self.reader = None;
            return Ok(None);
        };
        self.pos += (e - s) as u64;
        let line_no = self.line_no;
        self.line_no += self.step;
        let reader = self.reader.as_ref().expect("checked above");
        let mut line = &reader.buf[s..e];
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        match std::str::from_utf8(line) {
            Ok(t) => Ok(Some((t, line_no))),
            Err(_) => {
                self.decoded = String::from_utf8_lossy(line).into_owned();
                Ok(Some((&self.decoded, line_no)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn random_text(rng: &mut Xoshiro256PlusPlus) -> Vec<u8> {
        let mut out = Vec::new();
        let lines = rng.gen_range(0..40);
        for _ in 0..lines {
            let kind = rng.gen_range(0..10);
            if kind == 0 {
                // empty line
            } else if kind == 1 {
                // a long line, longer than the tiny test buffers
                for _ in 0..rng.gen_range(20..200) {
                    out.push(b'a' + rng.gen_range(0..26));
                }
            } else {
                for _ in 0..rng.gen_range(1..12) {
                    match rng.gen_range(0..20) {
                        0 => out.push(0xff),
                        1 => out.extend_from_slice(&[0xe2, 0x82]),
                        2 => out.push(b'\r'),
                        3 => out.extend_from_slice("é€".as_bytes()),
                        _ => out.push(b'a' + rng.gen_range(0..26)),
                    }
                }
            }
            if rng.gen_bool(0.3) {
                out.extend_from_slice(b"\r\n");
            } else {
                out.push(b'\n');
            }
        }
        match rng.gen_range(0..3) {
            0 => {}
            1 => out.extend_from_slice(b"last line without newline"),
            _ => out.extend_from_slice(b"ends with cr\r"),
        }
        out
    }

    fn read_all(splits: &[TextSplit], capacity: usize) -> Vec<(String, u64)> {
        let mut got = Vec::new();
        for split in splits {
            read_lines::<DatasetError>(split, capacity, |line, no| {
                got.push((line.to_string(), no));
                Ok(())
            })
            .unwrap();
        }
        got
    }

    #[test]
    fn splits_lose_and_duplicate_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
        for case in 0..60 {
            let bytes = random_text(&mut rng);
            let path = dir.path().join(format!("t{case}.txt"));
            std::fs::write(&path, &bytes).unwrap();
            let decoded = String::from_utf8_lossy(&bytes).into_owned();
            let expected: Vec<&str> = decoded.lines().collect();
            let files = vec![path];
            for target in (1..=24).chain([50, 1000]) {
                for capacity in [3, 64, 1 << 16] {
                    let splits = plan_text_splits(&files, target, 1, true).unwrap();
                    let got = read_all(&splits, capacity);
                    let lines: Vec<&str> = got.iter().map(|(l, _)| l.as_str()).collect();
                    assert_eq!(lines, expected, "case {case} target {target}");
                    let numbers: Vec<u64> = got.iter().map(|(_, n)| *n).collect();
                    let want: Vec<u64> = (1..=expected.len() as u64).collect();
                    assert_eq!(numbers, want, "case {case} target {target}");
                }
                let splits = plan_text_splits(&files, target, 1, false).unwrap();
                let got = read_all(&splits, 1 << 16);
                assert!(got.iter().all(|(_, n)| *n == 0));
                assert_eq!(got.len(), expected.len());
            }
        }
    }

    #[test]
    fn first_line_matches_owned_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"\n\nab\ncd\n\nef").unwrap();
        for target in 1..=11 {
            let splits = plan_text_splits(std::slice::from_ref(&path), target, 1, true).unwrap();
            for split in &splits {
                let mut first = None;
                for_each_line::<DatasetError>(split, |_, no| {
                    first.get_or_insert(no);
                    Ok(())
                })
                .unwrap();
                if let Some(first) = first {
                    assert_eq!(Some(first), split.first_line, "{split:?}");
                }
            }
        }
    }

    #[test]
    fn planning_respects_files_targets_and_minimums() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.txt");
        let small = dir.path().join("small.txt");
        let empty = dir.path().join("empty.txt");
        std::fs::write(&big, vec![b'x'; 9000]).unwrap();
        std::fs::write(&small, vec![b'y'; 1000]).unwrap();
        std::fs::write(&empty, b"").unwrap();
        let files = vec![big.clone(), empty, small.clone()];
        let splits = plan_text_splits(&files, 10, 1, false).unwrap();
        assert_eq!(splits.len(), 10);
        assert_eq!(splits.iter().filter(|s| s.path == big).count(), 9);
        assert_eq!(splits.iter().filter(|s| s.path == small).count(), 1);
        // contiguous and covering each file
        for (path, size) in [(&big, 9000), (&small, 1000)] {
            let mine: Vec<_> = splits.iter().filter(|s| &s.path == path).collect();
            assert_eq!(mine[0].start, 0);
            assert_eq!(mine.last().unwrap().end, size);
            for w in mine.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
        }
        let splits = plan_text_splits(&files, 100, 2500, false).unwrap();
        assert_eq!(splits.iter().filter(|s| s.path == big).count(), 3);
        assert!(splits.iter().all(|s| s.len() >= 2500 || s.path == small));
        assert_eq!(splits.iter().filter(|s| s.path == small).count(), 1);
        assert!(plan_text_splits(&[], 4, 1, true).unwrap().is_empty());
    }

    #[test]
    fn missing_file_names_the_path() {
        let err =
            plan_text_splits(&[PathBuf::from("/nonexistent/x.txt")], 2, 1, false).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.txt"));
    }

    #[test]
    fn callback_error_stops_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"a\nb\nc\n").unwrap();
        let split = &plan_text_splits(std::slice::from_ref(&path), 1, 1, true).unwrap()[0];
        let mut seen = 0;
        let err = for_each_line(split, |_, no| {
            seen += 1;
            if no == 2 {
                Err(DatasetError::malformed(&path, no, "stop"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(seen, 2);
        assert!(err.to_string().ends_with("a.txt:2: stop"));
    }
}
