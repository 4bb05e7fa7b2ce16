//! The LDBC Graphalytics suite over Weir's jobs: which job runs each algorithm, and the
//! specification's validation rules for their outputs: exact for BFS and CDLP, the same
//! grouping for WCC (labels may differ), and a relative error of at most 1e-4 for PR, LCC
//! and SSSP (where `infinity` must match `infinity`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

/// A Graphalytics algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Algorithm {
    Bfs,
    Pr,
    Wcc,
    Cdlp,
    Lcc,
    Sssp,
}

impl Algorithm {
    /// Every algorithm, in the specification's order.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Bfs,
        Algorithm::Pr,
        Algorithm::Wcc,
        Algorithm::Cdlp,
        Algorithm::Lcc,
        Algorithm::Sssp,
    ];

    /// The name used in properties files and on the command line (`bfs`, `pr` …).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Bfs => "bfs",
            Algorithm::Pr => "pr",
            Algorithm::Wcc => "wcc",
            Algorithm::Cdlp => "cdlp",
            Algorithm::Lcc => "lcc",
            Algorithm::Sssp => "sssp",
        }
    }

    /// The algorithm named `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<Algorithm> {
        let name = name.trim().to_ascii_lowercase();
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The suffix of its expected-output file (`NAME-BFS` …).
    pub fn suffix(self) -> &'static str {
        match self {
            Algorithm::Bfs => "BFS",
            Algorithm::Pr => "PR",
            Algorithm::Wcc => "WCC",
            Algorithm::Cdlp => "CDLP",
            Algorithm::Lcc => "LCC",
            Algorithm::Sssp => "SSSP",
        }
    }

    /// The Weir job that runs it.
    pub fn job(self) -> &'static str {
        match self {
            Algorithm::Bfs => "bfs",
            Algorithm::Pr => "pagerank",
            Algorithm::Wcc => "components",
            Algorithm::Cdlp => "cdlp",
            Algorithm::Lcc => "lcc",
            Algorithm::Sssp => "sssp",
        }
    }
}

/// The algorithms a properties file lists (`graph.NAME.algorithms = bfs, pr, …`), in the
/// specification's order; unknown names are skipped.
pub fn listed_algorithms(properties: &Path) -> std::io::Result<Vec<Algorithm>> {
    let text = std::fs::read_to_string(properties)?;
    let mut found: Vec<Algorithm> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim().ends_with(".algorithms"))
        .flat_map(|(_, v)| {
            v.split(',')
                .filter_map(Algorithm::parse)
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// Reads `vertex value` lines (space or tab separated) into a map; a malformed or
/// repeated vertex is an error naming the file and line.
pub fn read_output(path: &Path) -> Result<BTreeMap<u64, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_output(&text).map_err(|(line, m)| format!("{}:{line}: {m}", path.display()))
}

/// Parses `vertex value` lines; an error gives the line number and what is wrong.
pub fn parse_output(text: &str) -> Result<BTreeMap<u64, String>, (usize, String)> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(v), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err((i + 1, format!("expected `vertex value`, got {line:?}")));
        };
        let v: u64 = v
            .parse()
            .map_err(|_| (i + 1, format!("bad vertex id {v:?}")))?;
        if out.insert(v, value.to_string()).is_some() {
            return Err((i + 1, format!("vertex {v} appears twice")));
        }
    }
    Ok(out)
}

/// Checks `got` against `expected` by `algorithm`'s rule; on failure, says what differs
/// at the first differing vertex.
pub fn validate(
    algorithm: Algorithm,
    expected: &BTreeMap<u64, String>,
    got: &BTreeMap<u64, String>,
) -> Result<(), String> {
    if let Some(v) = expected.keys().find(|v| !got.contains_key(v)) {
        return Err(format!("vertex {v} is missing from the output"));
    }
    if let Some(v) = got.keys().find(|v| !expected.contains_key(v)) {
        return Err(format!("vertex {v} is not in the expected output"));
    }
    match algorithm {
        Algorithm::Bfs | Algorithm::Cdlp => compare(
            expected,
            got,
            |e, g| matches!((e.parse::<i128>(), g.parse::<i128>()), (Ok(a), Ok(b)) if a == b),
        ),
        Algorithm::Pr | Algorithm::Lcc | Algorithm::Sssp => compare(expected, got, close),
        Algorithm::Wcc => same_grouping(expected, got),
    }
}

