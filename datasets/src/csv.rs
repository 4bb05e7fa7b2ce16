//! CSV files with a header line: schema inference over a sample of rows, and typed
//! parsing of single data lines as handed out by the text split reader.
//!
//! Records must not contain line breaks inside quoted fields, since splits cut
//! files at newlines; quoted fields with commas and doubled quotes are fine.

use std::cell::RefCell;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};

/// The type of a CSV column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    Int,
    Float,
    Bool,
    Str,
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Bool => "bool",
            ColumnType::Str => "string",
        })
    }
}

/// One typed cell; an empty cell is `Null` whatever its column's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CsvValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Null,
}

impl CsvValue {
    /// The value as a float, for `Int` and `Float`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            CsvValue::Int(v) => Some(*v as f64),
            CsvValue::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as an integer, for `Int`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            CsvValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The text of a `Str` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            CsvValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the value is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, CsvValue::Null)
    }
}

/// Formats the value as it would appear in a CSV or TSV cell; `Null` is empty.
impl fmt::Display for CsvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvValue::Int(v) => write!(f, "{v}"),
            CsvValue::Float(v) => write!(f, "{v}"),
            CsvValue::Bool(v) => write!(f, "{v}"),
            CsvValue::Str(s) => f.write_str(s),
            CsvValue::Null => Ok(()),
        }
    }
}

/// Column names and types, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvSchema {
    pub columns: Vec<(String, ColumnType)>,
}

impl CsvSchema {
    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The position of the first column called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }

    /// The column names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(n, _)| n.as_str())
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Which types every non-empty cell of a column seen so far fits.
#[derive(Clone, Copy)]
struct Votes {
    int: bool,
    float: bool,
    boolean: bool,
    seen: bool,
}

impl Votes {
    fn new() -> Self {
        Votes {
            int: true,
            float: true,
            boolean: true,
            seen: false,
        }
    }

    fn add(&mut self, cell: &str) {
        let t = cell.trim();
        if t.is_empty() {
            return;
        }
        self.seen = true;
        self.int = self.int && t.parse::<i64>().is_ok();
        self.float = self.float && t.parse::<f64>().is_ok();
        self.boolean = self.boolean && parse_bool(t).is_some();
    }

