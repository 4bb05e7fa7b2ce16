//! The command line itself: `weir jobs`, help texts, `weir demo`, and what a run prints.

use super::util::*;

#[test]
fn jobs_lists_every_job_with_its_description() {
    let out = run_weir(&["jobs"]);
    out.assert_ok();
    let registry = weir::Registry::builtin();
    let list = registry.list();
    let names: Vec<&str> = list.iter().map(|(n, _)| *n).collect();
    assert!(
        names.contains(&"wordcount") && names.contains(&"pagerank"),
        "{names:?}"
    );
    for (name, about) in list {
        assert!(!about.is_empty(), "{name} has no description");
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("`weir jobs` does not list {name}:\n{}", out.stdout));
        assert!(line.contains(about), "{name}: {line:?} lacks {about:?}");
    }
    assert!(out.stdout.contains("PageRank"), "{}", out.stdout);
}

#[test]
fn run_help_shows_job_and_run_options() {
    let out = run_weir(&["run", "wordcount", "--help"]);
    out.assert_ok();
    for flag in [
        "--input",
        "--lowercase",
        "--workers",
        "--threads",
        "--output",
        "--format",
    ] {
        assert!(
            out.stdout.contains(flag),
            "help lacks {flag}:\n{}",
            out.stdout
        );
    }
    let out = run_weir(&["run", "pagerank", "--help"]);
    out.assert_ok();
    for flag in [
        "--dataset",
        "--edges",
        "--vertices",
        "--undirected",
        "--iterations",
        "--workers",
    ] {
        assert!(
            out.stdout.contains(flag),
            "help lacks {flag}:\n{}",
            out.stdout
        );
    }
    let out = run_weir(&["run", "--help"]);
    out.assert_ok();
    assert!(out.stdout.contains("--workers"), "{}", out.stdout);
    let out = run_weir(&["run", "nosuchjob", "--help"]);
    out.assert_clean_error();
    let out = run_weir(&["--help"]);
    out.assert_ok();
    for cmd in ["jobs", "run", "worker", "demo", "datasets"] {
        assert!(
            out.stdout.contains(cmd),
            "top-level help lacks {cmd}:\n{}",
            out.stdout
        );
    }
    run_weir(&["--version"]).assert_ok();
}

#[test]
fn demo_runs_and_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let history = tmp.path().join("history");
    let out = run_weir(&["demo", "--history", &path_str(&history)]);
    out.assert_ok();
    for job in ["wordcount", "pagerank", "logreg"] {
        let html = std::fs::read_to_string(history.join(format!("{job}.html")))
            .unwrap_or_else(|e| panic!("{job}.html: {e}"));
        assert!(
            html.contains(&format!("\"job\":\"{job}\"")),
            "{job}.html has its run"
        );
    }
    assert!(
        out.stdout.contains("matches"),
        "demo output:\n{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("DIFFERS"),
        "demo output:\n{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains("error"),
        "demo stderr:\n{}",
        out.stderr
    );
}

#[test]
fn a_run_without_output_prints_a_summary() {
    let input = samples().join("text");
    let want = weir::jobs::wordcount::reference(&expand(&input), false).unwrap();
    let words: u64 = want.values().sum();
    let out = run_weir(&[
        "run",
        "wordcount",
        "--input",
        &path_str(&input),
        "--workers",
        "2",
    ]);
    out.assert_ok();
    let summary = format!("{words} words, {} distinct", want.len());
    assert!(
        out.stdout.contains(&summary),
        "expected {summary:?} in:\n{}",
        out.stdout
    );
    // The most frequent word of the reference is listed first.
    let top = want
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .unwrap();
    let first = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with('('))
        .unwrap_or("");
    assert!(
        first.contains(&format!("{:?}, {}", top.0, top.1)),
        "{first:?} vs {top:?}"
    );
    assert!(
        out.stderr.contains("2 worker(s)"),
        "the run should report its shape on stderr:\n{}",
        out.stderr
    );
}
