//! `pagerank`: PageRank with Graphalytics semantics, as a vertex program (`--model
//! pregel`, the default: see `pagerank_program`) or as a dataflow over graph blocks
//! (`--model dataflow`, below).
//!
//! The graph is loaded into worker memory as for the vertex program
//! (`weir_operators::graph`) and each partition turned once into a persisted
//! [`GraphBlock`](crate::graph_blocks::GraphBlock) (its vertices and its out-edges
//! grouped by target); the ranks are one array per partition, co-partitioned with the
//! blocks. Every iteration zips each block with its
//! ranks and sends, per distinct target, the sum of the shares of its in-neighbours in
//! that partition (pre-aggregated along the grouped edges), shuffles those sums to the
//! targets' partitions, and adds them into the new rank arrays there. Dangling
//! vertices' rank is spread over all vertices each iteration, as Graphalytics specifies:
//! `PR(v) = (1-d)/N + d * (sum over in-edges u->v of PR(u)/outdeg(u) + dangling/N)`.
//! Output: `vertex<TAB>rank`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use weir_datasets::GraphalyticsDataset;
use weir_engine::{JobContext, Result};
use weir_operators::graph::Graph as VertexGraph;
use weir_operators::prelude::*;

use crate::bfs::report_pregel;
use crate::graph_blocks::graph_blocks;
use crate::graph_input::GraphArgs;
use crate::output::{report_top, save_or_show};
use crate::pagerank_program::pagerank_pregel;
use crate::registry::Job;
use crate::vertex_graph::Model;

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
    /// A vertex program on the graph in worker memory, or a loop of dataflow stages.
    #[arg(long, value_enum, default_value_t)]
    pub model: Model,
}

impl Job for PageRank {
    const NAME: &'static str = "pagerank";
    const ABOUT: &'static str = "PageRank with Graphalytics semantics (vertex<TAB>rank)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let loaded = self.graph.load_vertex_graph(ctx, false)?;
        let (iterations, damping) = self.parameters(loaded.properties.as_ref());
        let ranks = match self.model {
            Model::Pregel => {
                let (ranks, stats) = pagerank_pregel(&loaded.graph, iterations, damping)?;
                report_pregel(ctx, &stats);
                ranks
            }
            Model::Dataflow => pagerank(&loaded.graph, iterations, damping)?,
        };
        let summary = save_or_show(ctx, &ranks, |a: &(u64, f64), b: &(u64, f64)| {
            b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
        })?;
        ctx.set_result("vertices", summary.records);
        if let Some((_, rank)) = summary.top.first() {
            ctx.set_result("max_rank", *rank);
        }
        ctx.set_result("iterations", iterations);
        ctx.set_result("damping", damping);
        report_top(ctx, "highest ranks", &summary.top);
        Ok(())
    }
}

impl PageRank {
    /// The iterations and the damping factor: as given, else the dataset's, else 10 and
    /// 0.85.
    pub fn parameters(&self, properties: Option<&GraphalyticsDataset>) -> (u32, f64) {
        let iterations = self
            .iterations
            .or(properties.and_then(|p| p.pr_iterations))
            .unwrap_or(10);
        let damping = self
            .damping
            .or(properties.and_then(|p| p.pr_damping))
            .unwrap_or(0.85);
        (iterations, damping)
    }
}

