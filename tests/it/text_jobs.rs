//! grep, invertedindex and sort in three shapes (in-process with 1 and 3 threads, 3 worker
//! processes), compared with the jobs' sequential references.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::util::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn grep_shapes(input: &Path, pattern: &str, ignore_case: bool) {
    let regex = weir::jobs::grep::compile(pattern, ignore_case).expect("pattern");
    let mut want: Vec<(String, u64, String)> = weir::jobs::grep::reference(&expand(input), &regex)
        .unwrap()
        .into_iter()
        .map(|(f, n, t)| (f.to_string(), n, t))
        .collect();
    want.sort();
    assert!(
        want.len() > 10,
        "the pattern matches too few lines to test anything"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut job = args(&["grep", pattern, "--input", &path_str(input)]);
    if ignore_case {
        job.push("-i".into());
    }
    for (i, (name, shape)) in SHAPES.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let mut got: Vec<(String, u64, String)> = run_shape(&job, shape, &out)
            .iter()
            .map(|l| {
                let mut it = l.splitn(3, '\t');
                let (f, n, t) = (it.next(), it.next(), it.next());
                match (f, n.and_then(|n| n.parse().ok()), t) {
                    (Some(f), Some(n), Some(t)) => (f.to_string(), n, t.to_string()),
                    _ => panic!("not file<TAB>line<TAB>text: {l:?}"),
                }
            })
            .collect();
        got.sort();
        assert_eq!(
            got.len(),
            want.len(),
            "grep {pattern:?} ({name}): match count"
        );
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "grep {pattern:?} ({name})");
        }
    }
}

#[test]
fn grep_bundled_text_three_shapes() {
    grep_shapes(&samples().join("text"), r"Gregor|Algernon|\bLady\b", false);
}

#[test]
fn grep_ignore_case_three_shapes() {
    grep_shapes(&samples().join("text"), r"gutenberg", true);
}

fn invertedindex_shapes(input: &Path) {
    let want: BTreeMap<String, BTreeSet<String>> =
        weir::jobs::invertedindex::reference(&expand(input)).unwrap();
    assert!(want.len() > 1000);
    let tmp = tempfile::tempdir().unwrap();
    let job = args(&["invertedindex", "--input", &path_str(input)]);
    for (i, (name, shape)) in SHAPES.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for line in run_shape(&job, shape, &out) {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 3, "not word<TAB>count<TAB>docs: {line:?}");
            let docs: Vec<String> = f[2].split(',').map(str::to_string).collect();
            let count: usize = f[1].parse().expect("document count");
            assert_eq!(count, docs.len(), "count and list disagree: {line:?}");
            let mut sorted = docs.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted, docs, "documents not sorted and distinct: {line:?}");
            let set: BTreeSet<String> = docs.into_iter().collect();
            assert!(
                got.insert(f[0].to_string(), set).is_none(),
                "{:?} twice",
                f[0]
            );
        }
        assert_eq!(got.len(), want.len(), "invertedindex ({name}): word count");
        assert!(
            got == want,
            "invertedindex ({name}) differs from the reference"
        );
    }
}

#[test]
fn invertedindex_bundled_text_three_shapes() {
    invertedindex_shapes(&samples().join("text"));
}

#[test]
fn invertedindex_shared_books_three_shapes() {
    let Some(data) = shared_data("invertedindex_shared_books_three_shapes") else {
        return;
    };
    invertedindex_shapes(&data.join("text"));
}

#[test]
fn sort_generated_records_three_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir(&input).unwrap();
    for (seed, size) in [(5u64, "1MB"), (6, "300KB")] {
        let f = input.join(format!("records-{seed}.dat"));
        run_weir(&[
            "datasets",
            "gen",
            "sort",
            "--size",
            size,
            "--seed",
            &seed.to_string(),
            "--output",
            &path_str(&f),
        ])
        .assert_ok();
    }
    let want = weir::jobs::sort::reference(&expand(&input)).unwrap();
    assert!(want.len() >= 1_000_000);
    let job = args(&["sort", "--input", &path_str(&input)]);
    for (i, (name, shape)) in SHAPES.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let mut cmd: Vec<String> = vec!["run".into()];
        cmd.extend(job.iter().cloned());
        cmd.extend(shape.iter().map(|s| s.to_string()));
        cmd.extend(args(&[
            "--quiet",
            "--partitions",
            "5",
            "--output",
            &path_str(&out),
        ]));
        run_weir(&cmd).assert_ok();
        let mut got = Vec::new();
        for part in part_files(&out) {
            got.extend(std::fs::read(part).unwrap());
        }
        assert_eq!(got.len(), want.len(), "sort ({name}): output size");
        if got != want {
            let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap();
            panic!(
                "sort ({name}): output differs from the reference at record {}",
                at / 100
            );
        }
    }
}
