//! Pregel against sequential references, in one process with one and several task
//! threads: messages with and without combiners, aggregators and the master, in-edges,
//! halting, the closure form, and refused input.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::{Rng, SeedableRng};

use super::*;
use crate::prelude::*;
use crate::testing::{local_with, try_local};

/// A random graph on `n` vertices (ids spread out, not dense) with `m` weighted edges.
fn random_edges(n: u64, m: usize, seed: u64) -> Vec<(u64, u64, f64)> {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..m)
        .map(|_| {
            let s = rng.gen_range(0..n) * 7 + 3;
            let d = rng.gen_range(0..n) * 7 + 3;
            (s, d, f64::from(rng.gen_range(1u32..10)))
        })
        .collect()
}

/// Adjacency lists, both ways for an undirected graph.
fn adjacency(edges: &[(u64, u64, f64)], directed: bool) -> BTreeMap<u64, Vec<(u64, f64)>> {
    let mut adj: BTreeMap<u64, Vec<(u64, f64)>> = BTreeMap::new();
    for &(s, d, w) in edges {
        adj.entry(s).or_default().push((d, w));
        adj.entry(d).or_default();
        if !directed {
            adj.entry(d).or_default().push((s, w));
        }
    }
    adj
}

/// Hop distance from a source; `u64::MAX` when unreachable.
struct Hops(u64);
impl VertexProgram for Hops {
    type Value = u64;
    type Edge = f64;
    type Message = u64;
    type Aggregates = ();
    fn compute(&self, ctx: &mut Context<'_, Self>, v: u64, d: &mut u64, messages: &[u64]) {
        let best = messages.iter().copied().min().unwrap_or(u64::MAX);
        let start = ctx.superstep() == 0 && v == self.0;
        if start || best < *d {
            *d = if start { 0 } else { best };
            ctx.send_to_out_neighbours(&(*d + 1));
        }
        ctx.vote_to_halt();
    }
    fn combiner(&self) -> Option<Combiner<u64>> {
        Some(Combiner::min())
    }
}

fn bfs_reference(adj: &BTreeMap<u64, Vec<(u64, f64)>>, source: u64) -> Vec<(u64, u64)> {
    let mut dist: BTreeMap<u64, u64> = adj.keys().map(|&v| (v, u64::MAX)).collect();
    let mut queue = VecDeque::from([source]);
    dist.insert(source, 0);
    while let Some(v) = queue.pop_front() {
        for &(w, _) in &adj[&v] {
            if dist[&w] == u64::MAX {
                dist.insert(w, dist[&v] + 1);
                queue.push_back(w);
            }
        }
    }
    dist.into_iter().collect()
}

fn graph_of(
    ctx: &JobContext,
    edges: &[(u64, u64, f64)],
    directed: bool,
    in_edges: bool,
    init: u64,
) -> Result<Graph<u64, f64>> {
    let data = ctx.parallelize(edges.to_vec(), 3)?;
    let options = GraphOptions {
        partitions: 4,
        directed,
        in_edges,
    };
    Graph::from_edges(&data, None, init, options)
}

#[test]
fn bfs_matches_the_sequential_reference_directed_and_undirected() {
    let edges = random_edges(300, 900, 1);
    let source = edges[0].0;
    for directed in [true, false] {
        let expected = bfs_reference(&adjacency(&edges, directed), source);
        for threads in [1, 3] {
            let mut got = local_with(threads, |ctx| {
                graph_of(ctx, &edges, directed, false, u64::MAX)?
                    .pregel(Hops(source), PregelOptions::default())?
                    .collect()
            });
            got.sort_unstable();
            assert_eq!(got, expected, "directed {directed}, {threads} threads");
        }
    }
}

/// PageRank with the dangling mass in a sum aggregator and the master stopping it.
struct Rank {
    iterations: u64,
}
impl VertexProgram for Rank {
    type Value = f64;
    type Edge = f64;
    type Message = f64;
    type Aggregates = Sum<f64>;
    fn compute(&self, ctx: &mut Context<'_, Self>, _: u64, rank: &mut f64, messages: &[f64]) {
        let n = ctx.num_vertices() as f64;
        if ctx.superstep() == 0 {
            *rank = 1.0 / n;
        } else {
            let dangling = ctx.aggregated().0;
            let sum: f64 = messages.iter().sum();
            *rank = 0.15 / n + 0.85 * (sum + dangling / n);
        }
        match ctx.out_degree() {
            0 => ctx.aggregate().add(*rank),
            d => ctx.send_to_out_neighbours(&(*rank / d as f64)),
        }
    }
    fn combiner(&self) -> Option<Combiner<f64>> {
        Some(Combiner::sum())
    }
    fn master(&self, superstep: u64, _: &mut Sum<f64>) -> MasterDecision {
        if superstep >= self.iterations {
            MasterDecision::Halt
        } else {
            MasterDecision::Continue
        }
    }
}

