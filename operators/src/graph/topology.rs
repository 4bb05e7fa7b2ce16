//! [`Topology`]: one partition of a graph's structure in compressed sparse row form.
//!
//! A partition owns the vertices whose id hashes to it ([`partition_of_vertex`]). Its
//! vertex ids are sorted, so a vertex's dense local index is its rank, and its out-edges
//! (and, when a program asks for them, its in-edges) are two flat arrays indexed by
//! offsets: `targets[out_offsets[i]..out_offsets[i + 1]]` are the out-neighbours of local
//! vertex `i`. No per-vertex or per-edge allocation, and a superstep walks the arrays in
//! order.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::graph::blocks::Ids;

/// A vertex id.
pub type VertexId = u64;

/// The partition in `0..partitions` that owns `vertex`: the same hash every shuffle
/// keyed by vertex uses, so vertex-keyed datasets line up with the graph's partitions.
#[inline]
pub fn partition_of_vertex(vertex: VertexId, partitions: usize) -> usize {
    weir_engine::hash::partition_of(&vertex, partitions)
}

/// Adjacency in CSR form: the edges of local vertex `i` are
/// `ends[offsets[i]..offsets[i + 1]]` with values `values[…]` alike. The arrays are
/// shared, so a copy of an adjacency (with routes, say) does not copy its edges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Adjacency<E> {
    /// `vertices + 1` offsets into `ends`.
    pub offsets: Arc<Vec<u64>>,
    /// The other end of each edge (a global vertex id).
    pub ends: Arc<Vec<VertexId>>,
    /// Each edge's value.
    pub values: Arc<Vec<E>>,
    /// The local index of each edge's other end in that end's partition (see `routes`);
    /// empty until the graph's routes are resolved.
    pub slots: Vec<u32>,
}

impl<E> Adjacency<E> {
    /// Builds the adjacency of `vertices` (sorted ids) from `edges` as
    /// `(local index, other end, value)`, sorted by local index.
    fn from_sorted(vertices: usize, edges: Vec<(u32, VertexId, E)>) -> Self {
        let mut offsets = vec![0u64; vertices + 1];
        for (i, _, _) in &edges {
            offsets[*i as usize + 1] += 1;
        }
        for i in 0..vertices {
            offsets[i + 1] += offsets[i];
        }
        let mut ends = Vec::with_capacity(edges.len());
        let mut values = Vec::with_capacity(edges.len());
        for (_, end, value) in edges {
            ends.push(end);
            values.push(value);
        }
        Adjacency {
            offsets: Arc::new(offsets),
            ends: Arc::new(ends),
            values: Arc::new(values),
            slots: Vec::new(),
        }
    }

    /// Builds the adjacency of `vertices` local vertices from edges given as columns:
    /// edge `k` belongs to local vertex `locals[k]` and leads to `ends[k]` with value
    /// `values[k]`. A counting sort groups them by vertex, keeping their order within a
    /// vertex.
    pub fn from_columns(vertices: usize, locals: &[u32], ends: &[VertexId], values: &[E]) -> Self
    where
        E: Clone,
    {
        let column = EdgeColumns {
            locals: locals.to_vec(),
            ends: Ids::Wide(ends.to_vec()),
            values: values.to_vec(),
        };
        Adjacency::from_column_blocks(vertices, vec![column])
    }

