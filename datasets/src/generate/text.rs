//! Zipf-distributed synthetic text for word counting: a seeded vocabulary of
//! letter-like lowercase words, drawn with Zipf (s = 1) frequencies through an
//! alias table, in lines of 8 to 16 words.

use std::path::Path;

use rand::{Rng, RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rustc_hash::FxHashSet;

use super::stream_seed;
use super::writer::{write_chunks, Take};
use crate::error::Result;

/// The approximate size of one generated chunk; chunks hold whole lines.
pub const TEXT_CHUNK_BYTES: usize = 1 << 20;
/// The vocabulary size of [`write_text_file`].
pub const DEFAULT_VOCABULARY: usize = 100_000;

const VOCABULARY_TAG: u64 = 0x766f_6361_6275_6c61;
const CHUNK_TAG: u64 = 0x7465_7874_6368_756e;
const MIN_WORD: usize = 2;
const MAX_WORD: usize = 12;
const MIN_WORDS_PER_LINE: u64 = 8;
const MAX_WORDS_PER_LINE: u64 = 16;

/// Consonant units weighted roughly by English frequency, digraphs included.
const CONSONANTS: &[(&str, u32)] = &[
    ("t", 90),
    ("n", 67),
    ("s", 63),
    ("r", 60),
    ("h", 40),
    ("l", 40),
    ("d", 43),
    ("c", 28),
    ("m", 24),
    ("f", 22),
    ("p", 19),
    ("g", 20),
    ("w", 15),
    ("b", 15),
    ("v", 10),
    ("k", 8),
    ("y", 8),
    ("j", 2),
    ("x", 2),
    ("z", 1),
    ("qu", 2),
    ("th", 25),
    ("st", 12),
    ("ch", 8),
    ("sh", 8),
    ("tr", 6),
    ("nd", 8),
    ("ng", 7),
    ("pr", 5),
    ("br", 3),
    ("ck", 3),
];
const VOWELS: &[(&str, u32)] = &[
    ("e", 127),
    ("a", 82),
    ("o", 75),
    ("i", 70),
    ("u", 28),
    ("ea", 8),
    ("ou", 8),
    ("io", 5),
    ("ee", 4),
    ("oo", 4),
    ("ai", 3),
];

fn pick<'a>(rng: &mut impl Rng, units: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = units.iter().map(|u| u.1).sum();
    let mut r = rng.gen_range(0..total);
    for (unit, weight) in units {
        if r < *weight {
            return unit;
        }
        r -= weight;
    }
    units[0].0
}

/// A pronounceable word of exactly `len` letters: alternating consonant and vowel
/// units.
fn make_word(rng: &mut impl Rng, len: usize, out: &mut Vec<u8>) {
    out.clear();
    let mut vowel = rng.gen_bool(0.3);
    while out.len() < len {
        let unit = if vowel {
            pick(rng, VOWELS)
        } else {
            pick(rng, CONSONANTS)
        };
        out.extend_from_slice(unit.as_bytes());
        vowel = !vowel;
    }
    out.truncate(len);
}

/// Walker's alias table over `n` outcomes: one random `u64` picks an outcome.
struct AliasTable {
    /// Per slot: acceptance threshold on 32 random bits, and the alias outcome.
    slots: Vec<(u32, u32)>,
}

impl AliasTable {
    fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut slots: Vec<(u32, u32)> = (0..n as u32).map(|i| (u32::MAX, i)).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            slots[s] = ((scaled[s] * 4_294_967_296.0) as u32, l as u32);
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers (rounding) always accept themselves.
        AliasTable { slots }
    }

    #[inline]
    fn sample(&self, r: u64) -> usize {
        let slot = (((r >> 32) * self.slots.len() as u64) >> 32) as usize;
        let (threshold, alias) = self.slots[slot];
        if (r as u32) < threshold || threshold == u32::MAX {
            slot
        } else {
            alias as usize
        }
    }
}

/// Generates Zipf-distributed text chunk by chunk; chunk `i` depends only on the
/// seed, the vocabulary size and `i`.
pub struct TextGenerator {
    seed: u64,
    /// All words back to back; word `r` (rank `r + 1`) is
    /// `words[offsets[r]..offsets[r + 1]]`.
    words: Vec<u8>,
    offsets: Vec<u32>,
    table: AliasTable,
}

