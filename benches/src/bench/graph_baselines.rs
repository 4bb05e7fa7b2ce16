//! The single-threaded baselines of the Graphalytics jobs that have no peer (bfs, sssp,
//! cdlp, lcc) as `weir bench contender` runs them, and the graph loading every graph
//! baseline shares: the same files, parameters and checks as the Weir job, so a bad
//! input fails both the same way.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use serde_json::{json, Map, Value};
use weir_jobs::bfs::{Bfs, UNREACHED};
use weir_jobs::cdlp::Cdlp;
use weir_jobs::graph_input::GraphArgs;
use weir_jobs::lcc::Lcc;
use weir_jobs::sssp::Sssp;

use super::contender::{parse, summary};
use crate::baselines;

/// Runs the baseline of graph job `job` (bfs, sssp, cdlp or lcc); returns the result's
/// summary.
pub(super) fn graph_baseline(job: &str, job_args: &[String]) -> anyhow::Result<Map<String, Value>> {
    match job {
        "bfs" => {
            let a: Bfs = parse(job, job_args)?;
            let g = a.graph.files()?;
            let source = a
                .source
                .or(g.properties.as_ref().and_then(|p| p.bfs_source))
                .ok_or_else(|| anyhow!("bfs needs --source VERTEX"))?;
            let (vertices, edges) = load_graph(&g.edges, g.vertices.as_deref())?;
            require_vertex(&vertices, source)?;
            let depths = baselines::bfs::bfs(&vertices, &edges, g.directed, source);
            let reached = depths.values().filter(|&&d| d != UNREACHED);
            Ok(summary(json!({
                "vertices": depths.len(),
                "reached": reached.clone().count(),
                "max_depth": reached.max().copied().unwrap_or(0),
            })))
        }
        "sssp" => {
            let a: Sssp = parse(job, job_args)?;
            let g = a.graph.files()?;
            let source = a
                .source
                .or(g.properties.as_ref().and_then(|p| p.sssp_source))
                .ok_or_else(|| anyhow!("sssp needs --source VERTEX"))?;
            let (vertices, edges) = load_weighted_graph(&g.edges, g.vertices.as_deref())?;
            require_vertex(&vertices, source)?;
            let distances = baselines::sssp::sssp(&vertices, &edges, g.directed, source);
            let reached = distances.values().filter(|d| d.is_finite());
            Ok(summary(json!({
                "vertices": distances.len(),
                "reached": reached.clone().count(),
                "max_distance": reached.copied().fold(0.0f64, f64::max),
            })))
        }
        "cdlp" => {
            let a: Cdlp = parse(job, job_args)?;
            let g = a.graph.files()?;
            let iterations = a
                .iterations
                .or(g.properties.as_ref().and_then(|p| p.cdlp_iterations))
                .unwrap_or(10);
            let (vertices, edges) = load_graph(&g.edges, g.vertices.as_deref())?;
            let labels = baselines::cdlp::cdlp(&vertices, &edges, iterations);
            Ok(summary(json!({
                "vertices": labels.len(),
                "labels": distinct_values(labels.values()),
            })))
        }
        "lcc" => {
            let a: Lcc = parse(job, job_args)?;
            let g = a.graph.files()?;
            let (vertices, edges) = load_graph(&g.edges, g.vertices.as_deref())?;
            let coefficients = baselines::lcc::lcc(&vertices, &edges, g.directed);
            let total: f64 = coefficients.values().sum();
            let mean = if coefficients.is_empty() {
                0.0
            } else {
                total / coefficients.len() as f64
            };
            Ok(summary(
                json!({ "vertices": coefficients.len(), "mean_lcc": mean }),
            ))
        }
        _ => bail!("no graph baseline for job '{job}'"),
    }
}

/// How many distinct values `values` holds.
pub(super) fn distinct_values<'a>(values: impl Iterator<Item = &'a u64>) -> usize {
    let mut distinct: Vec<u64> = values.copied().collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len()
}

/// The edge file and the vertex file (if any) a graph job reads.
pub(super) fn graph_paths(graph: &GraphArgs) -> anyhow::Result<Vec<PathBuf>> {
    let g = graph.files()?;
    Ok(g.vertices.into_iter().chain([g.edges]).collect())
}

/// Loads a graph for a baseline, checking first that every edge names a known vertex.
pub(super) fn load_graph(
    edges: &Path,
    vertices: Option<&Path>,
) -> anyhow::Result<baselines::EdgeList> {
    let (endpoints, edge_list) = baselines::load_edge_list(edges)?;
    Ok((graph_vertices(edges, endpoints, vertices)?, edge_list))
}

/// [`load_graph`] for a graph whose every edge has a weight, not negative.
fn load_weighted_graph(
    edges: &Path,
    vertices: Option<&Path>,
) -> anyhow::Result<baselines::WeightedEdgeList> {
    let (endpoints, edge_list) = baselines::load_weighted_edge_list(edges)?;
    Ok((graph_vertices(edges, endpoints, vertices)?, edge_list))
}

/// A graph's vertices, ascending: those `vertices` lists, which must include every
/// endpoint (ascending) an edge of `edges` names; without a list, the endpoints.
fn graph_vertices(
    edges: &Path,
    endpoints: Vec<u64>,
    vertices: Option<&Path>,
) -> anyhow::Result<Vec<u64>> {
    let Some(path) = vertices else {
        return Ok(endpoints);
    };
    let mut listed = baselines::load_vertex_list(path)?;
    listed.sort_unstable();
    listed.dedup();
    if let Some(v) = endpoints.iter().find(|v| listed.binary_search(v).is_err()) {
        bail!(
            "{}: an edge names vertex {v}, which {} does not list",
            edges.display(),
            path.display()
        );
    }
    Ok(listed)
}

/// Fails as the Weir job does when the `--source` vertex is not among `vertices`
/// (ascending).
fn require_vertex(vertices: &[u64], source: u64) -> anyhow::Result<()> {
    if vertices.binary_search(&source).is_err() {
        bail!("--source {source}: the vertex is not in the graph");
    }
    Ok(())
}
