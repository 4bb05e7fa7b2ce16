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

/// A loaded graph.
pub struct Graph {
    /// Every vertex id, once.
    pub vertices: Dataset<u64>,
    /// Edges as followed: for an undirected graph, both directions of each edge.
    pub edges: Dataset<(u64, u64)>,
    /// Whether the graph is directed.
    pub directed: bool,
    /// The Graphalytics properties, when loaded from `--dataset`.
    pub properties: Option<GraphalyticsDataset>,
}

impl GraphArgs {
    /// Loads the graph the arguments name.
    pub fn load(&self, ctx: &JobContext) -> Result<Graph> {
        let dataset = self.dataset.clone();
        let properties: Option<GraphalyticsDataset> = ctx.driver_value(move || match dataset {
            Some(p) => Ok(Some(load_properties(&p)?)),
            None => Ok(None),
        })?;
        let (edge_file, vertex_file, directed) = match &properties {
            Some(p) => (
                p.edge_file.to_string_lossy().into_owned(),
                Some(p.vertex_file.to_string_lossy().into_owned()),
                p.directed,
            ),
            None => {
                let edges = self.edges.clone().ok_or_else(|| {
                    Error::Config(
                        "a graph job needs --edges FILE or --dataset NAME.properties".into(),
                    )
                })?;
                (edges, self.vertices.clone(), !self.undirected)
            }
        };
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