    /// As [`from_columns`](Self::from_columns), from the columns in blocks, each
    /// dropped as soon as its edges are placed: the edges are in memory about once and
    /// a half, not twice or three times.
    pub fn from_column_blocks(vertices: usize, blocks: Vec<EdgeColumns<E>>) -> Self
    where
        E: Clone,
    {
        let mut offsets = vec![0u64; vertices + 1];
        for block in &blocks {
            for &i in &block.locals {
                offsets[i as usize + 1] += 1;
            }
        }
        for i in 0..vertices {
            offsets[i + 1] += offsets[i];
        }
        let edges = offsets[vertices] as usize;
        let mut next: Vec<u64> = offsets[..vertices].to_vec();
        let mut ends = vec![0 as VertexId; edges];
        // Values are placed into copies of the first, all overwritten (and, when they
        // take no memory, as for unweighted graphs, the copies are all there is).
        let zero_sized = std::mem::size_of::<E>() == 0;
        let filler = blocks.iter().find_map(|b| b.values.first().cloned());
        let mut values: Vec<E> = match filler {
            Some(v) => vec![v; edges],
            None => Vec::new(),
        };
        for block in blocks {
            let mut block_values = block.values.into_iter();
            for (k, &i) in block.locals.iter().enumerate() {
                let at = &mut next[i as usize];
                ends[*at as usize] = block.ends.get(k);
                match block_values.next() {
                    Some(value) if !zero_sized => values[*at as usize] = value,
                    _ => {}
                }
                *at += 1;
            }
        }
        Adjacency {
            offsets: Arc::new(offsets),
            ends: Arc::new(ends),
            values: Arc::new(values),
            slots: Vec::new(),
        }
    }

    /// The edge range of local vertex `i`.
    #[inline]
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }

    /// The other ends of local vertex `i`'s edges.
    #[inline]
    pub fn ends_of(&self, i: usize) -> &[VertexId] {
        &self.ends[self.range(i)]
    }

    /// The resolved local indexes of local vertex `i`'s edges' other ends.
    #[inline]
    pub fn slots_of(&self, i: usize) -> &[u32] {
        &self.slots[self.range(i)]
    }

    /// Whether every edge's other end has its local index.
    pub fn is_resolved(&self) -> bool {
        self.slots.len() == self.ends.len()
    }

    /// The values of local vertex `i`'s edges.
    #[inline]
    pub fn values_of(&self, i: usize) -> &[E] {
        &self.values[self.range(i)]
    }
}

/// A block of edges by local vertex: edge `k` belongs to local vertex `locals[k]` and
/// leads to `ends[k]` with value `values[k]`.
pub struct EdgeColumns<E> {
    pub locals: Vec<u32>,
    pub ends: Ids,
    pub values: Vec<E>,
}

/// One partition of a graph's structure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology<E> {
    /// Which partition this is.
    pub partition: u32,
    /// How many partitions the graph has.
    pub partitions: u32,
    /// The partition's vertex ids, ascending and distinct; a vertex's local index is its
    /// position here.
    pub vertices: Vec<VertexId>,
    /// Out-edges by local source.
    pub out_edges: Adjacency<E>,
    /// In-edges by local target, when the graph was built with them.
    pub in_edges: Option<Adjacency<E>>,
    /// Whether the graph is directed (an undirected graph keeps each edge both ways in
    /// `out_edges`).
    pub directed: bool,
}

impl<E> Topology<E> {
    /// Builds partition `partition` of `partitions` from its sorted, distinct vertex ids
    /// and its edges `(source, target, value)`; every edge's source (and, for in-edges,
    /// its target) must be among `vertices`. Edges keep their order per vertex after a
    /// stable sort by `(vertex, other end)`.
    pub fn build(
        partition: u32,
        partitions: u32,
        vertices: Vec<VertexId>,
        out_edges: Vec<(VertexId, VertexId, E)>,
        in_edges: Option<Vec<(VertexId, VertexId, E)>>,
        directed: bool,
    ) -> Result<Self, VertexId> {
        debug_assert!(vertices.windows(2).all(|w| w[0] < w[1]));
        // Sorted by vertex, the edges meet the sorted vertices in order: one merge walk
        // gives every edge its vertex's local index, with no search per edge.
        let local = |mut edges: Vec<(VertexId, VertexId, E)>| -> Result<Adjacency<E>, VertexId> {
            edges.sort_by_key(|e| (e.0, e.1));
            let mut indexed = Vec::with_capacity(edges.len());
            let mut i = 0usize;
            for (at, other, value) in edges {
                while i < vertices.len() && vertices[i] < at {
                    i += 1;
                }
                if vertices.get(i) != Some(&at) {
                    return Err(at);
                }
                indexed.push((i as u32, other, value));
            }
            Ok(Adjacency::from_sorted(vertices.len(), indexed))
        };
        let out_edges = local(out_edges)?;
        let in_edges = in_edges.map(local).transpose()?;
        Ok(Topology {
            partition,
            partitions,
            vertices,
            out_edges,
            in_edges,
            directed,
        })
    }

