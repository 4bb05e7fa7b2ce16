//! Loading a graph into worker memory for the vertex-program (Pregel) jobs: the files the
//! [`GraphArgs`] name, parsed in parallel splits, built into a
//! [`Graph`](weir_operators::graph::Graph) of CSR partitions. Also the `--model` switch
//! of the jobs that run both as a vertex program and as a dataflow.

use std::path::Path;
use std::sync::Arc;

use weir_datasets::{parse_edge_line, parse_vertex_line, DatasetError, GraphalyticsDataset};
use weir_engine::{Error, JobContext, Result};
use weir_operators::graph::{Graph, GraphOptions, VertexId};
use weir_operators::prelude::*;
use weir_operators::sources::LineParser;

use crate::graph_input::{GraphArgs, GraphFiles};
use crate::spanning_forest::spanning_forest;

/// How a graph job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Model {
    /// A vertex program on the graph held in worker memory (Pregel).
    #[default]
    Pregel,
    /// A loop of dataflow stages over persisted datasets.
    Dataflow,
}

/// A graph in worker memory with what its files said.
pub struct VertexGraph<E> {
    pub graph: Graph<(), E>,
    pub directed: bool,
    pub properties: Option<GraphalyticsDataset>,
}

impl GraphArgs {
    /// Loads the graph without edge values; with `in_edges`, a directed graph keeps its
    /// in-edges as well.
    pub fn load_vertex_graph(&self, ctx: &JobContext, in_edges: bool) -> Result<VertexGraph<()>> {
        let parse = |line: &str, path: &Path, no| {
            Ok(parse_edge_line(line, path, no)?.map(|e| (e.src, e.dst, ())))
        };
        load(self, ctx, in_edges, Arc::new(parse))
    }

    /// Loads the graph with each edge's weight, the third column, which must be there
    /// and not negative.
    pub fn load_weighted_graph(&self, ctx: &JobContext) -> Result<VertexGraph<f64>> {
        let parse = |line: &str, path: &Path, no| {
            let Some(e) = parse_edge_line(line, path, no)? else {
                return Ok(None);
            };
            let malformed = |message: &str| DatasetError::Malformed {
                path: path.to_path_buf(),
                line: no,
                message: message.to_string(),
            };
            match e.weight {
                None => Err(malformed("an edge needs a weight in its third column")),
                Some(w) if w < 0.0 => Err(malformed("an edge weight is negative")),
                Some(w) => Ok(Some((e.src, e.dst, w))),
            }
        };
        load(self, ctx, false, Arc::new(parse))
    }

    /// Loads, for connected components, an undirected graph with the same vertices and
    /// the same components as the named one: the union of a spanning forest per map
    /// partition of the edges (see `spanning_forest`), not every edge.
    pub fn load_forest_graph(&self, ctx: &JobContext) -> Result<VertexGraph<()>> {
        let parse = |line: &str, path: &Path, no| {
            Ok(parse_edge_line(line, path, no)?.map(|e| (e.src, e.dst, ())))
        };
        let (files, edges, vertices) = read(self, ctx, Arc::new(parse))?;
        let forest = edges.map_partitions(|_, edges| {
            let edges: Vec<(VertexId, VertexId)> = edges.map(|(s, d, ())| (s, d)).collect();
            let forest = spanning_forest(&edges);
            drop(edges);
            forest.into_iter().map(|(v, root)| (v, root, ()))
        });
        let options = GraphOptions {
            partitions: graph_partitions(ctx),
            directed: false,
            in_edges: false,
        };
        let graph = Graph::from_edges(&forest, vertices.as_ref(), (), options)?;
        Ok(VertexGraph {
            graph,
            directed: files.directed,
            properties: files.properties,
        })
    }
}

/// Partitions of a graph in worker memory: one per task slot.
fn graph_partitions(ctx: &JobContext) -> usize {
    (ctx.options().workers * ctx.options().threads).max(1)
}

type Read<E> = (
    GraphFiles,
    Dataset<(VertexId, VertexId, E)>,
    Option<Dataset<(VertexId, ())>>,
);

/// The files the arguments name, their edges parsed with `parse`, and the vertex list.
fn read<E: Data>(
    args: &GraphArgs,
    ctx: &JobContext,
    parse: Arc<LineParser<(VertexId, VertexId, E)>>,
) -> Result<Read<E>> {
    let args = args.clone();
    let files: GraphFiles = ctx.driver_value(move || args.files())?;
    let edge_file = files.edges.to_string_lossy().into_owned();
    let edges = ctx.parse_text_file(&[edge_file], "edge_list", parse)?;
    let vertices = match &files.vertices {
        Some(file) => Some(ctx.parse_text_file(
            &[file.to_string_lossy().into_owned()],
            "vertex_list",
            Arc::new(|line: &str, path: &Path, no| {
                Ok(parse_vertex_line(line, path, no)?.map(|v| (v.0, ())))
            }),
        )?),
        None => None,
    };
    Ok((files, edges, vertices))
}

fn load<E: Data>(
    args: &GraphArgs,
    ctx: &JobContext,
    in_edges: bool,
    parse: Arc<LineParser<(VertexId, VertexId, E)>>,
) -> Result<VertexGraph<E>> {
    let (files, edges, vertices) = read(args, ctx, parse)?;
    let options = GraphOptions {
        partitions: graph_partitions(ctx),
        directed: files.directed,
        in_edges,
    };
    let graph = Graph::from_edges(&edges, vertices.as_ref(), (), options)?;
    Ok(VertexGraph {
        graph,
        directed: files.directed,
        properties: files.properties,
    })
}

/// Fails with a one-line error naming `argument` unless `vertex` is in the graph.
pub fn require_vertex<V: Data, E: Data>(
    graph: &Graph<V, E>,
    vertex: VertexId,
    argument: &str,
) -> Result<()> {
    if graph.contains_vertex(vertex)? {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{argument} {vertex}: the vertex is not in the graph"
        )))
    }
}
