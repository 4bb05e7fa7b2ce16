//! R-MAT (Kronecker) graphs with the Graph500 parameters, generated per edge index
//! so any range of edges can be produced independently.
//!
//! Edge `i` descends `scale` levels of the adjacency matrix, picking a quadrant with
//! probabilities a, b, c, d at each level from a counter-based random stream keyed
//! by the seed and `i`. Vertex ids are then scrambled by a seeded bijection of
//! `[0, 2^scale)` as the Graph500 reference generator does, so high-degree
//! vertices are spread over the id range. Self-loops and duplicate edges are kept,
//! as in Graph500's raw edge list.

use std::ops::Range;
use std::path::Path;

use super::writer::{write_chunks, Take};
use super::{mix64, stream_seed};
use crate::error::{DatasetError, Result};

/// Probability of the top-left quadrant (Graph500).
pub const RMAT_A: f64 = 0.57;
/// Probability of the top-right quadrant (Graph500).
pub const RMAT_B: f64 = 0.19;
/// Probability of the bottom-left quadrant (Graph500).
pub const RMAT_C: f64 = 0.19;
/// Probability of the bottom-right quadrant (Graph500).
pub const RMAT_D: f64 = 0.05;

/// The largest supported scale.
const MAX_SCALE: u32 = 62;
const EDGE_TAG: u64 = 0x726d_6174_6564_6765;
const SCRAMBLE_TAG: u64 = 0x7363_7261_6d62_6c65;
/// Edges per generated chunk of a file.
const EDGES_PER_CHUNK: u64 = 1 << 16;

fn threshold(p: f64) -> u64 {
    (p * 18_446_744_073_709_551_616.0) as u64
}

/// Graph500's vertex scrambling: add, multiply by an odd constant and bit-reverse,
/// twice; each step is a bijection on the low `scale` bits.
fn scramble(v: u64, scale: u32, k0: u64, k1: u64) -> u64 {
    if scale == 0 {
        return 0;
    }
    let shift = 64 - scale;
    let mut v = v.wrapping_add(k0).wrapping_add(k1);
    v = v.wrapping_mul(k0 | 0x4519_8402_1149_3211);
    v = v.reverse_bits() >> shift;
    v = v.wrapping_mul(k1 | 0x3050_8521_02c8_43a5);
    v.reverse_bits() >> shift
}

/// The edges with indices in `range` (clipped to the graph's
/// `edge_factor * 2^scale` edges) of the R-MAT graph on `2^scale` vertices with
/// the Graph500 parameters. Deterministic per edge: the edges of a range equal the
/// same indices of any larger range. `scale` is capped at 62.
pub fn rmat_edges(scale: u32, edge_factor: u32, seed: u64, range: Range<u64>) -> Vec<(u64, u64)> {
    let scale = scale.min(MAX_SCALE);
    let total = (edge_factor as u64).saturating_mul(1u64 << scale);
    let range = range.start.min(total)..range.end.min(total);
    let k0 = stream_seed(seed, SCRAMBLE_TAG, 0);
    let k1 = stream_seed(seed, SCRAMBLE_TAG, 1);
    let ta = threshold(RMAT_A);
    let tab = threshold(RMAT_A + RMAT_B);
    let tabc = threshold(RMAT_A + RMAT_B + RMAT_C);
    let mut edges = Vec::with_capacity((range.end - range.start) as usize);
    for i in range {
        let key = stream_seed(seed, EDGE_TAG, i);
        let (mut src, mut dst) = (0u64, 0u64);
        for level in 0..scale as u64 {
            let r = mix64(key.wrapping_add(level.wrapping_mul(0xd1b5_4a32_d192_ed03)));
            let (s, d) = if r < ta {
                (0, 0)
            } else if r < tab {
                (0, 1)
            } else if r < tabc {
                (1, 0)
            } else {
                (1, 1)
            };
            src = (src << 1) | s;
            dst = (dst << 1) | d;
        }
        edges.push((scramble(src, scale, k0, k1), scramble(dst, scale, k0, k1)));
    }
    edges
}

fn push_decimal(out: &mut Vec<u8>, v: u64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

/// Writes the R-MAT graph as a SNAP edge list: one `#` header line, then
/// `src\tdst` lines in edge-index order. Returns the number of edges written.
pub fn write_graph_file(path: &Path, scale: u32, edge_factor: u32, seed: u64) -> Result<u64> {
    write_graph_file_with(path, scale, edge_factor, seed, false)
}

/// The weight of edge `index` of a weighted R-MAT file: in `[1, 100)` with two decimals,
/// from a hash of the seed and the index, so a file's weights, like its edges, depend on
/// nothing else.
pub fn rmat_weight(seed: u64, index: u64) -> f64 {
    let cents = 100 + mix64(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15)) % 9_900;
    cents as f64 / 100.0
}

