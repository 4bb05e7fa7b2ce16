//! Local clustering coefficients on one thread, with the Graphalytics LCC semantics of
//! `weir_jobs::lcc::reference`: a vertex's neighbour set N is its distinct in- and
//! out-neighbours other than itself; with d = |N| ≥ 2 its coefficient is the number of
//! edges `u -> w` with `u` and `w` both in N (distinct edges, self-loops ignored; on an
//! undirected graph every edge runs both ways) divided by d(d−1), and 0 for d < 2.
//!
//! Every edge counted for `v` closes a triangle `{v, u, w}` of the undirected neighbour
//! graph, so the technique is triangle enumeration, each triangle crediting its three
//! corners:
//!
//! * Vertex ids are remapped to dense `u32` indices. Each edge `s -> d` (not a loop) is
//!   put in both ends' rows of a compressed sparse row (CSR) graph with a two-bit
//!   direction tag: in row `x`, the entry of neighbour `y` has bit 0 set for `x -> y`
//!   and bit 1 for `y -> x` (both for an undirected edge).
//! * The rows are sorted without sorting: a counting pass and a filling pass group the
//!   entries by row, then one transposing pass walks the rows in ascending order and
//!   appends each entry to its neighbour's row, so every row comes out ascending. Runs of
//!   the same neighbour (duplicate edges, or an edge each way) are then merged in place,
//!   OR-ing their tags: each row is now the neighbour set N and its length is d.
//! * The rows are cut in place to the neighbours later in (degree, index) order. The
//!   forward rows of a hub are short, and every triangle is found once, from its earliest
//!   corner `a` through its middle corner `b` to its last corner `c`.
//! * For each `a`, its forward neighbours are marked in a byte array with their tags;
//!   walking each forward neighbour `b`'s forward row, a marked `c` is a triangle. The
//!   tags' bit counts are the edges between each pair of corners: `a` is credited with
//!   the edges between `b` and `c`, `b` with those between `a` and `c`, `c` with those
//!   between `a` and `b`. The work is the sum of the forward degrees of the forward
//!   neighbours, at most O(E^1.5), with no hashing and no set intersections.

use std::collections::BTreeMap;

use super::dense_edges;

/// The direction tag of `x -> y` in `x`'s row.
const OUT: u8 = 1;
/// The direction tag of `y -> x` in `x`'s row.
const IN: u8 = 2;

/// The coefficient of every vertex, as `weir_jobs::lcc::reference` returns it.
///
/// # Panics
///
/// If an edge names a vertex not in `vertices`, or there are `u32::MAX` vertices or more.
pub fn lcc(vertices: &[u64], edges: &[(u64, u64)], directed: bool) -> BTreeMap<u64, f64> {
    let dense = dense_edges(vertices, edges);
    let coefficients = lcc_dense(vertices.len(), &dense, directed);
    vertices.iter().copied().zip(coefficients).collect()
}

/// The coefficient of each dense vertex index `0..n`, given the edges as index pairs.
pub fn lcc_dense(n: usize, edges: &[(u32, u32)], directed: bool) -> Vec<f64> {
    let mut graph = Neighbours::build(n, edges, directed);
    let degree: Vec<u32> = (0..n)
        .map(|v| (graph.offsets[v + 1] - graph.offsets[v]) as u32)
        .collect();
    graph.keep_forward(&degree);
    let links = graph.credit_triangles();
    degree
        .iter()
        .zip(links)
        .map(|(&d, links)| {
            let d = f64::from(d);
            if d < 2.0 {
                0.0
            } else {
                links as f64 / (d * (d - 1.0))
            }
        })
        .collect()
}

/// Each vertex's neighbours with their direction tags, rows in CSR form.
struct Neighbours {
    offsets: Vec<usize>,
    targets: Vec<u32>,
    tags: Vec<u8>,
}

impl Neighbours {
    /// Sorted, distinct neighbour rows of every vertex, loops left out.
    fn build(n: usize, edges: &[(u32, u32)], directed: bool) -> Self {
        // The transposing pass below moves each entry to its neighbour's row, so here
        // `s`'s row holds `d` with the tag that `d`'s row is to hold for `s`.
        let (in_s_row, in_d_row) = if directed {
            (IN, OUT)
        } else {
            (OUT | IN, OUT | IN)
        };
        let mut degree = vec![0usize; n];
        for &(s, d) in edges.iter().filter(|(s, d)| s != d) {
            degree[s as usize] += 1;
            degree[d as usize] += 1;
        }
        let offsets = super::prefix_sums(&degree);
        drop(degree);
        // Rows in edge-list order (tags as above).
        let mut fill = offsets.clone();
        let total = offsets[n];
        let mut targets = vec![0u32; total];
        let mut tags = vec![0u8; total];
        for &(s, d) in edges.iter().filter(|(s, d)| s != d) {
            for (x, y, tag) in [(s, d, in_s_row), (d, s, in_d_row)] {
                let at = &mut fill[x as usize];
                targets[*at] = y;
                tags[*at] = tag;
                *at += 1;
            }
        }
        // Transposed, walking rows in ascending order: every row ascending. The set of
        // entries is symmetric, so the offsets are the same.
        fill.copy_from_slice(&offsets);
        let mut sorted_targets = vec![0u32; total];
        let mut sorted_tags = vec![0u8; total];
        for y in 0..n {
            for at in offsets[y]..offsets[y + 1] {
                let x = targets[at] as usize;
                let to = &mut fill[x];
                sorted_targets[*to] = y as u32;
                sorted_tags[*to] = tags[at];
                *to += 1;
            }
        }
        drop((targets, tags));
        let mut graph = Neighbours {
            offsets,
            targets: sorted_targets,
            tags: sorted_tags,
        };
        graph.merge_duplicates();
        graph
    }

