//! Turns the input arguments of a job (files, directories, glob patterns) into a
//! sorted, de-duplicated list of files to read.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{DatasetError, Result};

/// Expands each input into files and returns them sorted and de-duplicated.
///
/// * a file stands for itself;
/// * a directory stands for its regular, non-hidden files (names not starting with
///   `.` or `_`, as Hadoop's `_SUCCESS` markers), not recursing into subdirectories;
///   a directory without such files is a [`DatasetError::NoInput`] error;
/// * a pattern containing `*`, `?` or `[` is a glob; directories it matches are
///   expanded as above, and a glob with no match is a [`DatasetError::NoInput`] error.
///
/// A path that does not exist is an [`DatasetError::Io`] error (`NotFound`) naming it.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if is_glob(input) {
            let paths = glob::glob(input).map_err(|e| DatasetError::Invalid {
                path: PathBuf::from(input),
                message: format!("bad glob pattern: {e}"),
            })?;
            let before = files.len();
            for entry in paths {
                let path = entry.map_err(|e| {
                    let path = e.path().to_path_buf();
                    DatasetError::io(path, e.into())
                })?;
                let meta = fs::metadata(&path).map_err(|e| DatasetError::io(&path, e))?;
                if meta.is_dir() {
                    list_dir(&path, &mut files)?;
                } else if meta.is_file() {
                    files.push(path);
                }
            }
            if files.len() == before {
                return Err(DatasetError::NoInput {
                    pattern: input.clone(),
                });
            }
        } else {
            let path = PathBuf::from(input);
            let meta = fs::metadata(&path).map_err(|e| DatasetError::io(&path, e))?;
            if meta.is_dir() {
                let before = files.len();
                list_dir(&path, &mut files)?;
                if files.len() == before {
                    return Err(DatasetError::NoInput {
                        pattern: input.clone(),
                    });
                }
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn is_glob(input: &str) -> bool {
    input.contains(['*', '?', '['])
}

/// Whether a directory entry's name marks it as hidden or as job metadata.
fn is_hidden(name: &std::ffi::OsStr) -> bool {
    let bytes = name.as_encoded_bytes();
    bytes.first().is_some_and(|b| *b == b'.' || *b == b'_')
}

/// Appends the regular non-hidden files of `dir`, sorted by name.
fn list_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut found = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| DatasetError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DatasetError::io(dir, e))?;
        if is_hidden(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        // Follow symbolic links: a link to a regular file counts as one.
        let meta = fs::metadata(&path).map_err(|e| DatasetError::io(&path, e))?;
        if meta.is_file() {
            found.push(path);
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        fs::write(path, b"x\n").unwrap();
    }

    fn s(p: &Path) -> String {
        p.to_string_lossy().into_owned()
    }

    #[test]
    fn directory_lists_visible_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.txt", "a.txt", ".hidden", "_SUCCESS", "c.csv"] {
            touch(&dir.path().join(name));
        }
        fs::create_dir(dir.path().join("sub")).unwrap();
        touch(&dir.path().join("sub/inner.txt"));
        let files = expand_inputs(&[s(dir.path())]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.txt", "b.txt", "c.csv"]);
    }

    #[test]
    fn glob_and_files_are_merged_sorted_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["x1.txt", "x2.txt", "y.csv"] {
            touch(&dir.path().join(name));
        }
        let pattern = s(&dir.path().join("x*.txt"));
        let single = s(&dir.path().join("x2.txt"));
        let csv = s(&dir.path().join("y.csv"));
        let files = expand_inputs(&[csv, pattern, single]).unwrap();
        assert_eq!(
            files,
            vec![
                dir.path().join("x1.txt"),
                dir.path().join("x2.txt"),
                dir.path().join("y.csv")
            ]
        );
    }

    #[test]
    fn missing_path_is_not_found_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.txt");
        let err = expand_inputs(&[s(&missing)]).unwrap_err();
        match &err {
            DatasetError::Io { path, source } => {
                assert_eq!(path, &missing);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("nope.txt"));
    }

    #[test]
    fn glob_without_match_is_no_input() {
        let dir = tempfile::tempdir().unwrap();
        let pattern = s(&dir.path().join("*.parquet"));
        let err = expand_inputs(std::slice::from_ref(&pattern)).unwrap_err();
        assert!(matches!(err, DatasetError::NoInput { pattern: p } if p == pattern));
    }

    #[test]
    fn empty_directory_is_no_input() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("_SUCCESS"));
        let err = expand_inputs(&[s(dir.path())]).unwrap_err();
        assert!(matches!(err, DatasetError::NoInput { .. }));
    }

    #[test]
    fn glob_matching_a_directory_expands_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("part-dir")).unwrap();
        touch(&dir.path().join("part-dir/part-00000.tsv"));
        touch(&dir.path().join("part-dir/_SUCCESS"));
        let files = expand_inputs(&[s(&dir.path().join("part-*"))]).unwrap();
        assert_eq!(files, vec![dir.path().join("part-dir/part-00000.tsv")]);
    }
}
