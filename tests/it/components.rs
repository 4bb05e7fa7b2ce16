//! components in three shapes (in-process with 1 and 3 threads, 3 worker processes),
//! compared with the job's sequential reference, the single-thread union-find baseline and,
//! where one exists, the Graphalytics expected WCC output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::util::*;

/// `vertex<TAB>label` lines as a map; a vertex written twice fails the test.
fn labels(lines: &[String]) -> BTreeMap<u64, u64> {
    let mut map = BTreeMap::new();
    for line in lines {
        let (v, l) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("not vertex<TAB>label: {line:?}"));
        let v: u64 = v.parse().unwrap_or_else(|_| panic!("bad vertex: {line:?}"));
        let l: u64 = l.parse().unwrap_or_else(|_| panic!("bad label: {line:?}"));
        assert!(map.insert(v, l).is_none(), "vertex {v} written twice");
    }
    map
}

/// The vertex ids of a vertex file (the first field of each line).
fn read_vertices(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The edges of an edge list, parsed as the jobs parse them.
fn read_edges(path: &Path) -> Vec<(u64, u64)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            weir::datasets::parse_edge_line(l, path, i as u64 + 1)
                .expect("edge line")
                .map(|e| (e.src, e.dst))
        })
        .collect()
}

/// A Graphalytics `NAME-WCC` file as a map.
fn read_wcc(path: &Path) -> BTreeMap<u64, u64> {
    weir::jobs::graph_input::read_expected(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|(v, l)| (v, l.parse().expect("expected label")))
        .collect()
}

/// Runs `components JOB_ARGS` in every shape and checks each output against the reference
/// over `vertices` and `edges` (and the union-find baseline, and `expected` when given).
fn components_shapes(
    job_args: &[String],
    vertices: &[u64],
    edges: &[(u64, u64)],
    expected: Option<&BTreeMap<u64, u64>>,
) {
    let reference = weir::jobs::components::reference(vertices, edges);
    // The reference must agree with an independent algorithm and with the specification's
    // answer, or the comparisons below prove nothing.
    let baseline = weir::bench::baselines::components::connected_components(vertices, edges);
    assert_eq!(reference, baseline, "reference vs union-find baseline");
    if let Some(expected) = expected {
        assert_eq!(&reference, expected, "reference vs Graphalytics");
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["components".to_string()];
    args.extend(job_args.iter().cloned());
    for (i, (name, shape)) in SHAPES.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let got = labels(&run_shape(&args, shape, &out));
        if got != reference {
            let differing: Vec<_> = reference
                .iter()
                .filter(|(v, l)| got.get(*v) != Some(*l))
                .map(|(v, l)| (*v, *l, got.get(v).copied()))
                .take(5)
                .collect();
            panic!(
                "components {args:?} ({name}): {} vertices vs {} in the reference; \
                 (vertex, want, got): {differing:?}",
                got.len(),
                reference.len()
            );
        }
    }
}

/// Runs components on a Graphalytics dataset named by its properties; compares with the
/// expected `-WCC` output when `wcc_required` or when the file exists.
fn graphalytics_shapes(properties: &Path, wcc_required: bool) {
    let ds = weir::datasets::load_properties(properties).expect("properties");
    let vertices = read_vertices(&ds.vertex_file);
    let edges = read_edges(&ds.edge_file);
    let wcc = ds.expected_output_file("WCC");
    assert!(
        !wcc_required || wcc.is_file(),
        "{} is missing",
        wcc.display()
    );
    let expected = wcc.is_file().then(|| read_wcc(&wcc));
    let args = vec!["--dataset".to_string(), path_str(properties)];
    components_shapes(&args, &vertices, &edges, expected.as_ref());
}

fn shared_graphalytics(test: &str) -> Option<PathBuf> {
    shared_data(test).map(|d| d.join("graphalytics"))
}

#[test]
fn components_bundled_example_directed_three_shapes() {
    graphalytics_shapes(
        &samples().join("graphalytics/example-directed.properties"),
        false,
    );
}

#[test]
fn components_shared_example_directed_three_shapes() {
    let Some(dir) = shared_graphalytics("components_shared_example_directed_three_shapes") else {
        return;
    };
    graphalytics_shapes(&dir.join("example-directed.properties"), true);
}

