//! PageRank on timely dataflow, with the Graphalytics semantics of
//! `weir_jobs::pagerank::reference`: ranks start at `1/N` and each iteration computes
//! `PR(v) = (1-d)/N + d * (sum over in-edges u->v of PR(u)/outdeg(u) + dangling/N)`,
//! where `dangling` is the total rank of the vertices without out-edges. An undirected
//! graph has each edge in both directions; duplicate edges count with multiplicity.
//!
//! The dataflow is one operator in a loop, in the spirit of timely's `pagerank`
//! example. Every vertex has an owner (by a hash of its id). The graph enters at time 0
//! as `(src, Some(dst))` edges and `(id, None)` vertices, both routed to the owner of
//! their first id, so each worker holds the out-edges of the vertices it owns, with
//! destinations numbered densely per worker. The operator's output is fed back to its
//! second input one timestamp later (`feedback(1)`), and it does one round per time:
//!
//! * time 0: build the local graph; in a directed graph, announce each distinct
//!   destination to its owner (so a vertex with no out-edges and no vertex-file line
//!   still exists);
//! * time 1: count the owned vertices; send the count to every worker;
//! * time 2: `N` is the sum of the counts; ranks start at `1/N`;
//! * every iteration: for each owned vertex send `rank/outdeg` along its out-edges,
//!   combined per destination into one message per destination and worker, and send
//!   the owned dangling mass to every worker; one time later each owner adds up its
//!   vertices' shares and the dangling total to get the new ranks.
//!
//! A worker advances to the next time only when its input for the current time is
//! complete (the frontier has passed it), so rounds are globally synchronous; all
//! workers stop at the same round, and each hands back the ranks of its vertices.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{ConnectLoop, Feedback};
use timely::dataflow::InputHandle;
use weir_datasets::Result;

use super::{config, for_each_edge, for_each_vertex, join_workers, vertex_hash};

/// What the workers send each other inside the loop.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Message {
    /// A vertex exists (a destination announced to its owner at time 0).
    Vertex(u64),
    /// A share of rank for a vertex, to its owner.
    Share(u64, f64),
    /// One worker's totals, to worker `to`: its vertex count (time 1) or its dangling
    /// mass (later), and whether its input failed to read.
    Totals {
        to: u64,
        vertices: u64,
        dangling: f64,
        failed: bool,
    },
}

impl Message {
    /// The routing hash: the owner of the vertex, or the addressed worker.
    fn route(&self) -> u64 {
        match *self {
            Message::Vertex(v) | Message::Share(v, _) => vertex_hash(v),
            Message::Totals { to, .. } => to,
        }
    }
}

/// PageRank, with the semantics of `weir_jobs::pagerank::reference` (Graphalytics:
/// dangling mass spread evenly, `(1-d)/N` teleport, an undirected edge counted in both
/// directions), for `iterations` rounds on `workers` timely worker threads.
///
/// The vertices are those of the `vertices` file (Graphalytics `.v`) if given, and the
/// edges' endpoints: with a vertex file that lists every endpoint, as Graphalytics
/// requires, exactly its vertices.
pub fn pagerank(
    edges: &Path,
    vertices: Option<&Path>,
    directed: bool,
    iterations: u32,
    damping: f64,
    workers: usize,
) -> Result<BTreeMap<u64, f64>> {
    let edges = edges.to_path_buf();
    let vertices = vertices.map(Path::to_path_buf);
    let guards = timely::execute(config(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let ranks = Rc::new(RefCell::new(Vec::new()));
        let failed = Rc::new(Cell::new(false));
        let mut input = InputHandle::new();
        worker.dataflow::<u32, _, _>(|scope| {
            let (handle, messages) = scope.feedback(1);
            let mut state = Shard {
                peers: peers as u64,
                announce: directed,
                iterations,
                damping,
                failed: Rc::clone(&failed),
                ranks_out: Rc::clone(&ranks),
                ..Shard::default()
            };
            input
                .to_stream(scope)
                .binary_frontier(
                    messages,
                    Exchange::new(|r: &(u64, Option<u64>)| vertex_hash(r.0)),
                    Exchange::new(Message::route),
                    "PageRank",
                    move |capability, _info| {
                        let mut capability = Some(capability);
                        let mut inbox: BTreeMap<u32, Vec<Vec<Message>>> = BTreeMap::new();
                        move |(graph, graph_frontier), (messages, message_frontier), output| {
                            graph.for_each(|_time, records| state.records.append(records));
                            messages.for_each(|time, batch| {
                                let time = *time.least().expect("a message has a time");
                                inbox.entry(time).or_default().push(std::mem::take(batch));
                            });
                            let Some(cap) = capability.as_mut() else {
                                return;
                            };
                            let now = *cap.time();
                            if graph_frontier.less_equal(&now) || message_frontier.less_equal(&now)
                            {
                                return;
                            }
                            let received = inbox.remove(&now).unwrap_or_default();
                            let go_on = {
                                let mut session = output.session(&*cap);
                                state.round(now, received, &mut |m| session.give(m))
                            };
                            if go_on {
                                cap.downgrade(&(now + 1));
                            } else {
                                capability = None;
                            }
                        }
                    },
                )
                .connect_loop(handle);
        });

        let mut read = || -> Result<()> {
            for_each_edge(
                &edges,
                index,
                peers,
                |s, d| {
                    input.send((s, Some(d)));
                    if !directed {
                        input.send((d, Some(s)));
                    }
                },
                || {
                    worker.step();
                },
            )?;
            if let Some(path) = &vertices {
                let vertex = |v| input.send((v, None));
                for_each_vertex(path, index, peers, vertex, || {
                    worker.step();
                })?;
            }
            Ok(())
        };
        let read = read();
        failed.set(read.is_err());
        drop(input);
        while worker.step_or_park(None) {}
        read.map(|()| ranks.take())
    });
    let mut ranks = BTreeMap::new();
    for part in join_workers(guards)? {
        ranks.extend(part);
    }
    Ok(ranks)
}

