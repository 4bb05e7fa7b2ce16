//! Word count on one thread, with the semantics of `weir_jobs::wordcount::reference`: a
//! word is a maximal run of non-whitespace characters (`char::is_whitespace`) of the
//! lossily decoded text, optionally folded to lower case.
//!
//! The technique:
//!
//! * Files are read in 4 MiB chunks into one reusable buffer; the unfinished word at
//!   the end of a chunk is moved to the front of the buffer and completed by the next
//!   read, so nothing is ever decoded or copied per line.
//! * Words are cut from the raw bytes. A 256-entry table classifies each byte: ASCII
//!   whitespace (including `\x0b`, which `char::is_whitespace` accepts and
//!   `u8::is_ascii_whitespace` does not), a word byte, or the lead byte of a possible
//!   multi-byte Unicode space (U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
//!   U+202F, U+205F, U+3000), which is then checked exactly. A whitespace encoding
//!   starts with a lead byte, which lossy decoding never absorbs into a neighbouring
//!   invalid sequence, so cutting raw bytes gives the same words as decoding first.
//! * Each word is counted in an FxHash table (`hashbrown::HashTable`) without
//!   allocating: words up to 16 bytes live inside their entry next to their hash and
//!   count, longer ones in an append-only arena; hashes are compared before bytes.
//! * Only the distinct words are decoded (lossily) and, if asked, lower-cased at the
//!   end; raw words that decode or fold to the same string have their counts summed.

use std::collections::BTreeMap;
use std::fs::File;
use std::hash::Hasher;
use std::io::{self, Read};
use std::path::PathBuf;

/// Bytes read from a file at a time.
pub const CHUNK_BYTES: usize = 4 << 20;

/// The word counts of `files`, as `weir_jobs::wordcount::reference` returns them.
pub fn word_counts(files: &[PathBuf], lowercase: bool) -> io::Result<BTreeMap<String, u64>> {
    let mut table = WordTable::default();
    let mut buf = Vec::new();
    for path in files {
        count_file(path, &mut buf, &mut table)?;
    }
    Ok(table.into_counts(lowercase))
}

/// The word counts of `text` (in memory), as [`word_counts`] returns them.
pub fn word_counts_of(text: &[u8], lowercase: bool) -> BTreeMap<String, u64> {
    let mut table = WordTable::default();
    let rest = count_words(text, &mut table);
    if !text[rest..].is_empty() {
        table.add(&text[rest..]);
    }
    table.into_counts(lowercase)
}

fn count_file(path: &PathBuf, buf: &mut Vec<u8>, table: &mut WordTable) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut carried = 0;
    loop {
        buf.resize(carried + CHUNK_BYTES, 0);
        let filled = carried + read_full(&mut file, &mut buf[carried..])?;
        if filled == carried {
            // End of file: the carried bytes are the last word.
            if carried > 0 {
                table.add(&buf[..carried]);
            }
            return Ok(());
        }
        let rest = count_words(&buf[..filled], table);
        buf.copy_within(rest..filled, 0);
        carried = filled - rest;
    }
}

