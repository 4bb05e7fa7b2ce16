//! Single-threaded baselines: the best one thread can do on Weir's benchmark jobs.
//!
//! Each baseline is plain, hand-tuned sequential Rust with no engine underneath, and
//! returns its result in the same shape as the corresponding job's sequential
//! reference (`weir_jobs::*::reference`), so a cluster run can be checked against it and
//! timed against it: the COST question is whether the cluster beats one good thread.
//!
//! * [`wordcount`]: chunked reads, a byte-level whitespace scanner and an FxHash table
//!   with inline keys;
//! * [`sort`]: all records in one buffer, packed integer keys bucketed by their top
//!   16 bits and sorted in cache;
//! * [`pagerank`]: a pull-based iteration over a compressed sparse row (CSR) graph of
//!   in-edges;
//! * [`components`]: union-find with path halving and union by size.
//!
//! The graph baselines share [`load_edge_list`] and [`load_vertex_list`].

pub mod components;
pub mod pagerank;
pub mod sort;
pub mod wordcount;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use rustc_hash::FxHashMap;
use weir_datasets::{parse_edge_line, parse_vertex_line, DatasetError, Result};

const READ_BUFFER_BYTES: usize = 1 << 20;

/// A graph as its vertex ids and its `(src, dst)` edges.
pub type EdgeList = (Vec<u64>, Vec<(u64, u64)>);

/// Reads a SNAP-style edge list (`src dst [weight]` a line; `#` comments and blank lines
/// skipped; weights ignored). Returns the distinct endpoints in ascending order and the
/// edges in file order, duplicates and self-loops kept.
pub fn load_edge_list(path: &Path) -> Result<EdgeList> {
    let mut edges = Vec::new();
    for_each_line(path, |line, line_no| {
        if let Some(edge) = parse_edge_line(line, path, line_no)? {
            edges.push((edge.src, edge.dst));
        }
        Ok(())
    })?;
    let vertices = distinct_endpoints(&edges);
    Ok((vertices, edges))
}

/// The largest vertex id for which the graph helpers use a table indexed by id: ids below
/// it (in graphs with at least an eighth as many edges as the largest id) are
/// deduplicated and densified by direct indexing instead of sorting and searching.
const DIRECT_INDEX_LIMIT: u64 = 1 << 28;

/// The largest id of `ids` when a table indexed by id is worth it for `edges` edges.
fn direct_index_bound(ids: impl Iterator<Item = u64>, edges: usize) -> Option<u64> {
    let max = ids.max()?;
    (max < DIRECT_INDEX_LIMIT && max / 8 <= edges as u64 + 1024).then_some(max)
}

/// The distinct endpoints of `edges`, ascending.
fn distinct_endpoints(edges: &[(u64, u64)]) -> Vec<u64> {
    let endpoints = edges.iter().flat_map(|&(s, d)| [s, d]);
    if let Some(max) = direct_index_bound(endpoints, edges.len()) {
        let mut seen = vec![false; max as usize + 1];
        for &(s, d) in edges {
            seen[s as usize] = true;
            seen[d as usize] = true;
        }
        return (0..=max).filter(|&v| seen[v as usize]).collect();
    }
    let mut vertices = Vec::with_capacity(edges.len().saturating_mul(2));
    for &(s, d) in edges {
        vertices.push(s);
        vertices.push(d);
    }
    vertices.sort_unstable();
    vertices.dedup();
    vertices.shrink_to_fit();
    vertices
}

/// Reads the vertex ids of a Graphalytics `.v` file (one id a line, optionally followed
/// by a value that is ignored), in file order.
pub fn load_vertex_list(path: &Path) -> Result<Vec<u64>> {
    let mut vertices = Vec::new();
    for_each_line(path, |line, line_no| {
        if let Some((id, _)) = parse_vertex_line(line, path, line_no)? {
            vertices.push(id);
        }
        Ok(())
    })?;
    Ok(vertices)
}