/// As [`write_graph_file`]; with `weighted`, each line has a third column, the edge's
/// [`rmat_weight`] (for SSSP).
pub fn write_graph_file_with(
    path: &Path,
    scale: u32,
    edge_factor: u32,
    seed: u64,
    weighted: bool,
) -> Result<u64> {
    if scale > MAX_SCALE {
        return Err(DatasetError::Other(format!(
            "scale {scale} is too large (at most {MAX_SCALE})"
        )));
    }
    let vertices = 1u64 << scale;
    let total = (edge_factor as u64)
        .checked_mul(vertices)
        .ok_or_else(|| DatasetError::Other("edge count overflows".into()))?;
    let header = format!(
        "# R-MAT graph, Graph500 parameters a={RMAT_A} b={RMAT_B} c={RMAT_C} d={RMAT_D}: \
         scale {scale}, edge factor {edge_factor}, seed {seed}, {vertices} vertices, \
         {total} edges (self-loops and duplicates kept)\n"
    );
    let chunks = total.div_ceil(EDGES_PER_CHUNK);
    write_chunks(
        path,
        header.as_bytes(),
        Some(chunks),
        |index, buf| {
            let from = index * EDGES_PER_CHUNK;
            let edges = rmat_edges(scale, edge_factor, seed, from..from + EDGES_PER_CHUNK);
            for (offset, (src, dst)) in edges.into_iter().enumerate() {
                push_decimal(buf, src);
                buf.push(b'\t');
                push_decimal(buf, dst);
                if weighted {
                    let cents = (rmat_weight(seed, from + offset as u64) * 100.0).round() as u64;
                    buf.push(b'\t');
                    push_decimal(buf, cents / 100);
                    buf.extend_from_slice(format!(".{:02}", cents % 100).as_bytes());
                }
                buf.push(b'\n');
            }
        },
        |_, chunk| Take {
            bytes: chunk.len(),
            done: false,
        },
    )?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edges::parse_edge_line;

    #[test]
    fn scramble_is_a_bijection() {
        for scale in [1, 3, 10] {
            let n = 1u64 << scale;
            let mut seen = vec![false; n as usize];
            for v in 0..n {
                let s = scramble(v, scale, 123, 456);
                assert!(s < n);
                assert!(!seen[s as usize]);
                seen[s as usize] = true;
            }
        }
    }

    #[test]
    fn ranges_are_independent_and_deterministic() {
        let all = rmat_edges(10, 16, 9, 0..16 * 1024);
        assert_eq!(all.len(), 16 * 1024);
        assert_eq!(rmat_edges(10, 16, 9, 100..200), all[100..200].to_vec());
        assert_ne!(rmat_edges(10, 16, 10, 100..200), all[100..200].to_vec());
        assert!(all.iter().all(|&(s, d)| s < 1024 && d < 1024));
        // Clipped to the edge count.
        assert_eq!(
            rmat_edges(10, 16, 9, 16_000..20_000).len(),
            16 * 1024 - 16_000
        );
    }

    #[test]
    fn degrees_are_skewed_like_rmat() {
        let scale = 12;
        let edges = rmat_edges(scale, 16, 3, 0..16 << scale);
        let mut degree = vec![0u32; 1 << scale];
        for &(s, _) in &edges {
            degree[s as usize] += 1;
        }
        let max = *degree.iter().max().unwrap() as f64;
        let mean = edges.len() as f64 / degree.len() as f64;
        assert!(max > 20.0 * mean, "max {max}, mean {mean}");
        // Scrambling spreads the hubs: the heaviest vertex is not vertex 0 for
        // every seed.
        let hub = |seed| {
            let mut d = vec![0u32; 1 << scale];
            for (s, _) in rmat_edges(scale, 16, seed, 0..16 << scale) {
                d[s as usize] += 1;
            }
            (0..d.len()).max_by_key(|&i| d[i]).unwrap()
        };
        assert_ne!(hub(1), hub(2));
    }

    #[test]
    fn quadrant_probabilities_hold() {
        // With scale 1 and no scrambling effect on counts, the four (src, dst)
        // pairs appear with the Graph500 probabilities (up to relabelling).
        let edges = rmat_edges(1, 50_000, 4, 0..100_000);
        let mut counts = [0f64; 4];
        for (s, d) in &edges {
            counts[(s * 2 + d) as usize] += 1.0;
        }
        let mut shares: Vec<f64> = counts.iter().map(|c| c / edges.len() as f64).collect();
        shares.sort_by(f64::total_cmp);
        let mut want = [RMAT_A, RMAT_B, RMAT_C, RMAT_D];
        want.sort_by(f64::total_cmp);
        for (got, want) in shares.iter().zip(want) {
            assert!((got - want).abs() < 0.01, "{shares:?}");
        }
    }

    #[test]
    fn file_is_a_parsable_edge_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.txt");
        let n = write_graph_file(&path, 8, 300, 21).unwrap();
        assert_eq!(n, 300 * 256);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# R-MAT graph"));
        let mut edges = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(e) = parse_edge_line(line, &path, i as u64 + 1).unwrap() {
                edges.push((e.src, e.dst));
            }
        }
        assert_eq!(edges, rmat_edges(8, 300, 21, 0..n));
        assert!(write_graph_file(&path, 63, 1, 0).is_err());
    }

    #[test]
    fn a_weighted_file_has_the_same_edges_and_each_edge_its_weight() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, weighted) = (dir.path().join("p.txt"), dir.path().join("w.txt"));
        write_graph_file(&plain, 6, 4, 3).unwrap();
        write_graph_file_with(&weighted, 6, 4, 3, true).unwrap();
        let edges = |path: &Path| {
            let text = std::fs::read_to_string(path).unwrap();
            text.lines()
                .enumerate()
                .filter_map(|(i, l)| parse_edge_line(l, path, i as u64 + 1).unwrap())
                .collect::<Vec<_>>()
        };
        let (p, w) = (edges(&plain), edges(&weighted));
        assert_eq!(p.len(), 256);
        assert_eq!(p.len(), w.len());
        for (i, (a, b)) in p.iter().zip(&w).enumerate() {
            assert_eq!((a.src, a.dst, a.weight), (b.src, b.dst, None));
            let weight = b.weight.unwrap();
            assert_eq!(weight, rmat_weight(3, i as u64));
            assert!((1.0..100.0).contains(&weight));
        }
    }
}
