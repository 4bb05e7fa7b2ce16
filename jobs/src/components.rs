//! `components`: weakly connected components with Graphalytics WCC semantics. Every vertex
//! is labelled with the smallest vertex id of its component; edges are followed both ways
//! whatever the graph's direction, and an isolated vertex keeps its own id.
//! Output: `vertex<TAB>label`.
//!
//! Label propagation, semi-naive: every vertex starts with its own id as label, and each
//! round only the vertices whose label dropped in the round before (the *frontier*; at
//! first every vertex) send their label to their neighbours. The smallest label offered to
//! each vertex is found with a `reduce_by_key` shuffle and joined with the current labels;
//! a vertex keeps the smaller of the two. The job stops after a round that changes
//! nothing, or after `--max-iterations` rounds (and says it did not converge).
//!
//! The adjacency (each vertex with its neighbours in both directions, sorted) is
//! hash-partitioned and persisted once; the labels of each round are persisted and
//! partitioned the same way, so the joins move nothing and a round costs one shuffle: the
//! messages. A label is sent only to neighbours with a larger id, since a vertex's label
//! never exceeds its own id.

use std::cmp::Ordering;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use weir_engine::{JobContext, Result};
use weir_operators::prelude::*;

use crate::graph_input::{Graph, GraphArgs};
use crate::output::{report_top, save_or_show, TOP};
use crate::registry::Job;
use crate::vertex_graph::Model;
use crate::wcc_program::components_pregel;

/// Weakly connected components of a graph.
#[derive(Debug, Clone, clap::Parser)]
pub struct Components {
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Most propagation rounds before giving up on convergence.
    #[arg(long, default_value_t = 1000)]
    pub max_iterations: u32,
    /// A vertex program on the graph in worker memory, or a loop of dataflow stages.
    #[arg(long, value_enum, default_value_t)]
    pub model: Model,
}

impl Job for Components {
    const NAME: &'static str = "components";
    const ABOUT: &'static str =
        "Weakly connected components, Graphalytics WCC semantics (vertex<TAB>label)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let found = match self.model {
            Model::Pregel => {
                let loaded = self.graph.load_forest_graph(ctx)?;
                let (labels, stats) = components_pregel(&loaded.graph, self.max_iterations)?;
                // The graph in memory is the forest, not the input's edges.
                ctx.set_result("supersteps", stats.supersteps);
                ctx.set_result("messages", stats.messages);
                ctx.set_result("load_seconds", stats.load_seconds);
                ctx.set_result("run_seconds", stats.run_seconds);
                ctx.set_result("graph_vertices", stats.vertices);
                ctx.set_result("forest_edges", stats.edges / 2);
                Found {
                    labels,
                    // Superstep 0 makes the first offers; each later one is a round.
                    rounds: stats.supersteps.saturating_sub(1) as u32,
                    converged: stats.converged,
                }
            }
            Model::Dataflow => {
                let graph = self.graph.load(ctx)?;
                components(ctx, &graph, self.max_iterations)?
            }
        };
        let summary = save_or_show(ctx, &found.labels, |a: &(u64, u64), b: &(u64, u64)| {
            a.0.cmp(&b.0)
        })?;
        let sizes = component_sizes(&found.labels)?;
        ctx.set_result("vertices", summary.records);
        ctx.set_result("components", sizes.components);
        ctx.set_result(
            "largest_component",
            sizes.largest.first().map_or(0, |c| c.1),
        );
        ctx.set_result("rounds", found.rounds);
        ctx.set_result("converged", found.converged);
        if ctx.is_driver() && !found.converged {
            eprintln!(
                "components: stopped after {} rounds without converging (raise --max-iterations); \
                 the labels are not final",
                found.rounds
            );
        }
        if ctx.should_print() {
            println!(
                "{} vertices in {} components ({} rounds)",
                summary.records, sizes.components, found.rounds
            );
        }
        report_top(ctx, "largest components (label, vertices)", &sizes.largest);
        Ok(())
    }
}

