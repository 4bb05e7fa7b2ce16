//! Graph partitions as blocks: the form the iterative graph jobs keep their graph in.
//!
//! [`graph_blocks`] hash-partitions the vertices and the edges (by source) the same way
//! and builds one [`GraphBlock`] per partition, persisted once: the partition's vertices
//! sorted, their out-degrees, and their out-edges grouped by target, each edge as the
//! local index of its source. An iteration then runs over flat arrays instead of one
//! record per vertex or edge:
//!
//! * the map side of a step zips each block with the per-vertex values of the same
//!   partition and folds them along the edges into one message per distinct target
//!   ([`GraphBlock::gather`]): the pre-aggregation that a combiner would do, without a
//!   hash table, since the edges are already grouped;
//! * the messages are shuffled to their targets' partitions, where
//!   [`GraphBlock::scatter_into`] adds each into the slot of its target vertex.
//!
//! This is how the dataflow engines that do well on graphs hold them (GraphX's edge
//! partitions, the timely and Pregel vertex states), while every step stays a stage of
//! the plan, recomputed from lineage if a worker is lost.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_engine::Result;
use weir_operators::prelude::*;

use crate::graph_input::Graph;

/// One partition of a graph.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphBlock {
    /// The partition's vertex ids, ascending and distinct.
    pub vertices: Vec<u64>,
    /// Out-degree of each vertex (edges followed; both directions of an undirected edge).
    pub out_degree: Vec<u32>,
    /// The distinct targets of the partition's edges, ascending.
    pub targets: Vec<u64>,
    /// `sources[target_ends[j - 1]..target_ends[j]]` are the edges into `targets[j]`.
    pub target_ends: Vec<u32>,
    /// The local index (into `vertices`) of each edge's source, grouped by target.
    pub sources: Vec<u32>,
}

impl GraphBlock {
    /// Builds a block from its vertices and its edges `(source, target)`. Edges whose
    /// source is not among `vertices` are dropped, as are duplicate vertices; with
    /// `sources_are_vertices`, every edge's source is a vertex of the block instead.
    pub fn build(
        vertices: Vec<u64>,
        edges: Vec<(u64, u64)>,
        sources_are_vertices: bool,
    ) -> GraphBlock {
        // Sort the edges by source, so that sources meet the vertices in order.
        let mut by_source: Vec<(u64, u64)> = edges;
        radix_sort_by_key(&mut by_source, |e| e.0);
        let mut vertices = vertices;
        if sources_are_vertices {
            let mut last = None;
            for &(source, _) in &by_source {
                if last != Some(source) {
                    vertices.push(source);
                    last = Some(source);
                }
            }
        }
        radix_sort_by_key(&mut vertices, |&v| v);
        vertices.dedup();
        vertices.shrink_to_fit();

        // Sources to local indices: walk the vertices alongside.
        let mut out_degree = vec![0u32; vertices.len()];
        let mut by_target: Vec<(u64, u64)> = Vec::with_capacity(by_source.len());
        let mut at = 0usize;
        for (source, target) in by_source {
            while at < vertices.len() && vertices[at] < source {
                at += 1;
            }
            if at < vertices.len() && vertices[at] == source {
                out_degree[at] += 1;
                by_target.push((target, at as u64));
            }
        }
        // Group by target, sources ascending within a target (the sort is stable).
        radix_sort_by_key(&mut by_target, |e| e.0);
        let mut targets = Vec::new();
        let mut target_ends = Vec::new();
        let mut sources = Vec::with_capacity(by_target.len());
        for (i, &(target, source)) in by_target.iter().enumerate() {
            if targets.last() != Some(&target) {
                if i > 0 {
                    target_ends.push(i as u32);
                }
                targets.push(target);
            }
            sources.push(source as u32);
        }
        if !by_target.is_empty() {
            target_ends.push(by_target.len() as u32);
        }
        targets.shrink_to_fit();
        target_ends.shrink_to_fit();
        GraphBlock {
            vertices,
            out_degree,
            targets,
            target_ends,
            sources,
        }
    }

    /// The number of vertices.
    pub fn len(&self) -> usize {
        self.vertices.len()
    }

