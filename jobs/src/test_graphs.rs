//! Random graphs for the graph jobs' unit tests, and building them into a
//! [`Graph`](weir_operators::graph::Graph) the way the jobs do.

use weir_engine::{JobContext, Result};
use weir_operators::graph::{Graph, GraphOptions};
use weir_operators::prelude::*;

/// `m` edges between vertices `0..n`, from a fixed linear congruential sequence.
pub fn random_edges(seed: u64, n: u64, m: usize) -> Vec<(u64, u64)> {
    let mut x = seed;
    (0..m)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % n, (x >> 17) % n)
        })
        .collect()
}

/// The graph of `edges` over the listed `vertices`, in 4 partitions.
pub fn vertex_graph(
    ctx: &JobContext,
    edges: &[(u64, u64)],
    vertices: &[u64],
    directed: bool,
    in_edges: bool,
) -> Result<Graph<(), ()>> {
    let e = ctx.parallelize(edges.iter().map(|&(s, d)| (s, d, ())).collect(), 3)?;
    let v = ctx.parallelize(vertices.iter().map(|&v| (v, ())).collect(), 2)?;
    let options = GraphOptions {
        partitions: 4,
        directed,
        in_edges,
    };
    Graph::from_edges(&e, Some(&v), (), options)
}