#[test]
fn components_shared_example_undirected_three_shapes() {
    let Some(dir) = shared_graphalytics("components_shared_example_undirected_three_shapes") else {
        return;
    };
    graphalytics_shapes(&dir.join("example-undirected.properties"), true);
}

#[test]
fn components_shared_test_wcc_undirected_three_shapes() {
    let Some(dir) = shared_graphalytics("components_shared_test_wcc_undirected_three_shapes")
    else {
        return;
    };
    graphalytics_shapes(&dir.join("test-wcc-undirected.properties"), true);
}

/// `test-wcc-directed.properties` names its vertex file as its edge file (as published
/// upstream); the loader reads `test-wcc-directed.e` instead.
#[test]
fn components_shared_test_wcc_directed_three_shapes() {
    let Some(dir) = shared_graphalytics("components_shared_test_wcc_directed_three_shapes") else {
        return;
    };
    graphalytics_shapes(&dir.join("test-wcc-directed.properties"), true);
}

/// A real directed graph of 7,115 vertices and 103,689 edges.
#[test]
fn components_shared_wiki_vote_three_shapes() {
    let Some(data) = shared_data("components_shared_wiki_vote_three_shapes") else {
        return;
    };
    let e = data.join("graphs/wiki-Vote.txt");
    let edges = read_edges(&e);
    let mut vertices: Vec<u64> = edges.iter().flat_map(|e| [e.0, e.1]).collect();
    vertices.sort_unstable();
    vertices.dedup();
    components_shapes(
        &["--edges".to_string(), path_str(&e)],
        &vertices,
        &edges,
        None,
    );
}

/// An edge list with a vertex file: isolated vertices, a long path pointing away from its
/// smallest id, self-loops and duplicate edges, directed and undirected.
#[test]
fn components_edge_list_three_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut edges: Vec<(u64, u64)> = (500..560).map(|v| (v + 1, v)).collect();
    edges.push((560, 3));
    edges.extend([(7, 7), (8, 7), (8, 7), (7, 8), (9, 9)]);
    for i in 0..200u64 {
        let (a, b) = (1000 + i * 37 % 211, 1000 + i * 53 % 223);
        edges.push((a, b));
    }
    let mut vertices: Vec<u64> = edges.iter().flat_map(|e| [e.0, e.1]).collect();
    vertices.extend([1, 2, 4, 10_000]);
    vertices.sort_unstable();
    vertices.dedup();
    let edges_file = tmp.path().join("g.txt");
    let mut text = String::from("# a small graph\n");
    for (s, d) in &edges {
        text.push_str(&format!("{s}\t{d}\n"));
    }
    std::fs::write(&edges_file, text).unwrap();
    let vertices_file = tmp.path().join("g.v");
    let listed: String = vertices.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(&vertices_file, listed).unwrap();
    for direction in ["--directed", "--undirected"] {
        let args = vec![
            "--edges".to_string(),
            path_str(&edges_file),
            "--vertices".into(),
            path_str(&vertices_file),
            direction.into(),
        ];
        components_shapes(&args, &vertices, &edges, None);
    }
}

/// A path longer than `--max-iterations` rounds: the dataflow run succeeds and says it
/// did not converge; the vertex program, whose local union-find joins the whole path
/// before its first round, converges within the bound.
#[test]
fn components_reports_stopping_without_converging() {
    let tmp = tempfile::tempdir().unwrap();
    let edges_file = tmp.path().join("path.txt");
    let text: String = (0..20).map(|v| format!("{v} {}\n", v + 1)).collect();
    std::fs::write(&edges_file, text).unwrap();
    let run = |model: &str| {
        let out = run_weir(&[
            "run",
            "components",
            "--edges",
            &path_str(&edges_file),
            "--max-iterations",
            "3",
            "--model",
            model,
            "--local",
        ]);
        out.assert_ok();
        out
    };
    let out = run("dataflow");
    assert!(
        out.stderr.contains("without converging"),
        "no warning\nstderr:\n{}",
        out.stderr
    );
    let summary = "21 vertices in 18 components (3 rounds)";
    assert!(out.stdout.contains(summary), "stdout:\n{}", out.stdout);
    let out = run("pregel");
    assert!(!out.stderr.contains("without converging"), "{}", out.stderr);
    let summary = "21 vertices in 1 components (1 rounds)";
    assert!(out.stdout.contains(summary), "stdout:\n{}", out.stdout);
}