fn pagerank_reference(adj: &BTreeMap<u64, Vec<(u64, f64)>>, iterations: u64) -> Vec<f64> {
    let index: BTreeMap<u64, usize> = adj.keys().enumerate().map(|(i, v)| (*v, i)).collect();
    let n = adj.len() as f64;
    let mut rank = vec![1.0 / n; adj.len()];
    for _ in 0..iterations {
        let mut next = vec![0.0; adj.len()];
        let mut dangling = 0.0;
        for (v, out) in adj {
            let r = rank[index[v]];
            if out.is_empty() {
                dangling += r;
            }
            for (w, _) in out {
                next[index[w]] += r / out.len() as f64;
            }
        }
        rank = next
            .iter()
            .map(|s| 0.15 / n + 0.85 * (s + dangling / n))
            .collect();
    }
    rank
}

#[test]
fn pagerank_with_an_aggregator_and_a_master_matches_the_reference() {
    let edges = random_edges(200, 500, 2);
    let expected = pagerank_reference(&adjacency(&edges, true), 10);
    for threads in [1, 3] {
        let (mut got, stats) = local_with(threads, |ctx| {
            let graph = graph_of(ctx, &edges, true, false, 0)?.map_vertices(|_, _, _| 0.0);
            let (out, stats) =
                graph.run_pregel(Rank { iterations: 10 }, PregelOptions::default())?;
            Ok((out.vertices().collect()?, stats))
        });
        got.sort_by_key(|r| r.0);
        assert_eq!(got.len(), expected.len());
        for ((v, r), e) in got.iter().zip(&expected) {
            assert!((r - e).abs() <= 1e-12 * e.abs(), "vertex {v}: {r} vs {e}");
        }
        assert_eq!(stats.supersteps, 11, "superstep 0 and ten updates");
        assert!(stats.delivered <= stats.messages && stats.messages > 0);
    }
}

/// Each vertex collects the sorted sum of its in-neighbours (no combiner) and checks its
/// in-edges against what arrived.
struct InNeighbours;
impl VertexProgram for InNeighbours {
    type Value = u64;
    type Edge = f64;
    type Message = u64;
    type Aggregates = (Sum<u64>, Max<u64>);
    fn compute(&self, ctx: &mut Context<'_, Self>, v: u64, value: &mut u64, messages: &[u64]) {
        if ctx.superstep() == 0 {
            ctx.send_to_out_neighbours(&v);
            return;
        }
        let mut got = messages.to_vec();
        got.sort_unstable();
        let mut ins: Vec<u64> = ctx.in_edges().expect("in-edges").ends.to_vec();
        ins.sort_unstable();
        assert_eq!(got, ins, "vertex {v}");
        *value = got.iter().sum();
        ctx.aggregate().0.add(got.len() as u64);
        ctx.aggregate().1.add(v);
        ctx.vote_to_halt();
    }
}

#[test]
fn messages_without_a_combiner_arrive_one_by_one_and_match_the_in_edges() {
    let edges = random_edges(150, 600, 3);
    let mut expected: BTreeMap<u64, u64> =
        adjacency(&edges, true).keys().map(|&v| (v, 0)).collect();
    for &(s, d, _) in &edges {
        *expected.get_mut(&d).unwrap() += s;
    }
    for (directed, in_edges) in [(true, true), (false, false)] {
        let mut expected = expected.clone();
        if !directed {
            for &(s, d, _) in &edges {
                *expected.get_mut(&s).unwrap() += d;
            }
        }
        let mut got = local_with(3, |ctx| {
            graph_of(ctx, &edges, directed, in_edges, 0)?
                .pregel(InNeighbours, PregelOptions::default())?
                .collect()
        });
        got.sort_unstable();
        assert_eq!(
            got,
            expected.into_iter().collect::<Vec<_>>(),
            "directed {directed}"
        );
    }
}

/// Counts supersteps in every vertex; a max aggregator says how far it got.
struct Counter;
impl VertexProgram for Counter {
    type Value = u64;
    type Edge = f64;
    type Message = ();
    type Aggregates = (Sum<u64>, Min<u64>);
    fn compute(&self, ctx: &mut Context<'_, Self>, _: u64, value: &mut u64, _: &[()]) {
        if ctx.superstep() > 0 {
            assert_eq!(ctx.aggregated().0 .0, ctx.num_vertices());
            assert_eq!(ctx.aggregated().1 .0, Some(ctx.superstep() - 1));
        }
        *value += 1;
        ctx.aggregate().0.add(1);
        let superstep = ctx.superstep();
        ctx.aggregate().1.add(superstep);
    }
}

