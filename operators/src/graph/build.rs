//! [`Graph`]: a graph partitioned by a deterministic vertex hash and kept in worker memory
//! as one [`Topology`] (CSR) and one value array per partition, built from datasets of
//! edges and (optionally) vertices with one shuffle.
//!
//! Every edge goes to its source's partition; for a directed graph it also goes to its
//! target's partition as an in-edge (when asked for) or as a bare mention, so each
//! partition learns of the vertices that only appear as targets. With a vertex list, an
//! edge naming a vertex missing from it is an error naming the edge; without one, the
//! vertices are the edges' endpoints, with a default value.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_engine::{Result, TaskError};

use crate::dataset::{Data, Dataset, Records};
use crate::graph::routes::resolve;
use crate::graph::topology::{Topology, VertexId};

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
    pub(crate) directed: bool,
}

impl<V, E> Clone for Graph<V, E> {
    fn clone(&self) -> Self {
        Graph {
            parts: self.parts.clone(),
            directed: self.directed,
        }
    }
}

/// What a shuffled record says about the vertex it is keyed by.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Piece<V, E> {
    /// The vertex, from the vertex list, with its value.
    Vertex(V),
    /// An out-edge to this target.
    Out(VertexId, E),
    /// An in-edge from this source.
    In(VertexId, E),
    /// The vertex is some edge's target (directed graphs without in-edges).
    Target,
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
        let pieces: Dataset<(VertexId, Piece<V, E>)> =
            edges.map_partitions(move |_, edges| EdgePieces::new(edges, directed, in_edges));
        let listed = vertices.is_some();
        let pieces = match vertices {
            Some(v) => v
                .map(|(id, value)| (id, Piece::Vertex(value)))
                .union(&pieces),
            None => pieces,
        };
        let parts =
            pieces
                .partition_by_key(partitions)
                .narrow("graph", false, move |p, records, tc| {
                    match assemble(
                        p,
                        partitions,
                        records,
                        listed,
                        &default_value,
                        directed,
                        in_edges,
                    ) {
                        Ok(part) => Box::new(std::iter::once(part)) as Records<GraphPart<V, E>>,
                        Err(e) => {
                            tc.fail(e);
                            Box::new(std::iter::empty())
                        }
                    }
                });
        let parts = resolve(&parts.persist())?.persist();
        Ok(Graph { parts, directed })
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
        let sizes = self
            .parts
            .map(|part| (part.topology.len() as u64, part.topology.edges() as u64))
            .collect()?;
        Ok(sizes
            .iter()
            .fold((0, 0), |(v, e), (pv, pe)| (v + pv, e + pe)))
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
            directed: self.directed,
        }
    }
}

/// Builds partition `p` from its shuffled pieces.
fn assemble<V: Data, E: Data>(
    p: usize,
    partitions: usize,
    records: Records<(VertexId, Piece<V, E>)>,
    listed: bool,
    default_value: &V,
    directed: bool,
    in_edges: bool,
) -> std::result::Result<GraphPart<V, E>, TaskError> {
    let mut listed_vertices: Vec<(VertexId, V)> = Vec::new();
    let mut mentioned: Vec<VertexId> = Vec::new();
    let mut outs = Vec::new();
    let mut ins = Vec::new();
    for (vertex, piece) in records {
        match piece {
            Piece::Vertex(value) => listed_vertices.push((vertex, value)),
            Piece::Out(target, value) => outs.push((vertex, target, value)),
            Piece::In(source, value) => ins.push((vertex, source, value)),
            Piece::Target => mentioned.push(vertex),
        }
    }
    let (vertices, values) = if listed {
        listed_vertices.sort_by_key(|v| v.0);
        if let Some(w) = listed_vertices.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(TaskError::failed(format!(
                "vertex {} is listed twice in the vertex list",
                w[0].0
            )));
        }
        let ids: Vec<VertexId> = listed_vertices.iter().map(|v| v.0).collect();
        if let Some(missing) = mentioned.iter().find(|v| ids.binary_search(v).is_err()) {
            return Err(missing_vertex(*missing));
        }
        let values = listed_vertices.into_iter().map(|v| v.1).collect();
        (ids, values)
    } else {
        let mut ids = mentioned;
        ids.extend(outs.iter().map(|e| e.0));
        ids.extend(ins.iter().map(|e| e.0));
        ids.sort_unstable();
        ids.dedup();
        let values = vec![default_value.clone(); ids.len()];
        (ids, values)
    };
    let in_edges = (directed && in_edges).then_some(ins);
    let topology = Topology::build(
        p as u32,
        partitions as u32,
        vertices,
        outs,
        in_edges,
        directed,
    )
    .map_err(missing_vertex)?;
    Ok(GraphPart {
        topology: Arc::new(topology),
        values: Arc::new(values),
    })
}

fn missing_vertex(vertex: VertexId) -> TaskError {
    TaskError::failed(format!(
        "an edge names vertex {vertex}, which is not in the vertex list"
    ))
}

/// A map task's pieces: each edge keyed by its source (and, undirected, by its target
/// the other way), then for a directed graph each edge keyed by its target as an in-edge,
/// or each distinct target once as a mention. Targets are deduplicated by sorting, which
/// streams through memory where a hash set of a million ids would miss the cache.
struct EdgePieces<V, E> {
    edges: Option<Records<(VertexId, VertexId, E)>>,
    directed: bool,
    in_edges: bool,
    pending: Option<(VertexId, Piece<V, E>)>,
    seen: Vec<VertexId>,
    targets: std::vec::IntoIter<VertexId>,
}

impl<V, E> EdgePieces<V, E> {
    fn new(edges: Records<(VertexId, VertexId, E)>, directed: bool, in_edges: bool) -> Self {
        EdgePieces {
            edges: Some(edges),
            directed,
            in_edges,
            pending: None,
            seen: Vec::new(),
            targets: Vec::new().into_iter(),
        }
    }
}

impl<V, E: Clone> Iterator for EdgePieces<V, E> {
    type Item = (VertexId, Piece<V, E>);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(piece) = self.pending.take() {
            return Some(piece);
        }
        if let Some(edges) = &mut self.edges {
            if let Some((source, target, value)) = edges.next() {
                if !self.directed {
                    self.pending = Some((target, Piece::Out(source, value.clone())));
                } else if self.in_edges {
                    self.pending = Some((target, Piece::In(source, value.clone())));
                } else {
                    self.seen.push(target);
                }
                return Some((source, Piece::Out(target, value)));
            }
            self.edges = None;
            let mut seen = std::mem::take(&mut self.seen);
            seen.sort_unstable();
            seen.dedup();
            self.targets = seen.into_iter();
        }
        self.targets.next().map(|t| (t, Piece::Target))
    }
}
