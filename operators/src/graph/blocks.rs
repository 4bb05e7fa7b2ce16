//! [`Block`]: what a graph build shuffles. Each map task cuts its edges (and vertices)
//! into typed column blocks per destination partition, so the shuffle moves a few large
//! records of flat arrays instead of one record per edge, and the partition that
//! receives them builds its CSR arrays with counting passes instead of sorting.
//!
//! Every edge goes to its source's partition as an out-edge. An undirected edge also goes
//! to its target's partition the other way. A directed edge also goes to its target's
//! partition as an in-edge (when the program reads in-edges) or as a bare mention, so
//! that every partition learns of its vertices that only appear as targets.
//!
//! A block carries its origin, `(map partition, sequence)`: the partition sorts its blocks
//! by origin before building, so its edges are in the same order whatever order the
//! network delivered them in, and a partition rebuilt from lineage after a failure is
//! identical to the lost one.

use serde::{Deserialize, Serialize};

use crate::dataset::Records;
use crate::graph::id_index::IdIndex;
use crate::graph::topology::{partition_of_vertex, VertexId};

/// Edges a block holds before it is cut.
pub const BLOCK_EDGES: usize = 1 << 16;

/// A column of vertex ids, four bytes each when they all fit (as they do in most real
/// graphs), so a block takes half the memory. On the wire a column is its raw
/// little-endian bytes: one copy to encode and one to decode, where a varint per id
/// costs a branchy loop each way.
#[derive(Debug, Clone, PartialEq)]
pub enum Ids {
    Narrow(Vec<u32>),
    Wide(Vec<VertexId>),
}

impl Ids {
    /// The column of `ids`, narrow if it can be.
    pub fn new(ids: Vec<VertexId>) -> Ids {
        if ids.iter().all(|&id| id <= u64::from(u32::MAX)) {
            Ids::Narrow(ids.into_iter().map(|id| id as u32).collect())
        } else {
            Ids::Wide(ids)
        }
    }

    /// How many ids there are.
    pub fn len(&self) -> usize {
        match self {
            Ids::Narrow(ids) => ids.len(),
            Ids::Wide(ids) => ids.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with each id in order.
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(VertexId)) {
        match self {
            Ids::Narrow(ids) => ids.iter().for_each(|&id| f(u64::from(id))),
            Ids::Wide(ids) => ids.iter().for_each(|&id| f(id)),
        }
    }

    /// Id `i`.
    #[inline]
    pub fn get(&self, i: usize) -> VertexId {
        match self {
            Ids::Narrow(ids) => u64::from(ids[i]),
            Ids::Wide(ids) => ids[i],
        }
    }
}

impl Serialize for Ids {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (wide, bytes): (bool, Vec<u8>) = match self {
            Ids::Narrow(ids) => (false, ids.iter().flat_map(|id| id.to_le_bytes()).collect()),
            Ids::Wide(ids) => (true, ids.iter().flat_map(|id| id.to_le_bytes()).collect()),
        };
        (wide, RawBytes(bytes)).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Ids {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (wide, RawBytes(bytes)) = <(bool, RawBytes)>::deserialize(deserializer)?;
        let width = if wide { 8 } else { 4 };
        if bytes.len() % width != 0 {
            return Err(serde::de::Error::custom(format!(
                "a column of {width}-byte ids has {} bytes",
                bytes.len()
            )));
        }
        Ok(if wide {
            let ids = bytes
                .chunks_exact(8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("chunks of 8")));
            Ids::Wide(ids.collect())
        } else {
            let ids = bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("chunks of 4")));
            Ids::Narrow(ids.collect())
        })
    }
}

/// Bytes that serialize as one byte string (a length and a copy), not a sequence.
struct RawBytes(Vec<u8>);

impl Serialize for RawBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for RawBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<RawBytes, E> {
                Ok(RawBytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<RawBytes, E> {
                Ok(RawBytes(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawBytes, A::Error> {
                let mut bytes = Vec::new();
                while let Some(b) = seq.next_element()? {
                    bytes.push(b);
                }
                Ok(RawBytes(bytes))
            }
        }
        deserializer.deserialize_byte_buf(Visitor)
    }
}

/// Which adjacency a block of edges belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EdgeKind {
    /// `at` is the source, `other` the target.
    Out,
    /// `at` is the target, `other` the source.
    In,
}

/// One shuffled block, for the partition it is keyed by.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Block<V, E> {
    /// Vertices from the vertex list, with their values.
    Vertices {
        origin: (u32, u32),
        ids: Vec<VertexId>,
        values: Vec<V>,
    },
    /// Edges of the partition's vertices `at`, to (or from) `other`.
    Edges {
        origin: (u32, u32),
        kind: EdgeKind,
        at: Ids,
        other: Ids,
        values: Vec<E>,
    },
    /// Vertices that are some edge's target, distinct within the map partition.
    Mentions {
        origin: (u32, u32),
        ids: Vec<VertexId>,
    },
}

impl<V, E> Block<V, E> {
    /// Where the block came from: its map partition and its sequence there.
    pub fn origin(&self) -> (u32, u32) {
        match self {
            Block::Vertices { origin, .. }
            | Block::Edges { origin, .. }
            | Block::Mentions { origin, .. } => *origin,
        }
    }
}

