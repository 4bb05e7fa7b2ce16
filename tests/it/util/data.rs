//! Shared helpers for reading what runs wrote and what they should have written: part
//! files, word counts and ranks, the Graphalytics PageRank problems with their references,
//! metrics files, and the bundled and shared datasets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled samples (`datasets/samples`).
pub fn samples() -> PathBuf {
    root().join("datasets/samples")
}

/// The shared real datasets, or `None` (with a printed note) when the folder is absent.
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "skipping {test}: {} is absent (the shared datasets are not installed)",
            dir.display()
        );
        None
    }
}

/// A path as a `String` argument.
pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The part files of an output directory in name order; checks that nothing else (no
/// half-written attempt file) is left in it.
pub fn part_files(dir: &Path) -> Vec<PathBuf> {
    let mut parts = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("part-"),
            "unexpected file {name} in the output {}",
            dir.display()
        );
        parts.push(path);
    }
    parts.sort();
    assert!(!parts.is_empty(), "no part files in {}", dir.display());
    parts
}

/// Every line of every part file, in part order.
pub fn read_parts(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for part in part_files(dir) {
        let bytes = std::fs::read(&part).unwrap();
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("{} is not UTF-8: {e}", part.display()));
        lines.extend(text.lines().map(str::to_string));
    }
    lines
}

/// `word<TAB>count` lines as a map; a word written twice fails the test.
pub fn word_counts(lines: &[String]) -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    for line in lines {
        let (word, count) = line
            .rsplit_once('\t')
            .unwrap_or_else(|| panic!("not word<TAB>count: {line:?}"));
        let count = count
            .parse()
            .unwrap_or_else(|_| panic!("bad count: {line:?}"));
        assert!(
            map.insert(word.to_string(), count).is_none(),
            "word {word:?} written twice"
        );
    }
    map
}

/// `vertex<TAB>rank` lines as a map; a vertex written twice fails the test.
pub fn ranks(lines: &[String]) -> BTreeMap<u64, f64> {
    let mut map = BTreeMap::new();
    for line in lines {
        let (v, r) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("not vertex<TAB>rank: {line:?}"));
        let v: u64 = v.parse().unwrap_or_else(|_| panic!("bad vertex: {line:?}"));
        let r: f64 = r.parse().unwrap_or_else(|_| panic!("bad rank: {line:?}"));
        assert!(map.insert(v, r).is_none(), "vertex {v} written twice");
    }
    map
}

/// A Graphalytics PageRank problem: the graph and its parameters from `NAME.properties`.
pub struct PrProblem {
    pub vertices: Vec<u64>,
    pub edges: Vec<(u64, u64)>,
    pub directed: bool,
    pub iterations: u32,
    pub damping: f64,
    pub expected: PathBuf,
}

pub fn pr_problem(properties: &Path) -> PrProblem {
    let ds = weir::datasets::load_properties(properties).expect("properties");
    let vtext = std::fs::read_to_string(&ds.vertex_file).unwrap();
    let vertices = vtext
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    let etext = std::fs::read_to_string(&ds.edge_file).unwrap();
    let edges = etext
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            weir::datasets::parse_edge_line(l, &ds.edge_file, i as u64 + 1)
                .expect("edge line")
                .map(|e| (e.src, e.dst))
        })
        .collect();
    PrProblem {
        vertices,
        edges,
        directed: ds.directed,
        iterations: ds.pr_iterations.unwrap_or(10),
        damping: ds.pr_damping.unwrap_or(0.85),
        expected: ds.expected_output_file("PR"),
    }
}

impl PrProblem {
    /// The sequential reference's ranks.
    pub fn reference(&self) -> BTreeMap<u64, f64> {
        weir::jobs::pagerank::reference(
            &self.vertices,
            &self.edges,
            self.directed,
            self.iterations,
            self.damping,
        )
    }

    /// The Graphalytics expected ranks.
    pub fn expected(&self) -> BTreeMap<u64, f64> {
        weir::jobs::graph_input::read_expected(&self.expected)
            .unwrap_or_else(|e| panic!("{}: {e}", self.expected.display()))
            .into_iter()
            .map(|(v, r)| (v, r.parse().expect("expected rank")))
            .collect()
    }
}

/// Checks that `got` has exactly `want`'s vertices, each rank within relative `tolerance`.
pub fn assert_ranks_close(
    got: &BTreeMap<u64, f64>,
    want: &BTreeMap<u64, f64>,
    tolerance: f64,
    what: &str,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: the vertex sets differ"
    );
    for (v, w) in want {
        let g = got[v];
        let rel = ((g - w) / w).abs();
        assert!(
            rel <= tolerance,
            "{what}: vertex {v}: rank {g} vs {w} (relative error {rel:e} > {tolerance:e})"
        );
    }
}

/// Entries of `dir` whose name contains `.weir-staging`.
pub fn staging_leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".weir-staging"))
        .collect()
}

/// Parses a metrics JSON file.
pub fn read_metrics(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()))
}

/// The files an input argument names, as the jobs expand it.
pub fn expand(input: &Path) -> Vec<PathBuf> {
    weir::datasets::expand_inputs(&[path_str(input)]).expect("expand inputs")
}
