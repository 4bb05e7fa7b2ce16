//! Bad input and output atomicity: missing files, malformed edge lines, unknown jobs and
//! arguments end with exit code 2 and one `error:` line naming the culprit, and leave no
//! output (or staging) directory; `--skip-bad-records` skips and counts malformed lines; an
//! existing non-empty output directory is refused before the job runs.

use std::path::Path;

use super::util::*;

/// The two shapes failures are checked in: in-process and with worker processes.
const FAIL_SHAPES: [&[&str]; 2] = [&["--local"], &["--workers", "2"]];

/// Runs `weir run ARGS SHAPE --output DIR/out`, checks a clean failure and that no output
/// or staging directory was left; returns the error line.
fn fails_cleanly(dir: &Path, args: &[String], shape: &[&str]) -> String {
    let out = dir.join("out");
    let mut all: Vec<String> = vec!["run".into()];
    all.extend(args.iter().cloned());
    all.extend(shape.iter().map(|s| s.to_string()));
    all.extend(["--quiet".into(), "--output".into(), path_str(&out)]);
    let run = run_weir(&all);
    let last = run.assert_clean_error().to_string();
    assert!(
        !out.exists(),
        "{args:?} {shape:?}: a failed run left {}",
        out.display()
    );
    assert_eq!(
        staging_leftovers(dir),
        Vec::<String>::new(),
        "{args:?} {shape:?}"
    );
    last
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A graph with malformed lines 4 (`1 x`) and 7 (`3`) among good ones.
fn graph_with_bad_lines(dir: &Path) -> (std::path::PathBuf, Vec<(u64, u64)>) {
    let path = dir.join("edges.txt");
    let lines = [
        "# src dst",
        "1 2",
        "2 3",
        "1 x",
        "3 1",
        "3 4",
        "3",
        "4 1",
        "5 1",
        "2 5",
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let good = vec![(1, 2), (2, 3), (3, 1), (3, 4), (4, 1), (5, 1), (2, 5)];
    (path, good)
}

#[test]
fn missing_input_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-book.txt");
    for shape in FAIL_SHAPES {
        let args = strings(&["wordcount", "--input", &path_str(&missing)]);
        let last = fails_cleanly(tmp.path(), &args, shape);
        assert!(last.contains("no-such-book.txt"), "{shape:?}: {last}");
        let args = strings(&["pagerank", "--edges", &path_str(&missing)]);
        let last = fails_cleanly(tmp.path(), &args, shape);
        assert!(last.contains("no-such-book.txt"), "{shape:?}: {last}");
    }
}

#[test]
fn malformed_edge_line_is_named_with_its_line_number() {
    let tmp = tempfile::tempdir().unwrap();
    let (edges, _) = graph_with_bad_lines(tmp.path());
    let at = format!("{}:4:", edges.display());
    for shape in FAIL_SHAPES {
        let args = strings(&["pagerank", "--edges", &path_str(&edges)]);
        let last = fails_cleanly(tmp.path(), &args, shape);
        assert!(last.contains(&at), "{shape:?}: expected {at:?} in {last}");
        assert!(
            last.contains("\"x\""),
            "{shape:?}: should quote the bad field: {last}"
        );
    }
}

#[test]
fn malformed_vertex_file_line_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let edges = tmp.path().join("e.txt");
    std::fs::write(&edges, "1 2\n2 1\n").unwrap();
    let vertices = tmp.path().join("v.txt");
    std::fs::write(&vertices, "1\n2\nthree\n").unwrap();
    let at = format!("{}:3:", vertices.display());
    for shape in FAIL_SHAPES {
        let args = strings(&[
            "pagerank",
            "--edges",
            &path_str(&edges),
            "--vertices",
            &path_str(&vertices),
        ]);
        let last = fails_cleanly(tmp.path(), &args, shape);
        assert!(last.contains(&at), "{shape:?}: expected {at:?} in {last}");
    }
}

#[test]
fn unknown_job_argument_and_option_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let text = path_str(&samples().join("text"));
    for shape in FAIL_SHAPES {
        let last = fails_cleanly(
            tmp.path(),
            &strings(&["nosuchjob", "--input", &text]),
            shape,
        );
        assert!(last.contains("nosuchjob"), "{last}");
        let args = strings(&["wordcount", "--input", &text, "--bogus-flag"]);
        let last = fails_cleanly(tmp.path(), &args, shape);
        assert!(last.contains("--bogus-flag"), "{last}");
    }
    let text = text.as_str();
    for args in [
        vec!["run", "wordcount", "--input", text, "--workers", "many"],
        vec!["run", "wordcount", "--input", text, "--format", "csv"],
        vec!["run", "wordcount", "--input", text, "--workers"],
        vec!["run"],
        vec!["frobnicate"],
        vec!["worker", "--join"],
    ] {
        let run = run_weir(&args);
        let last = run.assert_clean_error();
        assert!(last.len() > "error: ".len(), "{args:?}: empty message");
    }
}

