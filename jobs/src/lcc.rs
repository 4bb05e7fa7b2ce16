//! `lcc`: the local clustering coefficient of every vertex as a vertex program, with
//! Graphalytics LCC semantics: for a vertex with neighbour set N (in- and out-neighbours,
//! itself excluded) of size d ≥ 2, the number of edges between members of N divided by
//! d(d−1); 0 for fewer than two neighbours. On an undirected graph each edge counts both
//! ways. Output: `vertex<TAB>coefficient`.
//!
//! The program enumerates triangles in (degree, vertex index) order, as the fastest sequential
//! algorithms do, each triangle found once, at its first corner:
//!
//! * superstep 0: every vertex sends its degree (distinct neighbours) to its neighbours;
//! * superstep 1: every vertex keeps its *forward* neighbours, those later in (degree,
//!   vertex index) order, with a tag for each edge direction, and sends that row to its
//!   neighbours: once per partition, shared by the neighbours there (see the message
//!   layer's mirrors). A hub's forward row is short, which bounds the work;
//! * superstep 2: vertex `a` finds each forward neighbour `b`'s row among those received
//!   and every `c` in both rows closes a triangle: `a` counts the edges between `b` and
//!   `c`, and sends `b` (the edges between `a` and `c`) and `c` (between `a` and `b`)
//!   their counts, summed per neighbour, along its edges (a combiner adds up those
//!   bound for the same vertex before they leave the partition);
//! * superstep 3: every vertex adds up its counts.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_engine::{JobContext, Result};
use weir_operators::graph::{Combiner, Context, Graph, PregelOptions, PregelStats, VertexProgram};
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

/// The direction tag of `v -> u` for neighbour `u` of `v`.
const OUT: u8 = 1;
/// The direction tag of `u -> v`.
const IN: u8 = 2;

/// A vertex's forward row, in one allocation: its vertex index (`Context::index`), then
/// each forward neighbour's (later in (degree, index) order), ascending, shifted left by
/// two with the edges' direction tags in the low bits.
pub type ForwardRow = Arc<[u32]>;

/// The bits of a row entry that hold its direction tags.
const TAG_BITS: u32 = 2;

/// A row entry's neighbour index and direction tags.
#[inline]
fn unpack(entry: u32) -> (u32, u8) {
    (entry >> TAG_BITS, (entry & ((1 << TAG_BITS) - 1)) as u8)
}

/// What LCC vertices tell each other.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum LccMessage {
    /// A vertex's index and its number of distinct neighbours.
    Degree(u32, u32),
    /// A vertex's forward row, shared by every neighbour it reaches on a partition.
    Row(ForwardRow),
    /// Edges between two neighbours of the receiving vertex, found by another corner
    /// of their triangles.
    Links(u64),
}

/// A vertex's state through the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LccVertex {
    pub degree: u32,
    /// Edges between neighbours found so far.
    pub links: u64,
    pub coefficient: f64,
    /// The forward row, kept from superstep 1 to 2.
    pub forward: Option<ForwardRow>,
}

/// The vertex program.
pub struct LccProgram;

