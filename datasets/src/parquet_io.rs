//! Parquet input and output: one split per row group, Arrow record batches or
//! typed rows out, and a row writer for Parquet part files.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float32Array, Float64Array, Float64Builder,
    Int16Array, Int32Array, Int64Array, Int64Builder, Int8Array, LargeStringArray, StringArray,
    StringBuilder, StringViewArray, UInt16Array, UInt32Array, UInt8Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use crate::csv::{ColumnType, CsvSchema, CsvValue};
use crate::error::{DatasetError, Result};

/// Rows per record batch when reading, and per batch handed to the writer.
const BATCH_ROWS: usize = 64 * 1024;

/// One row group of one Parquet file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParquetSplit {
    pub path: PathBuf,
    pub row_group: usize,
    pub rows: u64,
}

fn open_builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| DatasetError::invalid(path, format!("not a readable Parquet file: {e}")))
}

/// Plans one split per row group of each file, reading only the footers. A file
/// that is not valid Parquet is an [`DatasetError::Invalid`] error naming it.
pub fn plan_parquet_splits(files: &[PathBuf]) -> Result<Vec<ParquetSplit>> {
    let mut splits = Vec::new();
    for path in files {
        let builder = open_builder(path)?;
        for (row_group, meta) in builder.metadata().row_groups().iter().enumerate() {
            splits.push(ParquetSplit {
                path: path.clone(),
                row_group,
                rows: u64::try_from(meta.num_rows()).unwrap_or(0),
            });
        }
    }
    Ok(splits)
}

/// Reads the split's row group as Arrow record batches.
pub fn read_parquet_split(split: &ParquetSplit) -> Result<Vec<RecordBatch>> {
    let path = &split.path;
    let builder = open_builder(path)?;
    let groups = builder.metadata().num_row_groups();
    if split.row_group >= groups {
        return Err(DatasetError::invalid(
            path,
            format!(
                "row group {} does not exist (the file has {groups})",
                split.row_group
            ),
        ));
    }
    let reader = builder
        .with_row_groups(vec![split.row_group])
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| DatasetError::invalid(path, e.to_string()))?;
    reader
        .map(|batch| {
            batch.map_err(|e| {
                DatasetError::invalid(path, format!("row group {}: {e}", split.row_group))
            })
        })
        .collect()
}

/// Reads the split as rows of [`CsvValue`]: integer columns give `Int`, floating
/// columns `Float`, booleans `Bool`, strings `Str` and nulls `Null`. A column of
/// any other type is an [`DatasetError::Invalid`] error.
pub fn read_parquet_rows(split: &ParquetSplit) -> Result<Vec<Vec<CsvValue>>> {
    let mut rows = Vec::with_capacity(usize::try_from(split.rows).unwrap_or(0));
    for batch in read_parquet_split(split)? {
        let base = rows.len();
        rows.extend((0..batch.num_rows()).map(|_| Vec::with_capacity(batch.num_columns())));
        for (col, field) in batch.columns().iter().zip(batch.schema().fields()) {
            let batch_rows = &mut rows[base..];
            append_column(col, batch_rows).map_err(|message| {
                DatasetError::invalid(&split.path, format!("column {:?}: {message}", field.name()))
            })?;
        }
    }
    Ok(rows)
}