/// The distributed PageRank as a loop of dataflow stages: `(vertex, rank)` for every
/// vertex.
pub fn pagerank<V: Data, E: Data>(
    graph: &VertexGraph<V, E>,
    iterations: u32,
    damping: f64,
) -> Result<Dataset<(u64, f64)>> {
    let (blocks, vertices) = graph_blocks(graph)?;
    let n = vertices as f64;
    let mut ranks: Dataset<Arc<Vec<f64>>> = blocks
        .map(move |b| Arc::new(vec![1.0 / n; b.len()]))
        .persist();
    for _ in 0..iterations {
        let dangling: f64 = blocks
            .zip_partitions(&ranks, false, |_, mut b, mut r| {
                let sum = match (b.next(), r.next()) {
                    (Some(b), Some(r)) => b
                        .out_degree
                        .iter()
                        .zip(r.iter())
                        .filter(|(d, _)| **d == 0)
                        .map(|(_, r)| r)
                        .sum(),
                    _ => 0.0,
                };
                std::iter::once(sum)
            })?
            .collect()?
            .iter()
            .sum();
        let shares = blocks.zip_partitions(&ranks, false, |_, mut b, mut r| {
            let (b, r) = (b.next().unwrap_or_default(), r.next().unwrap_or_default());
            let share: Vec<f64> = b
                .out_degree
                .iter()
                .zip(r.iter())
                .map(|(&d, &r)| if d == 0 { 0.0 } else { r / d as f64 })
                .collect();
            b.gather(share, |s| *s, |a, s| a + s)
        })?;
        let sums = shares.partition_by_key(blocks.num_partitions());
        let base = (1.0 - damping) / n + damping * dangling / n;
        ranks = blocks
            .zip_partitions(&sums, false, move |_, mut b, sums| {
                let b = b.next().unwrap_or_default();
                let mut sum = vec![0.0f64; b.len()];
                b.scatter_into(sums, &mut sum, |s, m| *s += m);
                let rank: Vec<f64> = sum.into_iter().map(|s| base + damping * s).collect();
                std::iter::once(Arc::new(rank))
            })?
            .persist();
    }
    blocks.zip_partitions(&ranks, false, |_, mut b, mut r| {
        let (b, r) = (b.next().unwrap_or_default(), r.next().unwrap_or_default());
        (0..b.len()).map(move |i| (b.vertices[i], r[i]))
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use weir_operators::graph::{Graph, GraphOptions};
    use weir_operators::testing::local_with;

    /// The job's ranks; without `listed`, the vertices are left for the job to find
    /// from the edges (`vertices` must then be the endpoints).
    fn run(
        threads: usize,
        listed: bool,
        vertices: &[u64],
        edges: &[(u64, u64)],
        directed: bool,
        iterations: u32,
    ) -> BTreeMap<u64, f64> {
        let (vertices, edges) = (vertices.to_vec(), edges.to_vec());
        local_with(threads, move |ctx| {
            let e = ctx.parallelize(edges.iter().map(|&(s, d)| (s, d, ())).collect(), 3)?;
            let v = ctx.parallelize(vertices.iter().map(|&v| (v, ())).collect(), 2)?;
            let options = GraphOptions {
                partitions: 4,
                directed,
                in_edges: false,
            };
            let graph = Graph::from_edges(&e, listed.then_some(&v), (), options)?;
            let ranks = pagerank(&graph, iterations, 0.85)?.collect()?;
            let n = ranks.len();
            let ranks: BTreeMap<u64, f64> = ranks.into_iter().collect();
            assert_eq!(ranks.len(), n, "a vertex ranked twice");
            Ok(ranks)
        })
    }

    fn assert_close(got: &BTreeMap<u64, f64>, want: &BTreeMap<u64, f64>) {
        assert_eq!(got.len(), want.len());
        for ((v, a), (w, b)) in got.iter().zip(want) {
            assert_eq!(v, w);
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
                "{v}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn matches_the_reference() {
        // A small scrambled graph: sparse ids, a dangling vertex (7), an isolated one (50),
        // a self-loop and a duplicate edge.
        let mut edges = Vec::new();
        let mut state = 12345u64;
        for _ in 0..300 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let s = (state >> 33) % 40 * 1000;
            let d = (state >> 13) % 40 * 1000;
            if s != 7 * 1000 {
                edges.push((s, d));
            }
        }
        edges.push((3000, 3000));
        edges.push((1000, 2000));
        edges.push((1000, 2000));
        let mut vertices: Vec<u64> = (0..40).map(|i| i * 1000).collect();
        vertices.push(50);
        let mut endpoints: Vec<u64> = edges.iter().flat_map(|&(s, d)| [s, d]).collect();
        endpoints.sort_unstable();
        endpoints.dedup();
        for (listed, vertices) in [(true, &vertices), (false, &endpoints)] {
            for directed in [true, false] {
                let want = reference(vertices, &edges, directed, 12, 0.85);
                for threads in [1, 3] {
                    let got = run(threads, listed, vertices, &edges, directed, 12);
                    assert_close(&got, &want);
                }
            }
        }
    }

    #[test]
    fn an_empty_graph_has_no_ranks() {
        assert!(run(2, true, &[], &[], true, 3).is_empty());
        assert!(run(2, false, &[], &[], true, 3).is_empty());
    }
}
