//! `sssp`: single-source shortest paths from `--source` over weighted edges (the edge
//! list's third column, not negative) as a vertex program, with Graphalytics SSSP
//! semantics: each vertex's distance, `infinity` where the source does not reach.
//! Output: `vertex<TAB>distance`.
//!
//! Bellman-Ford in supersteps: a vertex whose distance dropped offers each out-neighbour
//! its distance plus the edge's weight; the min combiner keeps one offer per vertex.
//! Every vertex votes to halt, so only the vertices that improved run.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use weir_engine::{Error, JobContext, Result};
use weir_operators::graph::{Combiner, Context, Graph, PregelOptions, PregelStats, VertexProgram};
use weir_operators::prelude::*;

use crate::bfs::report_pregel;
use crate::graph_input::GraphArgs;
use crate::output::{report_top, save_or_show};
use crate::registry::Job;
use crate::vertex_graph::require_vertex;

/// Single-source shortest paths.
#[derive(Debug, Clone, clap::Parser)]
pub struct Sssp {
    #[command(flatten)]
    pub graph: GraphArgs,
    /// The source vertex (default: the dataset's `sssp.source-vertex`).
    #[arg(long)]
    pub source: Option<u64>,
}

impl Job for Sssp {
    const NAME: &'static str = "sssp";
    const ABOUT: &'static str =
        "Single-source shortest paths over weighted edges, Graphalytics SSSP (vertex<TAB>distance)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let loaded = self.graph.load_weighted_graph(ctx)?;
        let source = self
            .source
            .or(loaded.properties.as_ref().and_then(|p| p.sssp_source))
            .ok_or_else(|| Error::Config("sssp needs --source VERTEX".into()))?;
        let (distances, stats) = sssp(&loaded.graph, source)?;
        let summary = save_or_show(ctx, &distances, |a: &(u64, f64), b: &(u64, f64)| {
            a.1.total_cmp(&b.1).then(a.0.cmp(&b.0))
        })?;
        // (reached vertices, largest finite distance) per partition.
        let reach = distances
            .filter(|(_, d)| d.is_finite())
            .map_partitions(|_, ds| {
                std::iter::once(ds.fold((0u64, 0.0f64), |(n, m), (_, d)| (n + 1, m.max(d))))
            })
            .collect()?;
        report_pregel(ctx, &stats);
        ctx.set_result("vertices", summary.records);
        ctx.set_result("reached", reach.iter().map(|p| p.0).sum::<u64>());
        ctx.set_result(
            "max_distance",
            reach.iter().map(|p| p.1).fold(0.0f64, f64::max),
        );
        report_top(ctx, "nearest vertices (vertex, distance)", &summary.top);
        Ok(())
    }
}

/// The vertex program.
pub struct SsspProgram {
    pub source: u64,
}

impl VertexProgram for SsspProgram {
    type Value = f64;
    type Edge = f64;
    type Message = f64;
    type Aggregates = ();

    fn compute(
        &self,
        ctx: &mut Context<'_, Self>,
        vertex: u64,
        distance: &mut f64,
        offers: &[f64],
    ) {
        let offered = if ctx.superstep() == 0 && vertex == self.source {
            Some(0.0)
        } else {
            offers.first().copied()
        };
        if let Some(d) = offered.filter(|d| *d < *distance) {
            *distance = d;
            ctx.send_along_out_edges(|_, weight| Some(d + weight));
        }
        ctx.vote_to_halt();
    }

    fn combiner(&self) -> Option<Combiner<f64>> {
        Some(Combiner::min())
    }
}

/// Every vertex's distance from `source`; fails if `source` is not in the graph.
pub fn sssp(graph: &Graph<(), f64>, source: u64) -> Result<(Dataset<(u64, f64)>, PregelStats)> {
    let load = std::time::Instant::now();
    require_vertex(graph, source, "--source")?;
    let load_seconds = load.elapsed().as_secs_f64();
    let graph = graph.map_vertices(|_, _, _| f64::INFINITY);
    let (out, mut stats) = graph.run_pregel(SsspProgram { source }, PregelOptions::default())?;
    // The graph was built while looking for the source.
    stats.load_seconds += load_seconds;
    Ok((out.vertices(), stats))
}

/// A heap entry ordered by smallest distance first.
struct Nearest(f64, u64);
impl PartialEq for Nearest {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Nearest {}
impl PartialOrd for Nearest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Nearest {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

/// The sequential reference: Dijkstra over adjacency lists.
pub fn reference(
    vertices: &[u64],
    edges: &[(u64, u64, f64)],
    directed: bool,
    source: u64,
) -> BTreeMap<u64, f64> {
    let mut adjacent: BTreeMap<u64, Vec<(u64, f64)>> =
        vertices.iter().map(|&v| (v, Vec::new())).collect();
    for &(s, d, w) in edges {
        adjacent.entry(s).or_default().push((d, w));
        if !directed {
            adjacent.entry(d).or_default().push((s, w));
        }
    }
    let mut distance: BTreeMap<u64, f64> = adjacent.keys().map(|&v| (v, f64::INFINITY)).collect();
    distance.insert(source, 0.0);
    let mut heap = BinaryHeap::from([Nearest(0.0, source)]);
    while let Some(Nearest(d, v)) = heap.pop() {
        if d > distance[&v] {
            continue;
        }
        for &(w, weight) in adjacent.get(&v).map(Vec::as_slice).unwrap_or_default() {
            if d + weight < distance[&w] {
                distance.insert(w, d + weight);
                heap.push(Nearest(d + weight, w));
            }
        }
    }
    distance
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_operators::graph::GraphOptions;
    use weir_operators::testing::local_with;

    #[test]
    fn distances_match_dijkstra_on_a_random_weighted_graph() {
        let mut x = 11u64;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        let edges: Vec<(u64, u64, f64)> = (0..700)
            .map(|_| (next() % 250, next() % 250, (next() % 1000) as f64 / 7.0))
            .collect();
        let vertices: Vec<u64> = (0..260).collect();
        for directed in [true, false] {
            let expected = reference(&vertices, &edges, directed, edges[0].0);
            for threads in [1, 3] {
                let got = local_with(threads, |ctx| {
                    let e = ctx.parallelize(edges.clone(), 3)?;
                    let v = ctx.parallelize(vertices.iter().map(|&v| (v, ())).collect(), 2)?;
                    let options = GraphOptions {
                        partitions: 4,
                        directed,
                        in_edges: false,
                    };
                    let graph = Graph::from_edges(&e, Some(&v), (), options)?;
                    sssp(&graph, edges[0].0)?.0.collect()
                });
                let got: BTreeMap<u64, f64> = got.into_iter().collect();
                assert_eq!(got.len(), expected.len());
                for (v, d) in &expected {
                    let g = got[v];
                    assert!(
                        g == *d || (g - d).abs() <= 1e-9 * d.abs(),
                        "vertex {v}: {g} vs {d}"
                    );
                }
            }
        }
    }
}