    fn column_type(&self) -> ColumnType {
        if !self.seen {
            ColumnType::Str
        } else if self.int {
            ColumnType::Int
        } else if self.float {
            ColumnType::Float
        } else if self.boolean {
            ColumnType::Bool
        } else {
            ColumnType::Str
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> DatasetError {
    let line = e.position().map(|p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => DatasetError::io(path, io),
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => DatasetError::malformed(
            path,
            pos.map(|p| p.line()).or(line).unwrap_or(0),
            format!("expected {expected_len} fields, found {len}"),
        ),
        other => match line {
            Some(line) => DatasetError::malformed(path, line, format!("{other:?}")),
            None => DatasetError::invalid(path, format!("{other:?}")),
        },
    }
}

/// Reads the header line of `path` and infers each column's type from the first
/// `sample_rows` rows: `Int` if every non-empty cell parses as `i64`, else `Float`
/// if every one parses as `f64`, else `Bool` for `true`/`false` (any case), else
/// `Str`. Empty cells do not vote; a column with no non-empty cell is `Str`.
pub fn infer_csv_schema(path: &Path, sample_rows: usize) -> Result<CsvSchema> {
    let file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .buffer_capacity(1 << 16)
        .from_reader(file);
    let header = reader
        .byte_headers()
        .map_err(|e| csv_error(path, e))?
        .clone();
    if header.is_empty() {
        return Err(DatasetError::invalid(path, "empty file: no header line"));
    }
    let names: Vec<String> = header
        .iter()
        .map(|n| String::from_utf8_lossy(n).trim().to_string())
        .collect();
    let mut votes = vec![Votes::new(); names.len()];
    let mut record = csv::ByteRecord::new();
    for _ in 0..sample_rows {
        if !reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(path, e))?
        {
            break;
        }
        for (vote, cell) in votes.iter_mut().zip(record.iter()) {
            vote.add(&String::from_utf8_lossy(cell));
        }
    }
    Ok(CsvSchema {
        columns: names
            .into_iter()
            .zip(votes.iter().map(Votes::column_type))
            .collect(),
    })
}

/// Per-thread scratch space of the line parser, reused across calls.
struct LineParser {
    reader: csv_core::Reader,
    output: Vec<u8>,
    ends: Vec<usize>,
}

thread_local! {
    static PARSER: RefCell<LineParser> = RefCell::new(LineParser {
        reader: csv_core::Reader::new(),
        output: vec![0; 1024],
        ends: vec![0; 64],
    });
}

impl LineParser {
    /// Splits one line into fields; returns the number of fields, or an error
    /// message when the line holds more than one record.
    fn split(&mut self, line: &[u8]) -> std::result::Result<usize, String> {
        use csv_core::ReadRecordResult::*;
        self.reader.reset();
        let mut input = line;
        let (mut outlen, mut endlen) = (0, 0);
        loop {
            let (res, nin, nout, nend) = self.reader.read_record(
                input,
                &mut self.output[outlen..],
                &mut self.ends[endlen..],
            );
            input = &input[nin..];
            outlen += nout;
            endlen += nend;
            match res {
                InputEmpty => continue,
                OutputFull => {
                    let grown = self.output.len() * 2;
                    self.output.resize(grown, 0);
                }
                OutputEndsFull => {
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                Record => {
                    if input.iter().any(|&b| b != b'\r' && b != b'\n') {
                        return Err("line break inside a record".into());
                    }
                    return Ok(endlen);
                }
                End => return Ok(endlen),
            }
        }
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.output[start..self.ends[i]]
    }
}

fn parse_cell(ty: ColumnType, cell: &str) -> Option<CsvValue> {
    let t = cell.trim();
    if t.is_empty() {
        return Some(CsvValue::Null);
    }
    match ty {
        ColumnType::Int => t.parse().ok().map(CsvValue::Int),
        ColumnType::Float => t.parse().ok().map(CsvValue::Float),
        ColumnType::Bool => parse_bool(t).map(CsvValue::Bool),
        ColumnType::Str => Some(CsvValue::Str(cell.to_string())),
    }
}

/// Parses one data line into values of the schema's column types.
///
/// An empty line is one empty field. A wrong number of fields or a cell that is not
/// of its column's type is a [`DatasetError::Malformed`] error naming `path` and
/// `line_no`.
pub fn parse_csv_line(
    schema: &CsvSchema,
    line: &str,
    path: &Path,
    line_no: u64,
) -> Result<Vec<CsvValue>> {
    if line.is_empty() {
        return if schema.len() == 1 {
            Ok(vec![CsvValue::Null])
        } else {
            Err(DatasetError::malformed(
                path,
                line_no,
                format!("empty line, expected {} fields", schema.len()),
            ))
        };
    }
    PARSER.with(|parser| {
        let mut parser = parser.borrow_mut();
        let count = parser
            .split(line.as_bytes())
            .map_err(|m| DatasetError::malformed(path, line_no, m))?;
        if count != schema.len() {
            return Err(DatasetError::malformed(
                path,
                line_no,
                format!("expected {} fields, found {count}", schema.len()),
            ));
        }
        let mut values = Vec::with_capacity(count);
        for (i, (name, ty)) in schema.columns.iter().enumerate() {
            // Fields are sub-slices of a valid UTF-8 line cut at ASCII bytes, with
            // only ASCII quotes removed, so they are valid UTF-8 too.
            let cell = String::from_utf8_lossy(parser.field(i));
            let value = parse_cell(*ty, &cell).ok_or_else(|| {
                DatasetError::malformed(
                    path,
                    line_no,
                    format!("column {name:?}: {cell:?} is not of type {ty}"),
                )
            })?;
            values.push(value);
        }
        Ok(values)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(cols: &[(&str, ColumnType)]) -> CsvSchema {
        CsvSchema {
            columns: cols.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
        }
    }

    #[test]
    fn infers_types_with_nulls_not_voting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(
            &path,
            "id,price,ok,name,blank,mixed\n\
             1,2.5,true,\"Smith, J\",,1\n\
             2,3,FALSE,bob,,x\n\
             ,,,,,\n\
             4,1e3,true,carol,,2\n\
             five,oops,maybe,dave,,3\n",
        )
        .unwrap();
        let s = infer_csv_schema(&path, 4).unwrap();
        assert_eq!(
            s,
            schema(&[
                ("id", ColumnType::Int),
                ("price", ColumnType::Float),
                ("ok", ColumnType::Bool),
                ("name", ColumnType::Str),
                ("blank", ColumnType::Str),
                ("mixed", ColumnType::Str),
            ])
        );
        // The fifth row is outside the sample and changes nothing; with it, id is Str.
        let all = infer_csv_schema(&path, 100).unwrap();
        assert_eq!(all.columns[0].1, ColumnType::Str);
        assert_eq!(all.columns[1].1, ColumnType::Str);
        assert_eq!(all.index_of("ok"), Some(2));
    }

    #[test]
    fn inference_reports_ragged_rows_with_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
        let err = infer_csv_schema(&path, 10).unwrap_err();
        assert!(
            matches!(&err, DatasetError::Malformed { line: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("r.csv:3:"));
        let empty = dir.path().join("e.csv");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(
            infer_csv_schema(&empty, 10),
            Err(DatasetError::Invalid { .. })
        ));
    }

    #[test]
    fn parses_typed_values_and_quotes() {
        let s = schema(&[
            ("id", ColumnType::Int),
            ("x", ColumnType::Float),
            ("ok", ColumnType::Bool),
            ("name", ColumnType::Str),
        ]);
        let p = Path::new("d.csv");
        let v = parse_csv_line(&s, r#"7, 1.5 ,True,"Smith, ""J""""#, p, 2).unwrap();
        assert_eq!(
            v,
            vec![
                CsvValue::Int(7),
                CsvValue::Float(1.5),
                CsvValue::Bool(true),
                CsvValue::Str("Smith, \"J\"".into())
            ]
        );
        let v = parse_csv_line(&s, ",,,", p, 3).unwrap();
        assert!(v.iter().all(CsvValue::is_null));
        let long = "é".repeat(3000);
        let v = parse_csv_line(&s, &format!("1,2,false,{long}"), p, 4).unwrap();
        assert_eq!(v[3], CsvValue::Str(long));
    }

    #[test]
    fn bad_lines_name_path_and_line() {
        let s = schema(&[("id", ColumnType::Int), ("x", ColumnType::Float)]);
        let p = Path::new("data/d.csv");
        let err = parse_csv_line(&s, "1,2,3", p, 9).unwrap_err();
        assert_eq!(err.to_string(), "data/d.csv:9: expected 2 fields, found 3");
        let err = parse_csv_line(&s, "x,2", p, 10).unwrap_err();
        assert!(matches!(err, DatasetError::Malformed { line: 10, .. }));
        assert!(err.to_string().contains("\"id\""));
        let err = parse_csv_line(&s, "", p, 11).unwrap_err();
        assert!(matches!(err, DatasetError::Malformed { line: 11, .. }));
        let err = parse_csv_line(&s, "1,2\r3,4", p, 12).unwrap_err();
        assert!(matches!(err, DatasetError::Malformed { line: 12, .. }));
    }

    #[test]
    fn display_and_serde_round_trip() {
        assert_eq!(CsvValue::Float(2.5).to_string(), "2.5");
        assert_eq!(CsvValue::Null.to_string(), "");
        let vals = vec![
            CsvValue::Int(-3),
            CsvValue::Float(0.25),
            CsvValue::Bool(false),
            CsvValue::Str("a".into()),
            CsvValue::Null,
        ];
        let json = serde_json::to_string(&vals).unwrap();
        let back: Vec<CsvValue> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vals);
    }
}
