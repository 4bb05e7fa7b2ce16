//! Breadth-first search on one thread, with the Graphalytics BFS semantics of
//! `weir_jobs::bfs::reference`: each vertex's depth in hops from the source along
//! out-edges (both ways on an undirected graph), and `weir_jobs::bfs::UNREACHED`
//! (`i64::MAX`) for a vertex the source does not reach.
//!
//! The technique is a frontier queue over a compressed sparse row (CSR) graph:
//!
//! * Vertex ids are remapped to dense `u32` indices in the order of the vertex list, and
//!   the out-edges (doubled on an undirected graph) laid out as one offsets array and one
//!   targets array, built with a counting pass and a filling pass.
//! * The queue is one preallocated `u32` array of `n` slots with a read cursor: every
//!   vertex enters it at most once (when its depth is first set), so it never grows and
//!   the vertices of one depth sit contiguously after those of the previous depth.
//! * The depth array doubles as the visited set; a vertex's neighbours get its depth
//!   plus one, read once per dequeued vertex.

use std::collections::BTreeMap;

use weir_jobs::bfs::UNREACHED;

use super::{dense_edges, source_index, Csr};

/// The depth of every vertex from `source`, as `weir_jobs::bfs::reference` returns it.
///
/// # Panics
///
/// If `source` or an edge's endpoint is not in `vertices`, or there are `u32::MAX`
/// vertices or more.
pub fn bfs(
    vertices: &[u64],
    edges: &[(u64, u64)],
    directed: bool,
    source: u64,
) -> BTreeMap<u64, i64> {
    let start = source_index(vertices, source);
    let dense = dense_edges(vertices, edges);
    let graph = Csr::build(
        vertices.len(),
        dense.iter().map(|&(s, d)| (s, d, ())),
        !directed,
    );
    drop(dense);
    let depth = bfs_csr(&graph, start);
    vertices.iter().copied().zip(depth).collect()
}

/// Breadth-first search over a prebuilt CSR graph: the depth of each dense vertex index
/// from `source`, [`UNREACHED`] where it does not reach.
pub fn bfs_csr(graph: &Csr, source: u32) -> Vec<i64> {
    let mut depth = vec![UNREACHED; graph.len()];
    let mut queue = Vec::with_capacity(graph.len());
    depth[source as usize] = 0;
    queue.push(source);
    let mut head = 0;
    while let Some(&v) = queue.get(head) {
        head += 1;
        let next = depth[v as usize] + 1;
        for &w in graph.row(v as usize) {
            let d = &mut depth[w as usize];
            if *d == UNREACHED {
                *d = next;
                queue.push(w);
            }
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::{graphalytics_example, graphalytics_expected};

    #[test]
    fn matches_the_reference_on_an_rmat_graph() {
        // A sparse graph: some vertices reached, some not, self-loops and duplicates.
        let edges = weir_datasets::rmat_edges(10, 2, 5, 0..u64::MAX);
        let mut vertices: Vec<u64> = edges.iter().flat_map(|&(s, d)| [s, d]).collect();
        vertices.extend([5_000, 5_001]);
        vertices.sort_unstable();
        vertices.dedup();
        let source = edges[0].0;
        for directed in [true, false] {
            let want = weir_jobs::bfs::reference(&vertices, &edges, directed, source);
            let got = bfs(&vertices, &edges, directed, source);
            assert_eq!(got, want, "directed {directed}");
            let reached = got.values().filter(|&&d| d != UNREACHED).count();
            let deepest = got.values().filter(|&&d| d != UNREACHED).max();
            assert!(reached > 10 && reached < vertices.len(), "{reached}");
            assert!(deepest > Some(&2), "{deepest:?}");
        }
        // Unsorted vertex lists index through a hash table.
        let mut reversed = vertices.clone();
        reversed.reverse();
        let want = weir_jobs::bfs::reference(&reversed, &edges, true, source);
        assert_eq!(bfs(&reversed, &edges, true, source), want);
    }

    #[test]
    fn matches_the_graphalytics_expected_output() {
        for name in ["example-directed", "example-undirected"] {
            let (properties, (vertices, edges)) = graphalytics_example(name);
            let source = properties.bfs_source.unwrap();
            let got = bfs(&vertices, &edges, properties.directed, source);
            let expected = graphalytics_expected(&properties, "bfs");
            assert_eq!(expected.len(), got.len(), "{name}");
            for (v, want) in expected {
                assert_eq!(got[&v], want.parse::<i64>().unwrap(), "{name}: vertex {v}");
            }
        }
    }

    #[test]
    fn a_lone_source_reaches_only_itself() {
        let got = bfs(&[7, 3], &[(3, 7)], true, 7);
        assert_eq!(got, BTreeMap::from([(3, UNREACHED), (7, 0)]));
        let got = bfs(&[7, 3], &[(3, 7)], false, 7);
        assert_eq!(got, BTreeMap::from([(3, 1), (7, 0)]));
    }
}