/// Cuts map partition `split`'s vertices into blocks of [`BLOCK_EDGES`] per destination.
pub fn vertex_blocks<V, E>(
    split: usize,
    vertices: Records<(VertexId, V)>,
    partitions: usize,
) -> Vec<(u32, Block<V, E>)> {
    let mut buffers: Vec<(Vec<VertexId>, Vec<V>)> =
        (0..partitions).map(|_| (Vec::new(), Vec::new())).collect();
    let mut sequence = vec![0u32; partitions];
    let mut out = Vec::new();
    let mut cut = |to: usize, buffer: &mut (Vec<VertexId>, Vec<V>), out: &mut Vec<_>| {
        let (ids, values) = std::mem::take(buffer);
        let origin = (split as u32, sequence[to]);
        sequence[to] += 1;
        out.push((
            to as u32,
            Block::Vertices {
                origin,
                ids,
                values,
            },
        ));
    };
    for (id, value) in vertices {
        let to = partition_of_vertex(id, partitions);
        let buffer = &mut buffers[to];
        buffer.0.push(id);
        buffer.1.push(value);
        if buffer.0.len() >= BLOCK_EDGES {
            cut(to, buffer, &mut out);
        }
    }
    for (to, buffer) in buffers.iter_mut().enumerate() {
        if !buffer.0.is_empty() {
            cut(to, buffer, &mut out);
        }
    }
    out
}

/// One destination's edges in the making.
struct EdgeBuffer<E> {
    at: Vec<VertexId>,
    other: Vec<VertexId>,
    values: Vec<E>,
}

impl<E> EdgeBuffer<E> {
    fn new() -> Self {
        EdgeBuffer {
            at: Vec::new(),
            other: Vec::new(),
            values: Vec::new(),
        }
    }
}

/// Map partition `split`'s edges as blocks, cut as they fill (the edges stream through
/// and at most a block per destination and kind is held at once).
pub struct EdgeBlocks<V, E> {
    split: u32,
    partitions: usize,
    directed: bool,
    in_edges: bool,
    edges: Option<Records<(VertexId, VertexId, E)>>,
    outs: Vec<EdgeBuffer<E>>,
    ins: Vec<EdgeBuffer<E>>,
    mentions: Vec<Vec<VertexId>>,
    sequence: Vec<u32>,
    ready: Vec<(u32, Block<V, E>)>,
}

impl<V, E: Clone> EdgeBlocks<V, E> {
    /// The blocks of `edges`, the records of map partition `split`.
    pub fn new(
        split: usize,
        edges: Records<(VertexId, VertexId, E)>,
        partitions: usize,
        directed: bool,
        in_edges: bool,
    ) -> Self {
        EdgeBlocks {
            split: split as u32,
            partitions,
            directed,
            in_edges: directed && in_edges,
            edges: Some(edges),
            outs: (0..partitions).map(|_| EdgeBuffer::new()).collect(),
            ins: (0..partitions).map(|_| EdgeBuffer::new()).collect(),
            mentions: (0..partitions).map(|_| Vec::new()).collect(),
            sequence: vec![0; partitions],
            ready: Vec::new(),
        }
    }

    fn origin(&mut self, to: usize) -> (u32, u32) {
        let origin = (self.split, self.sequence[to]);
        self.sequence[to] += 1;
        origin
    }

    fn cut_edges(&mut self, to: usize, kind: EdgeKind) {
        let buffer = match kind {
            EdgeKind::Out => &mut self.outs[to],
            EdgeKind::In => &mut self.ins[to],
        };
        let EdgeBuffer { at, other, values } = std::mem::replace(buffer, EdgeBuffer::new());
        let origin = self.origin(to);
        self.ready.push((
            to as u32,
            Block::Edges {
                origin,
                kind,
                at: Ids::new(at),
                other: Ids::new(other),
                values,
            },
        ));
    }

    /// Cuts destination `to`'s mentions, made distinct over the whole map partition
    /// (through a table indexed by id when the ids are dense).
    fn cut_mentions(&mut self, to: usize) {
        let all = std::mem::take(&mut self.mentions[to]);
        let distinct = IdIndex::sorted(|| all.iter().copied(), all.len()).0;
        drop(all);
        for chunk in distinct.chunks(BLOCK_EDGES) {
            let origin = self.origin(to);
            let ids = chunk.to_vec();
            self.ready
                .push((to as u32, Block::Mentions { origin, ids }));
        }
    }

    fn push(&mut self, kind: EdgeKind, at: VertexId, other: VertexId, value: E) {
        let to = partition_of_vertex(at, self.partitions);
        let buffer = match kind {
            EdgeKind::Out => &mut self.outs[to],
            EdgeKind::In => &mut self.ins[to],
        };
        buffer.at.push(at);
        buffer.other.push(other);
        buffer.values.push(value);
        if buffer.at.len() >= BLOCK_EDGES {
            self.cut_edges(to, kind);
        }
    }

