//! `grep`: the lines of text files that match a regular expression (Rust `regex` syntax),
//! with their file and 1-based line number. Output: `file<TAB>line<TAB>text`, where `file`
//! is the path as the input listing names it and `text` is the line without its `\n` or
//! `\r\n` (invalid UTF-8 decoded lossily).
//!
//! The driver checks the pattern before any plan is built, so an invalid pattern fails the
//! job at once; every process then compiles it once and shares it among its tasks.
//! Each task tests its split's lines as they are read and keeps only the matches, so a line
//! that does not match is never copied.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::{Regex, RegexBuilder};
use weir_engine::{Error, JobContext, Result};
use weir_operators::prelude::*;
use weir_operators::sources::LineParser;

use crate::output::{report_top, save_or_show};
use crate::registry::Job;

/// A matching line: its file, its 1-based line number and its text.
pub type Match = (Arc<str>, u64, String);

/// Prints the lines of text files that match a pattern.
#[derive(Debug, Clone, clap::Parser)]
pub struct Grep {
    /// Regular expression searched for in each line (Rust `regex` syntax).
    pub pattern: String,
    /// Input file, directory or glob (repeatable).
    #[arg(long = "input", required = true)]
    pub inputs: Vec<String>,
    /// Match letters regardless of case.
    #[arg(short = 'i', long)]
    pub ignore_case: bool,
}

impl Job for Grep {
    const NAME: &'static str = "grep";
    const ABOUT: &'static str = "Lines matching a regular expression (file<TAB>line<TAB>text)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        // The driver checks the pattern first and the workers wait for its verdict, so an
        // invalid pattern ends the job once, from the driver.
        ctx.driver_value(|| compile(&self.pattern, self.ignore_case).map(|_| ()))?;
        let regex = compile(&self.pattern, self.ignore_case)?;
        let matches = matching_lines(ctx, &self.inputs, regex)?;
        let summary = save_or_show(ctx, &matches, by_position)?;
        ctx.set_result("matches", summary.records);
        if ctx.should_print() {
            println!("{} matching lines", summary.records);
        }
        report_top(ctx, "first matches", &summary.top);
        Ok(())
    }
}

/// Compiles `pattern`; an invalid one is a configuration error naming it.
pub fn compile(pattern: &str, ignore_case: bool) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .build()
        .map_err(|e| Error::Config(format!("invalid pattern '{pattern}': {e}")))
}

/// Orders matches by file, then line number.
pub fn by_position(a: &Match, b: &Match) -> Ordering {
    a.0.cmp(&b.0).then(a.1.cmp(&b.1))
}

/// The distributed search: every line of `inputs` that `regex` matches.
pub fn matching_lines(ctx: &JobContext, inputs: &[String], regex: Regex) -> Result<Dataset<Match>> {
    let parse: Arc<LineParser<Match>> = Arc::new(move |line: &str, path: &Path, no: u64| {
        Ok(regex
            .is_match(line)
            .then(|| (Arc::from(path.to_string_lossy()), no, line.to_string())))
    });
    ctx.parse_text_file(inputs, "grep", parse)
}

/// The sequential reference: reads every file whole, decodes it lossily and tests each line
/// (split at `\n`, a `\r` before it removed), numbering lines from 1.
pub fn reference(files: &[PathBuf], regex: &Regex) -> std::io::Result<Vec<Match>> {
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(f)?;
        let text = String::from_utf8_lossy(&bytes);
        let file: Arc<str> = Arc::from(f.to_string_lossy());
        for (i, line) in text.split_terminator('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if regex.is_match(line) {
                out.push((file.clone(), i as u64 + 1, line.to_string()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_operators::testing::{local_with, try_local};

    /// Two files: a small tricky one and one large enough to be cut into several splits.
    fn inputs(dir: &Path) -> Vec<PathBuf> {
        let small = dir.join("a.txt");
        std::fs::write(
            &small,
            b"Error one\r\nerror two\n\nno match\nERROR caf\xc3\xa9 \xff\r\nlast error",
        )
        .unwrap();
        let big = dir.join("b.txt");
        let mut text = Vec::new();
        for i in 0..60_000u32 {
            let word = if i % 997 == 0 { "error" } else { "fine" };
            text.extend_from_slice(format!("line {i} is {word}\n").as_bytes());
        }
        std::fs::write(&big, &text).unwrap();
        assert!(text.len() > 600_000, "several splits wanted");
        vec![small, big]
    }

    #[test]
    fn matches_the_reference_with_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let files = inputs(dir.path());
        let input = vec![dir.path().to_string_lossy().into_owned()];
        for (pattern, ignore_case) in [("error", false), ("error", true), (r"\d+7 is", false)] {
            let regex = compile(pattern, ignore_case).unwrap();
            let mut expected = reference(&files, &regex).unwrap();
            expected.sort_by(by_position);
            assert!(expected.len() > 3, "{pattern}");
            for threads in [1, 3] {
                let (input, regex) = (input.clone(), regex.clone());
                let mut got = local_with(threads, move |ctx| {
                    matching_lines(ctx, &input, regex)?.collect()
                });
                got.sort_by(by_position);
                assert_eq!(
                    got, expected,
                    "{pattern} ignore_case={ignore_case} threads={threads}"
                );
            }
        }
        let all = reference(&files, &compile("(?i)error", false).unwrap()).unwrap();
        let a: Arc<str> = Arc::from(files[0].to_string_lossy());
        assert_eq!(all[0], (a.clone(), 1, "Error one".to_string()));
        assert_eq!(all[2], (a.clone(), 5, "ERROR café \u{fffd}".to_string()));
        assert_eq!(all[3], (a, 6, "last error".to_string()));
        assert_eq!(all[4].1, 1);
    }

    #[test]
    fn an_invalid_pattern_fails_before_reading() {
        let job = Grep {
            pattern: "(unclosed".into(),
            inputs: vec!["/no/such/input".into()],
            ignore_case: false,
        };
        match try_local(1, move |ctx| job.run(ctx)) {
            Err(Error::Config(message)) => assert!(message.contains("(unclosed"), "{message}"),
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn the_job_runs_and_finds_nothing_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        inputs(dir.path());
        let input = vec![dir.path().to_string_lossy().into_owned()];
        let job = Grep {
            pattern: "no such text".into(),
            inputs: input.clone(),
            ignore_case: false,
        };
        try_local(2, move |ctx| job.run(ctx)).unwrap();
        let n = local_with(2, move |ctx| {
            matching_lines(ctx, &input, compile("xyz", false)?)?.count()
        });
        assert_eq!(n, 0);
    }
}