/// Pushes each value of `col` onto the matching row.
fn append_column(col: &ArrayRef, rows: &mut [Vec<CsvValue>]) -> std::result::Result<(), String> {
    macro_rules! push_each {
        ($array:ty, $convert:expr) => {{
            let a = col
                .as_any()
                .downcast_ref::<$array>()
                .ok_or_else(|| format!("unexpected array for {}", col.data_type()))?;
            for (i, row) in rows.iter_mut().enumerate() {
                row.push(if a.is_null(i) {
                    CsvValue::Null
                } else {
                    $convert(a.value(i))
                });
            }
        }};
    }
    match col.data_type() {
        DataType::Int64 => push_each!(Int64Array, CsvValue::Int),
        DataType::Int32 => push_each!(Int32Array, |v| CsvValue::Int(i64::from(v))),
        DataType::Int16 => push_each!(Int16Array, |v| CsvValue::Int(i64::from(v))),
        DataType::Int8 => push_each!(Int8Array, |v| CsvValue::Int(i64::from(v))),
        DataType::UInt32 => push_each!(UInt32Array, |v| CsvValue::Int(i64::from(v))),
        DataType::UInt16 => push_each!(UInt16Array, |v| CsvValue::Int(i64::from(v))),
        DataType::UInt8 => push_each!(UInt8Array, |v| CsvValue::Int(i64::from(v))),
        DataType::Float64 => push_each!(Float64Array, CsvValue::Float),
        DataType::Float32 => push_each!(Float32Array, |v| CsvValue::Float(f64::from(v))),
        DataType::Boolean => push_each!(BooleanArray, CsvValue::Bool),
        DataType::Utf8 => push_each!(StringArray, |v: &str| CsvValue::Str(v.to_string())),
        DataType::LargeUtf8 => {
            push_each!(LargeStringArray, |v: &str| CsvValue::Str(v.to_string()))
        }
        DataType::Utf8View => {
            push_each!(StringViewArray, |v: &str| CsvValue::Str(v.to_string()))
        }
        other => return Err(format!("unsupported type {other}")),
    }
    Ok(())
}

fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Str => DataType::Utf8,
    }
}

fn type_name(v: &CsvValue) -> &'static str {
    match v {
        CsvValue::Int(_) => "an int",
        CsvValue::Float(_) => "a float",
        CsvValue::Bool(_) => "a bool",
        CsvValue::Str(_) => "a string",
        CsvValue::Null => "null",
    }
}

