//! Seeded, deterministic dataset generators: Zipf-distributed text, R-MAT graphs
//! and gensort-style sort records.
//!
//! Every generator is addressed by index (a text chunk, an edge, a record), so any
//! index range can be produced on its own, by rayon threads writing a file or by
//! the tasks of a job, and always gives the same bytes for the same seed.

mod blobs;
mod classification;
mod graph;
mod ratings;
mod sort;
mod text;
mod writer;

pub use blobs::{write_blobs_file, BlobsSpec};
pub use classification::{write_classification_file, ClassificationSpec};
pub use graph::{
    rmat_edges, rmat_weight, write_graph_file, write_graph_file_with, RMAT_A, RMAT_B, RMAT_C,
    RMAT_D,
};
pub use ratings::{write_ratings_file, RatingsSpec};
pub use sort::{sort_record, sort_records, write_sort_file, SORT_KEY_BYTES, SORT_RECORD_BYTES};
pub use text::{write_text_file, TextGenerator, DEFAULT_VOCABULARY, TEXT_CHUNK_BYTES};

use crate::error::{DatasetError, Result};

/// The SplitMix64 finaliser: a bijective mixer with good avalanche.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// A standard normal draw from `rng` (Box-Muller).
pub(crate) fn normal(rng: &mut impl rand::Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A well-mixed 64-bit value for item `index` of the stream `tag` under `seed`.
pub(crate) fn stream_seed(seed: u64, tag: u64, index: u64) -> u64 {
    mix64(seed ^ mix64(tag.wrapping_add(index.wrapping_mul(GOLDEN))))
}

/// Parses a byte size: a number with an optional unit, case-insensitive, spaces
/// allowed: `B`; decimal `K`/`KB`, `M`/`MB`, `G`/`GB`, `T`/`TB` (powers of 1000);
/// binary `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024). A fraction is allowed
/// (`1.5GB`) and rounded down to whole bytes.
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = |why: &str| DatasetError::Other(format!("invalid size {s:?}: {why}"));
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number = number.replace('_', "");
    let multiplier: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => {
            return Err(bad(
                "unknown unit (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)",
            ))
        }
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad("no number"));
    }
    if fraction.len() > 18 {
        return Err(bad("too many decimals"));
    }
    let digits = format!("{whole}{fraction}");
    let scaled: u128 = digits.parse().map_err(|_| bad("not a number"))?;
    let bytes = scaled
        .checked_mul(multiplier)
        .map(|v| v / 10u128.pow(fraction.len() as u32))
        .ok_or_else(|| bad("too large"))?;
    u64::try_from(bytes).map_err(|_| bad("too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("200MB").unwrap(), 200_000_000);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("512KiB").unwrap(), 512 * 1024);
        assert_eq!(parse_size("3 mib").unwrap(), 3 << 20);
        assert_eq!(parse_size("1.5GB").unwrap(), 1_500_000_000);
        assert_eq!(parse_size("0.5k").unwrap(), 500);
        assert_eq!(parse_size("2T").unwrap(), 2_000_000_000_000);
        assert_eq!(parse_size("1_000B").unwrap(), 1000);
        for bad in [
            "",
            "MB",
            "12XB",
            "1.2.3",
            "-5",
            "99999999999999999999TB",
            ".",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(parse_size("7 parsecs")
            .unwrap_err()
            .to_string()
            .contains("7 parsecs"));
    }

    #[test]
    fn streams_differ_by_seed_tag_and_index() {
        let a = stream_seed(1, 2, 3);
        assert_eq!(a, stream_seed(1, 2, 3));
        assert_ne!(a, stream_seed(2, 2, 3));
        assert_ne!(a, stream_seed(1, 3, 3));
        assert_ne!(a, stream_seed(1, 2, 4));
    }
}
