//! Peer implementations: Weir's benchmark jobs written on timely dataflow and
//! differential dataflow, the engines a Rust dataflow system is measured against.
//!
//! Each peer runs as one dataflow on `workers` timely worker threads of this process
//! (`timely::Config::process`), and the workers exchange data through timely's channels
//! exactly as they would across processes: records are routed to the worker that owns
//! them by a hash of their key. Each function reads its input files itself, so its time
//! includes the reading, like a Weir run's. Every worker reads only its own share of
//! every input file: the byte range `[size·i/W, size·(i+1)/W)` of worker `i` of `W`,
//! widened to whole lines by Hadoop's rule (a worker owns each line whose first byte
//! lies in its range), through [`LineChunks`]. The results have the shapes of the
//! single-threaded [`crate::baselines`] and of the jobs' sequential references.
//!
//! * [`wordcount`] (timely): each worker counts the words of its input in a local
//!   combiner (the baseline's word table), sends the distinct words with their counts
//!   to the words' owners every 256 MiB of input and at the end, and the owners add
//!   them up — a MapReduce word count with a combiner, on the shape of timely's own
//!   `wordcount` example;
//! * [`pagerank`] (timely): a loop closed with `feedback`, one round per timestamp, in
//!   the spirit of timely's `pagerank` example: edges live with their source's owner,
//!   which sends each round's rank shares (combined per destination) to the
//!   destinations' owners, and a per-round total carries the dangling mass;
//! * [`components`] (differential): label propagation to a fixed point with `iterate`,
//!   a join of the labels with the edges and a `reduce` keeping the smallest label, as
//!   in differential dataflow's own connected-components examples.
//!
//! Errors are [`weir_datasets::DatasetError`]s naming the file (and the line, for a
//! malformed one); a worker that fails to read still takes part in the dataflow until
//! it ends, so the other workers never wait for it forever.

pub mod components;
pub mod pagerank;
pub mod wordcount;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use weir_datasets::{parse_edge_line, parse_vertex_line, DatasetError, Result};

/// Bytes a worker reads from a file at a time (a longer line grows the buffer).
pub const CHUNK_BYTES: usize = 4 << 20;

/// The timely configuration of `workers` threads in this process (at least one).
fn config(workers: usize) -> timely::Config {
    timely::Config::process(workers.max(1))
}

/// Gathers the workers' results: the first error if any worker failed (a panicked
/// worker is reported as [`DatasetError::Other`]), else every worker's part in order.
fn join_workers<T: Send + 'static>(
    guards: std::result::Result<timely::communication::WorkerGuards<Result<T>>, String>,
) -> Result<Vec<T>> {
    let guards = guards.map_err(|e| DatasetError::Other(format!("timely: {e}")))?;
    let mut parts = Vec::new();
    for joined in guards.join() {
        let part = joined.map_err(|e| DatasetError::Other(format!("timely worker failed: {e}")))?;
        parts.push(part?);
    }
    Ok(parts)
}

/// The byte range of a `size`-byte file that worker `index` of `peers` reads.
fn worker_range(size: u64, index: usize, peers: usize) -> (u64, u64) {
    let share = |i: usize| (size as u128 * i as u128 / peers.max(1) as u128) as u64;
    (share(index), share(index + 1))
}

/// The lines of one byte range of a file, handed out in chunks of whole lines.
///
/// The range owns every line whose first byte lies in `[start, end)`: when `start > 0`
/// the partial line before it is skipped (reading from `start - 1`, so a line that
/// begins exactly at `start` is kept), and the last owned line is read to its end even
/// past `end`. Every chunk but the last of the file ends with `'\n'`.
pub struct LineChunks {
    path: PathBuf,
    file: Option<File>,
    buf: Vec<u8>,
    /// Valid bytes in `buf`.
    len: usize,
    /// Bytes at the front of `buf` already handed out.
    taken: usize,
    /// File offset of `buf[0]`.
    offset: u64,
    end: u64,
    /// Whether the partial line at the start still has to be skipped.
    skip_first: bool,
    eof: bool,
}

