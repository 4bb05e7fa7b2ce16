//! `wordcount`: how often each word occurs. A word is a maximal run of non-whitespace
//! characters (`str::split_whitespace`), counted as written (`--lowercase` folds case).
//! Output: `word<TAB>count`.
//!
//! Each map task counts its split's words in a local table first (a word is copied only
//! the first time the task sees it), then the per-task counts are summed by a
//! `reduce_by_key` shuffle.

use std::collections::BTreeMap;
use std::path::PathBuf;

use weir_engine::{JobContext, Result};
use weir_operators::prelude::*;
use weir_operators::shuffle::FxHashMap;

use crate::output::{report_top, save_or_show};
use crate::registry::Job;

/// Counts words in text files.
#[derive(Debug, Clone, clap::Parser)]
pub struct WordCount {
    /// Input file, directory or glob (repeatable).
    #[arg(long = "input", required = true)]
    pub inputs: Vec<String>,
    /// Fold words to lower case.
    #[arg(long)]
    pub lowercase: bool,
}

impl Job for WordCount {
    const NAME: &'static str = "wordcount";
    const ABOUT: &'static str = "Counts the words of text files (word<TAB>count)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let counts = word_counts(ctx, &self.inputs, self.lowercase)?;
        let summary = save_or_show(ctx, &counts, |a: &(String, u64), b: &(String, u64)| {
            b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
        })?;
        let words = ctx.counter_values()?.get("words").copied().unwrap_or(0);
        ctx.set_result("distinct_words", summary.records);
        ctx.set_result("words", words);
        if ctx.is_driver() {
            println!("{words} words, {} distinct", summary.records);
        }
        report_top(ctx, "most frequent words", &summary.top);
        Ok(())
    }
}

/// The distributed word counts.
pub fn word_counts(
    ctx: &JobContext,
    inputs: &[String],
    lowercase: bool,
) -> Result<Dataset<(String, u64)>> {
    let words = ctx.counter("words");
    Ok(ctx
        .text_file(inputs)?
        .map_partitions(move |_, lines| count_partition(lines, lowercase, &words).into_iter())
        .reduce_by_key(|a, b| a + b))
}

fn count_partition(
    lines: Records<String>,
    lowercase: bool,
    words: &Counter,
) -> FxHashMap<String, u64> {
    let mut table: FxHashMap<String, u64> = FxHashMap::default();
    let mut folded = String::new();
    let mut seen = 0i64;
    for line in lines {
        for word in line.split_whitespace() {
            let word = if lowercase {
                folded.clear();
                if word.is_ascii() {
                    folded.push_str(word);
                    folded.make_ascii_lowercase();
                } else {
                    folded.push_str(&word.to_lowercase());
                }
                folded.as_str()
            } else {
                word
            };
            *table.entry_ref(word).or_insert(0) += 1;
            seen += 1;
        }
    }
    words.add(seen);
    table
}

/// The sequential reference: reads every file whole and counts with a `BTreeMap`.
pub fn reference(files: &[PathBuf], lowercase: bool) -> std::io::Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for f in files {
        let bytes = std::fs::read(f)?;
        let text = String::from_utf8_lossy(&bytes);
        for word in text.split_whitespace() {
            let word = if lowercase {
                word.to_lowercase()
            } else {
                word.to_string()
            };
            *counts.entry(word).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_operators::testing::local_with;

    #[test]
    fn matches_the_reference_on_tricky_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        // Invalid UTF-8 inside a word must neither split nor merge words.
        let mut text = b"The the  THE\tcaf\xc3\xa9 ab\xffcd\r\n\nx y\n\xe2\x80\x83z\n".to_vec();
        for i in 0..2000 {
            text.extend_from_slice(format!("w{} The\n", i % 37).as_bytes());
        }
        std::fs::write(&path, &text).unwrap();
        let input = vec![path.to_string_lossy().into_owned()];
        for lowercase in [false, true] {
            let expected = reference(std::slice::from_ref(&path), lowercase).unwrap();
            for threads in [1, 3] {
                let input = input.clone();
                let got: BTreeMap<String, u64> = local_with(threads, move |ctx| {
                    word_counts(ctx, &input, lowercase)?.collect()
                })
                .into_iter()
                .collect();
                assert_eq!(got, expected, "lowercase={lowercase} threads={threads}");
            }
        }
        assert_eq!(reference(&[path], false).unwrap()["ab\u{fffd}cd"], 1);
    }
}
