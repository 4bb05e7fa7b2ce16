//! Weakly connected components as a vertex program (`components --model pregel`, the
//! default), with the same Graphalytics WCC semantics as the dataflow: every vertex ends
//! labelled with the smallest id in its component, edges followed both ways.
//!
//! Superstep 0 every vertex takes its own id and offers it to its neighbours (out- and
//! in-); a vertex whose label dropped offers the new one. A min combiner keeps one offer
//! per vertex, and an offer goes only to neighbours with a larger id, since a vertex's
//! label never exceeds its own id. The run ends when no label changes.

use weir_engine::Result;
use weir_operators::graph::{Combiner, Context, Graph, PregelOptions, PregelStats, VertexProgram};
use weir_operators::prelude::*;

/// The vertex program.
pub struct WccProgram;

impl WccProgram {
    /// Offers `label` along every edge (both ways) to the neighbours with a larger id.
    fn offer(ctx: &mut Context<'_, Self>, label: u64) {
        ctx.send_along_out_edges(|n, _| (n > label).then_some(label));
        if ctx.is_directed() {
            ctx.send_along_in_edges(|n, _| (n > label).then_some(label));
        }
    }
}

impl VertexProgram for WccProgram {
    type Value = u64;
    type Edge = ();
    type Message = u64;
    type Aggregates = ();

    fn compute(&self, ctx: &mut Context<'_, Self>, vertex: u64, label: &mut u64, offers: &[u64]) {
        if ctx.superstep() == 0 {
            *label = vertex;
            Self::offer(ctx, vertex);
        } else if let Some(&offer) = offers.first().filter(|o| **o < *label) {
            *label = offer;
            Self::offer(ctx, offer);
        }
        ctx.vote_to_halt();
    }

    fn combiner(&self) -> Option<Combiner<u64>> {
        Some(Combiner::min())
    }
}

/// `(vertex, label)` for every vertex, after at most `max_rounds` rounds of offers (the
/// stats say whether it converged). A directed graph must have been built with its
/// in-edges.
pub fn components_pregel(
    graph: &Graph<(), ()>,
    max_rounds: u32,
) -> Result<(Dataset<(u64, u64)>, PregelStats)> {
    let graph = graph.map_vertices(|v, _, _| v);
    let options = PregelOptions::max_supersteps(u64::from(max_rounds) + 1);
    let (out, stats) = graph.run_pregel(WccProgram, options)?;
    Ok((out.vertices(), stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_graphs::{random_edges, vertex_graph};
    use std::collections::BTreeMap;
    use weir_operators::testing::local_with;

    #[test]
    fn labels_match_the_reference_directed_and_undirected() {
        let edges = random_edges(13, 300, 150);
        let vertices: Vec<u64> = (0..310).collect();
        let expected = crate::components::reference(&vertices, &edges);
        assert!(
            expected
                .values()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 20
        );
        for directed in [true, false] {
            for threads in [1, 3] {
                let got = local_with(threads, |ctx| {
                    let graph = vertex_graph(ctx, &edges, &vertices, directed, true)?;
                    components_pregel(&graph, 1000)?.0.collect()
                });
                let got: BTreeMap<u64, u64> = got.into_iter().collect();
                assert_eq!(got, expected, "directed {directed}, {threads} threads");
            }
        }
    }
}
