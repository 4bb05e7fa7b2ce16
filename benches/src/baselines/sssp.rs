//! Single-source shortest paths on one thread, with the Graphalytics SSSP semantics of
//! `weir_jobs::sssp::reference`: each vertex's distance from the source along out-edges
//! (both ways on an undirected graph) weighted by the edge list's third column, not
//! negative, and `f64::INFINITY` for a vertex the source does not reach.
//!
//! The technique is Dijkstra's algorithm with a binary heap over a weighted compressed
//! sparse row (CSR) graph:
//!
//! * Vertex ids are remapped to dense `u32` indices; the out-edges (doubled on an
//!   undirected graph) are laid out as offsets, targets and a parallel weights array,
//!   built with a counting pass and a filling pass.
//! * Distances are never negative, so the bits of an `f64` distance order like the
//!   distance itself: a heap entry is a plain `(u64, u32)` pair compared as integers
//!   (wrapped in `Reverse` for a min-heap), 16 bytes with no float comparisons.
//! * There is no decrease-key: an improved vertex is pushed again and a popped entry
//!   older than the vertex's current distance is skipped.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use super::{dense_weighted_edges, source_index, Csr};

/// The distance of every vertex from `source`, as `weir_jobs::sssp::reference` returns
/// it. Weights must not be negative.
///
/// # Panics
///
/// If `source` or an edge's endpoint is not in `vertices`, or there are `u32::MAX`
/// vertices or more.
pub fn sssp(
    vertices: &[u64],
    edges: &[(u64, u64, f64)],
    directed: bool,
    source: u64,
) -> BTreeMap<u64, f64> {
    let start = source_index(vertices, source);
    let dense = dense_weighted_edges(vertices, edges);
    let graph = Csr::build(vertices.len(), dense.iter().copied(), !directed);
    drop(dense);
    let distance = sssp_csr(&graph, start);
    vertices.iter().copied().zip(distance).collect()
}

/// Dijkstra over a prebuilt weighted CSR graph (weights not negative): the distance of
/// each dense vertex index from `source`, infinity where it does not reach.
pub fn sssp_csr(graph: &Csr<f64>, source: u32) -> Vec<f64> {
    let mut distance = vec![f64::INFINITY; graph.len()];
    distance[source as usize] = 0.0;
    let mut heap = BinaryHeap::new();
    heap.push(Reverse((0.0f64.to_bits(), source)));
    while let Some(Reverse((bits, v))) = heap.pop() {
        let d = f64::from_bits(bits);
        if d > distance[v as usize] {
            continue;
        }
        let (from, to) = (graph.offsets[v as usize], graph.offsets[v as usize + 1]);
        for (&w, &weight) in graph.targets[from..to].iter().zip(&graph.values[from..to]) {
            let offered = d + weight;
            if offered < distance[w as usize] {
                distance[w as usize] = offered;
                heap.push(Reverse((offered.to_bits(), w)));
            }
        }
    }
    distance
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::{graphalytics_example, load_weighted_edge_list};

    /// An R-MAT graph with weights in `[0, 10)`, some zero, from a fixed hash.
    fn weighted_rmat() -> (Vec<u64>, Vec<(u64, u64, f64)>) {
        let edges: Vec<(u64, u64, f64)> = weir_datasets::rmat_edges(10, 3, 11, 0..u64::MAX)
            .into_iter()
            .enumerate()
            .map(|(i, (s, d))| {
                let h = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                (s, d, (h % 1000) as f64 / 97.0)
            })
            .collect();
        let mut vertices: Vec<u64> = edges.iter().flat_map(|&(s, d, _)| [s, d]).collect();
        vertices.extend([9_000, 9_001]);
        vertices.sort_unstable();
        vertices.dedup();
        (vertices, edges)
    }

    #[test]
    fn matches_the_reference_on_a_weighted_rmat_graph() {
        let (vertices, edges) = weighted_rmat();
        assert!(edges.iter().any(|e| e.2 == 0.0));
        let source = edges[0].0;
        for directed in [true, false] {
            let want = weir_jobs::sssp::reference(&vertices, &edges, directed, source);
            let got = sssp(&vertices, &edges, directed, source);
            // Dijkstra with any tie order finds the same floating-point minima.
            assert_eq!(got, want, "directed {directed}");
            let reached = got.values().filter(|d| d.is_finite()).count();
            assert!(reached > 10 && reached < vertices.len(), "{reached}");
        }
        let mut reversed = vertices.clone();
        reversed.reverse();
        let want = weir_jobs::sssp::reference(&reversed, &edges, false, source);
        assert_eq!(sssp(&reversed, &edges, false, source), want);
    }

    #[test]
    fn matches_the_graphalytics_expected_output() {
        for name in ["example-directed", "example-undirected"] {
            let (properties, (vertices, _)) = graphalytics_example(name);
            let (_, edges) = load_weighted_edge_list(&properties.edge_file).unwrap();
            let source = properties.sssp_source.unwrap();
            let got = sssp(&vertices, &edges, properties.directed, source);
            let expected = crate::baselines::graphalytics_expected(&properties, "sssp");
            assert_eq!(expected.len(), got.len(), "{name}");
            for (v, want) in expected {
                let g = got[&v];
                if want == "infinity" {
                    assert_eq!(g, f64::INFINITY, "{name}: vertex {v}");
                } else {
                    let w: f64 = want.parse().unwrap();
                    assert!((g - w).abs() <= 1e-4 * w, "{name}: vertex {v}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn takes_the_lighter_of_two_paths() {
        let edges = [(1, 2, 5.0), (1, 3, 1.0), (3, 2, 1.5), (2, 4, 0.0)];
        let got = sssp(&[1, 2, 3, 4, 5], &edges, true, 1);
        let want = BTreeMap::from([(1, 0.0), (2, 2.5), (3, 1.0), (4, 2.5), (5, f64::INFINITY)]);
        assert_eq!(got, want);
        let back = sssp(&[1, 2, 3, 4, 5], &edges, false, 4);
        assert_eq!(back[&1], 2.5);
    }
}
