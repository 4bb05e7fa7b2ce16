//! Weakly connected components on one thread (Graphalytics WCC): every vertex is
//! labelled with the smallest vertex id of its component, edge directions ignored.
//!
//! The technique is union-find over dense vertex indices, one pass over the edge list
//! with no adjacency structure at all:
//!
//! * `parent` holds each index's parent (roots point to themselves) and `size` each
//!   root's component size; a union hangs the smaller tree under the larger, so trees
//!   stay logarithmically shallow;
//! * `find` halves the path as it walks (each visited node is pointed at its
//!   grandparent), which with union by size makes the amortised cost per edge nearly
//!   constant;
//! * a final pass takes the minimum vertex id per root and labels every vertex with
//!   its root's minimum.

use std::collections::BTreeMap;

use super::dense_edges;

/// A union-find forest over `0..n`.
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singleton sets.
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// The root of `x`'s set, halving the path on the way.
    #[inline]
    pub fn find(&mut self, mut x: u32) -> u32 {
        loop {
            let p = self.parent[x as usize];
            if p == x {
                return x;
            }
            let g = self.parent[p as usize];
            self.parent[x as usize] = g;
            x = g;
        }
    }

    /// Merges the sets of `a` and `b`; whether they were distinct.
    #[inline]
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return false;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
        true
    }
}

/// The component label (smallest vertex id in the component) of every vertex.
///
/// # Panics
///
/// If an edge names a vertex not in `vertices`, or there are `u32::MAX` vertices or more.
pub fn connected_components(vertices: &[u64], edges: &[(u64, u64)]) -> BTreeMap<u64, u64> {
    let dense = dense_edges(vertices, edges);
    let labels = component_labels(vertices, &dense);
    vertices.iter().copied().zip(labels).collect()
}

/// The label of each dense vertex index, given the edges as index pairs.
pub fn component_labels(vertices: &[u64], edges: &[(u32, u32)]) -> Vec<u64> {
    let n = vertices.len();
    let mut sets = UnionFind::new(n);
    for &(s, d) in edges {
        sets.union(s, d);
    }
    let mut min_id = vec![u64::MAX; n];
    let mut roots = vec![0u32; n];
    for (v, &id) in vertices.iter().enumerate() {
        let root = sets.find(v as u32);
        roots[v] = root;
        let m = &mut min_id[root as usize];
        *m = (*m).min(id);
    }
    roots.iter().map(|&r| min_id[r as usize]).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, VecDeque};

    use super::*;

    /// Breadth-first labelling over undirected adjacency lists.
    fn bfs_labels(vertices: &[u64], edges: &[(u64, u64)]) -> BTreeMap<u64, u64> {
        let mut adjacent: HashMap<u64, Vec<u64>> = HashMap::new();
        for &(s, d) in edges {
            adjacent.entry(s).or_default().push(d);
            adjacent.entry(d).or_default().push(s);
        }
        let mut label = BTreeMap::new();
        let mut sorted = vertices.to_vec();
        sorted.sort_unstable();
        for &start in &sorted {
            if label.contains_key(&start) {
                continue;
            }
            // Visiting in ascending order: `start` is its component's smallest id.
            label.insert(start, start);
            let mut queue = VecDeque::from([start]);
            while let Some(v) = queue.pop_front() {
                for &w in adjacent.get(&v).map(Vec::as_slice).unwrap_or(&[]) {
                    if let std::collections::btree_map::Entry::Vacant(e) = label.entry(w) {
                        e.insert(start);
                        queue.push_back(w);
                    }
                }
            }
        }
        label
    }

    #[test]
    fn matches_bfs_on_an_rmat_graph() {
        // A sparse graph: many components, isolated vertices and self-loops.
        let edges = weir_datasets::rmat_edges(10, 1, 9, 0..u64::MAX);
        let mut vertices: Vec<u64> = edges.iter().flat_map(|&(s, d)| [s, d]).collect();
        vertices.extend([5_000, 5_001, 5_002]);
        vertices.sort_unstable();
        vertices.dedup();
        let want = bfs_labels(&vertices, &edges);
        let got = connected_components(&vertices, &edges);
        assert_eq!(got, want);
        let components = got.iter().filter(|(v, l)| v == l).count();
        assert!(components > 3, "{components}");
        // Unsorted vertex lists give the same labels.
        let mut reversed = vertices.clone();
        reversed.reverse();
        assert_eq!(connected_components(&reversed, &edges), want);
    }

    #[test]
    fn labels_are_smallest_ids_regardless_of_direction() {
        let vertices = [10, 3, 7, 8, 42];
        let edges = [(10, 7), (8, 3), (7, 8)];
        let got = connected_components(&vertices, &edges);
        let want: BTreeMap<u64, u64> = [(10, 3), (3, 3), (7, 3), (8, 3), (42, 42)].into();
        assert_eq!(got, want);
        assert!(connected_components(&[], &[]).is_empty());
    }
}
