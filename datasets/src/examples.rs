//! Labelled examples for machine learning, kept compact: an [`ExampleBlock`] holds many
//! rows in a few flat vectors (labels, and the features as CSR arrays or as a dense
//! matrix), never a vector per row. Rows come from LIBSVM lines (sparse) or from CSV
//! lines with a header naming a `label` column and numeric feature columns (dense).
//!
//! What a label may be is the reader's [`LabelRule`]; a feature index beyond a model's
//! features can be refused as the line is read. Every refusal names file and line.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::libsvm::parse_libsvm_into;

/// Rows of labelled examples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExampleBlock {
    pub labels: Vec<f32>,
    /// Sparse rows: row `i`'s features are `offsets[i]..offsets[i + 1]` of `indices` and
    /// `values`. Empty for dense rows.
    pub offsets: Vec<u64>,
    pub indices: Vec<u32>,
    /// Sparse rows: each feature's value; dense rows: `width` values a row.
    pub values: Vec<f32>,
    /// Features per row when the rows are dense.
    pub dense_width: Option<u32>,
}

/// One row of a block: its label and features (`indices` is `None` for a dense row, whose
/// feature `j` is `values[j]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExampleRow<'a> {
    pub label: f32,
    pub indices: Option<&'a [u32]>,
    pub values: &'a [f32],
}

/// What a label may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabelRule {
    /// Two classes: `0`/`1`, or `-1`/`+1` (read as 0 and 1).
    Binary,
    /// Class numbers `0..n`.
    Classes(u32),
    /// Any finite number (a regression target).
    Any,
}

impl LabelRule {
    /// The label `raw` stands for, or why it is refused.
    pub fn check(self, raw: f64) -> std::result::Result<f32, String> {
        match self {
            LabelRule::Binary if raw == 0.0 || raw == -1.0 => Ok(0.0),
            LabelRule::Binary if raw == 1.0 => Ok(1.0),
            LabelRule::Binary => Err(format!("label {raw} is not 0/1 or -1/+1")),
            LabelRule::Classes(n) if raw >= 0.0 && raw.fract() == 0.0 && raw < f64::from(n) => {
                Ok(raw as f32)
            }
            LabelRule::Classes(n) => Err(format!("label {raw} is not a class in 0..{n}")),
            LabelRule::Any if raw.is_finite() => Ok(raw as f32),
            LabelRule::Any => Err(format!("label {raw} is not a finite number")),
        }
    }
}

/// The columns of a dense CSV file, from its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvColumns {
    /// Columns per line.
    pub columns: usize,
    /// The `label` column.
    pub label: usize,
}

impl CsvColumns {
    /// Reads a header line: comma-separated names, one of them `label`.
    pub fn from_header(header: &str, path: &Path) -> Result<Self> {
        let names: Vec<&str> = header
            .trim_end_matches('\r')
            .split(',')
            .map(str::trim)
            .collect();
        let label = names
            .iter()
            .position(|n| *n == "label")
            .ok_or_else(|| DatasetError::malformed(path, 1, "the header has no `label` column"))?;
        if names.len() < 2 {
            return Err(DatasetError::malformed(
                path,
                1,
                "the header names no feature column",
            ));
        }
        Ok(CsvColumns {
            columns: names.len(),
            label,
        })
    }

    /// Feature columns per line.
    pub fn features(&self) -> u32 {
        (self.columns - 1) as u32
    }
}

impl ExampleBlock {
    /// An empty block of sparse rows.
    pub fn sparse() -> Self {
        ExampleBlock {
            offsets: vec![0],
            ..ExampleBlock::default()
        }
    }

    /// An empty block of dense rows of `width` features.
    pub fn dense(width: u32) -> Self {
        ExampleBlock {
            dense_width: Some(width),
            ..ExampleBlock::default()
        }
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> ExampleRow<'_> {
        match self.dense_width {
            Some(w) => {
                let w = w as usize;
                ExampleRow {
                    label: self.labels[i],
                    indices: None,
                    values: &self.values[i * w..(i + 1) * w],
                }
            }
            None => {
                let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
                ExampleRow {
                    label: self.labels[i],
                    indices: Some(&self.indices[a..b]),
                    values: &self.values[a..b],
                }
            }
        }
    }

    /// One past the largest feature index of any row (the features a model needs).
    pub fn feature_bound(&self) -> u32 {
        match self.dense_width {
            Some(w) => w,
            None => self.indices.iter().max().map_or(0, |m| m + 1),
        }
    }

