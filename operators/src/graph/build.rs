//! [`Graph`]: a graph partitioned by a deterministic vertex hash and kept in worker memory
//! as one [`Topology`] (CSR) and one value array per partition, built from datasets of
//! edges and (optionally) vertices with one shuffle of column blocks (see `blocks`).
//!
//! A partition numbers its vertices through an [`IdIndex`] (a table indexed by id when
//! the ids are dense, a hash table when not) and lays out its edges with counting
//! passes: no sort and no search per edge. With a vertex list, an edge naming a vertex
//! missing from it is an error naming the vertex; without one, the vertices are the
//! edges' endpoints, with a default value.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_engine::{Result, TaskError};

use crate::dataset::{Data, Dataset, Records};
use crate::graph::blocks::{vertex_blocks, Block, EdgeBlocks, EdgeKind, Ids};
use crate::graph::id_index::IdIndex;
use crate::graph::routes::resolve;
use crate::graph::topology::{Adjacency, EdgeColumns, Topology, VertexId};
use crate::shuffle::partition_by;

/// How large a graph is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphSizes {
    pub vertices: u64,
    /// Out-edges (an undirected edge counts twice).
    pub edges: u64,
    /// Bytes the structure takes in worker memory, all partitions together
    /// ([`Topology::heap_bytes`]).
    pub bytes: u64,
    /// Vertices of the largest partition.
    pub largest_partition: u64,
}

impl GraphSizes {
    /// The bound of vertex indexes (see [`Context::index`](super::Context::index)) in a
    /// graph of `partitions` partitions.
    pub fn index_bound(&self, partitions: usize) -> u64 {
        self.largest_partition * partitions as u64
    }
}

/// One partition of a graph: its structure and its vertices' values, indexed alike.
#[derive(Debug, Serialize, Deserialize)]
pub struct GraphPart<V, E> {
    /// The vertices and their edges.
    pub topology: Arc<Topology<E>>,
    /// `values[i]` belongs to `topology.vertices[i]`.
    pub values: Arc<Vec<V>>,
}

impl<V, E> Clone for GraphPart<V, E> {
    fn clone(&self) -> Self {
        GraphPart {
            topology: self.topology.clone(),
            values: self.values.clone(),
        }
    }
}

/// How a graph is built.
#[derive(Debug, Clone, Copy)]
pub struct GraphOptions {
    /// Partitions (the session's parallelism); 0 takes the job's default parallelism.
    pub partitions: usize,
    /// Whether edges go one way; an undirected graph keeps each edge both ways.
    pub directed: bool,
    /// Keep in-edges as well as out-edges (for programs that read them, as CDLP and LCC
    /// on directed graphs do).
    pub in_edges: bool,
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions {
            partitions: 0,
            directed: true,
            in_edges: false,
        }
    }
}

/// A graph with vertex values `V` and edge values `E`, partitioned in worker memory.
pub struct Graph<V, E> {
    pub(crate) parts: Dataset<GraphPart<V, E>>,
    /// The persisted partitions `parts` were made from without copying their edges (the
    /// graph before its routes), if any.
    pub(crate) unrouted: Option<Dataset<GraphPart<V, E>>>,
    pub(crate) directed: bool,
}

impl<V, E> Clone for Graph<V, E> {
    fn clone(&self) -> Self {
        Graph {
            parts: self.parts.clone(),
            unrouted: self.unrouted.clone(),
            directed: self.directed,
        }
    }
}

impl<V: Data, E: Data> Graph<V, E> {
    /// Builds a graph from `(source, target, value)` edges and, optionally,
    /// `(vertex, value)` vertices; without them every endpoint is a vertex with value
    /// `default_value`. The graph is persisted; it is computed by the first action or run
    /// that reads it.
    pub fn from_edges(
        edges: &Dataset<(VertexId, VertexId, E)>,
        vertices: Option<&Dataset<(VertexId, V)>>,
        default_value: V,
        options: GraphOptions,
    ) -> Result<Graph<V, E>> {
        let partitions = match options.partitions {
            0 => edges.context().parallelism(),
            n => n,
        }
        .max(1);
        let (directed, in_edges) = (options.directed, options.directed && options.in_edges);
        let blocks: Dataset<(u32, Block<V, E>)> = edges.map_partitions(move |split, edges| {
            EdgeBlocks::new(split, edges, partitions, directed, in_edges)
        });
        let listed = vertices.is_some();
        let blocks = match vertices {
            Some(v) => v
                .map_partitions(move |split, vertices| {
                    vertex_blocks(split, vertices, partitions).into_iter()
                })
                .union(&blocks),
            None => blocks,
        };
        let to_partition = Arc::new(|p: &u32| *p as usize);
        let parts = partition_by(&blocks, "graph", partitions, to_partition).narrow(
            "graph",
            false,
            move |p, blocks, tc| {
                let shape = (directed, in_edges);
                let built = assemble(p, partitions, blocks, listed, &default_value, shape);
                match built {
                    Ok(part) => Box::new(std::iter::once(part)) as Records<GraphPart<V, E>>,
                    Err(e) => {
                        tc.fail(e);
                        Box::new(std::iter::empty())
                    }
                }
            },
        );
        let unrouted = parts.persist();
        let parts = resolve(&unrouted)?.persist();
        Ok(Graph {
            parts,
            unrouted: Some(unrouted),
            directed,
        })
    }
}

