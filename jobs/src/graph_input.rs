//! Graph inputs shared by the graph jobs: `--edges FILE [--vertices FILE]
//! [--directed|--undirected]` (SNAP edge lists, Graphalytics `.v`/`.e`) or `--dataset
//! NAME.properties` (a Graphalytics dataset: files, direction and algorithm parameters).

use std::path::PathBuf;
use std::sync::Arc;

use weir_datasets::{load_properties, parse_edge_line, parse_vertex_line, GraphalyticsDataset};
use weir_engine::{Error, JobContext, Result};
use weir_operators::prelude::*;

/// Where a graph comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {
    /// Edge list: `src dst [weight]` per line, tab or space separated, `#` comments.
    #[arg(long)]
    pub edges: Option<String>,
    /// Vertex list: one id per line (optionally followed by a value). Without it the
    /// vertices are the edges' endpoints.
    #[arg(long)]
    pub vertices: Option<String>,
    /// Edges go one way (the default for edge lists).
    #[arg(long, conflicts_with = "undirected")]
    pub directed: bool,
    /// Every edge goes both ways.
    #[arg(long)]
    pub undirected: bool,
    /// A Graphalytics dataset's `.properties` file (picks the files and parameters).
    #[arg(long, conflicts_with_all = ["edges", "vertices"])]
    pub dataset: Option<PathBuf>,
}

/// The files of a graph and how to read them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct GraphFiles {
    pub edges: PathBuf,
    pub vertices: Option<PathBuf>,
    pub directed: bool,
    /// The Graphalytics properties, when named by `--dataset`.
    pub properties: Option<GraphalyticsDataset>,
}

/// A loaded graph.
pub struct Graph {
    /// Every vertex id, once.
    pub vertices: Dataset<u64>,
    /// Whether `vertices` comes from a vertex list; without one it is the distinct
    /// endpoints of the edges, which a job may find more cheaply along with the edges.
    pub vertices_listed: bool,
    /// Edges as followed: for an undirected graph, both directions of each edge.
    pub edges: Dataset<(u64, u64)>,
    /// Whether the graph is directed.
    pub directed: bool,
    /// The Graphalytics properties, when loaded from `--dataset`.
    pub properties: Option<GraphalyticsDataset>,
}

impl GraphArgs {
    /// The edge file, the vertex file (if any) and the direction the arguments name,
    /// with the Graphalytics properties when they come from `--dataset`.
    pub fn files(&self) -> Result<GraphFiles> {
        if let Some(path) = &self.dataset {
            let p = load_properties(path)?;
            return Ok(GraphFiles {
                edges: p.edge_file.clone(),
                vertices: Some(p.vertex_file.clone()),
                directed: p.directed,
                properties: Some(p),
            });
        }
        let edges = self.edges.clone().ok_or_else(|| {
            Error::Config("a graph job needs --edges FILE or --dataset NAME.properties".into())
        })?;
        Ok(GraphFiles {
            edges: edges.into(),
            vertices: self.vertices.clone().map(PathBuf::from),
            directed: !self.undirected,
            properties: None,
        })
    }

    /// Loads the graph the arguments name.
    pub fn load(&self, ctx: &JobContext) -> Result<Graph> {
        let args = self.clone();
        let files: GraphFiles = ctx.driver_value(move || args.files())?;
        let GraphFiles {
            edges: edge_file,
            vertices: vertex_file,
            directed,
            properties,
        } = files;
        let edge_file = edge_file.to_string_lossy().into_owned();
        let vertex_file = vertex_file.map(|v| v.to_string_lossy().into_owned());
        let raw = ctx.parse_text_file(
            &[edge_file],
            "edge_list",
            Arc::new(|line: &str, path: &std::path::Path, no| {
                Ok(parse_edge_line(line, path, no)?.map(|e| (e.src, e.dst)))
            }),
        )?;
        let edges = if directed {
            raw.clone()
        } else {
            raw.flat_map(|(s, d)| [(s, d), (d, s)])
        };
        let vertices_listed = vertex_file.is_some();
        let vertices = match vertex_file {
            Some(file) => ctx.parse_text_file(
                &[file],
                "vertex_list",
                Arc::new(|line: &str, path: &std::path::Path, no| {
                    Ok(parse_vertex_line(line, path, no)?.map(|v| v.0))
                }),
            )?,
            None => raw.flat_map(|(s, d)| [s, d]).distinct(),
        };
        Ok(Graph {
            vertices,
            vertices_listed,
            edges,
            directed,
            properties,
        })
    }
}

/// Reads a Graphalytics expected-output file (`vertex value` per line) for tests.
pub fn read_expected(path: &std::path::Path) -> std::io::Result<Vec<(u64, String)>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.parse().ok()?, it.next()?.to_string()))
        })
        .collect())
}
