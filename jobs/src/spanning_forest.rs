//! Partition-local work before the message rounds of connected components (as PIE
//! systems such as libgrape-lite do): each map partition of the edge list runs a
//! union-find over its own edges and keeps only a spanning forest of what it saw, every
//! vertex linked to the smallest vertex of its local component. The union of the forests
//! connects exactly the vertices the edges connect, with at most one edge per vertex and
//! partition instead of every edge, so the graph the vertex program then runs on is
//! several times smaller and its components collapse in few rounds.

use weir_operators::graph::{IdIndex, VertexId};

/// A spanning forest of `edges` (followed both ways): `(vertex, root)` for every vertex
/// that is not the smallest of its component, whose smallest vertex is `root`, and
/// `(vertex, vertex)` for a vertex whose only edges are self-loops.
pub fn spanning_forest(edges: &[(VertexId, VertexId)]) -> Vec<(VertexId, VertexId)> {
    let ids = || edges.iter().flat_map(|&(s, d)| [s, d]);
    let (vertices, index) = IdIndex::sorted(ids, edges.len() * 2);
    let local = |v: VertexId| index.get(v).expect("every endpoint is indexed") as usize;
    // Vertices are numbered in ascending id order, so the smallest index is the
    // smallest id: every root is its component's smallest vertex.
    let mut parent: Vec<u32> = (0..vertices.len() as u32).collect();
    let find = |parent: &mut [u32], mut x: usize| {
        while parent[x] as usize != x {
            let grand = parent[parent[x] as usize];
            parent[x] = grand;
            x = grand as usize;
        }
        x
    };
    for &(s, d) in edges {
        let (a, b) = (find(&mut parent, local(s)), find(&mut parent, local(d)));
        match a.cmp(&b) {
            std::cmp::Ordering::Less => parent[b] = a as u32,
            std::cmp::Ordering::Greater => parent[a] = b as u32,
            std::cmp::Ordering::Equal => {}
        }
    }
    let mut has_members = vec![false; vertices.len()];
    let mut forest = Vec::with_capacity(vertices.len());
    for i in 0..vertices.len() {
        let root = find(&mut parent, i);
        if root != i {
            has_members[root] = true;
            forest.push((vertices[i], vertices[root]));
        }
    }
    for (i, &members) in has_members.iter().enumerate() {
        if !members && parent[i] as usize == i {
            forest.push((vertices[i], vertices[i]));
        }
    }
    forest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_graphs::random_edges;
    use std::collections::BTreeMap;

    /// Each vertex's smallest connected vertex, by a plain search.
    fn labels(edges: &[(u64, u64)]) -> BTreeMap<u64, u64> {
        let mut adjacency: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for &(s, d) in edges {
            adjacency.entry(s).or_default().push(d);
            adjacency.entry(d).or_default().push(s);
        }
        let mut label = BTreeMap::new();
        for &v in adjacency.keys() {
            if label.contains_key(&v) {
                continue;
            }
            let mut stack = vec![v];
            label.insert(v, v);
            while let Some(u) = stack.pop() {
                for &w in &adjacency[&u] {
                    if label.insert(w, v).is_none() {
                        stack.push(w);
                    }
                }
            }
        }
        label
    }

    #[test]
    fn the_forest_connects_what_the_edges_connect() {
        for (seed, sparse) in [(1, false), (2, true)] {
            let mut edges = random_edges(seed, 300, 200);
            if sparse {
                edges.iter_mut().for_each(|e| *e = (e.0 << 40, e.1 << 40));
            }
            edges.push((7 << 50, 7 << 50));
            let forest = spanning_forest(&edges);
            assert!(forest.len() <= labels(&edges).len());
            assert_eq!(labels(&forest), labels(&edges));
            for (v, root) in &forest {
                assert!(root <= v);
            }
        }
    }
}
