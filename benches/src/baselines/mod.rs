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
//! * [`components`]: union-find with path halving and union by size;
//! * [`bfs`]: a frontier queue over an out-edge CSR;
//! * [`sssp`]: Dijkstra with a binary heap of packed keys over a weighted CSR;
//! * [`cdlp`]: label propagation gathering neighbour labels into one reused scratch
//!   buffer per iteration;
//! * [`logreg`]: minibatch SGD over one compact block of examples, with the servers'
//!   update rule;
//! * [`lcc`]: triangles enumerated over degree-ordered, deduplicated neighbour lists
//!   with a marker array, each triangle crediting its three corners.
//!
//! The graph baselines share [`load_edge_list`], [`load_weighted_edge_list`],
//! [`load_vertex_list`] and the [`Csr`] adjacency built by counting passes.

pub mod bfs;
pub mod cdlp;
pub mod components;
pub mod lcc;
pub mod logreg;
pub mod pagerank;
pub mod sort;
pub mod sssp;
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

/// A weighted graph as its vertex ids and its `(src, dst, weight)` edges.
pub type WeightedEdgeList = (Vec<u64>, Vec<(u64, u64, f64)>);

/// Reads an edge list whose every edge has a weight, not negative, in its third column
/// (as `weir_jobs::sssp` requires). Returns the distinct endpoints in ascending order and
/// the edges in file order; a missing or negative weight is an error naming the line.
pub fn load_weighted_edge_list(path: &Path) -> Result<WeightedEdgeList> {
    let mut edges = Vec::new();
    let mut endpoints = Vec::new();
    for_each_line(path, |line, line_no| {
        let Some(edge) = parse_edge_line(line, path, line_no)? else {
            return Ok(());
        };
        match edge.weight {
            None => Err(DatasetError::malformed(
                path,
                line_no,
                "an edge needs a weight in its third column",
            )),
            Some(w) if w < 0.0 => Err(DatasetError::malformed(
                path,
                line_no,
                "an edge weight is negative",
            )),
            Some(w) => {
                edges.push((edge.src, edge.dst, w));
                endpoints.push((edge.src, edge.dst));
                Ok(())
            }
        }
    })?;
    let vertices = distinct_endpoints(&endpoints);
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
    let find = dense_index(vertices, edges.len());
    edges.iter().map(|&(s, d)| (find(s), find(d))).collect()
}

/// [`dense_edges`] for weighted edges: index pairs with each edge's weight.
///
/// # Panics
///
/// As [`dense_edges`].
fn dense_weighted_edges(vertices: &[u64], edges: &[(u64, u64, f64)]) -> Vec<(u32, u32, f64)> {
    let find = dense_index(vertices, edges.len());
    edges
        .iter()
        .map(|&(s, d, w)| (find(s), find(d), w))
        .collect()
}

/// The dense index (position in `vertices`) of a vertex id, for a graph of `edges` edges.
/// The returned function panics on an id not in `vertices`.
///
/// # Panics
///
/// If there are `u32::MAX` or more vertices.
fn dense_index(vertices: &[u64], edges: usize) -> impl Fn(u64) -> u32 + '_ {
    assert!(
        vertices.len() < u32::MAX as usize,
        "too many vertices for 32-bit indices"
    );
    let lookup: Box<dyn Fn(u64) -> Option<u32>> =
        if let Some(max) = direct_index_bound(vertices.iter().copied(), edges) {
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
    move |v: u64| lookup(v).unwrap_or_else(|| panic!("edge endpoint {v} is not a vertex"))
}

/// The dense index of `source` in `vertices`.
///
/// # Panics
///
/// If `source` is not in `vertices`.
fn source_index(vertices: &[u64], source: u64) -> u32 {
    let at = vertices.iter().position(|&v| v == source);
    at.unwrap_or_else(|| panic!("source {source} is not a vertex")) as u32
}

/// Adjacency lists over dense vertex indices in compressed sparse row (CSR) form, with
/// a value (a weight, or `()`) per entry.
pub struct Csr<W = ()> {
    /// `targets[offsets[v]..offsets[v + 1]]` are `v`'s neighbours, in edge-list order.
    pub offsets: Vec<usize>,
    pub targets: Vec<u32>,
    /// The value of each entry of `targets` (no storage when `W` is `()`).
    pub values: Vec<W>,
}