    /// Reads edges until some block is ready or the edges end; then cuts what is left.
    fn fill(&mut self) {
        while self.ready.is_empty() {
            let Some(edges) = &mut self.edges else {
                return;
            };
            let Some((source, target, value)) = edges.next() else {
                self.edges = None;
                self.flush();
                return;
            };
            if !self.directed {
                self.push(EdgeKind::Out, target, source, value.clone());
            } else if self.in_edges {
                self.push(EdgeKind::In, target, source, value.clone());
            } else {
                let to = partition_of_vertex(target, self.partitions);
                self.mentions[to].push(target);
            }
            self.push(EdgeKind::Out, source, target, value);
        }
    }

    fn flush(&mut self) {
        for to in 0..self.partitions {
            if !self.outs[to].at.is_empty() {
                self.cut_edges(to, EdgeKind::Out);
            }
            if !self.ins[to].at.is_empty() {
                self.cut_edges(to, EdgeKind::In);
            }
            if !self.mentions[to].is_empty() {
                self.cut_mentions(to);
            }
        }
    }
}

impl<V, E: Clone> Iterator for EdgeBlocks<V, E> {
    type Item = (u32, Block<V, E>);

    fn next(&mut self) -> Option<Self::Item> {
        self.fill();
        self.ready.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(directed: bool, in_edges: bool) -> Vec<(u32, Block<(), char>)> {
        let edges: Vec<(u64, u64, char)> = (0..200_000u64)
            .map(|i| (i % 1000, (i * 7) % 1000, 'x'))
            .collect();
        EdgeBlocks::new(3, Box::new(edges.into_iter()), 4, directed, in_edges).collect()
    }

    fn count(blocks: &[(u32, Block<(), char>)], want: EdgeKind) -> usize {
        blocks
            .iter()
            .map(|(to, b)| match b {
                Block::Edges {
                    kind, at, other, ..
                } if *kind == want => {
                    assert!(at.len() <= BLOCK_EDGES && at.len() == other.len());
                    assert!(matches!(at, Ids::Narrow(_)));
                    at.for_each(|v| assert_eq!(partition_of_vertex(v, 4), *to as usize));
                    at.len()
                }
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn every_edge_lands_with_its_ends_and_origins_are_unique() {
        let undirected = blocks(false, false);
        assert_eq!(count(&undirected, EdgeKind::Out), 400_000);
        let with_ins = blocks(true, true);
        assert_eq!(count(&with_ins, EdgeKind::Out), 200_000);
        assert_eq!(count(&with_ins, EdgeKind::In), 200_000);
        let mentions = blocks(true, false);
        assert_eq!(count(&mentions, EdgeKind::Out), 200_000);
        let mentioned: usize = mentions
            .iter()
            .map(|(_, b)| match b {
                Block::Mentions { ids, .. } => ids.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(mentioned, 1000);
        let mut origins: Vec<(u32, (u32, u32))> =
            with_ins.iter().map(|(to, b)| (*to, b.origin())).collect();
        let all = origins.len();
        origins.sort_unstable();
        origins.dedup();
        assert_eq!(origins.len(), all);
        assert!(origins.iter().all(|(_, (split, _))| *split == 3));
    }

    #[test]
    fn id_columns_round_trip_as_raw_bytes_and_bad_lengths_are_refused() {
        for ids in [
            Ids::new(vec![0, 7, u64::from(u32::MAX)]),
            Ids::new(vec![1 << 40, 3]),
        ] {
            let bytes = bincode::serialize(&ids).unwrap();
            assert_eq!(bincode::deserialize::<Ids>(&bytes).unwrap(), ids);
        }
        let bad = bincode::serialize(&(false, RawBytes(vec![1, 2, 3]))).unwrap();
        let e = bincode::deserialize::<Ids>(&bad).unwrap_err();
        assert!(e.to_string().contains("4-byte ids has 3 bytes"), "{e}");
    }

    #[test]
    fn ids_are_narrow_when_they_fit() {
        let narrow = Ids::new(vec![1, u64::from(u32::MAX)]);
        assert!(matches!(narrow, Ids::Narrow(_)));
        assert_eq!(narrow.get(1), u64::from(u32::MAX));
        let wide = Ids::new(vec![1, 1 << 32]);
        assert!(matches!(wide, Ids::Wide(_)));
        let mut seen = Vec::new();
        wide.for_each(|id| seen.push(id));
        assert_eq!(seen, vec![1, 1 << 32]);
    }

    #[test]
    fn vertices_go_to_their_partitions() {
        let vertices: Vec<(u64, u8)> = (0..10u64).map(|v| (v, v as u8)).collect();
        let blocks: Vec<(u32, Block<u8, ()>)> = vertex_blocks(0, Box::new(vertices.into_iter()), 3);
        let mut seen = 0;
        for (to, b) in blocks {
            let Block::Vertices { ids, values, .. } = b else {
                panic!("not a vertex block")
            };
            for (id, value) in ids.iter().zip(&values) {
                assert_eq!(partition_of_vertex(*id, 3), to as usize);
                assert_eq!(*id as u8, *value);
                seen += 1;
            }
        }
        assert_eq!(seen, 10);
    }
}
