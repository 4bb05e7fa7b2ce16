//! `invertedindex`: for every word, the documents it appears in, as MIT 6.824's indexer
//! builds it. A word is a maximal run of alphabetic characters (`char::is_alphabetic`),
//! kept as written; a document is an input file, named by its file name only so the
//! output does not depend on where the files are (files of the same name in different
//! directories count as one document). Output: `word<TAB>documents<TAB>doc1,doc2,…`, the
//! documents sorted and each listed once.
//!
//! Each map task collects the distinct words of each file in its split in a local set, so
//! a `(word, document)` pair leaves a task at most once; an `aggregate_by_key` shuffle then
//! merges the per-task document lists, kept sorted and free of repeats.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHasher;
use weir_engine::{JobContext, Result};
use weir_operators::prelude::*;
use weir_operators::shuffle::FxHashMap;
use weir_operators::sources::NumberedLine;

use crate::output::{report_top, save_or_show};
use crate::registry::Job;

type FxHashSet<T> = hashbrown::HashSet<T, BuildHasherDefault<FxHasher>>;

/// A word, the number of documents it appears in, and those documents in order.
pub type Posting = (String, u64, Vec<String>);

/// Builds an inverted index of text files.
#[derive(Debug, Clone, clap::Parser)]
pub struct InvertedIndex {
    /// Input file, directory or glob (repeatable); every file is a document.
    #[arg(long = "input", required = true)]
    pub inputs: Vec<String>,
}

impl Job for InvertedIndex {
    const NAME: &'static str = "invertedindex";
    const ABOUT: &'static str =
        "The documents each word appears in (word<TAB>count<TAB>doc1,doc2,...)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let index = inverted_index(ctx, &self.inputs)?;
        let summary = save_or_show(ctx, &index, |a: &Posting, b: &Posting| {
            b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))
        })?;
        ctx.set_result("words", summary.records);
        if ctx.should_print() {
            println!("{} distinct words", summary.records);
        }
        report_top(ctx, "words in the most documents", &summary.top);
        Ok(())
    }
}

/// The distributed index: every word with its sorted, distinct documents.
pub fn inverted_index(ctx: &JobContext, inputs: &[String]) -> Result<Dataset<Posting>> {
    Ok(ctx
        .text_file_numbered(inputs)?
        .map_partitions(|_, lines| partition_pairs(lines).into_iter())
        .aggregate_by_key(Vec::new(), insert_sorted, merge_sorted)
        .map(|(word, docs)| (word, docs.len() as u64, docs)))
}

/// The document name of a file: its file name (the whole path if it has none).
pub fn document_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// The words of a text: maximal runs of alphabetic characters.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
}

/// Each distinct `(word, document)` pair of a partition once.
fn partition_pairs(lines: Records<NumberedLine>) -> Vec<(String, String)> {
    let mut by_file: FxHashMap<Arc<str>, FxHashSet<String>> = FxHashMap::default();
    for (file, _, line) in lines {
        let seen = by_file.entry(file).or_default();
        for word in words(&line) {
            if !seen.contains(word) {
                seen.insert(word.to_string());
            }
        }
    }
    let mut pairs = Vec::new();
    for (file, seen) in by_file {
        let doc = document_name(Path::new(&*file));
        pairs.extend(seen.into_iter().map(|w| (w, doc.clone())));
    }
    pairs
}

/// Adds `doc` to a sorted list of distinct documents.
fn insert_sorted(mut docs: Vec<String>, doc: String) -> Vec<String> {
    if let Err(at) = docs.binary_search(&doc) {
        docs.insert(at, doc);
    }
    docs
}

/// Merges two sorted lists of distinct documents into one.
fn merge_sorted(a: Vec<String>, b: Vec<String>) -> Vec<String> {
    if a.is_empty() {
        return b;
    }
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => out.extend(a.next()),
            std::cmp::Ordering::Greater => out.extend(b.next()),
            std::cmp::Ordering::Equal => {
                out.extend(a.next());
                b.next();
            }
        }
    }
    out.extend(a);
    out.extend(b);
    out
}

/// The sequential reference: reads every file whole (decoded lossily) into a
/// `BTreeMap` of word to documents.
pub fn reference(files: &[PathBuf]) -> std::io::Result<BTreeMap<String, BTreeSet<String>>> {
    let mut index: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let bytes = std::fs::read(f)?;
        let text = String::from_utf8_lossy(&bytes);
        let doc = document_name(f);
        for word in words(&text) {
            index
                .entry(word.to_string())
                .or_default()
                .insert(doc.clone());
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_operators::testing::local_with;

    #[test]
    fn merging_keeps_lists_sorted_and_distinct() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            merge_sorted(s(&["a", "c", "d"]), s(&["b", "c", "e"])),
            s(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(merge_sorted(s(&[]), s(&["x"])), s(&["x"]));
        assert_eq!(
            insert_sorted(insert_sorted(s(&["b"]), "a".into()), "b".into()),
            s(&["a", "b"])
        );
        let w: Vec<&str> = words("don't stop--2go élan 日本語\u{fffd}x").collect();
        assert_eq!(w, ["don", "t", "stop", "go", "élan", "日本語", "x"]);
    }

    #[test]
    fn matches_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("texts");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("a.txt"), b"The cat, the hat.\r\ncaf\xc3\xa9 x1y\n").unwrap();
        std::fs::write(sub.join("b.txt"), b"hat\xffcat\nCAT dog").unwrap();
        let mut big = Vec::new();
        for i in 0..40_000u32 {
            big.extend_from_slice(format!("w{} cat and number{}\n", i % 53, i % 101).as_bytes());
        }
        std::fs::write(sub.join("c.txt"), &big).unwrap();
        let files: Vec<PathBuf> = ["a.txt", "b.txt", "c.txt"]
            .iter()
            .map(|f| sub.join(f))
            .collect();
        let expected = reference(&files).unwrap();
        let docs = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(expected["cat"], docs(&["a.txt", "b.txt", "c.txt"]));
        assert_eq!(expected["hat"], docs(&["a.txt", "b.txt"]));
        assert_eq!(expected["café"], docs(&["a.txt"]));
        assert!(expected.contains_key("y") && !expected.contains_key("x1y"));
        let input = vec![sub.to_string_lossy().into_owned()];
        for threads in [1, 3] {
            let input = input.clone();
            let got = local_with(threads, move |ctx| inverted_index(ctx, &input)?.collect());
            let mut seen = BTreeMap::new();
            for (word, count, docs) in got {
                assert_eq!(count as usize, docs.len(), "{word}");
                assert!(docs.windows(2).all(|w| w[0] < w[1]), "{word}: {docs:?}");
                let set: BTreeSet<String> = docs.into_iter().collect();
                assert!(seen.insert(word, set).is_none(), "a word appears twice");
            }
            assert_eq!(seen, expected, "threads={threads}");
        }
    }
}
