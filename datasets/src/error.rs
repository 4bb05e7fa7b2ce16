//! The error type shared by every reader, writer and generator of this crate.
//!
//! Every variant that comes from a file names that file; parse errors also carry
//! the 1-based line number, so a message reads like `data/edges.txt:17: ...`.

use std::path::{Path, PathBuf};

/// What went wrong while planning, reading, writing or generating a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// An operating-system error on a file or directory.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line that does not follow its format.
    #[error("{path}:{line}: {message}")]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// A file that is unusable as a whole (corrupt Parquet, bad properties, wrong size).
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// An input pattern or directory that names no file.
    #[error("no input matches {pattern}")]
    NoInput { pattern: String },
    /// Anything else, such as a bad size argument.
    #[error("{0}")]
    Other(String),
}

/// The result type of this crate.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

impl DatasetError {
    /// An [`DatasetError::Io`] error naming `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DatasetError::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`DatasetError::Malformed`] error naming `path` and the 1-based `line`.
    pub fn malformed(path: &Path, line: u64, message: impl Into<String>) -> Self {
        DatasetError::Malformed {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// An [`DatasetError::Invalid`] error naming `path`.
    pub fn invalid(path: &Path, message: impl Into<String>) -> Self {
        DatasetError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_and_line() {
        let e = DatasetError::malformed(Path::new("a/b.txt"), 7, "bad id");
        assert_eq!(e.to_string(), "a/b.txt:7: bad id");
        let e = DatasetError::invalid(Path::new("x.parquet"), "corrupt footer");
        assert_eq!(e.to_string(), "x.parquet: corrupt footer");
        let e = DatasetError::io(
            "missing.txt",
            std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
        );
        assert_eq!(e.to_string(), "missing.txt: not found");
        assert!(std::error::Error::source(&e).is_some());
        let e = DatasetError::NoInput {
            pattern: "*.csv".into(),
        };
        assert_eq!(e.to_string(), "no input matches *.csv");
    }
}
