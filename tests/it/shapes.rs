//! wordcount and pagerank in three shapes (in-process with 1 and 3 threads, 3 worker
//! processes), compared with the jobs' sequential references and, for PageRank, with the
//! Graphalytics expected output.

use std::path::Path;

use super::util::*;

fn wordcount_shapes(input: &Path, lowercase: bool) {
    let want = weir::jobs::wordcount::reference(&expand(input), lowercase).unwrap();
    assert!(want.len() > 1000, "the reference found too few words");
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["wordcount".to_string(), "--input".into(), path_str(input)];
    if lowercase {
        args.push("--lowercase".into());
    }
    for (i, (name, shape)) in SHAPES.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let got = word_counts(&run_shape(&args, shape, &out));
        if got != want {
            let missing: Vec<_> = want
                .iter()
                .filter(|(w, c)| got.get(*w) != Some(c))
                .take(5)
                .collect();
            let extra: Vec<_> = got
                .iter()
                .filter(|(w, _)| !want.contains_key(*w))
                .take(5)
                .collect();
            panic!(
                "wordcount ({name}, lowercase={lowercase}): {} words vs {} in the reference; \
                 differing: {missing:?}; unexpected: {extra:?}",
                got.len(),
                want.len()
            );
        }
    }
}

#[test]
fn wordcount_bundled_text_three_shapes() {
    wordcount_shapes(&samples().join("text"), false);
}

#[test]
fn wordcount_lowercase_three_shapes() {
    wordcount_shapes(&samples().join("text"), true);
}

#[test]
fn wordcount_shared_books_three_shapes() {
    let Some(data) = shared_data("wordcount_shared_books_three_shapes") else {
        return;
    };
    wordcount_shapes(&data.join("text"), false);
}

/// Runs pagerank on a Graphalytics dataset in every shape; checks the reference (tight)
/// and the expected output (relative 1e-4).
fn pagerank_shapes(properties: &Path) {
    let problem = pr_problem(properties);
    let reference = problem.reference();
    let expected = problem.expected();
    // The reference itself must meet the specification, or the comparison proves nothing.
    assert_ranks_close(
        &reference,
        &expected,
        1e-4,
        "sequential reference vs expected",
    );
    let tmp = tempfile::tempdir().unwrap();
    let args = vec![
        "pagerank".to_string(),
        "--dataset".into(),
        path_str(properties),
    ];
    for (i, (name, shape)) in SHAPES.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let got = ranks(&run_shape(&args, shape, &out));
        let what = format!("pagerank {} ({name})", properties.display());
        assert_ranks_close(&got, &reference, 1e-9, &format!("{what} vs reference"));
        assert_ranks_close(&got, &expected, 1e-4, &format!("{what} vs Graphalytics"));
    }
}

#[test]
fn pagerank_test_pr_directed_three_shapes() {
    pagerank_shapes(&samples().join("graphalytics/test-pr-directed.properties"));
}

#[test]
fn pagerank_example_directed_three_shapes() {
    pagerank_shapes(&samples().join("graphalytics/example-directed.properties"));
}

#[test]
fn pagerank_shared_test_pr_undirected_three_shapes() {
    let Some(data) = shared_data("pagerank_shared_test_pr_undirected_three_shapes") else {
        return;
    };
    pagerank_shapes(&data.join("graphalytics/test-pr-undirected.properties"));
}

#[test]
fn pagerank_shared_example_undirected_three_shapes() {
    let Some(data) = shared_data("pagerank_shared_example_undirected_three_shapes") else {
        return;
    };
    pagerank_shapes(&data.join("graphalytics/example-undirected.properties"));
}

/// An edge list given with `--edges --undirected` gives the same ranks as the reference
/// over the same edges.
#[test]
fn pagerank_edge_list_undirected_three_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let edges_file = tmp.path().join("g.txt");
    let mut text = String::from("# a small graph\n");
    let mut edges = Vec::new();
    for i in 0..60u64 {
        for d in [1, 7, 13] {
            if (i * d) % 5 != 0 {
                let e = (i, (i * d + 3) % 61);
                text.push_str(&format!("{}\t{}\n", e.0, e.1));
                edges.push(e);
            }
        }
    }
    std::fs::write(&edges_file, text).unwrap();
    let mut vertices: Vec<u64> = edges.iter().flat_map(|e| [e.0, e.1]).collect();
    vertices.sort();
    vertices.dedup();
    let want = weir::jobs::pagerank::reference(&vertices, &edges, false, 12, 0.8);
    let args: Vec<String> = [
        "pagerank",
        "--edges",
        &path_str(&edges_file),
        "--undirected",
        "--iterations",
        "12",
        "--damping",
        "0.8",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (i, (name, shape)) in SHAPES.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let got = ranks(&run_shape(&args, shape, &out));
        assert_ranks_close(&got, &want, 1e-9, &format!("undirected edge list ({name})"));
    }
}