impl<V: Data, E: Data> Graph<V, E> {
    /// The partitions, one record each.
    pub fn parts(&self) -> &Dataset<GraphPart<V, E>> {
        &self.parts
    }

    /// How many partitions the graph has.
    pub fn num_partitions(&self) -> usize {
        self.parts.num_partitions()
    }

    /// Whether edges go one way.
    pub fn is_directed(&self) -> bool {
        self.directed
    }

    /// Every vertex with its value.
    pub fn vertices(&self) -> Dataset<(VertexId, V)> {
        self.parts.flat_map(|part| {
            let (t, values) = (part.topology, part.values);
            (0..t.len())
                .map(|i| (t.vertices[i], values[i].clone()))
                .collect::<Vec<_>>()
        })
    }

    /// Counts vertices and edges (out-edges: an undirected edge counts twice), building
    /// the graph in worker memory if it is not there yet.
    pub fn counts(&self) -> Result<(u64, u64)> {
        let sizes = self.sizes()?;
        Ok((sizes.vertices, sizes.edges))
    }

    /// The graph's sizes, building it in worker memory if it is not there yet.
    pub fn sizes(&self) -> Result<GraphSizes> {
        let parts = self
            .parts
            .map(|part| {
                let t = &part.topology;
                (t.len() as u64, t.edges() as u64, t.heap_bytes() as u64)
            })
            .collect()?;
        let mut sizes = GraphSizes::default();
        for (v, e, b) in parts {
            sizes.vertices += v;
            sizes.edges += e;
            sizes.bytes += b;
            sizes.largest_partition = sizes.largest_partition.max(v);
        }
        Ok(sizes)
    }

    /// Whether `vertex` is in the graph.
    pub fn contains_vertex(&self, vertex: VertexId) -> Result<bool> {
        let found = self
            .parts
            .filter(move |part| part.topology.local_index(vertex).is_some())
            .count()?;
        Ok(found > 0)
    }

    /// A graph with the same structure and each vertex's value replaced by
    /// `f(vertex, value, out-degree)`; the structure is shared, not copied.
    pub fn map_vertices<W: Data>(
        &self,
        f: impl Fn(VertexId, &V, usize) -> W + Send + Sync + 'static,
    ) -> Graph<W, E> {
        let parts = self.parts.map(move |part| {
            let t = &part.topology;
            let values = (0..t.len())
                .map(|i| f(t.vertices[i], &part.values[i], t.out_edges.range(i).len()))
                .collect();
            GraphPart {
                topology: part.topology.clone(),
                values: Arc::new(values),
            }
        });
        Graph {
            parts: parts.persist(),
            unrouted: None,
            directed: self.directed,
        }
    }

    /// Drops the graph's partitions from worker memory, once what was made of them is
    /// persisted (a later use rebuilds them from lineage).
    pub fn unpersist(&self) {
        self.parts.unpersist();
        if let Some(unrouted) = &self.unrouted {
            unrouted.unpersist();
        }
    }
}

/// A partition's blocks, each kind in origin order.
struct Sorted<V, E> {
    vertices: Vec<(Vec<VertexId>, Vec<V>)>,
    outs: Vec<(Ids, Ids, Vec<E>)>,
    ins: Vec<(Ids, Ids, Vec<E>)>,
    mentions: Vec<VertexId>,
}