/// One worker's part of the computation: its vertices, their out-edges and ranks.
#[derive(Default)]
struct Shard {
    peers: u64,
    /// Whether destinations must be announced to their owners (in an undirected graph
    /// every destination is also the source of an edge, so its owner knows it).
    announce: bool,
    iterations: u32,
    damping: f64,
    /// Set when this worker's input failed to read; every worker then stops early.
    failed: Rc<Cell<bool>>,
    ranks_out: Rc<RefCell<Vec<(u64, f64)>>>,
    /// The graph records received at time 0.
    records: Vec<(u64, Option<u64>)>,
    /// Owned vertex ids, and their dense indices.
    ids: Vec<u64>,
    index: FxHashMap<u64, u32>,
    /// Out-edges of owned vertex `u`: `targets[offsets[u]..offsets[u + 1]]`, as
    /// indices into `destinations`.
    offsets: Vec<usize>,
    targets: Vec<u32>,
    destinations: Vec<u64>,
    /// Total vertex count.
    n: u64,
    rank: Vec<f64>,
    /// Shares received for each owned vertex this round.
    incoming: Vec<f64>,
    /// Rank to send to each destination this round.
    outgoing: Vec<f64>,
}

impl Shard {
    /// Runs round `now` with the messages `received` for it; whether to go on.
    fn round(
        &mut self,
        now: u32,
        received: Vec<Vec<Message>>,
        send: &mut impl FnMut(Message),
    ) -> bool {
        match now {
            0 => {
                self.build_graph();
                if self.announce {
                    for &d in &self.destinations {
                        send(Message::Vertex(d));
                    }
                }
                true
            }
            1 => {
                for m in received.into_iter().flatten() {
                    if let Message::Vertex(v) = m {
                        self.vertex(v);
                    }
                }
                self.offsets.resize(self.ids.len() + 1, self.targets.len());
                self.send_totals(self.ids.len() as u64, 0.0, send);
                true
            }
            _ => {
                let (mut vertices, mut dangling, mut failed) = (0, 0.0, false);
                self.incoming.iter_mut().for_each(|x| *x = 0.0);
                for m in received.into_iter().flatten() {
                    match m {
                        Message::Share(v, share) => {
                            if let Some(&i) = self.index.get(&v) {
                                self.incoming[i as usize] += share;
                            }
                        }
                        Message::Totals {
                            vertices: c,
                            dangling: x,
                            failed: f,
                            ..
                        } => {
                            vertices += c;
                            dangling += x;
                            failed |= f;
                        }
                        Message::Vertex(_) => {}
                    }
                }
                let iteration = now - 2;
                if iteration == 0 {
                    self.n = vertices;
                    if failed || self.n == 0 {
                        return false;
                    }
                    self.rank = vec![1.0 / self.n as f64; self.ids.len()];
                    self.incoming = vec![0.0; self.ids.len()];
                    self.outgoing = vec![0.0; self.destinations.len()];
                } else {
                    let n = self.n as f64;
                    let base = (1.0 - self.damping) / n + self.damping * dangling / n;
                    for (r, &x) in self.rank.iter_mut().zip(&self.incoming) {
                        *r = base + self.damping * x;
                    }
                }
                if iteration == self.iterations {
                    let ids = std::mem::take(&mut self.ids);
                    let rank = std::mem::take(&mut self.rank);
                    *self.ranks_out.borrow_mut() = ids.into_iter().zip(rank).collect();
                    return false;
                }
                self.send_shares(send);
                true
            }
        }
    }

    /// The dense index of owned vertex `v`, adding it if new.
    fn vertex(&mut self, v: u64) -> u32 {
        let next = self.ids.len() as u32;
        let i = *self.index.entry(v).or_insert(next);
        if i == next {
            self.ids.push(v);
        }
        i
    }