impl LineChunks {
    /// Opens the lines of `[start, end)` of `path`.
    pub fn open(path: &Path, start: u64, end: u64) -> Result<Self> {
        let mut chunks = LineChunks {
            path: path.to_path_buf(),
            file: None,
            buf: Vec::new(),
            len: 0,
            taken: 0,
            offset: start.saturating_sub(1),
            end,
            skip_first: start > 0,
            eof: false,
        };
        if start < end {
            let mut file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
            file.seek(SeekFrom::Start(chunks.offset))
                .map_err(|e| DatasetError::io(path, e))?;
            chunks.file = Some(file);
            chunks.buf = vec![0; CHUNK_BYTES];
        }
        Ok(chunks)
    }

    /// Opens worker `index`'s share (of `peers`) of `path`.
    pub fn open_share(path: &Path, index: usize, peers: usize) -> Result<Self> {
        let size = std::fs::metadata(path)
            .map_err(|e| DatasetError::io(path, e))?
            .len();
        let (start, end) = worker_range(size, index, peers);
        Self::open(path, start, end)
    }

    /// The path being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next chunk of whole lines and the file offset of its first byte; `None`
    /// after the last line of the range.
    pub fn next_chunk(&mut self) -> Result<Option<(u64, &[u8])>> {
        loop {
            let Some(file) = self.file.as_mut() else {
                return Ok(None);
            };
            if self.taken > 0 {
                self.buf.copy_within(self.taken..self.len, 0);
                self.offset += self.taken as u64;
                self.len -= self.taken;
                self.taken = 0;
            }
            if self.skip_first {
                if let Some(i) = memchr::memchr(b'\n', &self.buf[..self.len]) {
                    self.taken = i + 1;
                    self.skip_first = false;
                    continue;
                }
                // The skipped line goes on: drop what was read of it.
                self.offset += self.len as u64;
                self.len = 0;
            } else {
                if self.offset >= self.end {
                    self.file = None;
                    return Ok(None);
                }
                // The last owned line ends at the first newline at or after `end - 1`.
                let last_from = (self.end - self.offset - 1) as usize;
                if last_from < self.len {
                    if let Some(i) = memchr::memchr(b'\n', &self.buf[last_from..self.len]) {
                        let cut = last_from + i + 1;
                        self.file = None;
                        return Ok(Some((self.offset, &self.buf[..cut])));
                    }
                }
                if let Some(i) = memchr::memrchr(b'\n', &self.buf[..self.len]) {
                    self.taken = i + 1;
                    return Ok(Some((self.offset, &self.buf[..=i])));
                }
                if self.eof {
                    self.file = None;
                    let last = &self.buf[..self.len];
                    return Ok((!last.is_empty()).then_some((self.offset, last)));
                }
            }
            if self.eof {
                self.file = None;
                return Ok(None);
            }
            if self.len == self.buf.len() {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
            match file.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(DatasetError::io(&self.path, e)),
            }
        }
    }
}

/// Calls `f(line)` for each line of worker `index`'s share of `path` (terminator
/// removed, invalid UTF-8 replaced as [`String::from_utf8_lossy`] does) and
/// `after_chunk()` after each chunk. A [`DatasetError::Malformed`] error from `f`
/// gets the line's real 1-based number.
fn for_each_line(
    path: &Path,
    index: usize,
    peers: usize,
    mut f: impl FnMut(&str, &Path) -> Result<()>,
    mut after_chunk: impl FnMut(),
) -> Result<()> {
    let mut chunks = LineChunks::open_share(path, index, peers)?;
    while let Some((offset, chunk)) = chunks.next_chunk()? {
        let mut start = 0;
        while start < chunk.len() {
            let end = memchr::memchr(b'\n', &chunk[start..]).map_or(chunk.len(), |i| start + i);
            let mut line = &chunk[start..end];
            line = line.strip_suffix(b"\r").unwrap_or(line);
            let result = match std::str::from_utf8(line) {
                Ok(text) => f(text, path),
                Err(_) => f(&String::from_utf8_lossy(line), path),
            };
            if let Err(e) = result {
                return Err(number_line(e, path, offset + start as u64));
            }
            start = end + 1;
        }
        after_chunk();
    }
    Ok(())
}

/// Gives a [`DatasetError::Malformed`] error the number of the line starting at byte
/// `line_start` of `path` (counted only when a line is bad).
fn number_line(error: DatasetError, path: &Path, line_start: u64) -> DatasetError {
    match error {
        DatasetError::Malformed {
            path: p, message, ..
        } => match count_newlines(path, line_start) {
            Ok(before) => DatasetError::Malformed {
                path: p,
                line: before + 1,
                message,
            },
            Err(e) => e,
        },
        other => other,
    }
}

