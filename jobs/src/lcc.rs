//! `lcc`: the local clustering coefficient of every vertex as a vertex program, with
//! Graphalytics LCC semantics: for a vertex with neighbour set N (in- and out-neighbours,
//! itself excluded) of size d ≥ 2, the number of edges between members of N divided by
//! d(d−1); 0 for fewer than two neighbours. On an undirected graph each edge counts both
//! ways. Output: `vertex<TAB>coefficient`.
//!
//! Superstep 0 every vertex sends its sorted neighbour set to each neighbour; superstep 1
//! each vertex answers every set it received with how many of its own out-neighbours are
//! in it; superstep 2 each vertex adds its answers up. The sets cost Σ d² ids in
//! messages, which is the algorithm's price in Pregel.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use weir_engine::{JobContext, Result};
use weir_operators::graph::{Context, Graph, PregelOptions, PregelStats, VertexProgram};
use weir_operators::prelude::*;

use crate::bfs::report_pregel;
use crate::graph_input::GraphArgs;
use crate::output::{report_top, save_or_show};
use crate::registry::Job;

/// Local clustering coefficients.
#[derive(Debug, Clone, clap::Parser)]
pub struct Lcc {
    #[command(flatten)]
    pub graph: GraphArgs,
}

impl Job for Lcc {
    const NAME: &'static str = "lcc";
    const ABOUT: &'static str =
        "Local clustering coefficient, Graphalytics LCC (vertex<TAB>coefficient)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let loaded = self.graph.load_vertex_graph(ctx, true)?;
        let (coefficients, stats) = lcc(&loaded.graph)?;
        let summary = save_or_show(ctx, &coefficients, |a: &(u64, f64), b: &(u64, f64)| {
            b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
        })?;
        // (sum of coefficients, vertices) per partition.
        let sums = coefficients
            .map_partitions(|_, cs| {
                std::iter::once(cs.fold((0.0f64, 0u64), |(s, n), (_, c)| (s + c, n + 1)))
            })
            .collect()?;
        let (total, count) = sums.iter().fold((0.0, 0), |(s, n), p| (s + p.0, n + p.1));
        report_pregel(ctx, &stats);
        ctx.set_result("vertices", summary.records);
        ctx.set_result("mean_lcc", total / count.max(1) as f64);
        report_top(
            ctx,
            "highest coefficients (vertex, coefficient)",
            &summary.top,
        );
        Ok(())
    }
}

/// What LCC vertices tell each other.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LccMessage {
    /// A vertex's sorted neighbour set, sent to each of those neighbours.
    Neighbours(u64, Vec<u64>),
    /// How many of the answering vertex's out-neighbours are in the asker's set.
    Links(u64),
}

/// The vertex program.
pub struct LccProgram;

/// A vertex's neighbours, in- and out-, sorted, distinct, itself left out.
fn neighbour_set(ctx: &Context<'_, LccProgram>, vertex: u64) -> Vec<u64> {
    let mut set: Vec<u64> = ctx.out_edges().ends.to_vec();
    if ctx.is_directed() {
        set.extend_from_slice(
            ctx.in_edges()
                .expect("a directed LCC graph keeps its in-edges")
                .ends,
        );
    }
    set.sort_unstable();
    set.dedup();
    set.retain(|&n| n != vertex);
    set
}

impl VertexProgram for LccProgram {
    type Value = f64;
    type Edge = ();
    type Message = LccMessage;
    type Aggregates = ();

    fn compute(
        &self,
        ctx: &mut Context<'_, Self>,
        vertex: u64,
        lcc: &mut f64,
        received: &[LccMessage],
    ) {
        match ctx.superstep() {
            0 => {
                let set = neighbour_set(ctx, vertex);
                if set.len() >= 2 {
                    for &n in &set {
                        ctx.send(n, LccMessage::Neighbours(vertex, set.clone()));
                    }
                }
            }
            1 => {
                let mut out: Vec<u64> = ctx.out_edges().ends.to_vec();
                out.sort_unstable();
                out.dedup();
                out.retain(|&n| n != vertex);
                for m in received {
                    if let LccMessage::Neighbours(asker, set) = m {
                        ctx.send(*asker, LccMessage::Links(count_common(&out, set)));
                    }
                }
            }
            _ => {
                let d = neighbour_set(ctx, vertex).len() as f64;
                let links: u64 = received
                    .iter()
                    .map(|m| match m {
                        LccMessage::Links(n) => *n,
                        LccMessage::Neighbours(..) => 0,
                    })
                    .sum();
                *lcc = if d < 2.0 {
                    0.0
                } else {
                    links as f64 / (d * (d - 1.0))
                };
                ctx.vote_to_halt();
            }
        }
    }
}

/// How many ids two sorted, distinct lists share.
fn count_common(a: &[u64], b: &[u64]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Every vertex's coefficient. A directed graph must have been built with its in-edges.
pub fn lcc(graph: &Graph<(), ()>) -> Result<(Dataset<(u64, f64)>, PregelStats)> {
    let graph = graph.map_vertices(|_, _, _| 0.0);
    let options = PregelOptions::max_supersteps(3);
    let (out, stats) = graph.run_pregel(LccProgram, options)?;
    Ok((out.vertices(), stats))
}

/// The sequential reference over adjacency sets.
pub fn reference(vertices: &[u64], edges: &[(u64, u64)], directed: bool) -> BTreeMap<u64, f64> {
    let mut out: BTreeMap<u64, BTreeSet<u64>> =
        vertices.iter().map(|&v| (v, BTreeSet::new())).collect();
    let mut neighbours = out.clone();
    for &(s, d) in edges {
        if s == d {
            continue;
        }
        out.entry(s).or_default().insert(d);
        if !directed {
            out.entry(d).or_default().insert(s);
        }
        neighbours.entry(s).or_default().insert(d);
        neighbours.entry(d).or_default().insert(s);
    }
    neighbours
        .iter()
        .map(|(&v, set)| {
            let d = set.len() as f64;
            if d < 2.0 {
                return (v, 0.0);
            }
            let links: usize = set
                .iter()
                .map(|u| out.get(u).map_or(0, |o| o.intersection(set).count()))
                .sum();
            (v, links as f64 / (d * (d - 1.0)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_graphs::{random_edges, vertex_graph};
    use weir_operators::testing::local_with;

    #[test]
    fn coefficients_match_the_reference_on_a_random_graph() {
        let edges = random_edges(5, 60, 400);
        let vertices: Vec<u64> = (0..64).collect();
        for directed in [true, false] {
            let expected = reference(&vertices, &edges, directed);
            assert!(expected.values().any(|c| *c > 0.0 && *c < 1.0));
            for threads in [1, 3] {
                let got = local_with(threads, |ctx| {
                    let graph = vertex_graph(ctx, &edges, &vertices, directed, true)?;
                    lcc(&graph)?.0.collect()
                });
                let got: BTreeMap<u64, f64> = got.into_iter().collect();
                assert_eq!(got.len(), expected.len());
                for (v, c) in &expected {
                    assert!((got[v] - c).abs() <= 1e-12, "vertex {v}: {} vs {c}", got[v]);
                }
            }
        }
    }
}
