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
        if ctx.should_print() {
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
        // Each partition is already counted: the shuffle only sums across partitions, so
        // it skips a second map-side combine.
        .reduce_by_key_precombined(|a, b| a + b))
}

fn count_partition(lines: Records<String>, lowercase: bool, words: &Counter) -> Vec<(String, u64)> {
    let mut table = WordTable::with_capacity(1 << 16);
    let mut folded = String::new();
    let mut seen = 0i64;
    for line in lines {
        if line.is_ascii() && !lowercase {
            // The common case: split on ASCII whitespace bytes, no UTF-8 decoding.
            for word in line
                .as_bytes()
                .split(|b| is_ascii_space(*b))
                .filter(|w| !w.is_empty())
            {
                table.add(word);
                seen += 1;
            }
            continue;
        }
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
            table.add(word.as_bytes());
            seen += 1;
        }
    }
    words.add(seen);
    table.into_counts()
}

/// The ASCII characters `char::is_whitespace` accepts (note: includes vertical tab,
/// unlike `u8::is_ascii_whitespace`).
#[inline]
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// A word → count table with no allocation per occurrence: words of up to
/// [`INLINE_WORD`] bytes live inside their entry (one cache line holds the hash, the bytes
/// and the count), longer ones in an arena; the full 64-bit hash is compared first.
#[derive(Default)]
struct WordTable {
    arena: Vec<u8>,
    entries: hashbrown::HashTable<Entry>,
}

const INLINE_WORD: usize = 16;

struct Entry {
    hash: u64,
    len: u32,
    /// Offset in the arena, for words longer than [`INLINE_WORD`].
    start: u32,
    inline: [u8; INLINE_WORD],
    count: u64,
}

impl Entry {
    #[inline]
    fn bytes<'a>(&'a self, arena: &'a [u8]) -> &'a [u8] {
        let len = self.len as usize;
        if len <= INLINE_WORD {
            &self.inline[..len]
        } else {
            &arena[self.start as usize..self.start as usize + len]
        }
    }
}

impl WordTable {
    fn with_capacity(words: usize) -> Self {
        WordTable {
            arena: Vec::new(),
            entries: hashbrown::HashTable::with_capacity(words),
        }
    }

    #[inline]
    fn add(&mut self, word: &[u8]) {
        let hash = {
            use std::hash::Hasher;
            let mut h = rustc_hash::FxHasher::default();
            h.write(word);
            h.finish()
        };
        let arena = &self.arena;
        let found = self.entries.find_mut(hash, |e| {
            e.hash == hash
                && e.len as usize == word.len()
                && e.bytes(arena).iter().zip(word).all(|(a, b)| a == b)
        });
        if let Some(e) = found {
            e.count += 1;
            return;
        }
        let mut entry = Entry {
            hash,
            len: word.len() as u32,
            start: 0,
            inline: [0; INLINE_WORD],
            count: 1,
        };
        if word.len() <= INLINE_WORD {
            entry.inline[..word.len()].copy_from_slice(word);
        } else {
            entry.start = self.arena.len() as u32;
            self.arena.extend_from_slice(word);
        }
        self.entries.insert_unique(hash, entry, |e| e.hash);
    }

    fn into_counts(self) -> Vec<(String, u64)> {
        let arena = self.arena;
        self.entries
            .into_iter()
            .map(|e| {
                // Words are cut from valid UTF-8 at whitespace, so each is valid UTF-8.
                let word = String::from_utf8_lossy(e.bytes(&arena)).into_owned();
                (word, e.count)
            })
            .collect()
    }
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