/// What [`components`] found.
pub struct Found {
    /// `(vertex, label)` for every vertex.
    pub labels: Dataset<(u64, u64)>,
    /// Rounds run, the last one (when converged) changing nothing.
    pub rounds: u32,
    /// Whether the last round changed no label (the labels are final).
    pub converged: bool,
}

/// The distributed label propagation, for at most `max_rounds` rounds. An edge whose end is
/// not one of the graph's vertices is ignored.
pub fn components(ctx: &JobContext, graph: &Graph, max_rounds: u32) -> Result<Found> {
    let parts = ctx.parallelism();
    let both_ways = if graph.directed {
        graph.edges.flat_map(|(s, d)| [(s, d), (d, s)])
    } else {
        graph.edges.clone()
    };
    // Each vertex with its own id (the key again, so that `map_values` can start the labels
    // from it without losing the partitioning) and its neighbours.
    let vertices = graph
        .vertices
        .map(|v| (v, v))
        .cogroup(&both_ways)
        .filter(|(_, (ids, _))| !ids.is_empty())
        .map_values(|(ids, out)| (ids[0], neighbours(ids[0], out)))
        .partition_by_key(parts)
        .persist();
    let adjacency = vertices.map_values(|(_, out)| out);
    let mut labels = vertices.map_values(|(id, _)| id);
    let mut frontier = labels.clone();
    let mut rounds = 0;
    let mut converged = false;
    while rounds < max_rounds {
        let offers = adjacency
            .join(&frontier)
            .flat_map(|(_, (out, label))| {
                let from = out.partition_point(|n| *n <= label);
                (from..out.len()).map(move |i| (out[i], label))
            })
            .reduce_by_key_into(parts, u64::min);
        let next = labels
            .left_outer_join(&offers)
            .map_values(|(old, offer)| match offer {
                Some(offer) if offer < old => (offer, true),
                _ => (old, false),
            })
            .persist();
        rounds += 1;
        labels = next.map_values(|(label, _)| label);
        frontier = next
            .filter(|(_, (_, changed))| *changed)
            .map_values(|(label, _)| label);
        if frontier.count()? == 0 {
            converged = true;
            break;
        }
    }
    Ok(Found {
        labels,
        rounds,
        converged,
    })
}

/// A vertex's distinct neighbours in ascending order, itself left out.
fn neighbours(vertex: u64, mut out: Vec<u64>) -> Arc<[u64]> {
    out.sort_unstable();
    out.dedup();
    out.retain(|n| *n != vertex);
    Arc::from(out)
}

/// How many components there are and the largest ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizes {
    /// Number of components.
    pub components: u64,
    /// `(label, vertices)` of the [`TOP`] largest components, largest first (ties by label).
    pub largest: Vec<(u64, u64)>,
}

/// Counts the components of `labels` and finds the largest (one shuffle, one action).
pub fn component_sizes(labels: &Dataset<(u64, u64)>) -> Result<Sizes> {
    let partials = labels
        .map(|(_, label)| (label, 1u64))
        .reduce_by_key(|a, b| a + b)
        .map_partitions(|_, sizes| {
            let mut count = 0u64;
            let mut best: Vec<(u64, u64)> = Vec::with_capacity(TOP + 1);
            for size in sizes {
                count += 1;
                let at = best.partition_point(|b| by_size(b, &size) != Ordering::Greater);
                if at < TOP {
                    best.insert(at, size);
                    best.truncate(TOP);
                }
            }
            std::iter::once((count, best))
        })
        .collect()?;
    let components = partials.iter().map(|p| p.0).sum();
    let mut largest: Vec<(u64, u64)> = partials.into_iter().flat_map(|p| p.1).collect();
    largest.sort_by(by_size);
    largest.truncate(TOP);
    Ok(Sizes {
        components,
        largest,
    })
}

/// Larger components first, then smaller labels.
fn by_size(a: &(u64, u64), b: &(u64, u64)) -> Ordering {
    b.1.cmp(&a.1).then(a.0.cmp(&b.0))
}

