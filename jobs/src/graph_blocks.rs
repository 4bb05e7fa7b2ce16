//! Graph partitions as blocks: the form the dataflow PageRank keeps its graph in.
//!
//! [`graph_blocks`] turns each partition of a [`Graph`] (built by the graph loader of
//! `weir_operators::graph`, hash-partitioned by vertex) into one [`GraphBlock`],
//! persisted once: the partition's vertices sorted, their out-degrees, and their
//! out-edges grouped by target, each edge as the local index of its source. An
//! iteration then runs over flat arrays instead of one record per vertex or edge:
//!
//! * the map side of a step zips each block with the per-vertex values of the same
//!   partition and folds them along the edges into one message per distinct target
//!   ([`GraphBlock::gather`]): the pre-aggregation that a combiner would do, without a
//!   hash table, since the edges are already grouped;
//! * the messages are shuffled to their targets' partitions (the graph's vertex hash is
//!   the shuffles' key hash, so they line up), where [`GraphBlock::scatter_into`] adds
//!   each into the slot of its target vertex.
//!
//! This is how the dataflow engines that do well on graphs hold them (GraphX's edge
//! partitions, the timely and Pregel vertex states), while every step stays a stage of
//! the plan, recomputed from lineage if a worker is lost.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_engine::Result;
use weir_operators::graph::{Graph, IdIndex, Topology};
use weir_operators::prelude::*;

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
    /// The block of a graph partition: its vertices, and its out-edges grouped by
    /// target (an undirected graph's edges both ways).
    pub fn from_topology<E>(t: &Topology<E>) -> GraphBlock {
        const INDEXED: &str = "every edge's target is among the targets indexed";
        let out = &t.out_edges;
        let n = t.vertices.len();
        // The distinct targets, ascending, then a counting sort of the edges by target,
        // taking the sources in order (so they are ascending within a target).
        let (targets, index) = IdIndex::sorted(|| out.ends.iter().copied(), out.ends.len());
        let mut target_ends = vec![0u32; targets.len()];
        for &end in out.ends.iter() {
            target_ends[index.get(end).expect(INDEXED) as usize] += 1;
        }
        let mut next = Vec::with_capacity(targets.len());
        let mut total = 0u32;
        for end in target_ends.iter_mut() {
            next.push(total);
            total += *end;
            *end = total;
        }
        let mut out_degree = Vec::with_capacity(n);
        let mut sources = vec![0u32; out.ends.len()];
        for i in 0..n {
            let range = out.range(i);
            out_degree.push(range.len() as u32);
            for &end in &out.ends[range] {
                let at = &mut next[index.get(end).expect(INDEXED) as usize];
                sources[*at as usize] = i as u32;
                *at += 1;
            }
        }
        GraphBlock {
            vertices: t.vertices.to_vec(),
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

/// The graph as one persisted [`GraphBlock`] per partition of `graph`, built now, and
/// its number of vertices; the graph's own partitions are then dropped from memory (the
/// blocks hold what the dataflow needs, and lineage rebuilds a lost block from the edge
/// files).
pub fn graph_blocks<V: Data, E: Data>(
    graph: &Graph<V, E>,
) -> Result<(Dataset<Arc<GraphBlock>>, u64)> {
    let blocks = graph
        .parts()
        .map(|part| Arc::new(GraphBlock::from_topology(&part.topology)))
        .persist();
    // Counting the vertices builds the blocks.
    let vertices = blocks.map(|b| b.len() as u64).collect()?.iter().sum();
    graph.unpersist();
    Ok((blocks, vertices))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block of one partition holding `vertices` (sorted) and `edges`.
    fn block(vertices: Vec<u64>, edges: &[(u64, u64)]) -> GraphBlock {
        let edges = edges.iter().map(|&(s, d)| (s, d, ())).collect();
        let t = Topology::build(0, 1, vertices, edges, None, true).unwrap();
        GraphBlock::from_topology(&t)
    }

    #[test]
    fn builds_grouped_edges_and_degrees() {
        // 30 -> 10, 30 -> 20, 10 -> 20, 10 -> 20 (duplicate).
        let block = block(vec![10, 20, 30], &[(30, 10), (30, 20), (10, 20), (10, 20)]);
        assert_eq!(block.vertices, vec![10, 20, 30]);
        assert_eq!(block.out_degree, vec![2, 0, 2]);
        assert_eq!(block.targets, vec![10, 20]);
        assert_eq!(block.target_ends, vec![1, 4]);
        assert_eq!(block.sources, vec![2, 0, 0, 2]);
        assert_eq!((block.len(), block.edges()), (3, 4));
    }

    #[test]
    fn gather_folds_per_target_and_scatter_finds_vertices() {
        let block = Arc::new(block(vec![1, 2, 3], &[(1, 3), (2, 3), (3, 1), (1, 7)]));
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
        let block = block(vertices.clone(), &[]);
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