/// The number of `'\n'` bytes in the first `len` bytes of `path`.
fn count_newlines(path: &Path, len: u64) -> Result<u64> {
    let file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let mut reader = file.take(len);
    let mut buf = vec![0u8; 1 << 16];
    let mut count = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(count),
            Ok(n) => count += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DatasetError::io(path, e)),
        }
    }
}

/// Calls `edge(src, dst)` for each edge of worker `index`'s share of the edge list
/// `path` (parsed by [`parse_edge_line`]: comments and blank lines skipped, weights
/// ignored) and `after_chunk()` after each chunk of lines.
fn for_each_edge(
    path: &Path,
    index: usize,
    peers: usize,
    mut edge: impl FnMut(u64, u64),
    after_chunk: impl FnMut(),
) -> Result<()> {
    for_each_line(
        path,
        index,
        peers,
        |line, path| {
            if let Some(e) = parse_edge_line(line, path, 0)? {
                edge(e.src, e.dst);
            }
            Ok(())
        },
        after_chunk,
    )
}

/// Calls `vertex(id)` for each vertex of worker `index`'s share of the vertex file
/// `path` (parsed by [`parse_vertex_line`]) and `after_chunk()` after each chunk.
fn for_each_vertex(
    path: &Path,
    index: usize,
    peers: usize,
    mut vertex: impl FnMut(u64),
    after_chunk: impl FnMut(),
) -> Result<()> {
    for_each_line(
        path,
        index,
        peers,
        |line, path| {
            if let Some((id, _)) = parse_vertex_line(line, path, 0)? {
                vertex(id);
            }
            Ok(())
        },
        after_chunk,
    )
}

/// A hash of a vertex id that spreads consecutive ids over workers (timely routes a
/// record by the low bits of its hash when the worker count is a power of two).
#[inline]
fn vertex_hash(v: u64) -> u64 {
    let h = v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All chunks of every share, concatenated, for `peers` shares.
    fn read_shares(path: &Path, peers: usize) -> Vec<u8> {
        let mut all = Vec::new();
        for index in 0..peers {
            let mut chunks = LineChunks::open_share(path, index, peers).unwrap();
            let mut expected_offset = None;
            while let Some((offset, chunk)) = chunks.next_chunk().unwrap() {
                if let Some(o) = expected_offset {
                    assert_eq!(offset, o);
                }
                assert!(offset == 0 || std::fs::read(path).unwrap()[offset as usize - 1] == b'\n');
                expected_offset = Some(offset + chunk.len() as u64);
                all.extend_from_slice(chunk);
            }
        }
        all
    }

    #[test]
    fn shares_cover_every_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let mut text = Vec::new();
        for i in 0..5000 {
            text.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 37)).as_bytes());
        }
        // A line much longer than a chunk, and no final newline.
        text.extend_from_slice(&vec![b'y'; CHUNK_BYTES + 17]);
        text.extend_from_slice(b"\nlast");
        std::fs::write(&path, &text).unwrap();
        for peers in [1, 2, 3, 7, 64] {
            assert_eq!(read_shares(&path, peers), text, "{peers} shares");
        }
        std::fs::write(&path, b"a\nb\n").unwrap();
        for peers in [1, 2, 3, 4, 5, 9] {
            assert_eq!(read_shares(&path, peers), b"a\nb\n", "{peers} shares");
        }
        std::fs::write(&path, b"").unwrap();
        assert!(read_shares(&path, 3).is_empty());
    }

    #[test]
    fn malformed_lines_are_numbered_in_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.e");
        let mut text = String::new();
        for i in 0..1000 {
            text.push_str(&format!("{i} {}\n", i + 1));
        }
        text.push_str("7 x\n");
        std::fs::write(&path, &text).unwrap();
        let mut failures = 0;
        for index in 0..3 {
            match for_each_edge(&path, index, 3, |_, _| {}, || {}) {
                Ok(()) => {}
                Err(e) => {
                    assert!(e.to_string().contains("g.e:1001:"), "{e}");
                    failures += 1;
                }
            }
        }
        assert_eq!(failures, 1);
        let missing = dir.path().join("missing.e");
        let err = for_each_edge(&missing, 0, 1, |_, _| {}, || {}).unwrap_err();
        assert!(err.to_string().contains("missing.e"), "{err}");
    }
}