    /// Whether the block has no vertices.
    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty()
    }

    /// The number of edges.
    pub fn edges(&self) -> usize {
        self.sources.len()
    }

    /// For each distinct target, `fold` over the values of its in-edges' sources:
    /// `(target, fold(…fold(init(first), second)…))`, targets ascending. `per_source` is
    /// indexed like `vertices`. The iterator owns what it reads, so it can be a
    /// partition's records.
    pub fn gather<M: 'static>(
        self: Arc<Self>,
        per_source: Vec<M>,
        init: impl Fn(&M) -> M + 'static,
        fold: impl Fn(M, &M) -> M + 'static,
    ) -> impl Iterator<Item = (u64, M)> + 'static {
        let mut start = 0usize;
        (0..self.targets.len()).map(move |j| {
            let end = self.target_ends[j] as usize;
            let edges = &self.sources[start..end];
            start = end;
            let mut acc = init(&per_source[edges[0] as usize]);
            for &s in &edges[1..] {
                acc = fold(acc, &per_source[s as usize]);
            }
            (self.targets[j], acc)
        })
    }

    /// Folds each message `(vertex, m)` into `slots[index of vertex]` with `fold`;
    /// messages for vertices not in the block are ignored. Runs of messages in ascending
    /// vertex order (as [`gather`](Self::gather) makes them) are found without a full
    /// search each.
    pub fn scatter_into<M, S>(
        &self,
        messages: impl Iterator<Item = (u64, M)>,
        slots: &mut [S],
        fold: impl Fn(&mut S, M),
    ) {
        let mut at = 0usize;
        for (vertex, m) in messages {
            if let Some(i) = self.seek(vertex, &mut at) {
                fold(&mut slots[i], m);
            }
        }
    }

    /// The index of `vertex`, searching forward from `*hint` (galloping), or the whole
    /// list when `vertex` lies before it; leaves `*hint` at the position found.
    fn seek(&self, vertex: u64, hint: &mut usize) -> Option<usize> {
        let v = &self.vertices;
        let from = if *hint < v.len() && v[*hint] <= vertex {
            *hint
        } else {
            0
        };
        let mut step = 1;
        let mut hi = from;
        while hi < v.len() && v[hi] < vertex {
            hi = from + step;
            step *= 2;
        }
        let lo = from + step / 4;
        let hi = hi.min(v.len());
        let i = lo.min(hi) + v[lo.min(hi)..hi].partition_point(|&x| x < vertex);
        *hint = i;
        (i < v.len() && v[i] == vertex).then_some(i)
    }
}

/// Sorts `items` by a `u64` key, stably, with a least-significant-digit radix sort over
/// the key's bytes that vary (three passes for keys below 2^24).
pub fn radix_sort_by_key<T: Copy + Default>(items: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    if items.len() < 256 {
        items.sort_by_key(|t| key(t));
        return;
    }
    let (min, max) = items.iter().fold((u64::MAX, 0u64), |(lo, hi), t| {
        let k = key(t);
        (lo.min(k), hi.max(k))
    });
    let spread = max - min;
    let passes = (64 - spread.leading_zeros()).div_ceil(8);
    let mut buffer = vec![T::default(); items.len()];
    for pass in 0..passes {
        let shift = pass * 8;
        let mut counts = [0usize; 256];
        for t in items.iter() {
            counts[(((key(t) - min) >> shift) & 0xff) as usize] += 1;
        }
        let mut offsets = [0usize; 256];
        let mut sum = 0;
        for (o, c) in offsets.iter_mut().zip(counts) {
            *o = sum;
            sum += c;
        }
        for t in items.iter() {
            let digit = (((key(t) - min) >> shift) & 0xff) as usize;
            buffer[offsets[digit]] = *t;
            offsets[digit] += 1;
        }
        std::mem::swap(items, &mut buffer);
    }
}

/// The graph as one persisted [`GraphBlock`] per partition, `partitions` of them,
/// vertices and edges hash-partitioned by vertex id (edges by source).
///
/// Without a vertex list, the vertices are found in the same pass as the edges: each
/// edge goes to its source's partition, and each map task also sends every distinct
/// target it saw, once, to the target's partition.
pub fn graph_blocks(graph: &Graph, partitions: usize) -> Result<Dataset<Arc<GraphBlock>>> {
    let build = |vertices: Vec<u64>, edges: Vec<(u64, u64)>, sources_are_vertices: bool| {
        std::iter::once(Arc::new(GraphBlock::build(
            vertices,
            edges,
            sources_are_vertices,
        )))
    };
    let blocks = if graph.vertices_listed {
        let edges = graph.edges.partition_by_key(partitions);
        let vertices = graph.vertices.map(|v| (v, ())).partition_by_key(partitions);
        vertices.zip_partitions(&edges, false, move |_, vertices, edges| {
            build(vertices.map(|(v, ())| v).collect(), edges.collect(), false)
        })?
    } else {
        graph
            .edges
            .map_partitions(|_, edges| EdgesThenTargets::new(edges))
            .partition_by_key(partitions)
            .map_partitions(move |_, records| {
                let mut vertices = Vec::new();
                let mut edges = Vec::new();
                for (v, adjacent) in records {
                    match adjacent {
                        Adjacent::Edge(target) => edges.push((v, target)),
                        Adjacent::Vertex => vertices.push(v),
                    }
                }
                build(vertices, edges, true)
            })
    };
    Ok(blocks.persist())
}

/// What a record keyed by a vertex says about it, on its way to the vertex's partition.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Adjacent {
    /// An edge from the vertex to this target.
    Edge(u64),
    /// The vertex exists (it is some edge's target).
    Vertex,
}