impl TextGenerator {
    /// Builds the vocabulary of `vocabulary` distinct words (at least 1) of 2 to 12
    /// letters, frequent words tending to be short, and its Zipf table.
    pub fn new(seed: u64, vocabulary: usize) -> Self {
        let n = vocabulary.max(1);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, VOCABULARY_TAG, 0));
        let mut seen: FxHashSet<Vec<u8>> = FxHashSet::default();
        let mut words = Vec::with_capacity(n * 9);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        let mut word = Vec::with_capacity(MAX_WORD);
        for rank in 0..n {
            let typical = MIN_WORD as f64 + 0.45 * ((rank + 1) as f64).log2();
            let mut len = (typical as usize + rng.gen_range(0..=2)).clamp(MIN_WORD, MAX_WORD);
            let mut tries = 0;
            loop {
                make_word(&mut rng, len, &mut word);
                if !seen.contains(&word) {
                    break;
                }
                tries += 1;
                if tries % 8 == 0 && len < MAX_WORD {
                    len += 1;
                }
            }
            seen.insert(word.clone());
            words.extend_from_slice(&word);
            offsets.push(words.len() as u32);
        }
        let weights: Vec<f64> = (1..=n).map(|rank| 1.0 / rank as f64).collect();
        TextGenerator {
            seed,
            words,
            offsets,
            table: AliasTable::new(&weights),
        }
    }

    /// The number of words in the vocabulary.
    pub fn vocabulary_len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The word of 0-based rank `rank` (0 is the most frequent).
    pub fn word(&self, rank: usize) -> &str {
        let bytes = &self.words[self.offsets[rank] as usize..self.offsets[rank + 1] as usize];
        // Words are built from ASCII letters only.
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// Appends chunk `index`: whole lines of 8 to 16 words separated by single
    /// spaces, each ending in `'\n'`, about [`TEXT_CHUNK_BYTES`] bytes in all.
    pub fn chunk(&self, index: u64, out: &mut Vec<u8>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(self.seed, CHUNK_TAG, index));
        let start = out.len();
        out.reserve(TEXT_CHUNK_BYTES + 16 * (MAX_WORD + 1));
        let span = MAX_WORDS_PER_LINE - MIN_WORDS_PER_LINE + 1;
        while out.len() - start < TEXT_CHUNK_BYTES {
            let count = MIN_WORDS_PER_LINE + ((rng.next_u32() as u64 * span) >> 32);
            for _ in 0..count {
                let rank = self.table.sample(rng.next_u64());
                let from = self.offsets[rank] as usize;
                let to = self.offsets[rank + 1] as usize;
                out.extend_from_slice(&self.words[from..to]);
                out.push(b' ');
            }
            if let Some(last) = out.last_mut() {
                *last = b'\n';
            }
        }
    }
}

