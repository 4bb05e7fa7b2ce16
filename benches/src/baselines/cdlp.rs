//! Community detection by label propagation on one thread, with the Graphalytics CDLP
//! semantics of `weir_jobs::cdlp::reference`: every vertex starts with its own id as its
//! label; each of a fixed number of iterations, every vertex takes the label most frequent
//! among its neighbours, the smallest on a tie (as `weir_jobs::cdlp::most_frequent`
//! picks it), and keeps its label when it has none. An edge makes each end a neighbour of
//! the other whatever the direction, so on a directed graph in- and out-neighbours both
//! count; duplicate edges count with multiplicity and a self-loop makes a vertex its own
//! neighbour twice.
//!
//! The technique is a synchronous sweep over a compressed sparse row (CSR) graph:
//!
//! * Vertex ids are sorted and remapped to dense `u32` indices, so a label can be the
//!   index of the vertex whose id it is: comparing indices compares ids, and the labels
//!   of one iteration are a plain `Vec<u32>`.
//! * Every edge is laid out in both ends' rows, built with a counting pass and a filling
//!   pass.
//! * Each iteration reads the old labels and writes a second array, then swaps the two.
//!   A vertex with one or two neighbours takes the smaller label; any other gathers its
//!   neighbours' labels into one scratch buffer reused by every vertex, sorts it and takes
//!   the longest run of equal labels, the first (smallest) of the longest on a tie.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{dense_edges, Csr};

/// The label of every vertex after `iterations` rounds, as `weir_jobs::cdlp::reference`
/// returns it.
///
/// # Panics
///
/// If an edge names a vertex not in `vertices`, or there are `u32::MAX` vertices or more.
pub fn cdlp(vertices: &[u64], edges: &[(u64, u64)], iterations: u32) -> BTreeMap<u64, u64> {
    // Labels are indices into the ascending ids.
    let sorted: Cow<[u64]> = if vertices.windows(2).all(|w| w[0] < w[1]) {
        Cow::Borrowed(vertices)
    } else {
        let mut ids = vertices.to_vec();
        ids.sort_unstable();
        ids.dedup();
        Cow::Owned(ids)
    };
    let dense = dense_edges(&sorted, edges);
    let graph = Csr::build(sorted.len(), dense.iter().map(|&(s, d)| (s, d, ())), true);
    drop(dense);
    let labels = cdlp_csr(&graph, iterations);
    sorted
        .iter()
        .zip(labels)
        .map(|(&v, label)| (v, sorted[label as usize]))
        .collect()
}

/// Label propagation over a prebuilt CSR graph of every vertex's neighbours: the label
/// of each dense vertex index after `iterations` rounds, labels starting as the indices
/// themselves.
pub fn cdlp_csr(graph: &Csr, iterations: u32) -> Vec<u32> {
    let n = graph.len();
    let mut labels: Vec<u32> = (0..n as u32).collect();
    let mut next = vec![0u32; n];
    let mut scratch = Vec::new();
    for _ in 0..iterations {
        for (v, new) in next.iter_mut().enumerate() {
            let row = graph.row(v);
            *new = match *row {
                [] => labels[v],
                [a] => labels[a as usize],
                [a, b] => labels[a as usize].min(labels[b as usize]),
                _ => {
                    scratch.clear();
                    scratch.extend(row.iter().map(|&u| labels[u as usize]));
                    most_frequent(&mut scratch)
                }
            };
        }
        std::mem::swap(&mut labels, &mut next);
    }
    labels
}

/// The most frequent of `labels` (not empty), the smallest on a tie; sorts `labels`.
#[inline]
fn most_frequent(labels: &mut [u32]) -> u32 {
    labels.sort_unstable();
    let (mut best, mut best_len) = (labels[0], 0);
    let mut start = 0;
    while start < labels.len() {
        let label = labels[start];
        let mut end = start + 1;
        while end < labels.len() && labels[end] == label {
            end += 1;
        }
        if end - start > best_len {
            best = label;
            best_len = end - start;
        }
        start = end;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::{graphalytics_example, graphalytics_expected};

    #[test]
    fn most_frequent_agrees_with_the_jobs_rule() {
        for labels in [
            vec![5u32, 3, 5, 3, 9],
            vec![7, 2, 7],
            vec![4],
            vec![9, 8, 7, 6],
            vec![1, 2, 2, 3, 3, 3, 0, 0, 0],
        ] {
            let wide: Vec<u64> = labels.iter().map(|&l| u64::from(l)).collect();
            let want = weir_jobs::cdlp::most_frequent(&wide).unwrap();
            assert_eq!(u64::from(most_frequent(&mut labels.clone())), want);
        }
    }

    #[test]
    fn matches_the_reference_on_an_rmat_graph() {
        // Dense enough for labels to spread, with self-loops, duplicates and isolated
        // vertices; ids spread out so labels are not indices.
        let edges: Vec<(u64, u64)> = weir_datasets::rmat_edges(9, 6, 2, 0..u64::MAX)
            .into_iter()
            .map(|(s, d)| (s * 3 + 1, d * 3 + 1))
            .collect();
        let mut vertices: Vec<u64> = edges.iter().flat_map(|&(s, d)| [s, d]).collect();
        vertices.extend([2, 100_000]);
        vertices.sort_unstable();
        vertices.dedup();
        for iterations in [0, 1, 2, 7] {
            let want = weir_jobs::cdlp::reference(&vertices, &edges, iterations);
            let got = cdlp(&vertices, &edges, iterations);
            assert_eq!(got, want, "{iterations} iterations");
            let moved = got.iter().filter(|(v, l)| v != l).count();
            assert_eq!(moved > 0, iterations > 0, "{iterations} iterations");
        }
        // The order of the vertex list does not matter.
        let mut reversed = vertices.clone();
        reversed.reverse();
        let want = weir_jobs::cdlp::reference(&vertices, &edges, 4);
        assert_eq!(cdlp(&reversed, &edges, 4), want);
    }

    #[test]
    fn matches_the_graphalytics_expected_output() {
        for name in ["example-directed", "example-undirected"] {
            let (properties, (vertices, edges)) = graphalytics_example(name);
            let got = cdlp(&vertices, &edges, properties.cdlp_iterations.unwrap());
            let expected = graphalytics_expected(&properties, "cdlp");
            assert_eq!(expected.len(), got.len(), "{name}");
            for (v, want) in expected {
                assert_eq!(got[&v], want.parse::<u64>().unwrap(), "{name}: vertex {v}");
            }
        }
    }

    #[test]
    fn both_directions_duplicates_and_self_loops_count_with_multiplicity() {
        // 5 hears 9 twice (an edge each way) and 2 once: 9 wins, not the smaller 2.
        // 7 hears itself twice (its loop), 8 twice and 3 once: the tie goes to 7.
        let edges = [(5, 9), (9, 5), (5, 2), (7, 7), (7, 3), (7, 8), (8, 7)];
        let vertices = [2, 3, 4, 5, 7, 8, 9];
        let got = cdlp(&vertices, &edges, 1);
        let want = BTreeMap::from([(2, 5), (3, 7), (4, 4), (5, 9), (7, 7), (8, 7), (9, 5)]);
        assert_eq!(got, want);
        assert_eq!(weir_jobs::cdlp::reference(&vertices, &edges, 1), want);
    }
}