#[test]
fn a_run_stops_at_max_supersteps_and_aggregates_reach_every_vertex() {
    let edges = random_edges(50, 100, 4);
    let (values, stats) = local_with(2, |ctx| {
        let (out, stats) = graph_of(ctx, &edges, true, false, 0)?
            .run_pregel(Counter, PregelOptions::max_supersteps(25))?;
        Ok((out.vertices().map(|(_, v)| v).collect()?, stats))
    });
    assert_eq!(stats.supersteps, 25);
    assert_eq!(stats.messages, 0);
    assert!(values.iter().all(|&v| v == 25), "{values:?}");
    assert_eq!(values.len() as u64, stats.vertices);
}

fn dijkstra(adj: &BTreeMap<u64, Vec<(u64, f64)>>, source: u64) -> BTreeMap<u64, f64> {
    let mut dist: BTreeMap<u64, f64> = adj.keys().map(|&v| (v, f64::INFINITY)).collect();
    let mut queue = BTreeSet::new();
    dist.insert(source, 0.0);
    queue.insert((0u64, source));
    while let Some((d, v)) = queue.pop_first() {
        let d = f64::from_bits(d);
        if d > dist[&v] {
            continue;
        }
        for &(w, weight) in &adj[&v] {
            let nd = d + weight;
            if nd < dist[&w] {
                dist.insert(w, nd);
                queue.insert((nd.to_bits(), w));
            }
        }
    }
    dist
}

#[test]
fn the_closure_form_finds_weighted_shortest_paths() {
    let edges = random_edges(200, 700, 5);
    let source = edges[3].0;
    let expected = dijkstra(&adjacency(&edges, true), source);
    let got = local_with(3, |ctx| {
        let data = ctx.parallelize(edges.clone(), 2)?;
        let graph = Graph::from_edges(&data, None, f64::INFINITY, GraphOptions::default())?;
        graph
            .pregel_fn(
                f64::INFINITY,
                PregelOptions::default(),
                move |v, d: &mut f64, m: &f64| {
                    let best = if v == source { 0.0 } else { *m };
                    let better = best < *d;
                    if better {
                        *d = best;
                    }
                    better
                },
                |_, d: &f64, _, w: &f64| d.is_finite().then_some(d + w),
                |a: &mut f64, b| *a = a.min(b),
            )?
            .collect()
    });
    assert_eq!(got.len(), expected.len());
    for (v, d) in got {
        assert_eq!(d, expected[&v], "vertex {v}");
    }
}

#[test]
fn results_feed_later_operators_and_a_second_run() {
    let edges = random_edges(100, 300, 6);
    let source = edges[0].0;
    let expected = bfs_reference(&adjacency(&edges, true), source);
    let reached = expected.iter().filter(|(_, d)| *d != u64::MAX).count() as u64;
    let (count, again) = local_with(2, |ctx| {
        let graph = graph_of(ctx, &edges, true, false, u64::MAX)?;
        let (first, _) = graph.run_pregel(Hops(source), PregelOptions::default())?;
        let count = first.vertices().filter(|(_, d)| *d != u64::MAX).count()?;
        let reset = first.map_vertices(|_, _, _| u64::MAX);
        let mut again = reset
            .pregel(Hops(source), PregelOptions::default())?
            .collect()?;
        again.sort_unstable();
        Ok((count, again))
    });
    assert_eq!(count, reached);
    assert_eq!(again, expected);
}

#[test]
fn an_edge_to_a_vertex_missing_from_the_vertex_list_is_an_error() {
    let e = try_local(2, |ctx| {
        let edges = ctx.parallelize(vec![(1u64, 2u64, ()), (2, 9, ())], 2)?;
        let vertices = ctx.parallelize(vec![(1u64, 0u64), (2, 0)], 2)?;
        let graph = Graph::from_edges(&edges, Some(&vertices), 0, GraphOptions::default())?;
        graph.counts()
    })
    .unwrap_err();
    assert!(e.to_string().contains("vertex 9"), "{e}");
}

/// Sends to a vertex that does not exist.
struct Stray;
impl VertexProgram for Stray {
    type Value = u64;
    type Edge = f64;
    type Message = u64;
    type Aggregates = ();
    fn compute(&self, ctx: &mut Context<'_, Self>, _: u64, _: &mut u64, _: &[u64]) {
        ctx.send(4, 1);
        ctx.vote_to_halt();
    }
}

#[test]
fn a_message_to_a_vertex_outside_the_graph_fails_the_run_with_its_id() {
    let edges = random_edges(20, 40, 7);
    let e = try_local(2, |ctx| {
        graph_of(ctx, &edges, true, false, 0)?
            .pregel(Stray, PregelOptions::default())?
            .count()
    })
    .unwrap_err();
    assert!(e.to_string().contains("vertex 4"), "{e}");
}

