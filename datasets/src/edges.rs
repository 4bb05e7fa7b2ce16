//! SNAP-style edge lists: one `src dst [weight]` edge a line, fields separated by
//! runs of tabs or spaces, `#` comment lines and blank lines ignored.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};

/// A directed edge, with its weight when the file has a third column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub src: u64,
    pub dst: u64,
    pub weight: Option<f64>,
}

/// Parses one line of an edge list; `None` for a comment or blank line. A
/// non-integer vertex id, a non-numeric or non-finite weight, or a field count
/// other than 2 or 3 is a [`DatasetError::Malformed`] error naming `path` and
/// `line_no`.
pub fn parse_edge_line(line: &str, path: &Path, line_no: u64) -> Result<Option<Edge>> {
    if let Some(edge) = parse_plain_edge(line.as_bytes()) {
        return Ok(Some(edge));
    }
    let trimmed = line.trim_ascii_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let mut fields = trimmed.split_ascii_whitespace();
    let bad = |message: String| DatasetError::malformed(path, line_no, message);
    let id = |field: Option<&str>, what: &str| -> Result<u64> {
        let field = field.ok_or_else(|| bad(format!("missing {what} vertex id")))?;
        field.parse().map_err(|_| {
            bad(format!(
                "{what} vertex id {field:?} is not a non-negative integer"
            ))
        })
    };
    let src = id(fields.next(), "source")?;
    let dst = id(fields.next(), "destination")?;
    let weight = match fields.next() {
        None => None,
        Some(w) => match w.parse::<f64>() {
            Ok(v) if v.is_finite() => Some(v),
            _ => return Err(bad(format!("weight {w:?} is not a finite number"))),
        },
    };
    if fields.next().is_some() {
        let count = trimmed.split_ascii_whitespace().count();
        return Err(bad(format!(
            "expected `src dst` or `src dst weight`, found {count} fields"
        )));
    }
    Ok(Some(Edge { src, dst, weight }))
}

/// The common line, `src dst` in plain decimal digits separated by spaces or tabs, read
/// byte by byte; `None` for anything else, which the general parser then handles (and
/// reads the same way).
fn parse_plain_edge(line: &[u8]) -> Option<Edge> {
    let blank = |b: u8| b == b' ' || b == b'\t';
    let mut i = 0;
    while i < line.len() && blank(line[i]) {
        i += 1;
    }
    let (src, after_src) = parse_digits(line, i)?;
    i = after_src;
    while i < line.len() && blank(line[i]) {
        i += 1;
    }
    if i == after_src {
        return None;
    }
    let (dst, after_dst) = parse_digits(line, i)?;
    i = after_dst;
    while i < line.len() && (blank(line[i]) || line[i] == b'\r') {
        i += 1;
    }
    (i == line.len()).then_some(Edge {
        src,
        dst,
        weight: None,
    })
}

/// The decimal number starting at `line[at]` and the index after it; `None` without a
/// digit there or on overflow.
fn parse_digits(line: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    let mut i = at;
    while i < line.len() && line[i].is_ascii_digit() {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(line[i] - b'0'))?;
        i += 1;
    }
    (i > at).then_some((value, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Option<Edge>> {
        parse_edge_line(line, Path::new("g.txt"), 4)
    }

    #[test]
    fn the_fast_path_reads_lines_as_the_general_parser_does() {
        for line in [
            "1 2",
            "  1\t\t2  ",
            "1 2\r",
            "007 8",
            "18446744073709551615 0",
        ] {
            let fast = parse_plain_edge(line.as_bytes());
            assert!(fast.is_some(), "{line:?}");
            // The general parser, reached with the fast path skipped.
            let trimmed = line.trim_ascii();
            let mut f = trimmed.split_ascii_whitespace();
            let want = (
                f.next().unwrap().parse::<u64>().unwrap(),
                f.next().unwrap().parse::<u64>().unwrap(),
            );
            let fast = fast.unwrap();
            assert_eq!(
                (fast.src, fast.dst, fast.weight),
                (want.0, want.1, None),
                "{line:?}"
            );
        }
        // Left to the general parser: weights, signs, overflow, one field, comments.
        for line in [
            "1 2 0.5",
            "+1 2",
            "18446744073709551616 1",
            "12",
            "# 1 2",
            "1 2 x",
            "1,2",
            "",
        ] {
            assert!(parse_plain_edge(line.as_bytes()).is_none(), "{line:?}");
        }
        assert!(parse("18446744073709551616 1").is_err());
        assert_eq!(parse("+1 2").unwrap().map(|e| e.src), Some(1));
    }

    #[test]
    fn accepts_tabs_spaces_and_weights() {
        let e = |src, dst, weight| Some(Edge { src, dst, weight });
        assert_eq!(parse("30\t1412").unwrap(), e(30, 1412, None));
        assert_eq!(parse("  1   3 0.5\r").unwrap(), e(1, 3, Some(0.5)));
        assert_eq!(parse("2 \t 10\t1e-3").unwrap(), e(2, 10, Some(0.001)));
        assert_eq!(parse("# FromNodeId\tToNodeId").unwrap(), None);
        assert_eq!(parse("   ").unwrap(), None);
        assert_eq!(parse("").unwrap(), None);
    }

    #[test]
    fn rejects_bad_lines_with_path_and_line() {
        for bad in ["1", "a 2", "1 -2", "1 2 x", "1 2 3 4", "1 2 NaN", "1.5 2"] {
            let err = parse(bad).unwrap_err();
            assert!(
                matches!(&err, DatasetError::Malformed { line: 4, .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().starts_with("g.txt:4: "), "{err}");
        }
    }

    #[test]
    fn parses_the_snap_sample_when_present() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/graphs/wiki-Vote.txt"
        ));
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipping: {} is absent", path.display());
            return;
        };
        let mut edges = 0;
        for (i, line) in text.lines().enumerate() {
            if parse_edge_line(line, path, i as u64 + 1).unwrap().is_some() {
                edges += 1;
            }
        }
        assert_eq!(edges, 103_689);
    }
}
