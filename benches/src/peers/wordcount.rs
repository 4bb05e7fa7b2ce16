//! Word count on timely dataflow, with the semantics of
//! `weir_jobs::wordcount::reference`: a word is a maximal run of non-whitespace
//! characters (`char::is_whitespace`) of the lossily decoded text, optionally folded to
//! lower case.
//!
//! The dataflow is timely's `wordcount` example made fit for large inputs:
//!
//! * each worker reads its share of every file in chunks of whole lines
//!   ([`super::LineChunks`]) and counts their words in a local combiner: the
//!   single-threaded baseline's raw-byte scanner and inline-key table
//!   ([`crate::baselines::wordcount::count_words`]), which allocate nothing per
//!   occurrence (cutting at line ends keeps the words whole);
//! * every [`COMBINE_BYTES`] of input, and at the end, the combiner's distinct words
//!   (decoded, and folded if asked) go into the dataflow as one batch of
//!   `(word, count)` pairs, exchanged by a hash of the word;
//! * the owner of a word adds the counts up in its own table, and each worker hands
//!   its table back when the dataflow is complete.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use rustc_hash::{FxBuildHasher, FxHashMap};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::InputHandle;
use weir_datasets::Result;

use super::{config, join_workers, LineChunks};
use crate::baselines::wordcount::{count_words, WordTable};

/// Input bytes a worker combines before it sends the counts on.
pub const COMBINE_BYTES: usize = 256 << 20;

/// Word counts with `workers` timely worker threads in this process; the same result
/// as `weir_jobs::wordcount::reference` and `baselines::wordcount::word_counts`.
pub fn word_counts(
    files: &[PathBuf],
    lowercase: bool,
    workers: usize,
) -> Result<BTreeMap<String, u64>> {
    word_counts_combining(files, lowercase, workers, COMBINE_BYTES)
}

/// [`word_counts`], sending the combined counts on every `combine_bytes` of input.
fn word_counts_combining(
    files: &[PathBuf],
    lowercase: bool,
    workers: usize,
    combine_bytes: usize,
) -> Result<BTreeMap<String, u64>> {
    let files: Arc<[PathBuf]> = files.into();
    let guards = timely::execute(config(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let counts = Rc::new(RefCell::new(FxHashMap::<String, u64>::default()));
        let mut input = InputHandle::new();
        worker.dataflow::<u32, _, _>(|scope| {
            let counts = Rc::clone(&counts);
            input.to_stream(scope).sink(
                Exchange::new(|(word, _): &(String, u64)| FxBuildHasher.hash_one(word)),
                "Count",
                move |(input, _frontier)| {
                    let mut counts = counts.borrow_mut();
                    input.for_each(|_time, batch| {
                        for (word, n) in batch.drain(..) {
                            *counts.entry(word).or_insert(0) += n;
                        }
                    });
                },
            );
        });

        let mut read = || -> Result<()> {
            let mut table = WordTable::default();
            let mut unsent = 0;
            let mut flush = |table: &mut WordTable| {
                let counts = std::mem::take(table).into_counts(lowercase);
                input.send_batch(&mut counts.into_iter().collect());
            };
            for path in files.iter() {
                let mut chunks = LineChunks::open_share(path, index, peers)?;
                while let Some((_, chunk)) = chunks.next_chunk()? {
                    // Chunks end at a line end, so only a file's last word can be left.
                    let rest = count_words(chunk, &mut table);
                    if rest < chunk.len() {
                        table.add(&chunk[rest..]);
                    }
                    unsent += chunk.len();
                    if unsent >= combine_bytes {
                        flush(&mut table);
                        unsent = 0;
                        worker.step();
                    }
                }
            }
            flush(&mut table);
            Ok(())
        };
        let read = read();
        drop(input);
        while worker.step_or_park(None) {}
        read.map(|()| counts.take())
    });
    let mut total = BTreeMap::new();
    for part in join_workers(guards)? {
        // Each word has one owner, so the parts are disjoint.
        total.extend(part);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines;
    use crate::baselines::sample_text_files as sample_files;

    #[test]
    fn matches_the_baseline_on_the_text_samples() {
        let files = sample_files();
        for lowercase in [false, true] {
            let want = baselines::wordcount::word_counts(&files, lowercase).unwrap();
            for workers in [1, 3] {
                assert_eq!(word_counts(&files, lowercase, workers).unwrap(), want);
                // Sending after every chunk: words reach their owner many times.
                let got = word_counts_combining(&files, lowercase, workers, 1).unwrap();
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn matches_the_baseline_on_tricky_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let mut text = b"The the  THE\tcaf\xc3\xa9 ab\xffcd \xfe\r\n\nx\x0by\x0cz\n".to_vec();
        text.extend_from_slice(
            "a\u{3000}b\u{85}c\u{a0}d\u{2028}e\u{202f}f\u{1680}g\u{2001}h\n".as_bytes(),
        );
        text.extend_from_slice(b" q\xc2r\xe2\x80s\xe2\x80\x8bt \xf0\xe2\x80\x83u \xe2\x80\n");
        text.extend_from_slice("\u{130}STANBUL \u{3a3}\u{3a3} last".as_bytes());
        text.extend_from_slice(b"\xe2\x80");
        std::fs::write(&path, &text).unwrap();
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, b"").unwrap();
        let files = vec![path, empty];
        for lowercase in [false, true] {
            let want = baselines::wordcount::word_counts(&files, lowercase).unwrap();
            for workers in [1, 3] {
                assert_eq!(word_counts(&files, lowercase, workers).unwrap(), want);
            }
        }
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.txt");
        for workers in [1, 3] {
            let err = word_counts(std::slice::from_ref(&missing), false, workers).unwrap_err();
            assert!(err.to_string().contains("missing.txt"), "{err}");
        }
    }
}