    /// Appends the row of a LIBSVM line (a sparse block); `Ok(false)` for a blank or
    /// comment line. With `features`, an index at or past it is refused.
    pub fn push_libsvm(
        &mut self,
        line: &str,
        path: &Path,
        line_no: u64,
        rule: LabelRule,
        features: Option<u32>,
    ) -> Result<bool> {
        let mark = self.indices.len();
        let mut too_far = None;
        let parsed = parse_libsvm_into(line, path, line_no, |i, v| {
            if features.is_some_and(|f| i >= f) {
                too_far.get_or_insert(i);
            }
            self.indices.push(i);
            self.values.push(v);
        });
        let refused = |message: String| Err(DatasetError::malformed(path, line_no, message));
        let outcome = match parsed {
            Ok(None) => Ok(false),
            Ok(Some(raw)) => match (rule.check(raw), too_far) {
                (Err(why), _) => refused(why),
                (Ok(_), Some(i)) => refused(format!(
                    "feature index {i} is beyond the model's {} features",
                    features.unwrap_or(0)
                )),
                (Ok(label), None) => {
                    self.labels.push(label);
                    self.offsets.push(self.indices.len() as u64);
                    return Ok(true);
                }
            },
            Err(e) => Err(e),
        };
        self.indices.truncate(mark);
        self.values.truncate(mark);
        outcome
    }

    /// Appends the row of a CSV line laid out as `columns` (a dense block); `Ok(false)`
    /// for a blank line.
    pub fn push_csv(
        &mut self,
        line: &str,
        path: &Path,
        line_no: u64,
        columns: &CsvColumns,
        rule: LabelRule,
    ) -> Result<bool> {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            return Ok(false);
        }
        let mark = self.values.len();
        let refuse = |block: &mut ExampleBlock, message: String| {
            block.values.truncate(mark);
            Err(DatasetError::malformed(path, line_no, message))
        };
        let mut label = None;
        let mut count = 0;
        for (c, field) in line.split(',').enumerate() {
            count += 1;
            let field = field.trim();
            let Some(value) = field.parse::<f64>().ok().filter(|v| v.is_finite()) else {
                return refuse(
                    self,
                    format!("column {} ({field:?}) is not a finite number", c + 1),
                );
            };
            if c == columns.label {
                label = Some(value);
            } else {
                self.values.push(value as f32);
            }
        }
        if count != columns.columns {
            return refuse(
                self,
                format!("{count} columns where the header has {}", columns.columns),
            );
        }
        match rule.check(label.unwrap_or(f64::NAN)) {
            Ok(label) => {
                self.labels.push(label);
                Ok(true)
            }
            Err(why) => refuse(self, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libsvm_rows_append_to_csr_arrays_and_bad_rows_leave_nothing() {
        let p = Path::new("t.libsvm");
        let mut b = ExampleBlock::sparse();
        assert!(b
            .push_libsvm("1 2:0.5 7:1", p, 1, LabelRule::Binary, None)
            .unwrap());
        assert!(!b
            .push_libsvm("# comment", p, 2, LabelRule::Binary, None)
            .unwrap());
        assert!(b
            .push_libsvm("-1 3:2", p, 3, LabelRule::Binary, Some(8))
            .unwrap());
        let before = b.clone();
        for (line, why) in [
            ("2 1:1", "not 0/1"),
            ("1 4:1 9:1", "beyond the model's 8 features"),
            ("1 5:1 4:1", "does not come after"),
            ("1 5:nan", "finite"),
        ] {
            let err = b
                .push_libsvm(line, p, 9, LabelRule::Binary, Some(8))
                .unwrap_err();
            assert!(err.to_string().starts_with("t.libsvm:9: "), "{err}");
            assert!(err.to_string().contains(why), "{err}");
            assert_eq!(b, before, "{line} left part of itself");
        }
        assert_eq!(b.len(), 2);
        let r = b.row(1);
        assert_eq!(
            (r.label, r.indices, r.values),
            (0.0, Some(&[3u32][..]), &[2.0f32][..])
        );
        assert_eq!(b.feature_bound(), 8);
    }

    #[test]
    fn csv_rows_need_the_header_columns_and_numbers() {
        let p = Path::new("t.csv");
        let cols = CsvColumns::from_header("f0,label,f1", p).unwrap();
        assert_eq!(cols.features(), 2);
        let mut b = ExampleBlock::dense(2);
        assert!(b
            .push_csv("0.5,1,2", p, 2, &cols, LabelRule::Binary)
            .unwrap());
        assert!(b
            .push_csv("1,3,-2\r", p, 3, &cols, LabelRule::Classes(4))
            .unwrap());
        for bad in ["1,1", "1,1,2,3", "x,1,2", "1,NaN,2", "1,0.5,2"] {
            let err = b.push_csv(bad, p, 4, &cols, LabelRule::Binary).unwrap_err();
            assert!(err.to_string().starts_with("t.csv:4: "), "{bad}: {err}");
        }
        assert_eq!(b.len(), 2);
        assert_eq!(b.row(1).values, &[1.0, -2.0]);
        assert_eq!(b.row(1).label, 3.0);
        assert!(CsvColumns::from_header("a,b", p).is_err());
    }
}
