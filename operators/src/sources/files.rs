//! File sources: text lines, fixed-size records, CSV and Parquet, and the `Sources` impl.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use weir_datasets::{
    expand_inputs, for_each_record, infer_csv_schema, parse_csv_line, plan_parquet_splits,
    plan_record_splits, read_parquet_rows, CsvValue, DatasetError, ParquetSplit, SplitLines,
    TextSplit,
};
use weir_engine::plan::NodeId;
use weir_engine::{JobContext, Result, TaskContext, TaskError};

use super::{memory, NumberedLine, Sources};
use crate::dataset::{Data, Dataset, NodeBuilder, Records};

/// Smallest byte range worth a split of its own.
const MIN_SPLIT_BYTES: u64 = 256 << 10;

/// Handles a malformed record met by partition `partition` of source node `node`: with
/// `--skip-bad-records` it is counted and the source goes on (returns true); otherwise the
/// task fails with the error (returns false).
pub fn bad_record(tc: &TaskContext, node: NodeId, partition: usize, error: DatasetError) -> bool {
    if tc.skip_bad_records() {
        tc.with_metrics(|m| {
            match m
                .bad_records
                .iter_mut()
                .find(|(s, _)| *s == (node, partition))
            {
                Some((_, n)) => *n += 1,
                None => m.bad_records.push(((node, partition), 1)),
            }
        });
        true
    } else {
        tc.fail(TaskError::from(error));
        false
    }
}

fn text_splits(
    ctx: &JobContext,
    inputs: &[String],
    with_line_numbers: bool,
) -> Result<Vec<TextSplit>> {
    let inputs = inputs.to_vec();
    let target = ctx.parallelism();
    ctx.driver_value(move || {
        let files = expand_inputs(&inputs)?;
        Ok(weir_datasets::plan_text_splits(
            &files,
            target,
            MIN_SPLIT_BYTES,
            with_line_numbers,
        )?)
    })
}

/// Streams a split's lines, mapping each through `f` (which may skip a line by returning
/// `None`). A read error fails the task through `tc`.
struct SplitRecords<T, F> {
    lines: SplitLines,
    tc: TaskContext,
    f: F,
    count: u64,
    bytes: u64,
    done: bool,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T, F: FnMut(&str, u64) -> Option<T>> Iterator for SplitRecords<T, F> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        while !self.done {
            match self.lines.next_line() {
                Ok(Some((line, no))) => {
                    self.count += 1;
                    if let Some(r) = (self.f)(line, no) {
                        return Some(r);
                    }
                }
                Ok(None) => self.finish(),
                Err(e) => {
                    self.tc.fail(e.into());
                    self.finish();
                }
            }
        }
        None
    }
}

impl<T, F> SplitRecords<T, F> {
    fn finish(&mut self) {
        if !std::mem::replace(&mut self.done, true) {
            let (count, bytes) = (self.count, self.bytes);
            self.tc.with_metrics(|m| {
                m.records_in += count;
                m.bytes_in += bytes;
            });
        }
    }
}

fn stream_split<T: 'static>(
    split: &TextSplit,
    tc: &TaskContext,
    f: impl FnMut(&str, u64) -> Option<T> + 'static,
) -> Result<Records<T>, TaskError> {
    Ok(Box::new(SplitRecords {
        lines: SplitLines::open(split)?,
        tc: tc.clone(),
        f,
        count: 0,
        bytes: split.end - split.start,
        done: false,
        _t: std::marker::PhantomData,
    }))
}

/// A parser of one input line: `Ok(None)` skips the line (a comment), an error is a
/// malformed record (skipped and counted under `--skip-bad-records`, else the job fails).
pub type LineParser<T> = dyn Fn(&str, &Path, u64) -> Result<Option<T>, DatasetError> + Send + Sync;

impl Sources for JobContext {
    fn text_file(&self, inputs: &[String]) -> Result<Dataset<String>> {
        let splits = Arc::new(text_splits(self, inputs, false)?);
        Ok(
            NodeBuilder::new("text_file", splits.len(), vec![]).build(self, move |p, tc| {
                stream_split(&splits[p], tc, |l, _| Some(l.to_string()))
            }),
        )
    }