/// The sequential reference: a breadth-first search from each unlabelled vertex in
/// ascending id order, so the search's start is its component's smallest id. Edges are
/// followed both ways; an edge with an end not in `vertices` is ignored.
pub fn reference(vertices: &[u64], edges: &[(u64, u64)]) -> BTreeMap<u64, u64> {
    let mut adjacent: HashMap<u64, Vec<u64>> = vertices.iter().map(|v| (*v, Vec::new())).collect();
    for &(s, d) in edges {
        if adjacent.contains_key(&s) && adjacent.contains_key(&d) {
            adjacent.entry(s).or_default().push(d);
            adjacent.entry(d).or_default().push(s);
        }
    }
    let mut order: Vec<u64> = adjacent.keys().copied().collect();
    order.sort_unstable();
    let mut labels = BTreeMap::new();
    for start in order {
        if labels.contains_key(&start) {
            continue;
        }
        labels.insert(start, start);
        let mut queue = VecDeque::from([start]);
        while let Some(v) = queue.pop_front() {
            for &w in &adjacent[&v] {
                if let Entry::Vacant(label) = labels.entry(w) {
                    label.insert(start);
                    queue.push_back(w);
                }
            }
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_operators::testing::local_with;

    /// A graph as the job sees it, from plain vectors (edges as given when `directed`, both
    /// ways otherwise, like `GraphArgs`).
    fn graph(
        ctx: &JobContext,
        vertices: Vec<u64>,
        edges: Vec<(u64, u64)>,
        directed: bool,
    ) -> Result<Graph> {
        let edges = ctx.parallelize(edges, 3)?;
        Ok(Graph {
            vertices: ctx.parallelize(vertices, 2)?,
            vertices_listed: true,
            edges: if directed {
                edges
            } else {
                edges.flat_map(|(s, d)| [(s, d), (d, s)])
            },
            directed,
            properties: None,
        })
    }

    /// Runs the job's propagation; returns the labels, rounds and whether it converged.
    fn run(
        threads: usize,
        vertices: &[u64],
        edges: &[(u64, u64)],
        directed: bool,
        max_rounds: u32,
    ) -> (BTreeMap<u64, u64>, u32, bool) {
        let (vertices, edges) = (vertices.to_vec(), edges.to_vec());
        local_with(threads, move |ctx| {
            let found = components(ctx, &graph(ctx, vertices, edges, directed)?, max_rounds)?;
            let labels = found.labels.collect()?;
            let n = labels.len();
            let labels: BTreeMap<u64, u64> = labels.into_iter().collect();
            assert_eq!(labels.len(), n, "a vertex labelled twice");
            Ok((labels, found.rounds, found.converged))
        })
    }

    /// A small pseudo-random sparse graph: many components of many sizes.
    fn sparse(n: u64, m: usize, seed: u64) -> Vec<(u64, u64)> {
        let mut x = seed;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        (0..m).map(|_| (next() * 3 + 5, next() * 3 + 5)).collect()
    }

    /// A named graph: its vertices and edges.
    type Case = (&'static str, Vec<u64>, Vec<(u64, u64)>);

    fn cases() -> Vec<Case> {
        // A path 100 -> 99 -> … -> 40 pointing away from its smallest id, and 7 hanging off
        // its far end against the edges' direction.
        let mut path: Vec<(u64, u64)> = (40..100).map(|v| (v + 1, v)).collect();
        path.push((100, 7));
        let path_vertices: Vec<u64> = (40..=100).chain([7]).collect();
        let random = sparse(400, 300, 9);
        let random_vertices: Vec<u64> = (0..400).map(|v| v * 3 + 5).collect();
        vec![
            (
                "isolated vertices and small components",
                vec![1, 2, 3, 4, 5, 6, 10, 11, 42],
                vec![(2, 1), (3, 4), (6, 5), (5, 11)],
            ),
            ("a long directed path", path_vertices, path),
            (
                "self-loops and duplicate edges",
                vec![9, 8, 7, 3, 2],
                vec![
                    (9, 9),
                    (9, 8),
                    (9, 8),
                    (8, 9),
                    (2, 2),
                    (7, 3),
                    (3, 7),
                    (7, 3),
                ],
            ),
            ("no edges", vec![5, 3, 8], vec![]),
            ("a sparse random graph", random_vertices, random),
        ]
    }

    #[test]
    fn the_reference_labels_by_smallest_id() {
        let labels = reference(&[1, 2, 3, 4, 5, 9], &[(5, 2), (2, 4), (3, 3), (9, 12)]);
        let want: BTreeMap<u64, u64> = [(1, 1), (2, 2), (3, 3), (4, 2), (5, 2), (9, 9)].into();
        assert_eq!(labels, want);
    }

    #[test]
    fn matches_the_reference() {
        for (name, vertices, edges) in cases() {
            let want = reference(&vertices, &edges);
            assert_eq!(want.len(), vertices.len(), "{name}");
            for directed in [true, false] {
                for threads in [1, 3] {
                    let (got, rounds, converged) = run(threads, &vertices, &edges, directed, 1000);
                    assert!(converged, "{name}: not converged after {rounds} rounds");
                    assert_eq!(got, want, "{name} (directed {directed}, {threads} threads)");
                }
            }
        }
    }

    #[test]
    fn a_path_takes_one_round_per_hop_and_stops_where_told() {
        // 0 - 1 - … - 29: after k rounds vertex i holds max(0, i - k).
        let vertices: Vec<u64> = (0..30).collect();
        let edges: Vec<(u64, u64)> = (0..29).map(|v| (v, v + 1)).collect();
        let (labels, rounds, converged) = run(2, &vertices, &edges, true, 4);
        assert_eq!((rounds, converged), (4, false));
        for (v, label) in labels {
            assert_eq!(label, v.saturating_sub(4), "vertex {v}");
        }
        // 29 rounds carry the label to the far end; the 30th changes nothing.
        let (labels, rounds, converged) = run(2, &vertices, &edges, true, 1000);
        assert_eq!((rounds, converged), (30, true));
        assert!(labels.values().all(|l| *l == 0));
    }

    #[test]
    fn a_round_shuffles_only_its_messages() {
        let edges = sparse(300, 250, 4);
        let vertices: Vec<u64> = (0..300).map(|v| v * 3 + 5).collect();
        let shuffles = |ctx: &JobContext| {
            (0..)
                .take_while(|&i| ctx.plan().shuffle(i).is_some())
                .count()
        };
        let (added, rounds) = local_with(3, move |ctx| {
            let graph = graph(ctx, vertices, edges, true)?;
            let before = shuffles(ctx);
            let found = components(ctx, &graph, 1000)?;
            Ok((shuffles(ctx) - before, found.rounds as usize))
        });
        assert!(rounds > 2);
        // The adjacency's cogroup shuffles both its sides once; each round, the messages.
        assert_eq!(added, 2 + rounds);
    }

    #[test]
    fn sizes_count_components_and_rank_the_largest() {
        // Components: 0 (size 3), 10 (size 3), 20 … 31 (singletons).
        let mut labels = vec![(0u64, 0u64), (1, 0), (2, 0), (10, 10), (11, 10), (12, 10)];
        labels.extend((20..32).map(|v| (v, v)));
        let sizes = local_with(2, move |ctx| component_sizes(&ctx.parallelize(labels, 3)?));
        assert_eq!(sizes.components, 14);
        assert_eq!(sizes.largest.len(), TOP);
        assert_eq!(&sizes.largest[..3], &[(0, 3), (10, 3), (20, 1)]);
        assert_eq!(sizes.largest[TOP - 1], (27, 1));
    }

    #[test]
    fn neighbours_are_sorted_distinct_and_exclude_the_vertex() {
        assert_eq!(&*neighbours(4, vec![9, 4, 1, 9, 3, 1]), &[1, 3, 9]);
        assert!(neighbours(4, vec![4, 4]).is_empty());
    }
}