    /// A partition from its parts: `vertices` sorted and distinct, the adjacencies
    /// indexed by position in it.
    pub fn from_adjacency(
        partition: u32,
        partitions: u32,
        vertices: Vec<VertexId>,
        out_edges: Adjacency<E>,
        in_edges: Option<Adjacency<E>>,
        directed: bool,
    ) -> Self {
        debug_assert!(vertices.windows(2).all(|w| w[0] < w[1]));
        Topology {
            partition,
            partitions,
            vertices,
            out_edges,
            in_edges,
            directed,
        }
    }

    /// The edges into each vertex: the in-edges when the graph keeps them, an undirected
    /// graph's edges (each is both ways), `None` for a directed graph without in-edges.
    pub fn in_view(&self) -> Option<&Adjacency<E>> {
        match (&self.in_edges, self.directed) {
            (Some(ins), _) => Some(ins),
            (None, false) => Some(&self.out_edges),
            (None, true) => None,
        }
    }

    /// The number of vertices.
    pub fn len(&self) -> usize {
        self.vertices.len()
    }

    /// Whether the partition has no vertices.
    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty()
    }

    /// The number of out-edges (both directions of an undirected edge count).
    pub fn edges(&self) -> usize {
        self.out_edges.ends.len()
    }

    /// The local index of `vertex`, if this partition holds it.
    #[inline]
    pub fn local_index(&self, vertex: VertexId) -> Option<usize> {
        self.vertices.binary_search(&vertex).ok()
    }

    /// Bytes the structure takes in memory (for the memory bound of a run).
    pub fn heap_bytes(&self) -> usize {
        let adjacency = |a: &Adjacency<E>| {
            a.offsets.len() * 8
                + a.ends.len() * 8
                + a.slots.len() * 4
                + a.values.len() * std::mem::size_of::<E>()
        };
        self.vertices.len() * 8
            + adjacency(&self.out_edges)
            + self.in_edges.as_ref().map_or(0, adjacency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_csr_with_edges_sorted_per_vertex() {
        let t = Topology::build(
            0,
            1,
            vec![1, 5, 9],
            vec![(9, 1, 'a'), (1, 9, 'b'), (1, 5, 'c'), (9, 5, 'd')],
            Some(vec![(1, 9, 'a'), (9, 1, 'b'), (5, 1, 'c'), (5, 9, 'd')]),
            true,
        )
        .unwrap();
        assert_eq!(*t.out_edges.offsets, vec![0, 2, 2, 4]);
        assert_eq!(t.out_edges.ends_of(0), &[5, 9]);
        assert_eq!(t.out_edges.values_of(0), &['c', 'b']);
        assert!(t.out_edges.ends_of(1).is_empty());
        assert_eq!(t.out_edges.ends_of(2), &[1, 5]);
        let ins = t.in_edges.as_ref().unwrap();
        assert_eq!(ins.ends_of(1), &[1, 9]);
        assert_eq!(t.local_index(9), Some(2));
        assert_eq!(t.local_index(4), None);
        assert_eq!(t.edges(), 4);
    }

    #[test]
    fn columns_group_by_vertex_in_their_order() {
        let a = Adjacency::from_columns(3, &[2, 0, 2, 0], &[10, 11, 12, 13], &['a', 'b', 'c', 'd']);
        assert_eq!(*a.offsets, vec![0, 2, 2, 4]);
        assert_eq!(a.ends_of(0), &[11, 13]);
        assert_eq!(a.values_of(2), &['a', 'c']);
        assert!(a.ends_of(1).is_empty());
    }

    #[test]
    fn an_edge_from_a_vertex_outside_the_partition_is_refused() {
        let e = Topology::build(0, 1, vec![1, 2], vec![(3, 1, ())], None, true).unwrap_err();
        assert_eq!(e, 3);
    }
}