#[test]
fn missing_required_arguments_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = path_str(&tmp.path().join("s"));
    let text = path_str(&samples().join("text"));
    // Each case: the arguments, and the argument the error line must name.
    let cases: [(Vec<&str>, &str); 5] = [
        (vec!["run", "wordcount", "--local"], "--input"),
        (vec!["run", "wordcount", "--workers", "2"], "--input"),
        (
            vec![
                "run",
                "wordcount",
                "--input",
                &text,
                "--listen",
                "127.0.0.1:0",
            ],
            "--secret-file",
        ),
        (vec!["worker", "--secret-file", &secret], "--join"),
        (vec!["datasets", "gen", "text", "--size", "1MB"], "--output"),
    ];
    for (args, missing) in cases {
        let run = run_weir(&args);
        let last = run.assert_clean_error();
        assert!(
            last.contains(missing),
            "{args:?}: the error should name the missing {missing}: {last}"
        );
    }
}

#[test]
fn skip_bad_records_skips_and_counts_malformed_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let (edges, good) = graph_with_bad_lines(tmp.path());
    let mut vertices: Vec<u64> = good.iter().flat_map(|e| [e.0, e.1]).collect();
    vertices.sort();
    vertices.dedup();
    let want = weir::jobs::pagerank::reference(&vertices, &good, true, 10, 0.85);
    for (i, (name, shape)) in SHAPES.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let metrics = tmp.path().join(format!("metrics{i}.json"));
        let mut args = strings(&["run", "pagerank", "--edges", &path_str(&edges)]);
        args.extend(shape.iter().map(|s| s.to_string()));
        args.extend(strings(&[
            "--skip-bad-records",
            "--quiet",
            "--output",
            &path_str(&out),
            "--metrics-json",
            &path_str(&metrics),
        ]));
        run_weir(&args).assert_ok();
        let got = ranks(&read_parts(&out));
        assert_ranks_close(
            &got,
            &want,
            1e-9,
            &format!("pagerank skipping bad lines ({name})"),
        );
        let m = read_metrics(&metrics);
        assert_eq!(
            m["bad_records"].as_u64(),
            Some(2),
            "{name}: the file has 2 malformed lines, metrics say {}",
            m["bad_records"]
        );
    }
}

#[test]
fn existing_non_empty_output_is_refused_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "precious").unwrap();
    let text = path_str(&samples().join("text"));
    for shape in FAIL_SHAPES {
        let mut args = strings(&[
            "run",
            "wordcount",
            "--input",
            &text,
            "--output",
            &path_str(&out),
        ]);
        args.extend(shape.iter().map(|s| s.to_string()));
        let run = run_weir(&args);
        let last = run.assert_clean_error();
        assert!(
            last.contains(&path_str(&out)),
            "{shape:?}: should name the directory: {last}"
        );
        assert!(last.contains("not empty"), "{shape:?}: {last}");
        assert!(
            !run.stdout.contains("distinct"),
            "{shape:?}: the job ran anyway"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("keep.txt")).unwrap(),
            "precious"
        );
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1, "{shape:?}");
        assert_eq!(staging_leftovers(tmp.path()), Vec::<String>::new());
    }
    // A file in the way, and a missing parent, are refused too.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    for target in [file.clone(), tmp.path().join("no/such/parent/out")] {
        let run = run_weir(&[
            "run",
            "wordcount",
            "--input",
            &text,
            "--local",
            "--output",
            &path_str(&target),
        ]);
        run.assert_clean_error();
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn existing_empty_output_dir_is_filled() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let input = samples().join("text");
    let lines = run_shape(
        &strings(&["wordcount", "--input", &path_str(&input)]),
        &["--workers", "2"],
        &out,
    );
    let want = weir::jobs::wordcount::reference(&expand(&input), false).unwrap();
    assert!(word_counts(&lines) == want);
    assert_eq!(staging_leftovers(tmp.path()), Vec::<String>::new());
}

#[test]
fn graph_jobs_refuse_bad_weights_missing_vertices_and_sources_outside_the_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        path_str(&path)
    };
    let negative = write("negative.e", "1 2 0.5\n2 3 -1\n");
    let unweighted = write("unweighted.e", "1 2 0.5\n2 3\n");
    let weighted = write("weighted.e", "1 2 0.5\n2 3 2\n");
    let vertices = write("v.txt", "1\n2\n");
    for shape in FAIL_SHAPES {
        let args = strings(&["sssp", "--edges", &negative, "--source", "1"]);
        let last = fails_cleanly(tmp.path(), &args, shape);
        assert!(
            last.contains("negative.e:2:") && last.contains("negative"),
            "{last}"
        );
        let args = strings(&["sssp", "--edges", &unweighted, "--source", "1"]);
        let last = fails_cleanly(tmp.path(), &args, shape);
        assert!(
            last.contains("unweighted.e:2:") && last.contains("weight"),
            "{last}"
        );
        for job in ["bfs", "sssp"] {
            let args = strings(&[job, "--edges", &weighted, "--source", "9"]);
            let last = fails_cleanly(tmp.path(), &args, shape);
            assert!(last.contains("--source 9"), "{job}: {last}");
        }
        for job in ["bfs", "cdlp", "lcc", "pagerank", "components"] {
            let mut args = strings(&[job, "--edges", &weighted, "--vertices", &vertices]);
            if job == "bfs" {
                args.extend(strings(&["--source", "1"]));
            }
            let last = fails_cleanly(tmp.path(), &args, shape);
            assert!(last.contains("vertex 3"), "{job}: {last}");
        }
    }
}
