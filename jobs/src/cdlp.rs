//! `cdlp`: community detection by label propagation as a vertex program, with
//! Graphalytics CDLP semantics: every vertex starts with its own id as label; each of
//! `--iterations` rounds, every vertex takes the label that is most frequent among its
//! neighbours, the smallest on a tie. On a directed graph both in- and out-neighbours
//! count, a neighbour that is both counting twice. Output: `vertex<TAB>label`.
//!
//! Superstep 0 every vertex sends its label along its out-edges and (directed) its
//! in-edges; superstep k takes the most frequent label received and sends it again,
//! until superstep `iterations`. Labels are not combinable, so a vertex receives one
//! message per edge; it counts them by sorting a scratch copy.

use std::cell::RefCell;
use std::collections::BTreeMap;

use weir_engine::{JobContext, Result};
use weir_operators::graph::{Context, Graph, PregelOptions, PregelStats, VertexProgram};
use weir_operators::prelude::*;

use crate::bfs::report_pregel;
use crate::graph_input::GraphArgs;
use crate::output::{report_top, save_or_show};
use crate::registry::Job;

/// Community detection by label propagation.
#[derive(Debug, Clone, clap::Parser)]
pub struct Cdlp {
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Rounds of propagation (default: the dataset's `cdlp.max-iterations`, else 10).
    #[arg(long)]
    pub iterations: Option<u32>,
}

impl Job for Cdlp {
    const NAME: &'static str = "cdlp";
    const ABOUT: &'static str =
        "Community detection by label propagation, Graphalytics CDLP (vertex<TAB>label)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let loaded = self.graph.load_vertex_graph(ctx, true)?;
        let iterations = self
            .iterations
            .or(loaded.properties.as_ref().and_then(|p| p.cdlp_iterations))
            .unwrap_or(10);
        let (labels, stats) = cdlp(&loaded.graph, iterations)?;
        let summary = save_or_show(ctx, &labels, |a: &(u64, u64), b: &(u64, u64)| a.0.cmp(&b.0))?;
        let distinct = labels.map(|(_, label)| label).distinct().count()?;
        report_pregel(ctx, &stats);
        ctx.set_result("vertices", summary.records);
        ctx.set_result("iterations", iterations);
        ctx.set_result("labels", distinct);
        report_top(ctx, "first vertices (vertex, label)", &summary.top);
        Ok(())
    }
}

/// The vertex program.
pub struct CdlpProgram {
    pub iterations: u64,
}

thread_local! {
    /// A task thread's scratch space for counting labels.
    static SCRATCH: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// The most frequent of `labels`, the smallest on a tie; `None` if there are none.
pub fn most_frequent(labels: &[u64]) -> Option<u64> {
    SCRATCH.with(|scratch| {
        let mut sorted = scratch.borrow_mut();
        sorted.clear();
        sorted.extend_from_slice(labels);
        sorted.sort_unstable();
        let mut best: Option<(usize, u64)> = None;
        for run in sorted.chunk_by(|a, b| a == b) {
            if !matches!(best, Some((n, _)) if n >= run.len()) {
                best = Some((run.len(), run[0]));
            }
        }
        best.map(|(_, label)| label)
    })
}

impl VertexProgram for CdlpProgram {
    type Value = u64;
    type Edge = ();
    type Message = u64;
    type Aggregates = ();

    fn compute(&self, ctx: &mut Context<'_, Self>, vertex: u64, label: &mut u64, received: &[u64]) {
        if ctx.superstep() == 0 {
            *label = vertex;
        } else if let Some(l) = most_frequent(received) {
            *label = l;
        }
        if ctx.superstep() < self.iterations {
            ctx.send_to_out_neighbours(label);
            if ctx.is_directed() {
                ctx.send_to_in_neighbours(label);
            }
        } else {
            ctx.vote_to_halt();
        }
    }
}

/// Every vertex's label after `iterations` rounds. A directed graph must have been built
/// with its in-edges.
pub fn cdlp(graph: &Graph<(), ()>, iterations: u32) -> Result<(Dataset<(u64, u64)>, PregelStats)> {
    let graph = graph.map_vertices(|v, _, _| v);
    let program = CdlpProgram {
        iterations: u64::from(iterations),
    };
    let options = PregelOptions::max_supersteps(u64::from(iterations) + 1);
    let (out, stats) = graph.run_pregel(program, options)?;
    Ok((out.vertices(), stats))
}

/// The sequential reference.
/// An edge makes each end a neighbour of the other, whether the graph is directed or
/// not (an undirected edge is listed once).
pub fn reference(vertices: &[u64], edges: &[(u64, u64)], iterations: u32) -> BTreeMap<u64, u64> {
    let mut neighbours: BTreeMap<u64, Vec<u64>> =
        vertices.iter().map(|&v| (v, Vec::new())).collect();
    for &(s, d) in edges {
        neighbours.entry(s).or_default().push(d);
        neighbours.entry(d).or_default().push(s);
    }
    let mut labels: BTreeMap<u64, u64> = neighbours.keys().map(|&v| (v, v)).collect();
    for _ in 0..iterations {
        labels = neighbours
            .iter()
            .map(|(&v, ns)| {
                let offered: Vec<u64> = ns.iter().map(|n| labels[n]).collect();
                (v, most_frequent(&offered).unwrap_or(labels[&v]))
            })
            .collect();
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_graphs::{random_edges, vertex_graph};
    use weir_operators::testing::local_with;

    #[test]
    fn most_frequent_breaks_ties_by_the_smallest_label() {
        assert_eq!(most_frequent(&[5, 3, 5, 3, 9]), Some(3));
        assert_eq!(most_frequent(&[7, 2, 7]), Some(7));
        assert_eq!(most_frequent(&[]), None);
    }

    #[test]
    fn labels_match_the_reference_on_a_random_graph() {
        let edges = random_edges(3, 120, 500);
        let vertices: Vec<u64> = (0..125).collect();
        for directed in [true, false] {
            let expected = reference(&vertices, &edges, 5);
            for threads in [1, 3] {
                let got = local_with(threads, |ctx| {
                    let graph = vertex_graph(ctx, &edges, &vertices, directed, true)?;
                    cdlp(&graph, 5)?.0.collect()
                });
                let got: BTreeMap<u64, u64> = got.into_iter().collect();
                assert_eq!(got, expected, "directed {directed}, {threads} threads");
            }
        }
    }
}
