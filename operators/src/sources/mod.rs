//! Where datasets come from: [`Sources`] adds source methods to `JobContext`.
//!
//! Every source plans its partitions on the driver (file listing and split planning happen
//! once, as a driver value) and every worker reads its splits directly.

mod files;
mod memory;

pub use files::{bad_record, LineParser};

use weir_datasets::{CsvValue, TextSplit};
use weir_engine::Result;

use crate::dataset::{Data, Dataset};

/// A line of text with the file it came from and its 1-based line number.
pub type NumberedLine = (std::sync::Arc<str>, u64, String);

/// Source methods on [`weir_engine::JobContext`].
pub trait Sources {
    /// Lines of text files (a file, a directory, or a glob per input), cut into byte-range
    /// splits at line boundaries. Invalid UTF-8 is decoded lossily.
    fn text_file(&self, inputs: &[String]) -> Result<Dataset<String>>;
    /// Like [`text_file`](Self::text_file), with each line's file and line number.
    fn text_file_numbered(&self, inputs: &[String]) -> Result<Dataset<NumberedLine>>;
    /// Fixed-size binary records (e.g. 100-byte sort records).
    fn record_file(&self, inputs: &[String], record_len: usize) -> Result<Dataset<Vec<u8>>>;
    /// Rows of CSV files with a header line; column types inferred from the first file.
    fn csv_file(&self, inputs: &[String]) -> Result<Dataset<Vec<CsvValue>>>;
    /// Rows of Parquet files, one partition per row group.
    fn parquet_file(&self, inputs: &[String]) -> Result<Dataset<Vec<CsvValue>>>;
    /// A collection built on the driver, cut into `partitions` contiguous slices.
    fn parallelize<T: Data>(&self, data: Vec<T>, partitions: usize) -> Result<Dataset<T>>;
    /// `f(i)` for `i` in `0..count`, cut into `partitions` index ranges; each worker makes its
    /// own range (for generated data of any size).
    fn generate<T: Data>(
        &self,
        count: u64,
        partitions: usize,
        f: impl Fn(u64) -> T + Send + Sync + 'static,
    ) -> Result<Dataset<T>>;
    /// Records parsed from text files, one call of `parse` per line with the file and line
    /// number (for error messages). `Ok(None)` skips a line; an error is a malformed record:
    /// skipped and counted under `--skip-bad-records`, otherwise the job fails naming it.
    fn parse_text_file<T: Data>(
        &self,
        inputs: &[String],
        name: &str,
        parse: std::sync::Arc<LineParser<T>>,
    ) -> Result<Dataset<T>>;
    /// The text splits `text_file` would use (exposed for custom sources).
    fn plan_text_splits(
        &self,
        inputs: &[String],
        with_line_numbers: bool,
    ) -> Result<Vec<TextSplit>>;
}
