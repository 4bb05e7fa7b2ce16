//! `pagerank`: the classic Spark formulation with Graphalytics semantics.
//!
//! `links` (each vertex with its out-neighbours) is hash-partitioned and persisted once;
//! every iteration joins it with `ranks` (co-partitioned, so without a shuffle), sends
//! each vertex's rank along its edges, sums the contributions per vertex with a shuffle,
//! and joins back with `links` so vertices with no in-edges keep a rank. Dangling
//! vertices' rank is spread over all vertices each iteration, as Graphalytics specifies:
//! `PR(v) = (1-d)/N + d * (sum over in-edges u->v of PR(u)/outdeg(u) + dangling/N)`.
//! Output: `vertex<TAB>rank`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use weir_engine::{JobContext, Result};
use weir_operators::prelude::*;

use crate::graph_input::{Graph, GraphArgs};
use crate::output::{report_top, save_or_show};
use crate::registry::Job;

/// PageRank over a graph.
#[derive(Debug, Clone, clap::Parser)]
pub struct PageRank {
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Iterations (default: the dataset's, else 10).
    #[arg(long)]
    pub iterations: Option<u32>,
    /// Damping factor (default: the dataset's, else 0.85).
    #[arg(long)]
    pub damping: Option<f64>,
}

impl Job for PageRank {
    const NAME: &'static str = "pagerank";
    const ABOUT: &'static str = "PageRank with Graphalytics semantics (vertex<TAB>rank)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let graph = self.graph.load(ctx)?;
        let props = graph.properties.clone();
        let iterations = self
            .iterations
            .or(props.as_ref().and_then(|p| p.pr_iterations))
            .unwrap_or(10);
        let damping = self
            .damping
            .or(props.as_ref().and_then(|p| p.pr_damping))
            .unwrap_or(0.85);
        let ranks = pagerank(ctx, &graph, iterations, damping)?;
        let summary = save_or_show(ctx, &ranks, |a: &(u64, f64), b: &(u64, f64)| {
            b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
        })?;
        ctx.set_result("vertices", summary.records);
        ctx.set_result("iterations", iterations);
        ctx.set_result("damping", damping);
        report_top(ctx, "highest ranks", &summary.top);
        Ok(())
    }
}

/// The distributed PageRank: `(vertex, rank)` for every vertex.
pub fn pagerank(
    ctx: &JobContext,
    graph: &Graph,
    iterations: u32,
    damping: f64,
) -> Result<Dataset<(u64, f64)>> {
    let parts = ctx.parallelism();
    let links: Dataset<(u64, Arc<[u64]>)> = graph
        .vertices
        .map(|v| (v, ()))
        .cogroup(&graph.edges)
        .filter(|(_, (present, _))| !present.is_empty())
        .map_values(|(_, out)| Arc::<[u64]>::from(out))
        .partition_by_key(parts)
        .persist();
    let n = links.count()? as f64;
    let mut ranks = links.map_values(move |_| 1.0 / n);
    for _ in 0..iterations {
        let joined = links.join(&ranks);
        let dangling: f64 = joined
            .map_partitions(|_, records| {
                std::iter::once(
                    records
                        .filter(|(_, (out, _))| out.is_empty())
                        .map(|(_, (_, r))| r)
                        .sum::<f64>(),
                )
            })
            .collect()?
            .iter()
            .sum();
        let sums = joined
            .flat_map(|(_, (out, rank))| {
                let share = rank / out.len() as f64;
                (0..out.len()).map(move |i| (out[i], share))
            })
            .reduce_by_key_into(parts, |a, b| a + b);
        let base = (1.0 - damping) / n + damping * dangling / n;
        ranks = links
            .left_outer_join(&sums)
            .map_values(move |(_, sum)| base + damping * sum.unwrap_or(0.0))
            .persist();
    }
    Ok(ranks)
}

/// The sequential reference over plain vectors.
pub fn reference(
    vertices: &[u64],
    edges: &[(u64, u64)],
    directed: bool,
    iterations: u32,
    damping: f64,
) -> BTreeMap<u64, f64> {
    let index: HashMap<u64, usize> = vertices.iter().enumerate().map(|(i, v)| (*v, i)).collect();
    let n = vertices.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(s, d) in edges {
        out[index[&s]].push(index[&d]);
        if !directed {
            out[index[&d]].push(index[&s]);
        }
    }
    let mut rank = vec![1.0 / n as f64; n];
    for _ in 0..iterations {
        let dangling: f64 = (0..n).filter(|&v| out[v].is_empty()).map(|v| rank[v]).sum();
        let mut next = vec![(1.0 - damping) / n as f64 + damping * dangling / n as f64; n];
        for v in 0..n {
            for &w in &out[v] {
                next[w] += damping * rank[v] / out[v].len() as f64;
            }
        }
        rank = next;
    }
    vertices.iter().map(|v| (*v, rank[index[v]])).collect()
}