fn compare(
    expected: &BTreeMap<u64, String>,
    got: &BTreeMap<u64, String>,
    equal: impl Fn(&str, &str) -> bool,
) -> Result<(), String> {
    for (v, e) in expected {
        let g = &got[v];
        if !equal(e, g) {
            return Err(format!("vertex {v}: expected {e}, got {g}"));
        }
    }
    Ok(())
}

/// Equal within a relative 1e-4 (infinities equal when both are).
fn close(e: &str, g: &str) -> bool {
    match (e.parse::<f64>(), g.parse::<f64>()) {
        (Ok(a), Ok(b)) if a.is_infinite() || b.is_infinite() => a == b,
        (Ok(a), Ok(b)) => (a - b).abs() <= 1e-4 * a.abs().max(b.abs()) || (a - b).abs() < 1e-12,
        _ => false,
    }
}

/// The same partition of the vertices: a one-to-one map between the two label sets.
fn same_grouping(
    expected: &BTreeMap<u64, String>,
    got: &BTreeMap<u64, String>,
) -> Result<(), String> {
    let mut forward: HashMap<&str, &str> = HashMap::new();
    let mut backward: HashMap<&str, &str> = HashMap::new();
    for (v, e) in expected {
        let g = got[v].as_str();
        let f = *forward.entry(e.as_str()).or_insert(g);
        let b = *backward.entry(g).or_insert(e.as_str());
        if f != g || b != e {
            return Err(format!(
                "vertex {v}: its component (expected label {e}, got {g}) groups other vertices than expected"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> BTreeMap<u64, String> {
        parse_output(text).unwrap()
    }

    #[test]
    fn exact_rules_and_tolerances_follow_the_specification() {
        let e = map("1 0\n2 9223372036854775807\n");
        assert!(validate(Algorithm::Bfs, &e, &map("1\t0\n2\t9223372036854775807\n")).is_ok());
        let err = validate(Algorithm::Bfs, &e, &map("1 0\n2 3\n")).unwrap_err();
        assert!(err.starts_with("vertex 2:"), "{err}");
        let e = map("1 0.5\n2 infinity\n");
        assert!(validate(Algorithm::Sssp, &e, &map("1 0.50004\n2 infinity\n")).is_ok());
        assert!(validate(Algorithm::Sssp, &e, &map("1 0.5002\n2 infinity\n")).is_err());
        assert!(validate(Algorithm::Sssp, &e, &map("1 0.5\n2 1e300\n")).is_err());
        assert!(validate(Algorithm::Sssp, &e, &map("1 0.5\n")).is_err());
    }

    #[test]
    fn wcc_accepts_any_labels_with_the_same_grouping() {
        let e = map("1 1\n2 1\n3 3\n");
        assert!(validate(Algorithm::Wcc, &e, &map("1 7\n2 7\n3 4\n")).is_ok());
        assert!(validate(Algorithm::Wcc, &e, &map("1 7\n2 7\n3 7\n")).is_err());
        assert!(validate(Algorithm::Wcc, &e, &map("1 7\n2 8\n3 4\n")).is_err());
    }

    #[test]
    fn malformed_output_lines_are_refused_with_their_line() {
        assert_eq!(parse_output("1 2\nx 3\n").unwrap_err().0, 2);
        assert_eq!(parse_output("1 2\n1 3\n").unwrap_err().0, 2);
        assert_eq!(parse_output("1 2 3\n").unwrap_err().0, 1);
    }
}