/// Writes at least `size_bytes` of text (whole lines, stopping at the first line
/// end at or past the size) with a [`DEFAULT_VOCABULARY`]-word vocabulary, and
/// returns the bytes written. The file is the concatenation of chunks 0, 1, ...
/// of [`TextGenerator`] cut after that line, so a smaller size gives a prefix.
pub fn write_text_file(path: &Path, size_bytes: u64, seed: u64) -> Result<u64> {
    let generator = TextGenerator::new(seed, DEFAULT_VOCABULARY);
    let mut written = 0u64;
    let chunk_count = if size_bytes == 0 { Some(0) } else { None };
    write_chunks(
        path,
        b"",
        chunk_count,
        |index, buf| generator.chunk(index, buf),
        |_, chunk| {
            let needed = size_bytes - written;
            if (chunk.len() as u64) < needed {
                written += chunk.len() as u64;
                return Take {
                    bytes: chunk.len(),
                    done: false,
                };
            }
            let from = needed as usize - 1;
            let end = memchr::memchr(b'\n', &chunk[from..]).map_or(chunk.len(), |i| from + i + 1);
            written += end as u64;
            Take {
                bytes: end,
                done: true,
            }
        },
    )?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_distinct_lowercase_and_deterministic() {
        let g = TextGenerator::new(7, 20_000);
        assert_eq!(g.vocabulary_len(), 20_000);
        let mut seen = FxHashSet::default();
        for r in 0..g.vocabulary_len() {
            let w = g.word(r);
            assert!((MIN_WORD..=MAX_WORD).contains(&w.len()), "{w}");
            assert!(w.bytes().all(|b| b.is_ascii_lowercase()), "{w}");
            assert!(seen.insert(w.to_string()), "duplicate {w}");
        }
        let again = TextGenerator::new(7, 20_000);
        assert_eq!(again.words, g.words);
        assert_ne!(TextGenerator::new(8, 20_000).words, g.words);
        // Frequent words are short on average.
        let avg = |r: std::ops::Range<usize>| {
            let n = r.len() as f64;
            r.map(|i| g.word(i).len()).sum::<usize>() as f64 / n
        };
        assert!(avg(0..100) < avg(10_000..20_000));
    }

    #[test]
    fn chunks_are_deterministic_whole_lines_of_8_to_16_words() {
        let g = TextGenerator::new(1, 1000);
        let mut a = Vec::new();
        g.chunk(3, &mut a);
        let mut b = vec![b'x'];
        g.chunk(3, &mut b);
        assert_eq!(&b[1..], &a[..]);
        let mut c = Vec::new();
        g.chunk(4, &mut c);
        assert_ne!(a, c);
        assert!(a.len() >= TEXT_CHUNK_BYTES && a.len() < TEXT_CHUNK_BYTES + 300);
        assert_eq!(a.last(), Some(&b'\n'));
        let text = std::str::from_utf8(&a).unwrap();
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            assert!((8..=16).contains(&words.len()), "{line}");
            assert!(words.iter().all(|w| !w.is_empty()));
        }
    }

    #[test]
    fn frequencies_follow_zipf() {
        let g = TextGenerator::new(11, 1000);
        let mut counts = rustc_hash::FxHashMap::default();
        let mut buf = Vec::new();
        for i in 0..4 {
            buf.clear();
            g.chunk(i, &mut buf);
            for w in std::str::from_utf8(&buf).unwrap().split_ascii_whitespace() {
                *counts.entry(w.to_string()).or_insert(0u64) += 1;
            }
        }
        let f = |rank: usize| counts[g.word(rank)] as f64;
        // Zipf s = 1: frequency of rank k is proportional to 1/k.
        for (k, want) in [(2, 0.5), (4, 0.25), (10, 0.1)] {
            let ratio = f(k - 1) / f(0);
            assert!((ratio - want).abs() < want * 0.1, "rank {k}: {ratio}");
        }
    }

    #[test]
    fn file_has_requested_size_in_whole_lines_and_is_a_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.txt");
        let small = dir.path().join("small.txt");
        let n = write_text_file(&big, 3 * TEXT_CHUNK_BYTES as u64 + 12345, 5).unwrap();
        let m = write_text_file(&small, 1000, 5).unwrap();
        let big_bytes = std::fs::read(&big).unwrap();
        let small_bytes = std::fs::read(&small).unwrap();
        assert_eq!(big_bytes.len() as u64, n);
        assert_eq!(small_bytes.len() as u64, m);
        assert!(
            n >= 3 * TEXT_CHUNK_BYTES as u64 + 12345
                && n < 3 * TEXT_CHUNK_BYTES as u64 + 12345 + 300
        );
        assert!((1000..1300).contains(&m));
        assert_eq!(big_bytes.last(), Some(&b'\n'));
        assert!(big_bytes.starts_with(&small_bytes));
        // The line ending the file is the first one reaching the size.
        assert_eq!(
            memchr::memchr(b'\n', &small_bytes[999..]).map(|i| 999 + i + 1),
            Some(m as usize)
        );
        let g = TextGenerator::new(5, DEFAULT_VOCABULARY);
        let mut chunk = Vec::new();
        g.chunk(0, &mut chunk);
        assert_eq!(&big_bytes[..chunk.len()], &chunk[..]);
        let empty = dir.path().join("empty.txt");
        assert_eq!(write_text_file(&empty, 0, 5).unwrap(), 0);
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    }
}