impl<W: Copy + Default> Csr<W> {
    /// The rows of `edges` (source, target, value) over vertices `0..n`, built with one
    /// counting pass and one filling pass; with `both_ways` each edge also appears in
    /// its target's row.
    pub fn build<I>(n: usize, edges: I, both_ways: bool) -> Self
    where
        I: Iterator<Item = (u32, u32, W)> + Clone,
    {
        let mut degree = vec![0usize; n];
        for (s, d, _) in edges.clone() {
            degree[s as usize] += 1;
            if both_ways {
                degree[d as usize] += 1;
            }
        }
        let offsets = prefix_sums(&degree);
        drop(degree);
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; offsets[n]];
        let mut values = vec![W::default(); offsets[n]];
        let mut push = |s: u32, d: u32, w: W| {
            let at = &mut fill[s as usize];
            targets[*at] = d;
            values[*at] = w;
            *at += 1;
        };
        for (s, d, w) in edges {
            push(s, d, w);
            if both_ways {
                push(d, s, w);
            }
        }
        Csr {
            offsets,
            targets,
            values,
        }
    }
}

impl<W> Csr<W> {
    /// The number of vertices.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether the graph has no vertices.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The neighbours of `v`.
    #[inline]
    pub fn row(&self, v: usize) -> &[u32] {
        &self.targets[self.offsets[v]..self.offsets[v + 1]]
    }
}

/// `n + 1` row offsets from `n` row lengths.
fn prefix_sums(lengths: &[usize]) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(lengths.len() + 1);
    let mut total = 0;
    offsets.push(0);
    for &len in lengths {
        total += len;
        offsets.push(total);
    }
    offsets
}

/// A bundled Graphalytics example dataset (`example-directed`, `example-undirected`):
/// its properties, vertex list and edge list (weights dropped).
#[cfg(test)]
pub(crate) fn graphalytics_example(name: &str) -> (weir_datasets::GraphalyticsDataset, EdgeList) {
    let dir = weir_datasets::samples_dir().join("graphalytics");
    let properties =
        weir_datasets::load_properties(&dir.join(format!("{name}.properties"))).unwrap();
    let (_, edges) = load_edge_list(&properties.edge_file).unwrap();
    let vertices = load_vertex_list(&properties.vertex_file).unwrap();
    (properties, (vertices, edges))
}

/// The expected output of `algorithm` (`bfs`, `cdlp` …) on a Graphalytics dataset, as
/// `(vertex, value)` in file order.
#[cfg(test)]
pub(crate) fn graphalytics_expected(
    properties: &weir_datasets::GraphalyticsDataset,
    algorithm: &str,
) -> Vec<(u64, String)> {
    let path = properties.expected_output_file(algorithm);
    let expected = weir_jobs::graph_input::read_expected(&path).unwrap();
    assert!(!expected.is_empty(), "{}", path.display());
    expected
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
    fn weighted_edge_lists_load_and_refuse_missing_or_negative_weights() {
        let dir = tempfile::tempdir().unwrap();
        let e = dir.path().join("w.e");
        std::fs::write(&e, "# w\n5 3 0.5\n\n3\t5 2\r\n9 9 0\n").unwrap();
        let (vertices, edges) = load_weighted_edge_list(&e).unwrap();
        assert_eq!(vertices, vec![3, 5, 9]);
        assert_eq!(edges, vec![(5, 3, 0.5), (3, 5, 2.0), (9, 9, 0.0)]);
        for (text, needle) in [
            ("1 2 1.5\n2 3\n", ":2: an edge needs a weight"),
            ("1 2 1.5\n\n2 3 -0.25\n", ":3: an edge weight is negative"),
            ("1 2 x\n", ":1: weight \"x\""),
        ] {
            std::fs::write(&e, text).unwrap();
            let err = load_weighted_edge_list(&e).unwrap_err().to_string();
            assert!(err.starts_with(&e.display().to_string()), "{err}");
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn csr_rows_hold_each_edge_once_or_both_ways() {
        let edges = [(0u32, 2u32, 1.5), (2, 1, 2.5), (0, 1, 3.5), (1, 1, 4.5)];
        let one_way = Csr::build(4, edges.iter().copied(), false);
        assert_eq!(one_way.len(), 4);
        assert_eq!(one_way.offsets, vec![0, 2, 3, 4, 4]);
        assert_eq!(one_way.targets, vec![2, 1, 1, 1]);
        assert_eq!(one_way.values, vec![1.5, 3.5, 4.5, 2.5]);
        let both = Csr::build(4, edges.iter().map(|&(s, d, _)| (s, d, ())), true);
        let rows: Vec<&[u32]> = (0..4).map(|v| both.row(v)).collect();
        assert_eq!(rows, vec![&[2, 1][..], &[2, 0, 1, 1], &[0, 1], &[]]);
        assert!(Csr::<()>::build(0, std::iter::empty(), true).is_empty());
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