/// Builds one column of `rows` (whose first row is number `first_row`).
fn build_column(
    rows: &[Vec<CsvValue>],
    col: usize,
    name: &str,
    ty: ColumnType,
    first_row: usize,
) -> std::result::Result<ArrayRef, String> {
    let mismatch = |i: usize, v: &CsvValue| {
        format!(
            "row {}, column {name:?}: expected {ty}, found {}",
            first_row + i,
            type_name(v)
        )
    };
    let values = rows.iter().map(|r| &r[col]);
    Ok(match ty {
        ColumnType::Int => {
            let mut b = Int64Builder::with_capacity(rows.len());
            for (i, v) in values.enumerate() {
                match v {
                    CsvValue::Int(x) => b.append_value(*x),
                    CsvValue::Null => b.append_null(),
                    other => return Err(mismatch(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Float => {
            let mut b = Float64Builder::with_capacity(rows.len());
            for (i, v) in values.enumerate() {
                match v {
                    CsvValue::Float(x) => b.append_value(*x),
                    CsvValue::Int(x) => b.append_value(*x as f64),
                    CsvValue::Null => b.append_null(),
                    other => return Err(mismatch(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Bool => {
            let mut b = BooleanBuilder::with_capacity(rows.len());
            for (i, v) in values.enumerate() {
                match v {
                    CsvValue::Bool(x) => b.append_value(*x),
                    CsvValue::Null => b.append_null(),
                    other => return Err(mismatch(i, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Str => {
            let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
            for v in values {
                match v {
                    CsvValue::Str(s) => b.append_value(s),
                    CsvValue::Null => b.append_null(),
                    // Numbers and booleans in a string column are written as text.
                    other => b.append_value(other.to_string()),
                }
            }
            Arc::new(b.finish())
        }
    })
}

/// Writes `rows` as one Snappy-compressed Parquet file with the schema's columns
/// (`Int` as int64, `Float` as double, `Bool` as boolean, `Str` as UTF-8 strings,
/// all nullable). `Int` values are accepted in `Float` columns and any value in
/// `Str` columns (as its text); other mismatches, and rows of the wrong length, are
/// [`DatasetError::Invalid`] errors naming the file and the row.
pub fn write_parquet_rows(path: &Path, schema: &CsvSchema, rows: &[Vec<CsvValue>]) -> Result<()> {
    if let Some(i) = rows.iter().position(|r| r.len() != schema.len()) {
        return Err(DatasetError::invalid(
            path,
            format!(
                "row {i} has {} values, the schema {} columns",
                rows[i].len(),
                schema.len()
            ),
        ));
    }
    let arrow_schema = Arc::new(Schema::new(
        schema
            .columns
            .iter()
            .map(|(name, ty)| Field::new(name, arrow_type(*ty), true))
            .collect::<Vec<_>>(),
    ));
    let file = File::create(path).map_err(|e| DatasetError::io(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let parquet_err = |e: parquet::errors::ParquetError| DatasetError::invalid(path, e.to_string());
    let mut writer =
        ArrowWriter::try_new(file, arrow_schema.clone(), Some(props)).map_err(parquet_err)?;
    for (chunk_index, chunk) in rows.chunks(BATCH_ROWS).enumerate() {
        let first_row = chunk_index * BATCH_ROWS;
        let columns = schema
            .columns
            .iter()
            .enumerate()
            .map(|(c, (name, ty))| build_column(chunk, c, name, *ty, first_row))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|m| DatasetError::invalid(path, m))?;
        let batch = RecordBatch::try_new(arrow_schema.clone(), columns)
            .map_err(|e| DatasetError::invalid(path, e.to_string()))?;
        writer.write(&batch).map_err(parquet_err)?;
    }
    writer.close().map_err(parquet_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> CsvSchema {
        CsvSchema {
            columns: vec![
                ("id".into(), ColumnType::Int),
                ("score".into(), ColumnType::Float),
                ("ok".into(), ColumnType::Bool),
                ("name".into(), ColumnType::Str),
            ],
        }
    }

    fn rows(n: usize) -> Vec<Vec<CsvValue>> {
        (0..n)
            .map(|i| {
                vec![
                    CsvValue::Int(i as i64),
                    if i % 7 == 0 {
                        CsvValue::Null
                    } else {
                        CsvValue::Float(i as f64 / 4.0)
                    },
                    CsvValue::Bool(i % 2 == 0),
                    CsvValue::Str(format!("name-{i}")),
                ]
            })
            .collect()
    }

    #[test]
    fn rows_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-00000.parquet");
        let written = rows(100_000);
        write_parquet_rows(&path, &schema(), &written).unwrap();
        let splits = plan_parquet_splits(std::slice::from_ref(&path)).unwrap();
        assert!(!splits.is_empty());
        assert_eq!(splits.iter().map(|s| s.rows).sum::<u64>(), 100_000);
        let mut read = Vec::new();
        for split in &splits {
            read.extend(read_parquet_rows(split).unwrap());
        }
        assert_eq!(read, written);
        let batches = read_parquet_split(&splits[0]).unwrap();
        assert_eq!(batches[0].num_columns(), 4);
        assert_eq!(batches[0].schema().field(3).data_type(), &DataType::Utf8);
    }

    #[test]
    fn int_values_fit_float_columns_and_mismatch_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.parquet");
        let mut r = rows(3);
        r[1][1] = CsvValue::Int(5);
        write_parquet_rows(&path, &schema(), &r).unwrap();
        let split = &plan_parquet_splits(std::slice::from_ref(&path)).unwrap()[0];
        assert_eq!(
            read_parquet_rows(split).unwrap()[1][1],
            CsvValue::Float(5.0)
        );

        r[2][0] = CsvValue::Str("x".into());
        let err = write_parquet_rows(&path, &schema(), &r).unwrap_err();
        assert!(err.to_string().contains("row 2"), "{err}");
        assert!(err.to_string().contains("p.parquet"), "{err}");
        r[2].pop();
        assert!(write_parquet_rows(&path, &schema(), &r).is_err());
    }

    #[test]
    fn corrupt_file_is_invalid_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        std::fs::write(&path, b"this is not parquet at all").unwrap();
        let err = plan_parquet_splits(&[path]).unwrap_err();
        assert!(matches!(err, DatasetError::Invalid { .. }));
        assert!(err.to_string().contains("bad.parquet"));
    }

    #[test]
    fn unsupported_column_type_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("b", DataType::Binary, false)]));
        let col: ArrayRef = Arc::new(arrow::array::BinaryArray::from(vec![&b"ab"[..]]));
        let batch = RecordBatch::try_new(schema.clone(), vec![col]).unwrap();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let split = &plan_parquet_splits(&[path]).unwrap()[0];
        let err = read_parquet_rows(split).unwrap_err();
        assert!(err.to_string().contains("\"b\""), "{err}");
        let missing = ParquetSplit {
            row_group: 9,
            ..split.clone()
        };
        assert!(read_parquet_split(&missing).is_err());
    }
}