/// A map task's records for [`graph_blocks`]: each edge keyed by its source, then each
/// distinct target seen, once. The targets are deduplicated by sorting, which streams
/// through memory where a hash set of a million ids would miss the cache on most inserts.
struct EdgesThenTargets {
    edges: Option<Records<(u64, u64)>>,
    seen: Vec<u64>,
    targets: std::vec::IntoIter<u64>,
}

impl EdgesThenTargets {
    fn new(edges: Records<(u64, u64)>) -> Self {
        EdgesThenTargets {
            edges: Some(edges),
            seen: Vec::new(),
            targets: Vec::new().into_iter(),
        }
    }
}

impl Iterator for EdgesThenTargets {
    type Item = (u64, Adjacent);

    fn next(&mut self) -> Option<(u64, Adjacent)> {
        if let Some(edges) = &mut self.edges {
            if let Some((source, target)) = edges.next() {
                self.seen.push(target);
                return Some((source, Adjacent::Edge(target)));
            }
            self.edges = None;
            let mut seen = std::mem::take(&mut self.seen);
            radix_sort_by_key(&mut seen, |&t| t);
            seen.dedup();
            self.targets = seen.into_iter();
        }
        self.targets.next().map(|t| (t, Adjacent::Vertex))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_is_a_stable_sort() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (n, modulus) in [
            (10usize, 7u64),
            (5000, 1 << 20),
            (5000, u64::MAX),
            (3000, 3),
        ] {
            let mut items: Vec<(u64, u32)> = (0..n)
                .map(|i| (next() % modulus.max(1), i as u32))
                .collect();
            let mut want = items.clone();
            want.sort_by_key(|e| e.0);
            radix_sort_by_key(&mut items, |e| e.0);
            assert_eq!(items, want, "n={n} modulus={modulus}");
        }
    }

    #[test]
    fn builds_grouped_edges_and_degrees() {
        // 30 -> 10, 30 -> 20, 10 -> 20, 10 -> 20 (duplicate), 99 -> 10 (unknown source).
        let block = GraphBlock::build(
            vec![30, 10, 20, 10],
            vec![(30, 10), (30, 20), (10, 20), (10, 20), (99, 10)],
            false,
        );
        assert_eq!(block.vertices, vec![10, 20, 30]);
        assert_eq!(block.out_degree, vec![2, 0, 2]);
        assert_eq!(block.targets, vec![10, 20]);
        assert_eq!(block.target_ends, vec![1, 4]);
        assert_eq!(block.sources, vec![2, 0, 0, 2]);
        assert_eq!((block.len(), block.edges()), (3, 4));
        // With the sources as vertices, 99 and its edge stay.
        let block = GraphBlock::build(vec![10], vec![(99, 10), (30, 10), (99, 30)], true);
        assert_eq!(block.vertices, vec![10, 30, 99]);
        assert_eq!(block.out_degree, vec![0, 1, 2]);
        assert_eq!(block.targets, vec![10, 30]);
        assert_eq!(block.sources, vec![1, 2, 2]);
    }

    #[test]
    fn gather_folds_per_target_and_scatter_finds_vertices() {
        let block = Arc::new(GraphBlock::build(
            vec![1, 2, 3],
            vec![(1, 3), (2, 3), (3, 1), (1, 7)],
            false,
        ));
        let values = vec![10.0, 20.0, 30.0];
        let sums: Vec<(u64, f64)> = block.clone().gather(values, |v| *v, |a, v| a + v).collect();
        assert_eq!(sums, vec![(1, 30.0), (3, 30.0), (7, 10.0)]);
        let mut slots = vec![0.0; 3];
        block.scatter_into(
            vec![
                (3, 1.0),
                (1, 2.0),
                (2, 4.0),
                (3, 8.0),
                (5, 100.0),
                (0, 100.0),
            ]
            .into_iter(),
            &mut slots,
            |s, m| *s += m,
        );
        assert_eq!(slots, vec![2.0, 4.0, 9.0]);
    }

    #[test]
    fn seek_finds_every_vertex_from_any_hint() {
        let vertices: Vec<u64> = (0..1000).map(|i| i * 3 + 1).collect();
        let block = GraphBlock::build(vertices.clone(), Vec::new(), false);
        for hint0 in [0usize, 1, 17, 500, 999, 5000] {
            for (i, &v) in vertices.iter().enumerate() {
                let mut hint = hint0;
                assert_eq!(block.seek(v, &mut hint), Some(i), "v={v} hint={hint0}");
                let mut hint = hint0;
                assert_eq!(block.seek(v + 1, &mut hint), None);
            }
            let mut hint = hint0;
            assert_eq!(block.seek(0, &mut hint), None);
            assert_eq!(block.seek(u64::MAX, &mut hint), None);
        }
        let empty = GraphBlock::default();
        assert_eq!(empty.seek(5, &mut 0), None);
    }
}