    fn text_file_numbered(&self, inputs: &[String]) -> Result<Dataset<NumberedLine>> {
        let splits = Arc::new(text_splits(self, inputs, true)?);
        Ok(
            NodeBuilder::new("text_file_numbered", splits.len(), vec![]).build(
                self,
                move |p, tc| {
                    let file: Arc<str> = splits[p].path.to_string_lossy().into();
                    stream_split(&splits[p], tc, move |l, no| {
                        Some((file.clone(), no, l.to_string()))
                    })
                },
            ),
        )
    }

    fn record_file(&self, inputs: &[String], record_len: usize) -> Result<Dataset<Vec<u8>>> {
        let inputs = inputs.to_vec();
        let target = self.parallelism();
        let splits: Arc<Vec<TextSplit>> = Arc::new(self.driver_value(move || {
            let files = expand_inputs(&inputs)?;
            Ok(plan_record_splits(&files, record_len as u64, target)?)
        })?);
        Ok(
            NodeBuilder::new("record_file", splits.len(), vec![]).build(self, move |p, tc| {
                let split = &splits[p];
                let mut out =
                    Vec::with_capacity(((split.end - split.start) / record_len as u64) as usize);
                for_each_record::<TaskError>(split, record_len, |r| {
                    out.push(r.to_vec());
                    Ok(())
                })?;
                tc.with_metrics(|m| {
                    m.records_in += out.len() as u64;
                    m.bytes_in += split.end - split.start;
                });
                Ok(Box::new(out.into_iter()))
            }),
        )
    }

    fn csv_file(&self, inputs: &[String]) -> Result<Dataset<Vec<CsvValue>>> {
        let splits = text_splits(self, inputs, true)?;
        let first: Option<PathBuf> = splits.first().map(|s| s.path.clone());
        let schema: Arc<Option<Arc<weir_datasets::CsvSchema>>> =
            Arc::new(self.driver_value(move || match first {
                Some(path) => Ok(Some(Arc::new(infer_csv_schema(&path, 1000)?))),
                None => Ok(None),
            })?);
        let splits = Arc::new(splits);
        Ok(
            NodeBuilder::new("csv_file", splits.len(), vec![]).build_with_id(
                self,
                move |id, p, tc| {
                    let Some(schema) = schema.as_ref() else {
                        return Ok(Box::new(std::iter::empty()));
                    };
                    let split = &splits[p];
                    let path = split.path.clone();
                    let schema = schema.clone();
                    let task = tc.clone();
                    let mut ok = true;
                    stream_split(split, tc, move |line, no| {
                        if !ok || no == 1 || line.is_empty() {
                            return None;
                        }
                        match parse_csv_line(&schema, line, &path, no) {
                            Ok(row) => Some(row),
                            Err(e) => {
                                ok = bad_record(&task, id, p, e);
                                None
                            }
                        }
                    })
                },
            ),
        )
    }

    fn parquet_file(&self, inputs: &[String]) -> Result<Dataset<Vec<CsvValue>>> {
        let inputs = inputs.to_vec();
        let splits: Arc<Vec<ParquetSplit>> = Arc::new(self.driver_value(move || {
            let files = expand_inputs(&inputs)?;
            Ok(plan_parquet_splits(&files)?)
        })?);
        Ok(
            NodeBuilder::new("parquet_file", splits.len(), vec![]).build(self, move |p, tc| {
                let rows = read_parquet_rows(&splits[p])?;
                tc.with_metrics(|m| m.records_in += rows.len() as u64);
                Ok(Box::new(rows.into_iter()))
            }),
        )
    }

    fn parallelize<T: Data>(&self, data: Vec<T>, partitions: usize) -> Result<Dataset<T>> {
        memory::parallelize(self, data, partitions)
    }