/// Reads until `out` is full or the file ends; returns the bytes read.
fn read_full(file: &mut File, out: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < out.len() {
        match file.read(&mut out[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

const WORD: u8 = 0;
const SPACE: u8 = 1;
const MAYBE_SPACE: u8 = 2;

/// The class of each byte: [`SPACE`] for the ASCII characters `char::is_whitespace`
/// accepts, [`MAYBE_SPACE`] for lead bytes of multi-byte Unicode spaces.
static CLASS: [u8; 256] = {
    let mut class = [WORD; 256];
    class[b' ' as usize] = SPACE;
    class[b'\t' as usize] = SPACE;
    class[b'\n' as usize] = SPACE;
    class[0x0b] = SPACE;
    class[0x0c] = SPACE;
    class[b'\r' as usize] = SPACE;
    class[0xc2] = MAYBE_SPACE;
    class[0xe1] = MAYBE_SPACE;
    class[0xe2] = MAYBE_SPACE;
    class[0xe3] = MAYBE_SPACE;
    class
};

/// The length of the multi-byte Unicode space starting `bytes`, or 0 if there is none
/// (including when `bytes` ends before the encoding would).
#[inline]
fn unicode_space_len(bytes: &[u8]) -> usize {
    match bytes {
        // U+0085, U+00A0
        [0xc2, 0x85 | 0xa0, ..] => 2,
        // U+1680
        [0xe1, 0x9a, 0x80, ..] => 3,
        // U+2000..U+200A, U+2028, U+2029, U+202F
        [0xe2, 0x80, 0x80..=0x8a | 0xa8 | 0xa9 | 0xaf, ..] => 3,
        // U+205F
        [0xe2, 0x81, 0x9f, ..] => 3,
        // U+3000
        [0xe3, 0x80, 0x80, ..] => 3,
        _ => 0,
    }
}

/// Counts the words of `bytes` that are followed by whitespace; returns the offset of
/// the unfinished word at the end (`bytes.len()` if `bytes` ends with whitespace).
pub fn count_words(bytes: &[u8], table: &mut WordTable) -> usize {
    let mut i = 0;
    let n = bytes.len();
    loop {
        // Skip whitespace.
        loop {
            if i == n {
                return n;
            }
            match CLASS[bytes[i] as usize] {
                SPACE => i += 1,
                MAYBE_SPACE => match unicode_space_len(&bytes[i..]) {
                    0 => break,
                    len => i += len,
                },
                _ => break,
            }
        }
        // Scan the word.
        let start = i;
        i += 1;
        let end = loop {
            if i == n {
                return start;
            }
            match CLASS[bytes[i] as usize] {
                WORD => i += 1,
                SPACE => break i,
                _ => match unicode_space_len(&bytes[i..]) {
                    0 => i += 1,
                    _ => break i,
                },
            }
        };
        table.add(&bytes[start..end]);
    }
}

/// Words of up to this many bytes are stored inside their table entry.
const INLINE_WORD: usize = 16;

/// A raw word → count table with no allocation per occurrence.
#[derive(Default)]
pub struct WordTable {
    arena: Vec<u8>,
    entries: hashbrown::HashTable<Entry>,
}

struct Entry {
    hash: u64,
    count: u64,
    /// Offset in the arena, for words longer than [`INLINE_WORD`].
    start: usize,
    len: u32,
    inline: [u8; INLINE_WORD],
}

impl Entry {
    #[inline]
    fn bytes<'a>(&'a self, arena: &'a [u8]) -> &'a [u8] {
        let len = self.len as usize;
        if len <= INLINE_WORD {
            &self.inline[..len]
        } else {
            &arena[self.start..self.start + len]
        }
    }
}

impl WordTable {
    /// Counts one occurrence of the raw `word`.
    #[inline]
    pub fn add(&mut self, word: &[u8]) {
        let mut hasher = rustc_hash::FxHasher::default();
        hasher.write(word);
        let hash = hasher.finish();
        let arena = &self.arena;
        if let Some(e) = self.entries.find_mut(hash, |e| {
            e.hash == hash && e.len as usize == word.len() && e.bytes(arena) == word
        }) {
            e.count += 1;
            return;
        }
        let len = u32::try_from(word.len()).expect("a word of 4 GiB or more");
        let mut entry = Entry {
            hash,
            count: 1,
            start: 0,
            len,
            inline: [0; INLINE_WORD],
        };
        if word.len() <= INLINE_WORD {
            entry.inline[..word.len()].copy_from_slice(word);
        } else {
            entry.start = self.arena.len();
            self.arena.extend_from_slice(word);
        }
        self.entries.insert_unique(hash, entry, |e| e.hash);
    }

    /// The counts by word, decoded lossily and, with `lowercase`, folded to lower case
    /// (words that decode or fold alike have their counts summed).
    pub fn into_counts(self, lowercase: bool) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for e in &self.entries {
            let word = String::from_utf8_lossy(e.bytes(&self.arena));
            let word = if lowercase {
                word.to_lowercase()
            } else {
                word.into_owned()
            };
            *counts.entry(word).or_insert(0) += e.count;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::sample_text_files as sample_files;
    use weir_jobs::wordcount::reference;

    #[test]
    fn matches_the_reference_on_the_text_samples() {
        let files = sample_files();
        for lowercase in [false, true] {
            let expected = reference(&files, lowercase).unwrap();
            assert_eq!(word_counts(&files, lowercase).unwrap(), expected);
        }
    }

    #[test]
    fn matches_the_reference_on_tricky_text_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let mut text = b"The the  THE\tcaf\xc3\xa9 ab\xffcd \xfe\r\n\nx\x0by\x0cz\n".to_vec();
        text.extend_from_slice(
            "a\u{3000}b\u{85}c\u{a0}d\u{2028}e\u{202f}f\u{1680}g\u{2001}h".as_bytes(),
        );
        // Near misses: prefixes of spaces, and invalid bytes just before a space.
        text.extend_from_slice(b" q\xc2r\xe2\x80s\xe2\x80\x8bt \xf0\xe2\x80\x83u \xe2\x80\n");
        let unit = text.clone();
        // Long words (arena) and words straddling every chunk boundary.
        let mut i = 0u64;
        while text.len() < 3 * CHUNK_BYTES + 1000 {
            text.extend_from_slice(
                format!("w{} Long-word-over-sixteen-bytes-{}\n", i % 97, i % 5).as_bytes(),
            );
            if i % 1000 == 1 {
                text.extend_from_slice(&unit);
            }
            i += 1;
        }
        text.extend_from_slice(b"last\xe2\x80");
        std::fs::write(&path, &text).unwrap();
        let files = vec![path];
        for lowercase in [false, true] {
            let expected = reference(&files, lowercase).unwrap();
            assert_eq!(word_counts(&files, lowercase).unwrap(), expected);
            assert_eq!(word_counts_of(&text, lowercase), expected);
        }
        let counts = word_counts(&files, false).unwrap();
        assert_eq!(counts["a"], counts["h"]);
        assert!(counts["\u{fffd}"] > 0);
    }

    #[test]
    fn empty_and_space_only_inputs_have_no_words() {
        assert!(word_counts_of(b"", false).is_empty());
        assert!(word_counts_of(" \u{3000}\n".as_bytes(), false).is_empty());
        assert_eq!(word_counts_of(b"x", false)["x"], 1);
    }
}
