//! Hadoop-style output directories: `part-NNNNN` file names and a staging
//! directory that becomes the output directory in one rename on success.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{DatasetError, Result};

/// The name of a partition's output file: `part_file_name(0, "tsv")` is
/// `part-00000.tsv`; an empty extension gives `part-00000`.
pub fn part_file_name(partition: usize, extension: &str) -> String {
    let extension = extension.trim_start_matches('.');
    if extension.is_empty() {
        format!("part-{partition:05}")
    } else {
        format!("part-{partition:05}.{extension}")
    }
}

fn parent_of(dir: &Path) -> &Path {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Whether `dir` exists; errors if it exists and is not an empty directory.
fn check_replaceable(dir: &Path) -> Result<bool> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(DatasetError::io(dir, e)),
        Ok(meta) if meta.is_dir() => {
            let mut entries = fs::read_dir(dir).map_err(|e| DatasetError::io(dir, e))?;
            if entries.next().is_some() {
                Err(DatasetError::invalid(
                    dir,
                    "output directory already exists and is not empty",
                ))
            } else {
                Ok(true)
            }
        }
        Ok(_) => Err(DatasetError::invalid(
            dir,
            "output path exists and is not a directory",
        )),
    }
}

/// Checks up front that `final_dir` can become an output directory: its parent
/// exists and it is absent or an empty directory.
pub fn check_output_dir(final_dir: &Path) -> Result<()> {
    let parent = parent_of(final_dir);
    match fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(DatasetError::invalid(
                parent,
                "parent of the output is not a directory",
            ))
        }
        Err(e) => return Err(DatasetError::io(parent, e)),
    }
    check_replaceable(final_dir).map(|_| ())
}

/// A directory beside the final output (`DIR.weir-staging-<unique>`) that part
/// files are written into. [`OutputStaging::commit`] renames it to the final
/// directory; dropping it uncommitted removes it with its contents.
#[derive(Debug)]
pub struct OutputStaging {
    staging: PathBuf,
    final_dir: PathBuf,
    done: bool,
}

impl OutputStaging {
    /// Creates the staging directory after [`check_output_dir`] passes.
    pub fn create(final_dir: &Path) -> Result<Self> {
        check_output_dir(final_dir)?;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = final_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| DatasetError::invalid(final_dir, "output path has no final name"))?;
        let parent = parent_of(final_dir);
        loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let unique = format!(
                "{}-{}-{nanos:08x}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let staging = parent.join(format!("{name}.weir-staging-{unique}"));
            match fs::create_dir(&staging) {
                Ok(()) => {
                    return Ok(OutputStaging {
                        staging,
                        final_dir: final_dir.to_path_buf(),
                        done: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(DatasetError::io(&staging, e)),
            }
        }
    }

    /// The staging directory to write part files into.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The directory the output will have after [`OutputStaging::commit`].
    pub fn final_dir(&self) -> &Path {
        &self.final_dir
    }

    /// Renames the staging directory to the final one. Refuses with an
    /// [`DatasetError::Invalid`] error when the final directory has appeared and is
    /// not empty; an existing empty directory is replaced. On error the staging
    /// directory is removed.
    pub fn commit(mut self) -> Result<()> {
        let exists = check_replaceable(&self.final_dir)?;
        let renamed = match fs::rename(&self.staging, &self.final_dir) {
            // POSIX rename replaces an empty directory atomically; elsewhere remove
            // it first.
            Err(_) if exists => fs::remove_dir(&self.final_dir)
                .and_then(|()| fs::rename(&self.staging, &self.final_dir)),
            other => other,
        };
        renamed.map_err(|e| DatasetError::io(&self.final_dir, e))?;
        self.done = true;
        Ok(())
    }

    /// Removes the staging directory and everything written into it.
    pub fn abort(self) {
        drop(self);
    }
}

impl Drop for OutputStaging {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names() {
        assert_eq!(part_file_name(0, "tsv"), "part-00000.tsv");
        assert_eq!(part_file_name(123, ".parquet"), "part-00123.parquet");
        assert_eq!(part_file_name(7, ""), "part-00007");
        assert_eq!(part_file_name(123456, "csv"), "part-123456.csv");
    }

    fn staging_dirs(parent: &Path) -> usize {
        fs::read_dir(parent)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".weir-staging-")
            })
            .count()
    }

    #[test]
    fn commit_moves_parts_into_place() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let staging = OutputStaging::create(&out).unwrap();
        assert!(staging.path().starts_with(root.path()));
        assert!(staging
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("out.weir-staging-"));
        fs::write(staging.path().join(part_file_name(0, "tsv")), b"a\t1\n").unwrap();
        assert!(!out.exists());
        staging.commit().unwrap();
        assert_eq!(fs::read(out.join("part-00000.tsv")).unwrap(), b"a\t1\n");
        assert_eq!(staging_dirs(root.path()), 0);
    }

    #[test]
    fn drop_and_abort_remove_staging() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        {
            let staging = OutputStaging::create(&out).unwrap();
            fs::write(staging.path().join("part-00000"), b"x").unwrap();
        }
        assert_eq!(staging_dirs(root.path()), 0);
        let staging = OutputStaging::create(&out).unwrap();
        staging.abort();
        assert_eq!(staging_dirs(root.path()), 0);
        assert!(!out.exists());
    }

    #[test]
    fn empty_existing_dir_is_replaced_but_full_one_refused() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        fs::create_dir(&out).unwrap();
        check_output_dir(&out).unwrap();
        let staging = OutputStaging::create(&out).unwrap();
        fs::write(staging.path().join("part-00000"), b"x").unwrap();
        staging.commit().unwrap();
        assert!(out.join("part-00000").exists());

        let err = check_output_dir(&out).unwrap_err();
        assert!(matches!(err, DatasetError::Invalid { .. }));
        assert!(OutputStaging::create(&out).is_err());

        // A directory that fills up while the job runs is refused at commit.
        let late = root.path().join("late");
        let staging = OutputStaging::create(&late).unwrap();
        fs::create_dir(&late).unwrap();
        fs::write(late.join("other"), b"y").unwrap();
        let err = staging.commit().unwrap_err();
        assert!(err.to_string().contains("late"), "{err}");
        assert_eq!(staging_dirs(root.path()), 0);
        assert_eq!(fs::read(late.join("other")).unwrap(), b"y");
    }

    #[test]
    fn missing_parent_and_file_in_the_way_are_errors() {
        let root = tempfile::tempdir().unwrap();
        let err = check_output_dir(&root.path().join("no/such/out")).unwrap_err();
        assert!(matches!(err, DatasetError::Io { .. }), "{err}");
        let file = root.path().join("file");
        fs::write(&file, b"").unwrap();
        assert!(matches!(
            check_output_dir(&file),
            Err(DatasetError::Invalid { .. })
        ));
    }
}
