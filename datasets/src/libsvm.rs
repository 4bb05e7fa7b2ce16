//! LIBSVM / SVMlight sparse rows: `label index:value index:value ...`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};

/// One labelled sparse row, features in file order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibsvmRow {
    pub label: f64,
    pub features: Vec<(u32, f32)>,
}

/// Parses one LIBSVM line; `None` for a blank or `#` comment line. Text after a `#`
/// is a comment and `qid:` tokens (ranking groups) are skipped. Indices must ascend
/// strictly and values be finite numbers. A bad label or token is a
/// [`DatasetError::Malformed`] error naming `path` and `line_no`.
pub fn parse_libsvm_line(line: &str, path: &Path, line_no: u64) -> Result<Option<LibsvmRow>> {
    let mut features = Vec::new();
    let label = parse_libsvm_into(line, path, line_no, |i, v| features.push((i, v)))?;
    Ok(label.map(|label| LibsvmRow { label, features }))
}

/// Parses one LIBSVM line like [`parse_libsvm_line`], handing each feature to `feature`
/// (so a reader can append rows to a block without a vector per row); returns the label,
/// `None` for a blank or comment line. On an error some features may have been handed
/// over: the caller drops the row.
pub fn parse_libsvm_into(
    line: &str,
    path: &Path,
    line_no: u64,
    mut feature: impl FnMut(u32, f32),
) -> Result<Option<f64>> {
    let content = match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    };
    let mut tokens = content.split_ascii_whitespace();
    let Some(label_text) = tokens.next() else {
        return Ok(None);
    };
    let bad = |message: String| DatasetError::malformed(path, line_no, message);
    let label: f64 = label_text
        .parse()
        .ok()
        .filter(|l: &f64| l.is_finite())
        .ok_or_else(|| bad(format!("label {label_text:?} is not a number")))?;
    let mut previous: Option<u32> = None;
    for token in tokens {
        let Some((index, value)) = token.split_once(':') else {
            return Err(bad(format!("token {token:?} is not index:value")));
        };
        if index == "qid" {
            continue;
        }
        let index: u32 = index
            .parse()
            .map_err(|_| bad(format!("feature index in {token:?} is not an integer")))?;
        if previous.is_some_and(|p| index <= p) {
            return Err(bad(format!(
                "feature index {index} does not come after {}",
                previous.unwrap_or(0)
            )));
        }
        let value: f32 = value
            .parse()
            .ok()
            .filter(|v: &f32| v.is_finite())
            .ok_or_else(|| bad(format!("feature value in {token:?} is not a finite number")))?;
        feature(index, value);
        previous = Some(index);
    }
    Ok(Some(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_comments_and_blanks() {
        let p = Path::new("a.libsvm");
        let row = parse_libsvm_line("+1 2:-2e1 3:1 10:0.5 # note", p, 1)
            .unwrap()
            .unwrap();
        assert_eq!(row.label, 1.0);
        assert_eq!(row.features, vec![(2, -20.0), (3, 1.0), (10, 0.5)]);
        let row = parse_libsvm_line("0 qid:3 1:1", p, 2).unwrap().unwrap();
        assert_eq!(row.features, vec![(1, 1.0)]);
        assert_eq!(parse_libsvm_line("-1", p, 3).unwrap().unwrap().label, -1.0);
        assert!(parse_libsvm_line("   ", p, 4).unwrap().is_none());
        assert!(parse_libsvm_line("# header", p, 5).unwrap().is_none());
    }

    #[test]
    fn bad_tokens_are_malformed() {
        let p = Path::new("a.libsvm");
        for bad in [
            "x 1:1",
            "1 1",
            "1 a:1",
            "1 1:b",
            "1 -3:1",
            "1 1:2:3",
            "1 3:1 2:1",
            "1 2:1 2:1",
            "1 2:nan",
            "nan 1:1",
            "1 1:inf",
        ] {
            let err = parse_libsvm_line(bad, p, 7).unwrap_err();
            assert!(err.to_string().starts_with("a.libsvm:7: "), "{bad}: {err}");
        }
    }

    #[test]
    fn parses_agaricus_when_present() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/ml/agaricus.train.libsvm"
        ));
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipping: {} is absent", path.display());
            return;
        };
        let mut rows = 0;
        let mut max_index = 0;
        for (i, line) in text.lines().enumerate() {
            let row = parse_libsvm_line(line, path, i as u64 + 1)
                .unwrap()
                .unwrap();
            assert!(row.label == 0.0 || row.label == 1.0);
            assert!(!row.features.is_empty());
            max_index = max_index.max(row.features.iter().map(|f| f.0).max().unwrap());
            rows += 1;
        }
        assert_eq!(rows, 6513);
        assert!(max_index <= 126, "max index {max_index}");
    }
}