#[test]
fn every_edge_is_routed_to_its_other_ends_local_index() {
    let edges = random_edges(120, 400, 8);
    for (directed, in_edges) in [(true, false), (true, true), (false, false)] {
        let parts = local_with(2, |ctx| {
            graph_of(ctx, &edges, directed, in_edges, 0)?
                .parts()
                .collect()
        });
        let by_partition: BTreeMap<u32, &Topology<f64>> = parts
            .iter()
            .map(|p| (p.topology.partition, &*p.topology))
            .collect();
        for part in &parts {
            let t = &part.topology;
            let mut adjacencies = vec![&t.out_edges];
            adjacencies.extend(t.in_edges.as_ref());
            for a in adjacencies {
                assert!(a.is_resolved(), "directed {directed}, in-edges {in_edges}");
                for (end, slot) in a.ends.iter().zip(&a.slots) {
                    let owner = by_partition[&(partition_of_vertex(*end, parts.len()) as u32)];
                    assert_eq!(owner.vertices[*slot as usize], *end);
                }
            }
        }
    }
}

/// Sends to its neighbours twice in superstep 0 (out, then in, then out again) and keeps
/// the sum of what it received: every message must arrive, broadcast or not.
struct SendTwice(bool);
impl VertexProgram for SendTwice {
    type Value = u64;
    type Edge = f64;
    type Message = u64;
    type Aggregates = ();
    fn compute(&self, ctx: &mut Context<'_, Self>, v: u64, sum: &mut u64, messages: &[u64]) {
        if ctx.superstep() == 0 {
            ctx.send_to_out_neighbours(&v);
            ctx.send_to_in_neighbours(&1_000_000);
            ctx.send_to_out_neighbours(&(v * 1_000));
        } else {
            *sum = messages.iter().sum();
        }
        ctx.vote_to_halt();
    }
    fn combiner(&self) -> Option<Combiner<u64>> {
        self.0.then(Combiner::sum)
    }
}

#[test]
fn a_vertex_may_send_to_its_neighbours_more_than_once_a_superstep() {
    let edges = random_edges(60, 300, 5);
    for directed in [true, false] {
        let mut want: BTreeMap<u64, u64> = BTreeMap::new();
        for (&v, outs) in &adjacency(&edges, directed) {
            want.entry(v).or_default();
            for &(w, _) in outs {
                *want.entry(w).or_default() += v + v * 1_000;
                *want.entry(v).or_default() += 1_000_000;
            }
        }
        for combine in [false, true] {
            let got = local_with(2, |ctx| {
                graph_of(ctx, &edges, directed, true, 0)?
                    .pregel(SendTwice(combine), PregelOptions::default())?
                    .collect()
            });
            let got: BTreeMap<u64, u64> = got.into_iter().collect();
            assert_eq!(got, want, "directed {directed}, combiner {combine}");
        }
    }
}

/// Superstep 0 sends each out-neighbour its id, unfolded; superstep 1 checks them
/// against the in-edges and sends each out-neighbour a 1, folded by sum: superstep 2
/// receives at most one message, its in-degree.
struct FoldsOnlyOnce;
impl VertexProgram for FoldsOnlyOnce {
    type Value = u64;
    type Edge = f64;
    type Message = u64;
    type Aggregates = ();
    fn compute(&self, ctx: &mut Context<'_, Self>, v: u64, value: &mut u64, messages: &[u64]) {
        let mut ins: Vec<u64> = ctx.in_edges().expect("in-edges").ends.to_vec();
        match ctx.superstep() {
            0 => ctx.send_to_out_neighbours(&v),
            1 => {
                let mut got = messages.to_vec();
                got.sort_unstable();
                ins.sort_unstable();
                assert_eq!(
                    got, ins,
                    "vertex {v}: superstep 0's messages are not folded"
                );
                ctx.send_to_out_neighbours(&1);
            }
            _ => {
                assert!(messages.len() <= 1, "vertex {v}: {messages:?}");
                *value = messages.iter().sum();
                ctx.vote_to_halt();
            }
        }
    }
    fn combiner_at(&self, superstep: u64) -> Option<Combiner<u64>> {
        (superstep == 1).then(Combiner::sum)
    }
}

#[test]
fn a_combiner_can_fold_the_messages_of_one_superstep_only() {
    let edges = random_edges(80, 400, 9);
    let mut want: BTreeMap<u64, u64> = adjacency(&edges, true).keys().map(|&v| (v, 0)).collect();
    for &(_, d, _) in &edges {
        *want.get_mut(&d).unwrap() += 1;
    }
    let got = local_with(3, |ctx| {
        graph_of(ctx, &edges, true, true, 0)?
            .pregel(FoldsOnlyOnce, PregelOptions::default())?
            .collect()
    });
    let got: BTreeMap<u64, u64> = got.into_iter().collect();
    assert_eq!(got, want);
}