    /// Builds the out-edges of the owned vertices from the records of time 0.
    fn build_graph(&mut self) {
        let records = std::mem::take(&mut self.records);
        let mut destination_index: FxHashMap<u64, u32> = FxHashMap::default();
        let mut edges = Vec::with_capacity(records.len());
        for (v, dst) in records {
            let u = self.vertex(v);
            if let Some(d) = dst {
                let next = self.destinations.len() as u32;
                let slot = *destination_index.entry(d).or_insert(next);
                if slot == next {
                    self.destinations.push(d);
                }
                edges.push((u, slot));
            }
        }
        // Counting sort of the edges by source.
        let mut offsets = vec![0usize; self.ids.len() + 1];
        for &(u, _) in &edges {
            offsets[u as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; edges.len()];
        for (u, slot) in edges {
            targets[fill[u as usize]] = slot;
            fill[u as usize] += 1;
        }
        self.offsets = offsets;
        self.targets = targets;
    }

    /// Sends this round's rank shares, combined per destination, and dangling mass.
    fn send_shares(&mut self, send: &mut impl FnMut(Message)) {
        self.outgoing.iter_mut().for_each(|x| *x = 0.0);
        let mut dangling = 0.0;
        for (u, &r) in self.rank.iter().enumerate() {
            let row = &self.targets[self.offsets[u]..self.offsets[u + 1]];
            if row.is_empty() {
                dangling += r;
            } else {
                let share = r / row.len() as f64;
                for &slot in row {
                    self.outgoing[slot as usize] += share;
                }
            }
        }
        for (&d, &share) in self.destinations.iter().zip(&self.outgoing) {
            send(Message::Share(d, share));
        }
        self.send_totals(0, dangling, send);
    }

    /// Sends this worker's totals to every worker.
    fn send_totals(&self, vertices: u64, dangling: f64, send: &mut impl FnMut(Message)) {
        for to in 0..self.peers {
            send(Message::Totals {
                to,
                vertices,
                dangling,
                failed: self.failed.get(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::{self, load_edge_list, load_vertex_list};

    fn assert_close(got: &BTreeMap<u64, f64>, want: &BTreeMap<u64, f64>) {
        assert_eq!(got.len(), want.len());
        for ((gv, g), (wv, w)) in got.iter().zip(want) {
            assert_eq!(gv, wv);
            assert!((g - w).abs() <= 1e-9 * w.abs(), "vertex {gv}: {g} vs {w}");
        }
    }

    fn check(edges: &Path, vertices: Option<&Path>, directed: bool, iterations: u32) {
        let (endpoints, list) = load_edge_list(edges).unwrap();
        let ids = match vertices {
            Some(v) => load_vertex_list(v).unwrap(),
            None => endpoints,
        };
        let want = baselines::pagerank::pagerank(&ids, &list, directed, iterations, 0.85);
        for workers in [1, 3] {
            let got = pagerank(edges, vertices, directed, iterations, 0.85, workers).unwrap();
            assert_close(&got, &want);
        }
    }

    #[test]
    fn matches_the_baseline_on_an_rmat_graph() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.e");
        let edges = weir_datasets::rmat_edges(9, 4, 3, 0..u64::MAX);
        let mut text = String::from("# an R-MAT graph\n");
        for (s, d) in &edges {
            text.push_str(&format!("{s}\t{d}\n"));
        }
        std::fs::write(&path, text).unwrap();
        for directed in [true, false] {
            check(&path, None, directed, 10);
        }
        check(&path, None, true, 0);
    }

    #[test]
    fn matches_the_baseline_on_graphalytics_samples() {
        let samples = weir_datasets::samples_dir().join("graphalytics");
        let shared = Path::new("/work/shared/data/graphalytics");
        let mut graphs = vec![(samples.join("test-pr-directed"), true)];
        if shared.is_dir() {
            graphs.push((shared.join("example-directed"), true));
            graphs.push((shared.join("example-undirected"), false));
        }
        for (stem, directed) in graphs {
            let e = stem.with_extension("e");
            let v = stem.with_extension("v");
            check(&e, Some(&v), directed, 14);
        }
    }

    #[test]
    fn isolated_vertices_and_empty_graphs() {
        let dir = tempfile::tempdir().unwrap();
        let e = dir.path().join("g.e");
        let v = dir.path().join("g.v");
        std::fs::write(&e, "1 2\n2 3\n3 1\n3 4\n").unwrap();
        std::fs::write(&v, "1\n2\n3\n4\n10\n11\n").unwrap();
        check(&e, Some(&v), true, 6);
        std::fs::write(&e, "# nothing\n").unwrap();
        for workers in [1, 3] {
            assert!(pagerank(&e, None, true, 5, 0.85, workers)
                .unwrap()
                .is_empty());
        }
    }

    #[test]
    fn a_bad_line_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let e = dir.path().join("bad.e");
        std::fs::write(&e, "1 2\n2 3\n3 x\n").unwrap();
        for workers in [1, 3] {
            let err = pagerank(&e, None, true, 5, 0.85, workers).unwrap_err();
            assert!(err.to_string().contains("bad.e:3:"), "{err}");
        }
        let missing = dir.path().join("missing.v");
        let err = pagerank(&e, Some(&missing), true, 5, 0.85, 2).unwrap_err();
        assert!(err.to_string().contains("bad.e") || err.to_string().contains("missing.v"));
    }
}
