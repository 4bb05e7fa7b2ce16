//! Weir's datasets: the readers, writers and seeded generators that jobs use for
//! their input and output.
//!
//! * [`paths`] turns input arguments (files, directories, globs) into files;
//! * [`text`] plans byte-range splits of text files and reads their lines, and
//!   [`records`] does the same for fixed-size binary records;
//! * [`csv`], [`parquet_io`], [`edges`], [`graphalytics`] and [`libsvm`] parse the
//!   supported formats;
//! * [`output`] names part files and commits output directories atomically;
//! * [`generate`] produces Zipf text, R-MAT graphs and sort records from a seed.
//!
//! Errors name the file and, for parse errors, the 1-based line number.

pub mod csv;
pub mod edges;
pub mod error;
pub mod examples;
pub mod generate;
pub mod graphalytics;
pub mod libsvm;
pub mod output;
pub mod parquet_io;
pub mod paths;
pub mod ratings;
pub mod records;
pub mod text;

use std::path::PathBuf;

pub use crate::csv::{infer_csv_schema, parse_csv_line, ColumnType, CsvSchema, CsvValue};
pub use crate::edges::{parse_edge_line, Edge};
pub use crate::error::{DatasetError, Result};
pub use crate::examples::{CsvColumns, ExampleBlock, ExampleRow, LabelRule};
pub use crate::generate::{
    parse_size, rmat_edges, rmat_weight, sort_record, write_blobs_file, write_classification_file,
    write_graph_file, write_graph_file_with, write_ratings_file, write_sort_file, write_text_file,
    BlobsSpec, ClassificationSpec, RatingsSpec, TextGenerator, SORT_KEY_BYTES, SORT_RECORD_BYTES,
    TEXT_CHUNK_BYTES,
};
pub use crate::graphalytics::{load_properties, parse_vertex_line, GraphalyticsDataset};
pub use crate::libsvm::{parse_libsvm_into, parse_libsvm_line, LibsvmRow};
pub use crate::output::{check_output_dir, part_file_name, OutputStaging};
pub use crate::parquet_io::{
    plan_parquet_splits, read_parquet_rows, read_parquet_split, write_parquet_rows, ParquetSplit,
};
pub use crate::paths::expand_inputs;
pub use crate::ratings::RatingBlock;
pub use crate::text::{
    for_each_line, for_each_record, plan_record_splits, plan_text_splits, SplitLines, TextSplit,
};

/// The directory of small real datasets bundled with the crate (see its README).
pub fn samples_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/samples"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_text_samples_read_through_splits() {
        let dir = samples_dir().join("text");
        let files = expand_inputs(&[dir.to_string_lossy().into_owned()]).unwrap();
        assert_eq!(files.len(), 2);
        let splits = plan_text_splits(&files, 7, 1024, true).unwrap();
        let mut lines = 0u64;
        let mut metamorphosis_words = 0usize;
        for split in &splits {
            for_each_line::<DatasetError>(split, |line, _| {
                lines += 1;
                if split.path.ends_with("pg-metamorphosis.txt") {
                    metamorphosis_words += line.split_whitespace().count();
                }
                Ok(())
            })
            .unwrap();
        }
        let mut want = 0u64;
        let mut want_words = 0usize;
        for f in &files {
            let text = std::fs::read(f).unwrap();
            let text = String::from_utf8_lossy(&text);
            want += text.lines().count() as u64;
            if f.ends_with("pg-metamorphosis.txt") {
                want_words = text.split_whitespace().count();
            }
        }
        assert_eq!(lines, want);
        assert_eq!(metamorphosis_words, want_words);
        assert!(want_words > 20_000);
    }
}
