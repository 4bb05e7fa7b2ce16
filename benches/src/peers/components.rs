//! Weakly connected components on differential dataflow (Graphalytics WCC): every
//! vertex is labelled with the smallest vertex id of its component, edge directions
//! ignored.
//!
//! The computation is differential dataflow's classic label propagation: inside
//! `iterate`, the current labels are joined with the edges to propose each label to the
//! neighbours, the proposals are united with every vertex's own id, and a `reduce`
//! keeps the smallest label per vertex; the loop runs until no label changes. Two
//! things make it the version differential's own algorithms use
//! (`algorithms::graphs::propagate`):
//!
//! * the edges (both directions) are arranged once outside the loop and the join reads
//!   that arrangement, rather than re-arranging them in every scope;
//! * vertices enter the loop by the size of their label (`enter_at`, a label of `b`
//!   significant bits at iteration `256·b`), so small labels spread before large ones
//!   are introduced, and large labels that would lose anyway mostly never move.
//!
//! Each worker reads its share of the edge file (and of the vertex file), feeds both
//! directions of each edge and each of its vertices, deduplicated locally, into the
//! dataflow; differential exchanges them by key. The labels leave the loop
//! consolidated and each worker hands back those of the vertices it owns.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use differential_dataflow::input::InputSession;
use differential_dataflow::operators::iterate::Iterate;
use differential_dataflow::VecCollection;
use rustc_hash::FxHashSet;
use weir_datasets::Result;

use super::{config, for_each_edge, for_each_vertex, join_workers};

/// The iteration at which a vertex labelled `label` enters the loop.
fn entry_round(label: u64) -> u64 {
    256 * (64 - u64::from(label.leading_zeros()))
}

/// The component labels of `nodes` (`(v, v)` for each vertex) over `edges` (both
/// directions of each edge): each vertex with the smallest id that reaches it.
fn propagate<'scope>(
    nodes: VecCollection<'scope, u32, (u64, u64)>,
    edges: VecCollection<'scope, u32, (u64, u64)>,
) -> VecCollection<'scope, u32, (u64, u64)> {
    let edges = edges.arrange_by_key();
    nodes.scope().iterate(|scope, labels| {
        let edges = edges.enter(scope);
        let nodes = nodes.enter_at(scope, |&(_, label)| entry_round(label));
        labels
            .join_core(edges, |_v, &label, &w| Some((w, label)))
            .concat(nodes)
            .reduce(|_v, proposals, out| out.push((*proposals[0].0, 1)))
    })
}

/// Weakly connected components with `workers` timely worker threads: each vertex's
/// label is the smallest vertex id of its component, as
/// `baselines::components::connected_components` computes it.
///
/// The vertices are those of the `vertices` file (Graphalytics `.v`) if given, and the
/// edges' endpoints: with a vertex file that lists every endpoint, as Graphalytics
/// requires, exactly its vertices. An isolated vertex is its own component.
pub fn connected_components(
    edges: &Path,
    vertices: Option<&Path>,
    workers: usize,
) -> Result<BTreeMap<u64, u64>> {
    let edges = edges.to_path_buf();
    let vertices = vertices.map(Path::to_path_buf);
    let guards = timely::execute(config(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let labels = Rc::new(RefCell::new(Vec::new()));
        let mut node_input = InputSession::new();
        let mut edge_input = InputSession::new();
        worker.dataflow::<u32, _, _>(|scope| {
            let labels = Rc::clone(&labels);
            let nodes = node_input.to_collection(scope);
            let edges = edge_input.to_collection(scope);
            propagate(nodes, edges)
                .consolidate()
                .inspect(move |&((v, label), _time, diff)| {
                    if diff > 0 {
                        labels.borrow_mut().push((v, label));
                    }
                });
        });

        let mut read = || -> Result<()> {
            let mut seen = FxHashSet::default();
            let mut node = |v: u64| {
                if seen.insert(v) {
                    node_input.insert((v, v));
                }
            };
            for_each_edge(
                &edges,
                index,
                peers,
                |s, d| {
                    edge_input.insert((s, d));
                    edge_input.insert((d, s));
                    node(s);
                    node(d);
                },
                || {
                    worker.step();
                },
            )?;
            if let Some(path) = &vertices {
                for_each_vertex(path, index, peers, node, || {
                    worker.step();
                })?;
            }
            Ok(())
        };
        let read = read();
        node_input.close();
        edge_input.close();
        while worker.step_or_park(None) {}
        read.map(|()| labels.take())
    });
    let mut labels = BTreeMap::new();
    for part in join_workers(guards)? {
        labels.extend(part);
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::{self, load_edge_list, load_vertex_list};

    fn check(edges: &Path, vertices: Option<&Path>) {
        let (endpoints, list) = load_edge_list(edges).unwrap();
        let ids = match vertices {
            Some(v) => load_vertex_list(v).unwrap(),
            None => endpoints,
        };
        let want = baselines::components::connected_components(&ids, &list);
        for workers in [1, 3] {
            assert_eq!(
                connected_components(edges, vertices, workers).unwrap(),
                want,
                "{workers} workers"
            );
        }
    }

    #[test]
    fn matches_the_baseline_on_a_sparse_rmat_graph() {
        let dir = tempfile::tempdir().unwrap();
        let e = dir.path().join("g.e");
        let v = dir.path().join("g.v");
        // Sparse: many components, self-loops, and large ids entering late.
        let edges = weir_datasets::rmat_edges(9, 1, 9, 0..u64::MAX);
        let mut text = String::new();
        let mut ids = std::collections::BTreeSet::from([999_999, 3]);
        for (i, (s, d)) in edges.iter().enumerate() {
            let big = if i % 7 == 0 { 1u64 << 40 } else { 0 };
            text.push_str(&format!("{} {}\n", s + big, d));
            ids.extend([s + big, *d]);
        }
        std::fs::write(&e, text).unwrap();
        let ids: Vec<String> = ids.iter().rev().map(u64::to_string).collect();
        std::fs::write(&v, ids.join("\n")).unwrap();
        check(&e, None);
        check(&e, Some(&v));
    }

    #[test]
    fn matches_the_baseline_on_graphalytics_samples() {
        let samples = weir_datasets::samples_dir().join("graphalytics");
        let shared = Path::new("/work/shared/data/graphalytics");
        let mut stems = vec![samples.join("test-pr-directed")];
        if shared.is_dir() {
            stems.push(shared.join("example-directed"));
            stems.push(shared.join("example-undirected"));
        }
        for stem in stems {
            check(&stem.with_extension("e"), Some(&stem.with_extension("v")));
        }
    }

    #[test]
    fn a_bad_line_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let e = dir.path().join("bad.e");
        std::fs::write(&e, "1 2\n# fine\n2 3 4 5\n").unwrap();
        for workers in [1, 3] {
            let err = connected_components(&e, None, workers).unwrap_err();
            assert!(err.to_string().contains("bad.e:3:"), "{err}");
        }
        let v = dir.path().join("bad.v");
        std::fs::write(&e, "1 2\n").unwrap();
        std::fs::write(&v, "1\n2\nthree\n").unwrap();
        let err = connected_components(&e, Some(&v), 2).unwrap_err();
        assert!(err.to_string().contains("bad.v:3:"), "{err}");
        assert!(connected_components(&e, None, 2).unwrap().len() == 2);
    }
}
