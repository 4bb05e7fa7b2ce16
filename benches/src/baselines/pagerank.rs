//! PageRank on one thread, with the Graphalytics semantics of
//! `weir_jobs::pagerank::reference`: ranks start at `1/N` and each iteration computes
//! `PR(v) = (1-d)/N + d * (sum over in-edges u->v of PR(u)/outdeg(u) + dangling/N)`,
//! where `dangling` is the total rank of vertices without out-edges. An undirected
//! graph has each edge in both directions; duplicate edges count with multiplicity.
//!
//! The technique is a pull iteration over a compressed sparse row (CSR) graph:
//!
//! * Vertex ids are remapped to dense `u32` indices in the order of the vertex list.
//! * The in-edges are laid out as one `offsets` array (`n + 1` entries) and one
//!   `sources` array (one `u32` per edge). It is built with two counting passes (first
//!   grouping the edges by source, then appending each source to its targets' rows in
//!   source order), so every row's sources are ascending and a pull walks the
//!   contribution array mostly forwards.
//! * Each iteration first computes `contribution[u] = rank[u] / outdeg[u]` (and the
//!   dangling mass) in one sequential pass, so the inner loop is a plain gather-sum
//!   `sum(contribution[u] for u in row)` with no division and no writes to shared
//!   state; the new rank is written once per vertex.

use std::collections::BTreeMap;

use super::dense_edges;

/// A graph's in-edges in CSR form, with out-degrees.
pub struct InEdges {
    /// `sources[offsets[v]..offsets[v + 1]]` are the sources of `v`'s in-edges.
    pub offsets: Vec<usize>,
    pub sources: Vec<u32>,
    pub out_degree: Vec<u32>,
}

impl InEdges {
    /// The CSR of `edges` over vertices `0..n`; with `directed` false each edge also
    /// runs backwards.
    pub fn build(n: usize, edges: &[(u32, u32)], directed: bool) -> Self {
        // Group the (possibly doubled) edges by source: out-CSR.
        let mut out_degree = vec![0u32; n];
        for &(s, d) in edges {
            out_degree[s as usize] += 1;
            if !directed {
                out_degree[d as usize] += 1;
            }
        }
        let out_offsets = prefix_sums(out_degree.iter().map(|&d| d as usize), n);
        let mut fill = out_offsets.clone();
        let mut targets = vec![0u32; out_offsets[n]];
        let mut push = |s: u32, d: u32| {
            targets[fill[s as usize]] = d;
            fill[s as usize] += 1;
        };
        for &(s, d) in edges {
            push(s, d);
            if !directed {
                push(d, s);
            }
        }
        drop(fill);
        // In-CSR, appending sources in ascending order.
        let mut in_degree = vec![0usize; n];
        for &d in &targets {
            in_degree[d as usize] += 1;
        }
        let offsets = prefix_sums(in_degree.into_iter(), n);
        let mut fill = offsets.clone();
        let mut sources = vec![0u32; targets.len()];
        for u in 0..n {
            for &v in &targets[out_offsets[u]..out_offsets[u + 1]] {
                sources[fill[v as usize]] = u as u32;
                fill[v as usize] += 1;
            }
        }
        InEdges {
            offsets,
            sources,
            out_degree,
        }
    }

    /// The number of vertices.
    pub fn len(&self) -> usize {
        self.out_degree.len()
    }

    /// Whether the graph has no vertices.
    pub fn is_empty(&self) -> bool {
        self.out_degree.is_empty()
    }
}

fn prefix_sums(counts: impl Iterator<Item = usize>, n: usize) -> Vec<usize> {
    let mut offsets = Vec::with_capacity(n + 1);
    let mut total = 0;
    offsets.push(0);
    for c in counts {
        total += c;
        offsets.push(total);
    }
    offsets
}

/// PageRank of every vertex, as `weir_jobs::pagerank::reference` returns it (equal up to
/// floating-point summation order).
///
/// # Panics
///
/// If an edge names a vertex not in `vertices`, or there are `u32::MAX` vertices or more.
pub fn pagerank(
    vertices: &[u64],
    edges: &[(u64, u64)],
    directed: bool,
    iterations: u32,
    damping: f64,
) -> BTreeMap<u64, f64> {
    let dense = dense_edges(vertices, edges);
    let graph = InEdges::build(vertices.len(), &dense, directed);
    drop(dense);
    let rank = pagerank_csr(&graph, iterations, damping);
    vertices.iter().copied().zip(rank).collect()
}

