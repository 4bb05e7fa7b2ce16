//! `save`: writes a dataset as a directory of part files, one per partition
//! (`part-00000.tsv` …, or Parquet), atomically: parts go into a staging directory and the
//! driver renames it into place only when every task succeeded, so a failed job leaves no
//! half-written output. A retried task overwrites its own part (written to a temporary
//! name, then renamed).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_datasets::{
    part_file_name, write_parquet_rows, ColumnType, CsvSchema, CsvValue, OutputStaging,
};
use weir_engine::shuffle::block::{decode_value, encode_value};
use weir_engine::{Error, Result, TaskError};

use crate::action::FnResultTask;
use crate::dataset::{Data, Dataset};

/// One column of an output row.
pub trait Field {
    /// The column's type in Parquet output.
    const TYPE: ColumnType;
    /// Appends the TSV text of the value.
    fn write_text(&self, out: &mut Vec<u8>);
    /// The value for Parquet output.
    fn value(&self) -> CsvValue;
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const TYPE: ColumnType = ColumnType::Int;
            fn write_text(&self, out: &mut Vec<u8>) {
                let _ = write!(out, "{self}");
            }
            fn value(&self) -> CsvValue {
                CsvValue::Int(*self as i64)
            }
        }
    )*};
}
int_field!(u8, u16, u32, u64, usize, i8, i16, i32, i64);

impl Field for f64 {
    const TYPE: ColumnType = ColumnType::Float;
    /// Infinities are written `infinity` and `-infinity` (as Graphalytics writes an
    /// unreachable vertex's distance); both parse back as `f64`.
    fn write_text(&self, out: &mut Vec<u8>) {
        if self.is_infinite() {
            out.extend_from_slice(if *self > 0.0 {
                b"infinity"
            } else {
                b"-infinity"
            });
            return;
        }
        let _ = write!(out, "{self}");
    }
    fn value(&self) -> CsvValue {
        CsvValue::Float(*self)
    }
}

impl Field for f32 {
    const TYPE: ColumnType = ColumnType::Float;
    fn write_text(&self, out: &mut Vec<u8>) {
        let _ = write!(out, "{self}");
    }
    fn value(&self) -> CsvValue {
        CsvValue::Float(*self as f64)
    }
}

impl Field for bool {
    const TYPE: ColumnType = ColumnType::Bool;
    fn write_text(&self, out: &mut Vec<u8>) {
        let _ = write!(out, "{self}");
    }
    fn value(&self) -> CsvValue {
        CsvValue::Bool(*self)
    }
}

impl Field for String {
    const TYPE: ColumnType = ColumnType::Str;
    fn write_text(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn value(&self) -> CsvValue {
        CsvValue::Str(self.clone())
    }
}

impl Field for Arc<str> {
    const TYPE: ColumnType = ColumnType::Str;
    fn write_text(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn value(&self) -> CsvValue {
        CsvValue::Str(self.to_string())
    }
}

impl<F: Field> Field for Vec<F> {
    const TYPE: ColumnType = ColumnType::Str;
    /// Elements joined by commas.
    fn write_text(&self, out: &mut Vec<u8>) {
        for (i, f) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            f.write_text(out);
        }
    }
    fn value(&self) -> CsvValue {
        let mut s = Vec::new();
        self.write_text(&mut s);
        CsvValue::Str(String::from_utf8_lossy(&s).into_owned())
    }
}

/// A record that can be saved: a single field or a tuple of fields.
pub trait Row {
    /// Column names and types.
    fn columns() -> Vec<(String, ColumnType)>;
    /// Appends the record as one TSV line (with its newline).
    fn write_tsv(&self, out: &mut Vec<u8>);
    /// The record's values, for Parquet.
    fn values(&self) -> Vec<CsvValue>;
}

impl<F: Field> Row for F {
    fn columns() -> Vec<(String, ColumnType)> {
        vec![("value".into(), F::TYPE)]
    }
    fn write_tsv(&self, out: &mut Vec<u8>) {
        self.write_text(out);
        out.push(b'\n');
    }
    fn values(&self) -> Vec<CsvValue> {
        vec![self.value()]
    }
}

impl<A: Field, B: Field> Row for (A, B) {
    fn columns() -> Vec<(String, ColumnType)> {
        vec![("key".into(), A::TYPE), ("value".into(), B::TYPE)]
    }
    fn write_tsv(&self, out: &mut Vec<u8>) {
        self.0.write_text(out);
        out.push(b'\t');
        self.1.write_text(out);
        out.push(b'\n');
    }
    fn values(&self) -> Vec<CsvValue> {
        vec![self.0.value(), self.1.value()]
    }
}

impl<A: Field, B: Field, C: Field> Row for (A, B, C) {
    fn columns() -> Vec<(String, ColumnType)> {
        vec![
            ("c0".into(), A::TYPE),
            ("c1".into(), B::TYPE),
            ("c2".into(), C::TYPE),
        ]
    }
    fn write_tsv(&self, out: &mut Vec<u8>) {
        self.0.write_text(out);
        out.push(b'\t');
        self.1.write_text(out);
        out.push(b'\t');
        self.2.write_text(out);
        out.push(b'\n');
    }
    fn values(&self) -> Vec<CsvValue> {
        vec![self.0.value(), self.1.value(), self.2.value()]
    }
}

/// What `save` wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveSummary {
    pub records: u64,
    pub bytes: u64,
    pub parts: usize,
}

