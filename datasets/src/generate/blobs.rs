//! Seeded Gaussian clusters (`weir datasets gen blobs`) as dense CSV: a header
//! `label,x0,x1,…`, then each point with the cluster it was drawn from. Cluster centres
//! are uniform in `[-10, 10]^dim`; a point is its centre plus normal noise of deviation
//! `spread` in every coordinate, its cluster drawn uniformly. Points are addressed by
//! index, so any range can be made on its own.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::writer::{write_chunks, Take};
use super::{normal, stream_seed};
use crate::error::{DatasetError, Result};

const CENTRE_TAG: u64 = 0x6365_6e74;
const POINT_TAG: u64 = 0x706f_696e;
const POINTS_PER_CHUNK: u64 = 8_192;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlobsSpec {
    pub dim: u32,
    pub clusters: u32,
    pub spread: f64,
    pub seed: u64,
}

impl BlobsSpec {
    /// The centre of cluster `c`.
    pub fn centre(&self, c: u32) -> Vec<f64> {
        let mut rng =
            Xoshiro256PlusPlus::seed_from_u64(stream_seed(self.seed, CENTRE_TAG, u64::from(c)));
        (0..self.dim).map(|_| rng.gen_range(-10.0..10.0)).collect()
    }

    /// Point `index`: its cluster and coordinates.
    pub fn point(&self, centres: &[Vec<f64>], index: u64) -> (u32, Vec<f64>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(self.seed, POINT_TAG, index));
        let c = rng.gen_range(0..self.clusters);
        let x = centres[c as usize]
            .iter()
            .map(|m| m + self.spread * normal(&mut rng))
            .collect();
        (c, x)
    }
}

/// Writes `points` points of `spec` to `path`; returns the points written.
pub fn write_blobs_file(path: &Path, spec: &BlobsSpec, points: u64) -> Result<u64> {
    if spec.dim == 0 || spec.clusters == 0 || !(spec.spread.is_finite() && spec.spread >= 0.0) {
        return Err(DatasetError::Other(
            "blobs need dim and clusters of at least 1 and a spread ≥ 0".into(),
        ));
    }
    let centres: Vec<Vec<f64>> = (0..spec.clusters).map(|c| spec.centre(c)).collect();
    let mut header = String::from("label");
    for j in 0..spec.dim {
        header.push_str(&format!(",x{j}"));
    }
    header.push('\n');
    write_chunks(
        path,
        header.as_bytes(),
        Some(points.div_ceil(POINTS_PER_CHUNK)),
        |chunk, buf| {
            let start = chunk * POINTS_PER_CHUNK;
            for i in start..(start + POINTS_PER_CHUNK).min(points) {
                let (c, x) = spec.point(&centres, i);
                buf.extend_from_slice(c.to_string().as_bytes());
                for v in x {
                    buf.extend_from_slice(format!(",{v:.4}").as_bytes());
                }
                buf.push(b'\n');
            }
        },
        |_, c| Take {
            bytes: c.len(),
            done: false,
        },
    )?;
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_lie_near_their_centres() {
        let spec = BlobsSpec {
            dim: 3,
            clusters: 4,
            spread: 0.5,
            seed: 1,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.csv");
        write_blobs_file(&path, &spec, 1000).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let centres: Vec<Vec<f64>> = (0..4).map(|c| spec.centre(c)).collect();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("label,x0,x1,x2"));
        for line in lines {
            let f: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
            let c = &centres[f[0] as usize];
            let d2: f64 = f[1..].iter().zip(c).map(|(a, b)| (a - b).powi(2)).sum();
            assert!(d2.sqrt() < 0.5 * 6.0, "{line} is far from its centre");
        }
        assert!(write_blobs_file(&path, &BlobsSpec { dim: 0, ..spec }, 1).is_err());
    }
}