    fn generate<T: Data>(
        &self,
        count: u64,
        partitions: usize,
        f: impl Fn(u64) -> T + Send + Sync + 'static,
    ) -> Result<Dataset<T>> {
        memory::generate(self, count, partitions, f)
    }

    fn plan_text_splits(
        &self,
        inputs: &[String],
        with_line_numbers: bool,
    ) -> Result<Vec<TextSplit>> {
        text_splits(self, inputs, with_line_numbers)
    }

    fn parse_text_file<T: Data>(
        &self,
        inputs: &[String],
        name: &str,
        parse: Arc<LineParser<T>>,
    ) -> Result<Dataset<T>> {
        let splits = Arc::new(text_splits(self, inputs, true)?);
        Ok(
            NodeBuilder::new(name, splits.len(), vec![]).build_with_id(self, move |id, p, tc| {
                let path = splits[p].path.clone();
                let parse = parse.clone();
                let task = tc.clone();
                let mut ok = true;
                stream_split(&splits[p], tc, move |line, no| {
                    if !ok {
                        return None;
                    }
                    match parse(line, &path, no) {
                        Ok(r) => r,
                        Err(e) => {
                            ok = bad_record(&task, id, p, e);
                            None
                        }
                    }
                })
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use weir_datasets::{write_parquet_rows, ColumnType, CsvSchema, CsvValue};

    use crate::prelude::*;
    use crate::testing::{local, try_local};

    fn path_string(p: &std::path::Path) -> Vec<String> {
        vec![p.to_string_lossy().into_owned()]
    }

    #[test]
    fn csv_rows_are_typed_and_the_header_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.csv");
        let mut text = String::from("name,age,score\n");
        for i in 0..500 {
            text += &format!("p{i},{i},{}.5\n", i * 2);
        }
        std::fs::write(&path, text).unwrap();
        let input = path_string(&path);
        let rows = local(move |ctx| ctx.csv_file(&input)?.collect());
        assert_eq!(rows.len(), 500);
        assert_eq!(
            rows[7],
            vec![
                CsvValue::Str("p7".into()),
                CsvValue::Int(7),
                CsvValue::Float(14.5)
            ]
        );
    }

    #[test]
    fn a_malformed_csv_line_fails_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
        let input = path_string(&path);
        let err = try_local(1, move |ctx| ctx.csv_file(&input)?.count())
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.csv:3"), "{err}");
    }

    #[test]
    fn parquet_rows_come_back_one_partition_per_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let schema = CsvSchema {
            columns: vec![("k".into(), ColumnType::Str), ("v".into(), ColumnType::Int)],
        };
        let rows: Vec<Vec<CsvValue>> = (0..100)
            .map(|i| vec![CsvValue::Str(format!("k{i}")), CsvValue::Int(i)])
            .collect();
        write_parquet_rows(&path, &schema, &rows).unwrap();
        let input = path_string(&path);
        let back = local(move |ctx| ctx.parquet_file(&input)?.collect());
        assert_eq!(back, rows);
    }

    #[test]
    fn a_corrupt_parquet_file_fails_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corrupt.parquet");
        std::fs::write(&path, b"PAR1 this is not parquet PAR1").unwrap();
        let input = path_string(&path);
        let err = try_local(1, move |ctx| ctx.parquet_file(&input)?.count())
            .unwrap_err()
            .to_string();
        assert!(err.contains("corrupt.parquet"), "{err}");
    }

    #[test]
    fn text_lines_stream_across_splits_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.txt");
        let lines: Vec<String> = (0..200_000).map(|i| format!("line {i}")).collect();
        std::fs::write(&path, lines.join("\n")).unwrap();
        let input = path_string(&path);
        let (got, numbered) = local(move |ctx| {
            Ok((
                ctx.text_file(&input)?.collect()?,
                ctx.text_file_numbered(&input)?.collect()?,
            ))
        });
        assert_eq!(got, lines);
        assert!(numbered
            .iter()
            .enumerate()
            .all(|(i, (_, no, text))| *no == i as u64 + 1 && *text == lines[i]));
    }
}