/// PageRank over a prebuilt CSR graph: the rank of each dense vertex index.
pub fn pagerank_csr(graph: &InEdges, iterations: u32, damping: f64) -> Vec<f64> {
    let n = graph.len();
    if n == 0 {
        return Vec::new();
    }
    let nf = n as f64;
    let mut rank = vec![1.0 / nf; n];
    let mut contribution = vec![0.0f64; n];
    for _ in 0..iterations {
        let mut dangling = 0.0;
        for ((c, &r), &deg) in contribution.iter_mut().zip(&rank).zip(&graph.out_degree) {
            if deg == 0 {
                dangling += r;
                *c = 0.0;
            } else {
                *c = r / deg as f64;
            }
        }
        let base = (1.0 - damping) / nf + damping * dangling / nf;
        for (v, r) in rank.iter_mut().enumerate() {
            let row = &graph.sources[graph.offsets[v]..graph.offsets[v + 1]];
            let sum: f64 = row.iter().map(|&u| contribution[u as usize]).sum();
            *r = base + damping * sum;
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::{load_edge_list, load_vertex_list};

    fn assert_close(got: &BTreeMap<u64, f64>, want: &BTreeMap<u64, f64>) {
        assert_eq!(got.len(), want.len());
        for ((gv, g), (wv, w)) in got.iter().zip(want) {
            assert_eq!(gv, wv);
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1e-6),
                "vertex {gv}: {g} vs {w}"
            );
        }
    }

    fn rmat_graph(extra_vertices: u64) -> (Vec<u64>, Vec<(u64, u64)>) {
        let edges = weir_datasets::rmat_edges(9, 4, 3, 0..u64::MAX);
        let mut vertices: Vec<u64> = edges.iter().flat_map(|&(s, d)| [s, d]).collect();
        // Isolated vertices beyond the graph's ids.
        vertices.extend((0..extra_vertices).map(|i| 1_000 + i));
        vertices.sort_unstable();
        vertices.dedup();
        (vertices, edges)
    }

    #[test]
    fn matches_the_reference_on_an_rmat_graph() {
        let (vertices, edges) = rmat_graph(5);
        assert!(edges.len() == 4 << 9);
        for directed in [true, false] {
            let want = weir_jobs::pagerank::reference(&vertices, &edges, directed, 12, 0.85);
            assert_close(&pagerank(&vertices, &edges, directed, 12, 0.85), &want);
        }
        // Unsorted vertex lists index through a hash table.
        let mut shuffled = vertices.clone();
        shuffled.reverse();
        let want = weir_jobs::pagerank::reference(&shuffled, &edges, true, 5, 0.5);
        assert_close(&pagerank(&shuffled, &edges, true, 5, 0.5), &want);
    }

    #[test]
    fn matches_the_graphalytics_expected_output() {
        let dir = weir_datasets::samples_dir().join("graphalytics");
        let (_, edges) = load_edge_list(&dir.join("test-pr-directed.e")).unwrap();
        let vertices = load_vertex_list(&dir.join("test-pr-directed.v")).unwrap();
        let got = pagerank(&vertices, &edges, true, 14, 0.85);
        let expected = std::fs::read_to_string(dir.join("test-pr-directed-PR")).unwrap();
        let mut checked = 0;
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            let mut fields = line.split_whitespace();
            let v: u64 = fields.next().unwrap().parse().unwrap();
            let want: f64 = fields.next().unwrap().parse().unwrap();
            assert!(
                (got[&v] - want).abs() <= 1e-4 * want,
                "{v}: {} vs {want}",
                got[&v]
            );
            checked += 1;
        }
        assert_eq!(checked, vertices.len());
    }

    #[test]
    fn empty_graph_has_no_ranks() {
        assert!(pagerank(&[], &[], true, 3, 0.85).is_empty());
        let one = pagerank(&[4], &[], true, 3, 0.85);
        assert!((one[&4] - 1.0).abs() < 1e-15);
    }
}