/// Calls `f(line, line_number)` for each line of `path` (1-based numbers, terminator
/// removed, invalid UTF-8 replaced as [`String::from_utf8_lossy`] does).
fn for_each_line(path: &Path, mut f: impl FnMut(&str, u64) -> Result<()>) -> Result<()> {
    let io_err = |e| DatasetError::io(path, e);
    let file = File::open(path).map_err(io_err)?;
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io_err)? == 0 {
            return Ok(());
        }
        line_no += 1;
        let mut line = buf.as_slice();
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        match std::str::from_utf8(line) {
            Ok(text) => f(text, line_no)?,
            Err(_) => f(&String::from_utf8_lossy(line), line_no)?,
        }
    }
}

/// A graph's vertices as dense indices `0..n` (in the order of `vertices`) and its edges
/// as index pairs.
///
/// # Panics
///
/// If an edge names a vertex not in `vertices`, or there are `u32::MAX` or more vertices.
fn dense_edges(vertices: &[u64], edges: &[(u64, u64)]) -> Vec<(u32, u32)> {
    assert!(
        vertices.len() < u32::MAX as usize,
        "too many vertices for 32-bit indices"
    );
    let lookup: Box<dyn Fn(u64) -> Option<u32>> =
        if let Some(max) = direct_index_bound(vertices.iter().copied(), edges.len()) {
            // Small ids: a table indexed by id.
            let mut index = vec![u32::MAX; max as usize + 1];
            for (i, &v) in vertices.iter().enumerate() {
                index[v as usize] = i as u32;
            }
            Box::new(move |v| index.get(v as usize).copied().filter(|&i| i != u32::MAX))
        } else if vertices.windows(2).all(|w| w[0] < w[1]) {
            // Sorted ids (as `load_edge_list` returns them): a binary search, no table.
            Box::new(|v| vertices.binary_search(&v).ok().map(|i| i as u32))
        } else {
            let mut index = FxHashMap::default();
            index.reserve(vertices.len());
            for (i, &v) in vertices.iter().enumerate() {
                index.insert(v, i as u32);
            }
            Box::new(move |v| index.get(&v).copied())
        };
    let find = |v: u64| lookup(v).unwrap_or_else(|| panic!("edge endpoint {v} is not a vertex"));
    edges.iter().map(|&(s, d)| (find(s), find(d))).collect()
}

/// The bundled text samples, for the tests of the wordcount baseline and peer.
#[cfg(test)]
pub(crate) fn sample_text_files() -> Vec<std::path::PathBuf> {
    let dir = weir_datasets::samples_dir().join("text");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_and_vertex_lists_load() {
        let dir = tempfile::tempdir().unwrap();
        let e = dir.path().join("g.e");
        std::fs::write(&e, "# header\n5 3\n\n3\t5 0.5\r\n9 9\n5 3\n").unwrap();
        let (vertices, edges) = load_edge_list(&e).unwrap();
        assert_eq!(vertices, vec![3, 5, 9]);
        assert_eq!(edges, vec![(5, 3), (3, 5), (9, 9), (5, 3)]);
        let v = dir.path().join("g.v");
        std::fs::write(&v, "9\n# c\n3 x\n5\n").unwrap();
        assert_eq!(load_vertex_list(&v).unwrap(), vec![9, 3, 5]);
        std::fs::write(&e, "1 2\nx 3\n").unwrap();
        let err = load_edge_list(&e).unwrap_err().to_string();
        assert!(err.contains('2'), "{err}");
    }

    #[test]
    fn distinct_endpoints_agree_with_and_without_the_table() {
        let small = [(5, 3), (3, 5), (9, 9), (0, 2)];
        assert_eq!(distinct_endpoints(&small), vec![0, 2, 3, 5, 9]);
        let huge = [(5, u64::MAX), (1 << 40, 5)];
        assert_eq!(distinct_endpoints(&huge), vec![5, 1 << 40, u64::MAX]);
        assert_eq!(
            dense_edges(&[5, 1 << 40, u64::MAX], &huge),
            vec![(0, 2), (1, 0)]
        );
    }

    #[test]
    fn dense_edges_index_sorted_and_unsorted_vertices() {
        assert_eq!(
            dense_edges(&[2, 7, 9], &[(9, 2), (7, 7)]),
            vec![(2, 0), (1, 1)]
        );
        assert_eq!(
            dense_edges(&[9, 2, 7], &[(9, 2), (7, 7)]),
            vec![(0, 1), (2, 2)]
        );
    }
}