/// Output format of part files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Tsv,
    Parquet,
    Raw,
}

fn io_failed(path: &Path, e: std::io::Error) -> TaskError {
    TaskError::failed(format!("{}: {e}", path.display()))
}

/// Writes `bytes` as part `name` in `dir`: to a temporary name first, then renamed.
fn write_part(dir: &Path, name: &str, attempt: u32, bytes: &[u8]) -> Result<(), TaskError> {
    let tmp = dir.join(format!(".{name}.attempt-{attempt}"));
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_failed(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io_failed(&tmp, e))?;
    drop(f);
    let dst = dir.join(name);
    std::fs::rename(&tmp, &dst).map_err(|e| io_failed(&dst, e))
}

impl<T: Data> Dataset<T> {
    fn save_as(
        &self,
        dir: &Path,
        format: Format,
        encode: impl Fn(Vec<T>, &mut Vec<u8>, &Path) -> Result<(), TaskError> + Send + Sync + 'static,
    ) -> Result<SaveSummary> {
        let mut staging: Option<OutputStaging> = None;
        let dir = dir.to_path_buf();
        let staging_path: PathBuf = self.ctx.driver_value(|| {
            let s = OutputStaging::create(&dir)?;
            let p = s.path().to_path_buf();
            staging = Some(s);
            Ok(p)
        })?;
        let ext = match format {
            Format::Tsv => "tsv",
            Format::Parquet => "parquet",
            Format::Raw => "dat",
        };
        let node = self.node.clone();
        let target = staging_path.clone();
        let task = FnResultTask(move |p, tc: &weir_engine::TaskContext| {
            let records: Vec<T> = node.compute(p, tc)?.collect();
            tc.check()?;
            let n = records.len() as u64;
            let name = part_file_name(p, ext);
            let mut bytes = Vec::new();
            encode(records, &mut bytes, &target.join(&name))?;
            if format != Format::Parquet {
                write_part(&target, &name, tc.attempt, &bytes)?;
            }
            tc.with_metrics(|m| m.records_out += n);
            encode_value(&SaveSummary {
                records: n,
                bytes: bytes.len() as u64,
                parts: 1,
            })
        });
        self.ctx
            .run_action("save", self.id, Arc::new(task), move |parts| {
                let mut total = SaveSummary::default();
                for bytes in parts {
                    let s: SaveSummary = decode_value(&bytes)?;
                    total.records += s.records;
                    total.bytes += s.bytes;
                    total.parts += s.parts;
                }
                if let Some(s) = staging.take() {
                    s.commit().map_err(Error::from)?;
                }
                Ok(total)
            })
    }

    /// Writes the records to `dir` in the job's output format (`--format`: TSV, one record
    /// per line, tab between fields; or Parquet).
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let dir = tempfile::tempdir().unwrap();
    /// let out = dir.path().join("counts");
    /// let o = out.clone();
    /// weir_operators::testing::local(move |ctx| ctx.parallelize(vec![("a".to_string(), 1u64)], 1)?.save(&o));
    /// assert_eq!(std::fs::read_to_string(out.join("part-00000.tsv")).unwrap(), "a\t1\n");
    /// ```
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<SaveSummary>
    where
        T: Row,
    {
        if self.ctx.options().format == "parquet" {
            self.save_as(dir.as_ref(), Format::Parquet, |records, bytes, path| {
                let schema = CsvSchema {
                    columns: T::columns(),
                };
                let rows: Vec<Vec<CsvValue>> = records.iter().map(Row::values).collect();
                write_parquet_rows(path, &schema, &rows)?;
                bytes.extend_from_slice(&(rows.len() as u64).to_le_bytes());
                Ok(())
            })
        } else {
            self.save_as(dir.as_ref(), Format::Tsv, |records, bytes, _| {
                for r in &records {
                    r.write_tsv(bytes);
                }
                Ok(())
            })
        }
    }
}

impl Dataset<Vec<u8>> {
    /// Writes the records' bytes unchanged, back to back (`part-00000.dat` …).
    pub fn save_raw(&self, dir: impl AsRef<Path>) -> Result<SaveSummary> {
        self.save_as(dir.as_ref(), Format::Raw, |records, bytes, _| {
            for r in &records {
                bytes.extend_from_slice(r);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::{local, try_local};

    #[test]
    fn one_part_per_partition_and_an_existing_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let o = out.clone();
        let s = local(move |ctx| ctx.parallelize(vec![(1u32, 2.5f64), (2, 3.0)], 3)?.save(&o));
        assert_eq!((s.records, s.parts), (2, 3));
        let mut all = String::new();
        for p in 0..3 {
            all += &std::fs::read_to_string(out.join(format!("part-{p:05}.tsv"))).unwrap();
        }
        assert_eq!(all, "1\t2.5\n2\t3\n");
        std::fs::write(out.join("keep"), "x").unwrap();
        let o = out.clone();
        assert!(try_local(1, move |ctx| ctx.parallelize(vec![1u32], 1)?.save(&o)).is_err());
        assert_eq!(std::fs::read_to_string(out.join("keep")).unwrap(), "x");
    }
}