    /// Merges each row's runs of one neighbour into one entry, OR-ing the tags, and
    /// compacts the rows in place.
    fn merge_duplicates(&mut self) {
        self.compact_rows(|_, target, tag, last| match last {
            Some((previous, into)) if previous == target => {
                *into |= tag;
                false
            }
            _ => true,
        });
    }

    /// Keeps in each row only the neighbours later in (degree, index) order.
    fn keep_forward(&mut self, degree: &[u32]) {
        self.compact_rows(|v, u, _, _| (degree[u as usize], u) > (degree[v], v as u32));
    }

    /// Rewrites every row in place, entry by entry: `keep(row, target, tag, last)` sees
    /// each entry with the last one kept in its row (target and a mutable tag, to fold
    /// into) and says whether the entry stays as one of its own.
    fn compact_rows(
        &mut self,
        mut keep: impl FnMut(usize, u32, u8, Option<(u32, &mut u8)>) -> bool,
    ) {
        let n = self.offsets.len() - 1;
        let mut write = 0;
        let mut row_start = 0;
        for v in 0..n {
            let (from, to) = (row_start, self.offsets[v + 1]);
            row_start = to;
            self.offsets[v] = write;
            for read in from..to {
                let (target, tag) = (self.targets[read], self.tags[read]);
                let last = (write > self.offsets[v])
                    .then(|| (self.targets[write - 1], &mut self.tags[write - 1]));
                if keep(v, target, tag, last) {
                    self.targets[write] = target;
                    self.tags[write] = tag;
                    write += 1;
                }
            }
        }
        self.offsets[n] = write;
        self.targets.truncate(write);
        self.tags.truncate(write);
    }

    /// For forward rows: how many edges join two neighbours of each vertex.
    fn credit_triangles(&self) -> Vec<u64> {
        let n = self.offsets.len() - 1;
        let mut links = vec![0u64; n];
        let mut mark = vec![0u8; n];
        for a in 0..n {
            let row_a = self.offsets[a]..self.offsets[a + 1];
            for at in row_a.clone() {
                mark[self.targets[at] as usize] = self.tags[at];
            }
            for at in row_a.clone() {
                let b = self.targets[at] as usize;
                let ab = self.tags[at].count_ones();
                for bt in self.offsets[b]..self.offsets[b + 1] {
                    let c = self.targets[bt] as usize;
                    let ac = mark[c];
                    if ac != 0 {
                        links[a] += u64::from(self.tags[bt].count_ones());
                        links[b] += u64::from(ac.count_ones());
                        links[c] += u64::from(ab);
                    }
                }
            }
            for at in row_a {
                mark[self.targets[at] as usize] = 0;
            }
        }
        links
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::{graphalytics_example, graphalytics_expected};

    fn rmat_graph() -> (Vec<u64>, Vec<(u64, u64)>) {
        // Duplicates, edges both ways, self-loops and isolated vertices.
        let edges = weir_datasets::rmat_edges(9, 8, 4, 0..u64::MAX);
        let mut vertices: Vec<u64> = edges.iter().flat_map(|&(s, d)| [s, d]).collect();
        vertices.extend([7_000, 7_001]);
        vertices.sort_unstable();
        vertices.dedup();
        (vertices, edges)
    }

    #[test]
    fn matches_the_reference_on_an_rmat_graph() {
        let (vertices, edges) = rmat_graph();
        assert!(edges.iter().any(|(s, d)| s == d));
        for directed in [true, false] {
            let want = weir_jobs::lcc::reference(&vertices, &edges, directed);
            // The same integer count over the same denominator: bit for bit.
            let got = lcc(&vertices, &edges, directed);
            assert_eq!(got, want, "directed {directed}");
            let between = got.values().filter(|&&c| c > 0.0 && c < 1.0).count();
            assert!(between > 100, "{between}");
        }
        let mut reversed = vertices.clone();
        reversed.reverse();
        let want = weir_jobs::lcc::reference(&reversed, &edges, true);
        assert_eq!(lcc(&reversed, &edges, true), want);
    }

    #[test]
    fn matches_the_graphalytics_expected_output() {
        for name in ["example-directed", "example-undirected"] {
            let (properties, (vertices, edges)) = graphalytics_example(name);
            let got = lcc(&vertices, &edges, properties.directed);
            let expected = graphalytics_expected(&properties, "lcc");
            assert_eq!(expected.len(), got.len(), "{name}");
            for (v, want) in expected {
                let w: f64 = want.parse().unwrap();
                let g = got[&v];
                assert!((g - w).abs() <= 1e-4 * w, "{name}: vertex {v}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn counts_directed_links_between_neighbours() {
        // 1's neighbours {2, 3, 4}: 2 -> 3 and 3 -> 2 and 3 -> 4 link them; the loop on 2,
        // the duplicate 2 -> 3 and the edge 4 -> 1 back to 1 change nothing for 1.
        let edges = [
            (1, 2),
            (1, 3),
            (4, 1),
            (2, 3),
            (3, 2),
            (3, 4),
            (2, 2),
            (2, 3),
        ];
        let vertices = [1, 2, 3, 4, 5];
        let got = lcc(&vertices, &edges, true);
        assert_eq!(got[&1], 3.0 / 6.0);
        assert_eq!(got[&5], 0.0);
        assert_eq!(got, weir_jobs::lcc::reference(&vertices, &edges, true));
        // Undirected: 1's neighbours have the links 2-3 and 3-4, each counted both ways.
        let got = lcc(&vertices, &edges, false);
        assert_eq!(got[&1], 4.0 / 6.0);
        assert_eq!(got, weir_jobs::lcc::reference(&vertices, &edges, false));
    }
}
