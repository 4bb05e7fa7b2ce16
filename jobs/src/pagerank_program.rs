//! PageRank as a vertex program (`pagerank --model pregel`, the default), with the same
//! Graphalytics semantics as the dataflow: every superstep each vertex sends its rank
//! divided by its out-degree along its out-edges (a sum combiner folds them per target),
//! and the dangling vertices' rank goes into a sum aggregator, spread over all vertices
//! in the next superstep: `PR(v) = (1-d)/N + d * (sum of shares + dangling/N)`.

use weir_engine::Result;
use weir_operators::graph::{
    Combiner, Context, Graph, PregelOptions, PregelStats, Sum, VertexProgram,
};
use weir_operators::prelude::*;

/// The vertex program: superstep 0 starts every rank at 1/N, supersteps 1 to
/// `iterations` update it.
pub struct PageRankProgram {
    pub iterations: u64,
    pub damping: f64,
}

impl VertexProgram for PageRankProgram {
    type Value = f64;
    type Edge = ();
    type Message = f64;
    type Aggregates = Sum<f64>;

    fn compute(&self, ctx: &mut Context<'_, Self>, _: u64, rank: &mut f64, shares: &[f64]) {
        let n = ctx.num_vertices() as f64;
        if ctx.superstep() == 0 {
            *rank = 1.0 / n;
        } else {
            let dangling = ctx.aggregated().0;
            let sum = shares.first().copied().unwrap_or(0.0);
            *rank = (1.0 - self.damping) / n + self.damping * (sum + dangling / n);
        }
        if ctx.superstep() == self.iterations {
            ctx.vote_to_halt();
            return;
        }
        match ctx.out_degree() {
            0 => ctx.aggregate().add(*rank),
            degree => ctx.send_to_out_neighbours(&(*rank / degree as f64)),
        }
    }

    fn combiner(&self) -> Option<Combiner<f64>> {
        Some(Combiner::sum())
    }
}

/// `(vertex, rank)` after `iterations` iterations.
pub fn pagerank_pregel(
    graph: &Graph<(), ()>,
    iterations: u32,
    damping: f64,
) -> Result<(Dataset<(u64, f64)>, PregelStats)> {
    let graph = graph.map_vertices(|_, _, _| 0.0);
    let program = PageRankProgram {
        iterations: u64::from(iterations),
        damping,
    };
    let options = PregelOptions::max_supersteps(u64::from(iterations) + 1);
    let (out, stats) = graph.run_pregel(program, options)?;
    Ok((out.vertices(), stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_graphs::{random_edges, vertex_graph};
    use std::collections::BTreeMap;
    use weir_operators::testing::local_with;

    #[test]
    fn ranks_match_the_reference_with_dangling_vertices() {
        let edges = random_edges(9, 150, 500);
        let vertices: Vec<u64> = (0..170).collect();
        for directed in [true, false] {
            let expected = crate::pagerank::reference(&vertices, &edges, directed, 7, 0.85);
            for threads in [1, 3] {
                let got = local_with(threads, |ctx| {
                    let graph = vertex_graph(ctx, &edges, &vertices, directed, false)?;
                    pagerank_pregel(&graph, 7, 0.85)?.0.collect()
                });
                let got: BTreeMap<u64, f64> = got.into_iter().collect();
                assert_eq!(got.len(), expected.len());
                for (v, r) in &expected {
                    assert!(
                        (got[v] - r).abs() <= 1e-12 * r,
                        "vertex {v}: {} vs {r}",
                        got[v]
                    );
                }
            }
        }
    }
}
