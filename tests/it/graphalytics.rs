//! The six Graphalytics algorithms as Weir jobs, in three shapes (in-process with 1 and 3
//! threads, 3 worker processes), each output checked against the job's sequential
//! reference and against the Graphalytics expected output with the specification's rules:
//! the bundled example graphs always, and every `test-*` graph of `../shared/data` when
//! it is there.

use std::collections::BTreeMap;
use std::path::Path;

use weir::jobs::graphalytics::{listed_algorithms, parse_output, read_output, validate, Algorithm};

use super::util::*;

/// A graph's vertices and weighted edges as the jobs parse them.
struct Files {
    vertices: Vec<u64>,
    edges: Vec<(u64, u64, f64)>,
    directed: bool,
    properties: weir::datasets::GraphalyticsDataset,
}

fn read_files(properties: &Path) -> Files {
    let ds = weir::datasets::load_properties(properties).expect("properties");
    let vertices = std::fs::read_to_string(&ds.vertex_file)
        .expect("vertex file")
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    let edges = std::fs::read_to_string(&ds.edge_file)
        .expect("edge file")
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            weir::datasets::parse_edge_line(l, &ds.edge_file, i as u64 + 1)
                .expect("edge line")
                .map(|e| (e.src, e.dst, e.weight.unwrap_or(1.0)))
        })
        .collect();
    Files {
        vertices,
        edges,
        directed: ds.directed,
        properties: ds,
    }
}

/// The job's sequential reference for `algorithm`, as `vertex → value` text.
fn reference(algorithm: Algorithm, f: &Files) -> BTreeMap<u64, String> {
    let plain: Vec<(u64, u64)> = f.edges.iter().map(|e| (e.0, e.1)).collect();
    let p = &f.properties;
    let text = |m: BTreeMap<u64, String>| m;
    match algorithm {
        Algorithm::Bfs => {
            let source = p.bfs_source.expect("bfs source");
            let m = weir::jobs::bfs::reference(&f.vertices, &plain, f.directed, source);
            text(m.into_iter().map(|(v, d)| (v, d.to_string())).collect())
        }
        Algorithm::Sssp => {
            let source = p.sssp_source.expect("sssp source");
            let m = weir::jobs::sssp::reference(&f.vertices, &f.edges, f.directed, source);
            text(m.into_iter().map(|(v, d)| (v, d.to_string())).collect())
        }
        Algorithm::Pr => {
            let (iterations, damping) = (
                p.pr_iterations.expect("iterations"),
                p.pr_damping.expect("damping"),
            );
            let m = weir::jobs::pagerank::reference(
                &f.vertices,
                &plain,
                f.directed,
                iterations,
                damping,
            );
            text(m.into_iter().map(|(v, r)| (v, r.to_string())).collect())
        }
        Algorithm::Wcc => {
            let m = weir::jobs::components::reference(&f.vertices, &plain);
            text(m.into_iter().map(|(v, l)| (v, l.to_string())).collect())
        }
        Algorithm::Cdlp => {
            let iterations = p.cdlp_iterations.expect("cdlp iterations");
            let m = weir::jobs::cdlp::reference(&f.vertices, &plain, iterations);
            text(m.into_iter().map(|(v, l)| (v, l.to_string())).collect())
        }
        Algorithm::Lcc => {
            let m = weir::jobs::lcc::reference(&f.vertices, &plain, f.directed);
            text(m.into_iter().map(|(v, c)| (v, c.to_string())).collect())
        }
    }
}

/// Runs every algorithm `properties` lists in every shape and validates each output.
fn suite(properties: &Path) {
    let files = read_files(properties);
    let algorithms = listed_algorithms(properties).expect("properties");
    assert!(
        !algorithms.is_empty(),
        "{} lists no algorithm",
        properties.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    for algorithm in algorithms {
        let expected_file = files.properties.expected_output_file(algorithm.suffix());
        let expected = read_output(&expected_file).unwrap_or_else(|e| panic!("{e}"));
        let reference = reference(algorithm, &files);
        validate(algorithm, &expected, &reference)
            .unwrap_or_else(|e| panic!("{algorithm:?} reference vs Graphalytics: {e}"));
        let args = vec![
            algorithm.job().to_string(),
            "--dataset".into(),
            path_str(properties),
        ];
        for (i, (shape_name, shape)) in SHAPES.iter().enumerate() {
            let out = tmp.path().join(format!("{}-{i}", algorithm.name()));
            let lines = run_shape(&args, shape, &out);
            let got = parse_output(&lines.join("\n"))
                .unwrap_or_else(|(l, m)| panic!("{algorithm:?} output line {l}: {m}"));
            let name = properties.file_stem().unwrap().to_string_lossy();
            validate(algorithm, &expected, &got).unwrap_or_else(|e| {
                panic!("{name} {algorithm:?} ({shape_name}) vs Graphalytics: {e}")
            });
            validate(algorithm, &reference, &got).unwrap_or_else(|e| {
                panic!("{name} {algorithm:?} ({shape_name}) vs reference: {e}")
            });
        }
    }
}

#[test]
fn all_six_algorithms_on_the_bundled_directed_example_three_shapes() {
    suite(&samples().join("graphalytics/example-directed.properties"));
}

#[test]
fn all_six_algorithms_on_the_bundled_undirected_example_three_shapes() {
    suite(&samples().join("graphalytics/example-undirected.properties"));
}

#[test]
fn every_graphalytics_test_graph_three_shapes() {
    let Some(data) = shared_data("every_graphalytics_test_graph_three_shapes") else {
        return;
    };
    let mut graphs: Vec<_> = std::fs::read_dir(data.join("graphalytics"))
        .expect("graphalytics folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("test-") && name.ends_with(".properties")
        })
        .collect();
    graphs.sort();
    assert_eq!(graphs.len(), 12, "two test graphs per algorithm");
    for properties in graphs {
        suite(&properties);
    }
}

#[test]
fn the_graphalytics_command_validates_every_algorithm_and_writes_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let props = samples().join("graphalytics/example-undirected.properties");
    let report = tmp.path().join("report.json");
    let args = [
        "graphalytics",
        &path_str(&props),
        "--workers",
        "3",
        "--report",
        &path_str(&report),
    ];
    let out = run_weir(&args);
    out.assert_ok();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let rows = json["algorithms"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r["passed"] == true), "{json}");
    assert!(rows.iter().all(|r| r["supersteps"].as_u64().unwrap() > 0));
    assert!(out.stdout.contains("PASS"));

    // A wrong expected value fails that algorithm, naming the vertex, and the exit code.
    let expected = tmp.path().join("expected");
    std::fs::create_dir(&expected).unwrap();
    for suffix in ["BFS", "SSSP"] {
        let from = samples().join(format!("graphalytics/example-undirected-{suffix}"));
        std::fs::copy(&from, expected.join(format!("example-undirected-{suffix}"))).unwrap();
    }
    let bfs = expected.join("example-undirected-BFS");
    let text = std::fs::read_to_string(&bfs)
        .unwrap()
        .replacen("3 1", "3 7", 1);
    std::fs::write(&bfs, text).unwrap();
    let args = [
        "graphalytics",
        &path_str(&props),
        "--algorithms",
        "bfs,sssp",
        "--expected",
        &path_str(&expected),
        "--workers",
        "0",
        "--report",
        &path_str(&report),
    ];
    let out = run_weir(&args);
    let line = out.assert_clean_error();
    assert!(line.contains("bfs failed"), "{line}");
    assert!(
        out.stdout.contains("FAIL: vertex 3: expected 7, got 1"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("sssp") && out.stdout.contains("PASS"));
}