fn sort_blocks<V, E>(blocks: Records<(u32, Block<V, E>)>) -> Sorted<V, E> {
    let mut blocks: Vec<Block<V, E>> = blocks.map(|(_, b)| b).collect();
    let rank = |b: &Block<V, E>| match b {
        Block::Vertices { .. } => 0,
        Block::Edges {
            kind: EdgeKind::Out,
            ..
        } => 1,
        Block::Edges {
            kind: EdgeKind::In, ..
        } => 2,
        Block::Mentions { .. } => 3,
    };
    blocks.sort_unstable_by_key(|b| (rank(b), b.origin()));
    let mut sorted = Sorted {
        vertices: Vec::new(),
        outs: Vec::new(),
        ins: Vec::new(),
        mentions: Vec::new(),
    };
    for block in blocks {
        match block {
            Block::Vertices { ids, values, .. } => sorted.vertices.push((ids, values)),
            Block::Edges {
                kind,
                at,
                other,
                values,
                ..
            } => match kind {
                EdgeKind::Out => sorted.outs.push((at, other, values)),
                EdgeKind::In => sorted.ins.push((at, other, values)),
            },
            Block::Mentions { ids, .. } => sorted.mentions.extend(ids),
        }
    }
    sorted
}

/// Builds partition `p` from its shuffled blocks.
fn assemble<V: Data, E: Data>(
    p: usize,
    partitions: usize,
    blocks: Records<(u32, Block<V, E>)>,
    listed: bool,
    default_value: &V,
    (directed, in_edges): (bool, bool),
) -> std::result::Result<GraphPart<V, E>, TaskError> {
    let Sorted {
        vertices: listed_vertices,
        outs,
        ins,
        mentions,
    } = sort_blocks(blocks);
    let (vertices, values, index) = if listed {
        let mut pairs: Vec<(VertexId, V)> = Vec::new();
        for (ids, values) in listed_vertices {
            pairs.extend(ids.into_iter().zip(values));
        }
        pairs.sort_unstable_by_key(|v| v.0);
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(TaskError::failed(format!(
                "vertex {} is listed twice in the vertex list",
                w[0].0
            )));
        }
        let (ids, values): (Vec<VertexId>, Vec<V>) = pairs.into_iter().unzip();
        let index = IdIndex::of_sorted(&ids);
        if let Some(missing) = mentions.iter().find(|&&v| index.get(v).is_none()) {
            return Err(missing_vertex(*missing));
        }
        (ids, values, index)
    } else {
        let count = mentions.len()
            + outs.iter().map(|b| b.0.len()).sum::<usize>()
            + ins.iter().map(|b| b.0.len()).sum::<usize>();
        let (ids, index) = IdIndex::sorted_from(
            |f| {
                outs.iter().chain(&ins).for_each(|b| b.0.for_each(&mut *f));
                mentions.iter().for_each(|&v| f(v));
            },
            count,
        );
        let values = vec![default_value.clone(); ids.len()];
        (ids, values, index)
    };
    drop(mentions);
    let n = vertices.len();
    let out_edges = adjacency(n, &index, outs)?;
    let in_edges = match directed && in_edges {
        true => Some(adjacency(n, &index, ins)?),
        false => None,
    };
    let topology = Topology::from_adjacency(
        p as u32,
        partitions as u32,
        vertices,
        out_edges,
        in_edges,
        directed,
    );
    Ok(GraphPart {
        topology: Arc::new(topology),
        values: Arc::new(values),
    })
}

/// The adjacency of the `n` vertices `index` numbers, from blocks of edges (each
/// dropped once its edges are placed).
fn adjacency<E: Data>(
    n: usize,
    index: &IdIndex,
    blocks: Vec<(Ids, Ids, Vec<E>)>,
) -> std::result::Result<Adjacency<E>, TaskError> {
    let mut columns = Vec::with_capacity(blocks.len());
    for (at, other, values) in blocks {
        let mut locals = Vec::with_capacity(at.len());
        let mut missing = None;
        at.for_each(|v| match index.get(v) {
            Some(i) => locals.push(i),
            None => missing = missing.or(Some(v)),
        });
        if let Some(v) = missing {
            return Err(missing_vertex(v));
        }
        columns.push(EdgeColumns {
            locals,
            ends: other,
            values,
        });
    }
    Ok(Adjacency::from_column_blocks(n, columns))
}

fn missing_vertex(vertex: VertexId) -> TaskError {
    TaskError::failed(format!(
        "an edge names vertex {vertex}, which is not in the vertex list"
    ))
}
