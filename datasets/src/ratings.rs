//! Ratings for matrix factorisation: `(row, col, value)` triples, one a line (`row col
//! value`, separated by tabs, spaces or commas; `#` comments), kept as a compact
//! [`RatingBlock`] of three flat vectors. A malformed line is refused naming file and line.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};

/// Ratings, column by column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RatingBlock {
    pub rows: Vec<u32>,
    pub cols: Vec<u32>,
    pub values: Vec<f32>,
}

impl RatingBlock {
    /// Ratings held.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// One past the largest row and column.
    pub fn bounds(&self) -> (u32, u32) {
        let bound = |v: &[u32]| v.iter().max().map_or(0, |m| m + 1);
        (bound(&self.rows), bound(&self.cols))
    }

    /// Appends the rating of one line; `Ok(false)` for a blank or comment line.
    pub fn push_line(&mut self, line: &str, path: &Path, line_no: u64) -> Result<bool> {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            return Ok(false);
        }
        let bad = |m: String| DatasetError::malformed(path, line_no, m);
        let mut fields = content
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|f| !f.is_empty());
        let mut index = |what: &str| -> Result<u32> {
            let f = fields
                .next()
                .ok_or_else(|| bad(format!("no {what} (want `row col value`)")))?;
            f.parse()
                .map_err(|_| bad(format!("{what} {f:?} is not a whole number")))
        };
        let row = index("row")?;
        let col = index("col")?;
        let value = match fields.next() {
            Some(f) => f
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("value {f:?} is not a finite number")))?,
            None => return Err(bad("no value (want `row col value`)".into())),
        };
        if let Some(extra) = fields.next() {
            return Err(bad(format!("{extra:?} after `row col value`")));
        }
        self.rows.push(row);
        self.cols.push(col);
        self.values.push(value);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_append_and_bad_lines_are_refused() {
        let p = Path::new("r.txt");
        let mut b = RatingBlock::default();
        assert!(b.push_line("3 7 4.5", p, 1).unwrap());
        assert!(b.push_line("0,2,-1", p, 2).unwrap());
        assert!(!b.push_line("# header", p, 3).unwrap());
        for bad in ["1 2", "a 2 3", "1 2 x", "1 2 nan", "1 2 3 4", "-1 2 3"] {
            let e = b.push_line(bad, p, 9).unwrap_err();
            assert!(e.to_string().starts_with("r.txt:9: "), "{bad}: {e}");
        }
        assert_eq!(b.len(), 2);
        assert_eq!(b.bounds(), (4, 8));
    }
}
