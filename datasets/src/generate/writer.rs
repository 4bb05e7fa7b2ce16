//! Writes generated chunks to a file: chunks are produced in parallel by rayon in
//! bounded windows and written in order through a temporary file in the target
//! directory, which is renamed into place only when everything succeeded.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rayon::prelude::*;

use crate::error::{DatasetError, Result};

/// Chunks generated per window and thread: bounds memory to a few chunks a thread.
const CHUNKS_PER_THREAD: usize = 3;

/// What to do with a generated chunk.
pub(crate) struct Take {
    /// How many leading bytes of the chunk to write.
    pub bytes: usize,
    /// Whether this was the last chunk.
    pub done: bool,
}

/// Writes `header`, then chunks 0, 1, 2, ... produced by `generate(index, buf)`
/// (into a cleared buffer) and cut by `take(index, chunk)`, until `take` says done
/// or `chunk_count` chunks were written. The file appears at `path` only complete.
pub(crate) fn write_chunks(
    path: &Path,
    header: &[u8],
    chunk_count: Option<u64>,
    generate: impl Fn(u64, &mut Vec<u8>) + Sync,
    mut take: impl FnMut(u64, &[u8]) -> Take,
) -> Result<()> {
    let io_err = |e| DatasetError::io(path, e);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| DatasetError::invalid(path, "output path has no file name"))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.weir-tmp-"))
        .tempfile_in(dir)
        .map_err(|e| DatasetError::io(dir, e))?;
    {
        let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        out.write_all(header).map_err(io_err)?;
        let window = (rayon::current_num_threads() * CHUNKS_PER_THREAD).max(1);
        let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); window];
        let mut next = 0u64;
        'outer: loop {
            let count = match chunk_count {
                Some(total) => (total.saturating_sub(next)).min(window as u64) as usize,
                None => window,
            };
            if count == 0 {
                break;
            }
            buffers[..count]
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, buf)| {
                    buf.clear();
                    generate(next + i as u64, buf);
                });
            for (i, buf) in buffers[..count].iter().enumerate() {
                let t = take(next + i as u64, buf);
                out.write_all(&buf[..t.bytes.min(buf.len())])
                    .map_err(io_err)?;
                if t.done {
                    break 'outer;
                }
            }
            next += count as u64;
        }
        out.flush().map_err(io_err)?;
    }
    set_readable(tmp.as_file()).map_err(io_err)?;
    tmp.persist(path)
        .map_err(|e| DatasetError::io(path, e.error))?;
    Ok(())
}

/// Temporary files are created owner-only; generated data gets the usual mode.
#[cfg(unix)]
fn set_readable(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_file: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_chunks_in_order_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_chunks(
            &path,
            b"H\n",
            Some(100),
            |i, buf| buf.extend_from_slice(format!("{i}\n").as_bytes()),
            |_, c| Take {
                bytes: c.len(),
                done: false,
            },
        )
        .unwrap();
        let want: String = std::iter::once("H\n".to_string())
            .chain((0..100).map(|i| format!("{i}\n")))
            .collect();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), want);

        write_chunks(
            &path,
            b"",
            None,
            |i, buf| buf.extend_from_slice(format!("{i},").as_bytes()),
            |i, c| Take {
                bytes: if i == 12 { 1 } else { c.len() },
                done: i == 12,
            },
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("0,1,2,") && text.ends_with(",11,1"),
            "{text}"
        );
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failure_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir/out.txt");
        assert!(write_chunks(
            &path,
            b"",
            Some(1),
            |_, _| {},
            |_, _| Take {
                bytes: 0,
                done: true
            }
        )
        .is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
