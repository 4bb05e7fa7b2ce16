//! File sources: text lines, fixed-size records, CSV and Parquet, and the `Sources` impl.

use std::path::PathBuf;
use std::sync::Arc;

use weir_datasets::{
    expand_inputs, for_each_line, for_each_record, infer_csv_schema, parse_csv_line, plan_parquet_splits,
    plan_record_splits, read_parquet_rows, CsvValue, DatasetError, ParquetSplit, TextSplit,
};
use weir_engine::{JobContext, Result, TaskContext, TaskError};

use super::{memory, NumberedLine, Sources};
use crate::dataset::{Data, Dataset, NodeBuilder};

/// Smallest byte range worth a split of its own.
const MIN_SPLIT_BYTES: u64 = 256 << 10;

/// Handles a malformed record met by a source: with `--skip-bad-records` it is counted and
/// the source goes on (returns true); otherwise the task fails with the error (returns false).
pub fn bad_record(tc: &TaskContext, error: DatasetError) -> bool {
    if tc.skip_bad_records() {
        tc.with_metrics(|m| m.bad_records += 1);
        true
    } else {
        tc.fail(TaskError::from(error));
        false
    }
}

fn text_splits(ctx: &JobContext, inputs: &[String], with_line_numbers: bool) -> Result<Vec<TextSplit>> {
    let inputs = inputs.to_vec();
    let target = ctx.parallelism();
    ctx.driver_value(move || {
        let files = expand_inputs(&inputs)?;
        Ok(weir_datasets::plan_text_splits(&files, target, MIN_SPLIT_BYTES, with_line_numbers)?)
    })
}

/// Reads a split's lines into memory, mapping each through `f`.
fn read_split<T>(split: &TextSplit, tc: &TaskContext, mut f: impl FnMut(&str, u64) -> T) -> Result<Vec<T>, TaskError> {
    let mut out = Vec::new();
    for_each_line::<TaskError>(split, |line, no| {
        out.push(f(line, no));
        Ok(())
    })?;
    tc.with_metrics(|m| {
        m.records_in += out.len() as u64;
        m.bytes_in += split.end - split.start;
    });
    Ok(out)
}

impl Sources for JobContext {
    fn text_file(&self, inputs: &[String]) -> Result<Dataset<String>> {
        let splits = Arc::new(text_splits(self, inputs, false)?);
        Ok(NodeBuilder::new("text_file", splits.len(), vec![]).build(self, move |p, tc| {
            let lines = read_split(&splits[p], tc, |l, _| l.to_string())?;
            Ok(Box::new(lines.into_iter()))
        }))
    }

    fn text_file_numbered(&self, inputs: &[String]) -> Result<Dataset<NumberedLine>> {
        let splits = Arc::new(text_splits(self, inputs, true)?);
        Ok(NodeBuilder::new("text_file_numbered", splits.len(), vec![]).build(self, move |p, tc| {
            let file: Arc<str> = splits[p].path.to_string_lossy().into();
            let lines = read_split(&splits[p], tc, |l, no| (file.clone(), no, l.to_string()))?;
            Ok(Box::new(lines.into_iter()))
        }))
    }

    fn record_file(&self, inputs: &[String], record_len: usize) -> Result<Dataset<Vec<u8>>> {
        let inputs = inputs.to_vec();
        let target = self.parallelism();
        let splits: Arc<Vec<TextSplit>> = Arc::new(self.driver_value(move || {
            let files = expand_inputs(&inputs)?;
            Ok(plan_record_splits(&files, record_len as u64, target)?)
        })?);
        Ok(NodeBuilder::new("record_file", splits.len(), vec![]).build(self, move |p, tc| {
            let split = &splits[p];
            let mut out = Vec::with_capacity(((split.end - split.start) / record_len as u64) as usize);
            for_each_record::<TaskError>(split, record_len, |r| {
                out.push(r.to_vec());
                Ok(())
            })?;
            tc.with_metrics(|m| {
                m.records_in += out.len() as u64;
                m.bytes_in += split.end - split.start;
            });
            Ok(Box::new(out.into_iter()))
        }))
    }

    fn csv_file(&self, inputs: &[String]) -> Result<Dataset<Vec<CsvValue>>> {
        let splits = text_splits(self, inputs, true)?;
        let first: Option<PathBuf> = splits.first().map(|s| s.path.clone());
        let schema = Arc::new(self.driver_value(move || match first {
            Some(path) => Ok(Some(infer_csv_schema(&path, 1000)?)),
            None => Ok(None),
        })?);
        let splits = Arc::new(splits);
        Ok(NodeBuilder::new("csv_file", splits.len(), vec![]).build(self, move |p, tc| {
            let Some(schema) = schema.as_ref() else {
                return Ok(Box::new(std::iter::empty()));
            };
            let split = &splits[p];
            let mut rows = Vec::new();
            let mut ok = true;
            read_split(split, tc, |line, no| {
                if !ok || no == 1 || line.is_empty() {
                    return;
                }
                match parse_csv_line(schema, line, &split.path, no) {
                    Ok(row) => rows.push(row),
                    Err(e) => ok = bad_record(tc, e),
                }
            })?;
            Ok(Box::new(rows.into_iter()))
        }))
    }

    fn parquet_file(&self, inputs: &[String]) -> Result<Dataset<Vec<CsvValue>>> {
        let inputs = inputs.to_vec();
        let splits: Arc<Vec<ParquetSplit>> = Arc::new(self.driver_value(move || {
            let files = expand_inputs(&inputs)?;
            Ok(plan_parquet_splits(&files)?)
        })?);
        Ok(NodeBuilder::new("parquet_file", splits.len(), vec![]).build(self, move |p, tc| {
            let rows = read_parquet_rows(&splits[p])?;
            tc.with_metrics(|m| m.records_in += rows.len() as u64);
            Ok(Box::new(rows.into_iter()))
        }))
    }

    fn parallelize<T: Data>(&self, data: Vec<T>, partitions: usize) -> Result<Dataset<T>> {
        memory::parallelize(self, data, partitions)
    }

    fn generate<T: Data>(&self, count: u64, partitions: usize, f: impl Fn(u64) -> T + Send + Sync + 'static) -> Result<Dataset<T>> {
        memory::generate(self, count, partitions, f)
    }

    fn plan_text_splits(&self, inputs: &[String], with_line_numbers: bool) -> Result<Vec<TextSplit>> {
        text_splits(self, inputs, with_line_numbers)
    }
}
