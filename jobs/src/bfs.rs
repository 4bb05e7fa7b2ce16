//! `bfs`: breadth-first search from `--source` as a vertex program, with Graphalytics BFS
//! semantics: each vertex's depth (hops along out-edges; both ways on an undirected
//! graph), and 9223372036854775807 for a vertex the source does not reach.
//! Output: `vertex<TAB>depth`.
//!
//! Superstep 0 the source takes depth 0 and tells its neighbours; from then on a vertex
//! reached for the first time takes the depth it was offered (the min combiner keeps one
//! message per vertex) and tells its own. Every vertex votes to halt, so only the frontier
//! runs, and the run ends when the frontier is empty.

use std::collections::{BTreeMap, VecDeque};

use weir_engine::{Error, JobContext, Result};
use weir_operators::graph::{Combiner, Context, Graph, PregelOptions, PregelStats, VertexProgram};
use weir_operators::prelude::*;

use crate::graph_input::GraphArgs;
use crate::output::{report_top, save_or_show};
use crate::registry::Job;
use crate::vertex_graph::require_vertex;

/// The depth Graphalytics gives an unreached vertex.
pub const UNREACHED: i64 = i64::MAX;

/// Breadth-first search.
#[derive(Debug, Clone, clap::Parser)]
pub struct Bfs {
    #[command(flatten)]
    pub graph: GraphArgs,
    /// The source vertex (default: the dataset's `bfs.source-vertex`).
    #[arg(long)]
    pub source: Option<u64>,
}

impl Job for Bfs {
    const NAME: &'static str = "bfs";
    const ABOUT: &'static str = "Breadth-first search depths, Graphalytics BFS (vertex<TAB>depth)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let loaded = self.graph.load_vertex_graph(ctx, false)?;
        let source = self
            .source
            .or(loaded.properties.as_ref().and_then(|p| p.bfs_source))
            .ok_or_else(|| Error::Config("bfs needs --source VERTEX".into()))?;
        let (depths, stats) = bfs(&loaded.graph, source)?;
        let summary = save_or_show(ctx, &depths, |a: &(u64, i64), b: &(u64, i64)| {
            a.1.cmp(&b.1).then(a.0.cmp(&b.0))
        })?;
        // (reached vertices, largest finite depth) per partition.
        let reach = depths
            .filter(|(_, d)| *d != UNREACHED)
            .map_partitions(|_, ds| {
                std::iter::once(ds.fold((0u64, 0i64), |(n, m), (_, d)| (n + 1, m.max(d))))
            })
            .collect()?;
        report_pregel(ctx, &stats);
        ctx.set_result("vertices", summary.records);
        ctx.set_result("reached", reach.iter().map(|p| p.0).sum::<u64>());
        ctx.set_result("max_depth", reach.iter().map(|p| p.1).max().unwrap_or(0));
        report_top(ctx, "nearest vertices (vertex, depth)", &summary.top);
        Ok(())
    }
}

/// Records a Pregel run's figures as job results.
pub fn report_pregel(ctx: &JobContext, stats: &PregelStats) {
    ctx.set_result("supersteps", stats.supersteps);
    ctx.set_result("messages", stats.messages);
    ctx.set_result("load_seconds", stats.load_seconds);
    ctx.set_result("run_seconds", stats.run_seconds);
    ctx.set_result("graph_vertices", stats.vertices);
    ctx.set_result("graph_edges", stats.edges);
    ctx.set_result("graph_bytes", stats.graph_bytes);
}

/// The vertex program.
pub struct BfsProgram {
    pub source: u64,
}

impl VertexProgram for BfsProgram {
    type Value = i64;
    type Edge = ();
    type Message = i64;
    type Aggregates = ();

    fn compute(&self, ctx: &mut Context<'_, Self>, vertex: u64, depth: &mut i64, offers: &[i64]) {
        let offered = if ctx.superstep() == 0 && vertex == self.source {
            Some(0)
        } else {
            offers.first().copied()
        };
        if let Some(d) = offered.filter(|d| *d < *depth) {
            *depth = d;
            ctx.send_to_out_neighbours(&(d + 1));
        }
        ctx.vote_to_halt();
    }

    fn combiner(&self) -> Option<Combiner<i64>> {
        Some(Combiner::min())
    }
}

/// Every vertex's depth from `source`; fails if `source` is not in the graph.
pub fn bfs(graph: &Graph<(), ()>, source: u64) -> Result<(Dataset<(u64, i64)>, PregelStats)> {
    let load = std::time::Instant::now();
    require_vertex(graph, source, "--source")?;
    let load_seconds = load.elapsed().as_secs_f64();
    let graph = graph.map_vertices(|_, _, _| UNREACHED);
    let (out, mut stats) = graph.run_pregel(BfsProgram { source }, PregelOptions::default())?;
    // The graph was built while looking for the source.
    stats.load_seconds += load_seconds;
    Ok((out.vertices(), stats))
}

/// The sequential reference: a queue over adjacency lists.
pub fn reference(
    vertices: &[u64],
    edges: &[(u64, u64)],
    directed: bool,
    source: u64,
) -> BTreeMap<u64, i64> {
    let mut adjacent: BTreeMap<u64, Vec<u64>> = vertices.iter().map(|&v| (v, Vec::new())).collect();
    for &(s, d) in edges {
        adjacent.entry(s).or_default().push(d);
        if !directed {
            adjacent.entry(d).or_default().push(s);
        }
    }
    let mut depth: BTreeMap<u64, i64> = adjacent.keys().map(|&v| (v, UNREACHED)).collect();
    depth.insert(source, 0);
    let mut queue = VecDeque::from([source]);
    while let Some(v) = queue.pop_front() {
        let next = depth[&v] + 1;
        for w in adjacent.get(&v).map(Vec::as_slice).unwrap_or_default() {
            if depth[w] == UNREACHED {
                depth.insert(*w, next);
                queue.push_back(*w);
            }
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_graphs::{random_edges, vertex_graph};
    use weir_operators::graph::GraphOptions;
    use weir_operators::testing::local_with;

    #[test]
    fn depths_match_the_reference_on_a_random_graph() {
        let edges = random_edges(7, 200, 600);
        let vertices: Vec<u64> = (0..210).collect();
        for directed in [true, false] {
            let expected = reference(&vertices, &edges, directed, edges[0].0);
            for threads in [1, 3] {
                let got = local_with(threads, |ctx| {
                    let graph = vertex_graph(ctx, &edges, &vertices, directed, false)?;
                    bfs(&graph, edges[0].0)?.0.collect()
                });
                let got: BTreeMap<u64, i64> = got.into_iter().collect();
                assert_eq!(got, expected, "directed {directed}, {threads} threads");
            }
        }
    }

    #[test]
    fn a_source_outside_the_graph_is_refused() {
        let e = weir_operators::testing::try_local(1, |ctx| {
            let e = ctx.parallelize(vec![(1u64, 2u64, ())], 1)?;
            let graph = Graph::from_edges(&e, None, (), GraphOptions::default())?;
            bfs(&graph, 99).map(|_| ())
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "--source 99: the vertex is not in the graph");
    }
}