thread_local! {
    /// A task thread's scratch space.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[derive(Default)]
struct Scratch {
    /// Neighbours by index, with their tags.
    neighbours: Vec<(u32, u8)>,
    degrees: Vec<(u32, u32)>,
    /// The row being built.
    row: Vec<u32>,
    /// Per forward neighbour: links found for it, and whether its row was used.
    credits: Vec<u64>,
    seen: Vec<bool>,
    /// By vertex index: 1 + the position in the forward row being closed, or 0 (the
    /// sequential algorithm's mark array).
    marks: Vec<u32>,
}

/// A vertex index as the program keeps it.
fn narrow(index: u64) -> u32 {
    u32::try_from(index).expect("lcc checks the index bound before it runs")
}

/// A vertex's distinct neighbours other than itself, ascending by index, with their
/// direction tags, into `out`.
fn neighbours(ctx: &Context<'_, LccProgram>, out: &mut Vec<(u32, u8)>) {
    const ROUTED: &str = "a graph built from edges has its routes";
    out.clear();
    let (outward, inward) = if ctx.is_directed() {
        (OUT, IN)
    } else {
        (OUT | IN, OUT | IN)
    };
    out.extend(
        ctx.out_edge_indexes()
            .expect(ROUTED)
            .map(|u| (narrow(u), outward)),
    );
    if ctx.is_directed() {
        out.extend(
            ctx.in_edge_indexes()
                .expect(ROUTED)
                .map(|u| (narrow(u), inward)),
        );
    }
    out.sort_unstable_by_key(|e| e.0);
    let me = narrow(ctx.index());
    let mut write = 0;
    for read in 0..out.len() {
        let (u, tag) = out[read];
        if u == me {
            continue;
        }
        if write > 0 && out[write - 1].0 == u {
            out[write - 1].1 |= tag;
        } else {
            out[write] = (u, tag);
            write += 1;
        }
    }
    out.truncate(write);
}

/// Sends `message` to every neighbour (both directions on a directed graph).
fn broadcast(ctx: &mut Context<'_, LccProgram>, message: &LccMessage) {
    ctx.send_to_out_neighbours(message);
    if ctx.is_directed() {
        ctx.send_to_in_neighbours(message);
    }
}

impl VertexProgram for LccProgram {
    type Value = LccVertex;
    type Edge = ();
    type Message = LccMessage;
    type Aggregates = ();

    fn compute(
        &self,
        ctx: &mut Context<'_, Self>,
        _: u64,
        state: &mut LccVertex,
        received: &[LccMessage],
    ) {
        SCRATCH.with(|scratch| {
            let scratch = &mut *scratch.borrow_mut();
            match ctx.superstep() {
                0 => {
                    neighbours(ctx, &mut scratch.neighbours);
                    state.degree = scratch.neighbours.len() as u32;
                    let me = narrow(ctx.index());
                    broadcast(ctx, &LccMessage::Degree(me, state.degree));
                }
                1 => {
                    forward_row(ctx, state.degree, received, scratch);
                    let forward = scratch.row.len() - 1;
                    // The row closes triangles for the neighbours before this vertex
                    // (none if all come after it), and this vertex closes its own as
                    // their first corner if two or more come after it.
                    let wanted = forward >= 1 && forward < state.degree as usize;
                    if !wanted && forward < 2 {
                        return;
                    }
                    let row = ForwardRow::from(&scratch.row[..]);
                    if wanted {
                        broadcast(ctx, &LccMessage::Row(row.clone()));
                    }
                    if forward >= 2 {
                        state.forward = Some(row);
                    }
                }
                2 => {
                    let Some(forward) = state.forward.take() else {
                        return;
                    };
                    let bound = ctx.index_bound() as usize;
                    if scratch.marks.len() < bound {
                        scratch.marks.resize(bound, 0);
                    }
                    for (i, &entry) in forward[1..].iter().enumerate() {
                        scratch.marks[unpack(entry).0 as usize] = i as u32 + 1;
                    }
                    state.links = close_triangles(&forward, received, scratch);
                    send_links(ctx, scratch);
                    for &entry in &forward[1..] {
                        scratch.marks[unpack(entry).0 as usize] = 0;
                    }
                }
                _ => {
                    let links = state.links
                        + received
                            .iter()
                            .map(|m| match m {
                                LccMessage::Links(n) => *n,
                                _ => 0,
                            })
                            .sum::<u64>();
                    let d = f64::from(state.degree);
                    state.coefficient = if d < 2.0 {
                        0.0
                    } else {
                        links as f64 / (d * (d - 1.0))
                    };
                    ctx.vote_to_halt();
                }
            }
        })
    }

    /// Superstep 2 sends only link counts, which add up on the way.
    fn combiner_at(&self, superstep: u64) -> Option<Combiner<LccMessage>> {
        (superstep == 2).then(|| {
            // Superstep 2 sends nothing but `Links`, so no other pair meets here.
            Combiner::new(|into: &mut LccMessage, m| {
                if let (LccMessage::Links(total), LccMessage::Links(n)) = (into, m) {
                    *total += n;
                }
            })
        })
    }
}

/// The neighbours later in (degree, index) order, from the degrees received, into
/// `scratch.row` (laid out as a [`ForwardRow`]).
fn forward_row(
    ctx: &Context<'_, LccProgram>,
    degree: u32,
    received: &[LccMessage],
    scratch: &mut Scratch,
) {
    neighbours(ctx, &mut scratch.neighbours);
    scratch.degrees.clear();
    scratch
        .degrees
        .extend(received.iter().filter_map(|m| match m {
            LccMessage::Degree(u, d) => Some((*u, *d)),
            _ => None,
        }));
    scratch.degrees.sort_unstable();
    let me = narrow(ctx.index());
    let row = &mut scratch.row;
    row.clear();
    row.push(me);
    let mut degrees = scratch.degrees.iter().peekable();
    for &(u, tag) in &scratch.neighbours {
        while degrees.next_if(|d| d.0 < u).is_some() {}
        let du = degrees.peek().filter(|d| d.0 == u).map_or(0, |d| d.1);
        if (du, u) > (degree, me) {
            row.push(u << TAG_BITS | u32::from(tag));
        }
    }
}

/// Finds every triangle whose first corner (in (degree, index) order) is this vertex,
/// from the rows of its forward neighbours (marked in `scratch.marks`): returns the
/// edges between its neighbours found, and leaves in `scratch.credits` (one per forward
/// neighbour) those found for the other two corners.
fn close_triangles(forward: &[u32], received: &[LccMessage], scratch: &mut Scratch) -> u64 {
    let tags = |entry: u32| u64::from(unpack(entry).1.count_ones());
    let forward = &forward[1..];
    let n = forward.len();
    scratch.credits.clear();
    scratch.credits.resize(n, 0);
    scratch.seen.clear();
    scratch.seen.resize(n, false);
    let marks = &scratch.marks;
    let mut links = 0u64;
    for m in received {
        let LccMessage::Row(row) = m else { continue };
        let b = match marks[row[0] as usize] {
            0 => continue,
            at => at as usize - 1,
        };
        // A row arrives once per edge between the two: use it once.
        if std::mem::replace(&mut scratch.seen[b], true) {
            continue;
        }
        let ab = tags(forward[b]);
        for &entry in &row[1..] {
            let at = marks[unpack(entry).0 as usize];
            if at != 0 {
                let ci = at as usize - 1;
                links += tags(entry);
                scratch.credits[b] += tags(forward[ci]);
                scratch.credits[ci] += ab;
            }
        }
    }
    links
}

/// Sends each forward neighbour (marked) the links found for it, once, along an edge
/// to it.
fn send_links(ctx: &mut Context<'_, LccProgram>, scratch: &mut Scratch) {
    let (marks, credits) = (&scratch.marks, &mut scratch.credits);
    let mut take = |u: u64| -> Option<LccMessage> {
        let at = marks[narrow(u) as usize];
        let n = std::mem::take(credits.get_mut((at as usize).checked_sub(1)?)?);
        (n > 0).then_some(LccMessage::Links(n))
    };
    // The closures see the edges in order, as the indexes come.
    let mut outs = ctx.out_edge_indexes().into_iter().flatten();
    ctx.send_along_out_edges(|_, _| take(outs.next()?));
    if ctx.is_directed() {
        let mut ins = ctx.in_edge_indexes().into_iter().flatten();
        ctx.send_along_in_edges(|_, _| take(ins.next()?));
    }
}

/// Every vertex's coefficient. A directed graph must have been built with its in-edges.
pub fn lcc(graph: &Graph<(), ()>) -> Result<(Dataset<(u64, f64)>, PregelStats)> {
    let bound = graph.sizes()?.index_bound(graph.num_partitions());
    if bound > u64::from(u32::MAX >> TAG_BITS) {
        return Err(weir_engine::Error::job(format!(
            "lcc numbers vertices in {} bits; this graph needs {bound} numbers",
            32 - TAG_BITS
        )));
    }
    let graph = graph.map_vertices(|_, _, _| LccVertex::default());
    let options = PregelOptions::max_supersteps(4);
    let (out, stats) = graph.run_pregel(LccProgram, options)?;
    Ok((out.vertices().map(|(v, s)| (v, s.coefficient)), stats))
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
