//! Seeded ratings from a planted low-rank matrix plus noise (`weir datasets gen ratings`):
//! row factors `U` (rows × rank) and column factors `V` (cols × rank) have normal entries
//! of variance `1 / rank`, a rating is `U_r · V_c` plus normal noise of deviation
//! `noise`, at a uniformly drawn `(r, c)`. Ratings are addressed by index, so a held-out
//! set of the same matrix is the ratings after the training set's.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::writer::{write_chunks, Take};
use super::{normal, stream_seed};
use crate::error::{DatasetError, Result};

const FACTOR_TAG: u64 = 0x6661_6374;
const RATING_TAG: u64 = 0x7261_7465;
const RATINGS_PER_CHUNK: u64 = 16_384;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatingsSpec {
    pub rows: u32,
    pub cols: u32,
    pub rank: u32,
    pub noise: f64,
    pub seed: u64,
}

impl RatingsSpec {
    /// Factor `index` (rows first, then columns), `rank` values.
    pub fn factor(&self, index: u64) -> Vec<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(self.seed, FACTOR_TAG, index));
        let scale = 1.0 / f64::from(self.rank).sqrt();
        (0..self.rank).map(|_| normal(&mut rng) * scale).collect()
    }

    /// Rating `index`: its row, column and value.
    pub fn rating(&self, index: u64) -> (u32, u32, f64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(self.seed, RATING_TAG, index));
        let r = rng.gen_range(0..self.rows);
        let c = rng.gen_range(0..self.cols);
        let u = self.factor(u64::from(r));
        let v = self.factor(u64::from(self.rows) + u64::from(c));
        let dot: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
        (r, c, dot + self.noise * normal(&mut rng))
    }
}

/// Writes ratings `first..first + count` of `spec` to `path` as `row<TAB>col<TAB>value`.
pub fn write_ratings_file(path: &Path, spec: &RatingsSpec, first: u64, count: u64) -> Result<u64> {
    if spec.rows == 0 || spec.cols == 0 || spec.rank == 0 {
        return Err(DatasetError::Other(
            "ratings need rows, cols and rank of at least 1".into(),
        ));
    }
    if !(spec.noise.is_finite() && spec.noise >= 0.0) {
        return Err(DatasetError::Other(format!(
            "noise {} is not ≥ 0",
            spec.noise
        )));
    }
    write_chunks(
        path,
        b"",
        Some(count.div_ceil(RATINGS_PER_CHUNK)),
        |chunk, buf| {
            let start = chunk * RATINGS_PER_CHUNK;
            for i in start..(start + RATINGS_PER_CHUNK).min(count) {
                let (r, c, v) = spec.rating(first + i);
                buf.extend_from_slice(format!("{r}\t{c}\t{v:.4}\n").as_bytes());
            }
        },
        |_, c| Take {
            bytes: c.len(),
            done: false,
        },
    )?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratings::RatingBlock;

    #[test]
    fn ratings_come_from_the_planted_factors() {
        let spec = RatingsSpec {
            rows: 50,
            cols: 40,
            rank: 3,
            noise: 0.0,
            seed: 2,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.tsv");
        write_ratings_file(&path, &spec, 0, 200).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut block = RatingBlock::default();
        for (i, line) in text.lines().enumerate() {
            block.push_line(line, &path, i as u64 + 1).unwrap();
        }
        assert_eq!(block.len(), 200);
        for i in 0..block.len() {
            let (r, c) = (block.rows[i], block.cols[i]);
            let u = spec.factor(u64::from(r));
            let v = spec.factor(50 + u64::from(c));
            let dot: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
            assert!((f64::from(block.values[i]) - dot).abs() < 1e-3);
        }
        let bad = RatingsSpec { rank: 0, ..spec };
        assert!(write_ratings_file(&path, &bad, 0, 1).is_err());
    }
}
