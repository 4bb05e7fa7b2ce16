//! `weir datasets gen …`: seeded generators writing files of any size.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use weir_datasets::{
    parse_size, write_blobs_file, write_classification_file, write_graph_file_with,
    write_ratings_file, write_sort_file, write_text_file, BlobsSpec, ClassificationSpec,
    RatingsSpec,
};

#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// Generates a dataset.
    Gen {
        #[command(subcommand)]
        kind: GenKind,
    },
}

#[derive(Debug, Subcommand)]
pub enum GenKind {
    /// Zipf-distributed text (lines of words).
    Text {
        /// Size, like 200MB or 1GiB.
        #[arg(long)]
        size: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        output: PathBuf,
    },
    /// An R-MAT graph (Graph500 parameters) as a SNAP edge list.
    Graph {
        /// 2^scale vertices.
        #[arg(long)]
        scale: u32,
        /// Edges per vertex.
        #[arg(long, default_value_t = 16)]
        edge_factor: u32,
        /// A third column: each edge's weight in [1, 100), for SSSP.
        #[arg(long)]
        weighted: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        output: PathBuf,
    },
    /// Labelled examples with a known separating model: dense CSV (`label,f0,…`) or,
    /// with `--nonzeros`, sparse LIBSVM rows of binary features.
    Classification {
        /// Training rows.
        #[arg(long)]
        rows: u64,
        #[arg(long, default_value_t = 16)]
        features: u32,
        #[arg(long, default_value_t = 2)]
        classes: u32,
        /// Sparse rows with this many non-zero features each (LIBSVM).
        #[arg(long)]
        nonzeros: Option<u32>,
        /// The chance a row's label is replaced by a random class.
        #[arg(long, default_value_t = 0.0)]
        noise: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        output: PathBuf,
        /// Also write this many held-out rows of the same model to `--test-output`.
        #[arg(long, requires = "test_output")]
        test_rows: Option<u64>,
        #[arg(long)]
        test_output: Option<PathBuf>,
    },
    /// Ratings `row<TAB>col<TAB>value` of a planted low-rank matrix plus noise, for
    /// matrix factorisation.
    Ratings {
        #[arg(long)]
        rows: u32,
        #[arg(long)]
        cols: u32,
        /// The planted matrix's rank.
        #[arg(long, default_value_t = 10)]
        rank: u32,
        /// Training ratings.
        #[arg(long)]
        ratings: u64,
        /// The noise's standard deviation.
        #[arg(long, default_value_t = 0.1)]
        noise: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        output: PathBuf,
        /// Also write this many held-out ratings of the same matrix to `--test-output`.
        #[arg(long, requires = "test_output")]
        test_ratings: Option<u64>,
        #[arg(long)]
        test_output: Option<PathBuf>,
    },
    /// Points of Gaussian clusters as dense CSV (`label,x0,…`, the label the cluster
    /// drawn from), for k-means.
    Blobs {
        #[arg(long)]
        points: u64,
        #[arg(long, default_value_t = 2)]
        dim: u32,
        /// Clusters.
        #[arg(long, default_value_t = 5)]
        k: u32,
        /// Each coordinate's standard deviation around its centre.
        #[arg(long, default_value_t = 1.0)]
        spread: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        output: PathBuf,
    },
    /// 100-byte sort records with 10-byte keys (gensort's layout).
    Sort {
        /// Size, like 1GB.
        #[arg(long)]
        size: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        output: PathBuf,
    },
}

pub fn datasets_command(command: DatasetsCommand) -> anyhow::Result<()> {
    let DatasetsCommand::Gen { kind } = command;
    let started = Instant::now();
    let (what, output) = match kind {
        GenKind::Text { size, seed, output } => {
            let size = parse_size(&size).context("--size")?;
            let bytes = write_text_file(&output, size, seed)?;
            (format!("{bytes} bytes of text"), output)
        }
        GenKind::Graph {
            scale,
            edge_factor,
            weighted,
            seed,
            output,
        } => {
            let edges = write_graph_file_with(&output, scale, edge_factor, seed, weighted)?;
            (format!("{edges} edges"), output)
        }
        GenKind::Classification {
            rows,
            features,
            classes,
            nonzeros,
            noise,
            seed,
            output,
            test_rows,
            test_output,
        } => {
            let spec = ClassificationSpec {
                features,
                classes,
                nonzeros,
                noise,
                seed,
            };
            let held_out = test_rows.zip(test_output);
            with_held_out(&output, rows, held_out, "rows", |path, first, count| {
                write_classification_file(path, &spec, first, count)
            })?;
            (format!("{rows} rows"), output)
        }
        GenKind::Ratings {
            rows,
            cols,
            rank,
            ratings,
            noise,
            seed,
            output,
            test_ratings,
            test_output,
        } => {
            let spec = RatingsSpec {
                rows,
                cols,
                rank,
                noise,
                seed,
            };
            let held_out = test_ratings.zip(test_output);
            with_held_out(
                &output,
                ratings,
                held_out,
                "ratings",
                |path, first, count| write_ratings_file(path, &spec, first, count),
            )?;
            (format!("{ratings} ratings"), output)
        }
        GenKind::Blobs {
            points,
            dim,
            k,
            spread,
            seed,
            output,
        } => {
            let spec = BlobsSpec {
                dim,
                clusters: k,
                spread,
                seed,
            };
            write_blobs_file(&output, &spec, points)?;
            (format!("{points} points"), output)
        }
        GenKind::Sort { size, seed, output } => {
            let size = parse_size(&size).context("--size")?;
            let records = write_sort_file(&output, size, seed)?;
            (format!("{records} records"), output)
        }
    };
    eprintln!(
        "wrote {what} to {} in {:.2}s",
        output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes items `0..count` to `output` with `write(path, first, count)` and, when
/// `held_out` asks, the next items of the same stream (the same model) to its file.
fn with_held_out(
    output: &std::path::Path,
    count: u64,
    held_out: Option<(u64, PathBuf)>,
    what: &str,
    write: impl Fn(&std::path::Path, u64, u64) -> weir_datasets::Result<u64>,
) -> anyhow::Result<()> {
    write(output, 0, count)?;
    if let Some((more, path)) = held_out {
        write(&path, count, more)?;
        eprintln!("wrote {more} held-out {what} to {}", path.display());
    }
    Ok(())
}
