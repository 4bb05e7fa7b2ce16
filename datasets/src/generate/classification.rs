//! Seeded classification data with a known separating model (`weir datasets gen
//! classification`): dense rows as CSV (`label,f0,f1,…`) or sparse rows as LIBSVM.
//!
//! The model is drawn from the seed alone: class `c` has weights `w_c`, each a standard
//! normal. A dense row's features are standard normals; a sparse row has `nonzeros`
//! distinct features (1-based, as LIBSVM numbers them) of value 1. A row's label is the
//! class whose weights score it highest (for two classes: 1 when `w·x > 0`), flipped to
//! a random class with probability `noise`. Rows are addressed by index, so a test set
//! from the same model is the rows after the training set's.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::writer::{write_chunks, Take};
use super::{normal, stream_seed};
use crate::error::{DatasetError, Result};

const MODEL_TAG: u64 = 0x6d6f_6465_6c00;
const ROW_TAG: u64 = 0x726f_7773_0000;
const ROWS_PER_CHUNK: u64 = 8_192;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassificationSpec {
    pub features: u32,
    /// At least 2.
    pub classes: u32,
    /// Sparse rows (LIBSVM) with this many non-zeros each; dense CSV when `None`.
    pub nonzeros: Option<u32>,
    /// The chance a row's label is replaced by a random class.
    pub noise: f64,
    pub seed: u64,
}

impl ClassificationSpec {
    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(DatasetError::Other(m));
        if self.features == 0 || self.classes < 2 {
            return bad("classification data needs features ≥ 1 and classes ≥ 2".into());
        }
        if let Some(k) = self.nonzeros {
            if k == 0 || k > self.features {
                return bad(format!(
                    "{k} non-zeros per row do not fit {} features",
                    self.features
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.noise) {
            return bad(format!("noise {} is not a probability", self.noise));
        }
        Ok(())
    }

    /// The planted model: `classes` weight vectors of `features` (1 for two classes).
    pub fn model(&self) -> Vec<Vec<f64>> {
        let vectors = if self.classes == 2 { 1 } else { self.classes };
        (0..vectors)
            .map(|c| {
                (0..self.features as u64)
                    .map(|j| {
                        let index = u64::from(c) * u64::from(self.features) + j;
                        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(
                            self.seed, MODEL_TAG, index,
                        ));
                        normal(&mut rng)
                    })
                    .collect()
            })
            .collect()
    }

    /// Row `index`: its label and features (`(index, value)`, 0-based, ascending).
    pub fn row(&self, model: &[Vec<f64>], index: u64) -> (u32, Vec<(u32, f64)>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(self.seed, ROW_TAG, index));
        let features: Vec<(u32, f64)> = match self.nonzeros {
            None => (0..self.features).map(|j| (j, normal(&mut rng))).collect(),
            Some(k) => {
                let mut picked: Vec<u32> = Vec::with_capacity(k as usize);
                while picked.len() < k as usize {
                    let j = rng.gen_range(0..self.features);
                    if let Err(at) = picked.binary_search(&j) {
                        picked.insert(at, j);
                    }
                }
                picked.into_iter().map(|j| (j, 1.0)).collect()
            }
        };
        let score = |w: &[f64]| {
            features
                .iter()
                .map(|(j, v)| w[*j as usize] * v)
                .sum::<f64>()
        };
        let mut label = if self.classes == 2 {
            u32::from(score(&model[0]) > 0.0)
        } else {
            let scores: Vec<f64> = model.iter().map(|w| score(w)).collect();
            (0..self.classes)
                .max_by(|a, b| scores[*a as usize].total_cmp(&scores[*b as usize]))
                .unwrap_or(0)
        };
        if self.noise > 0.0 && rng.gen_bool(self.noise) {
            label = rng.gen_range(0..self.classes);
        }
        (label, features)
    }
}

/// Writes rows `first..first + rows` of `spec` to `path`; returns the rows written.
pub fn write_classification_file(
    path: &Path,
    spec: &ClassificationSpec,
    first: u64,
    rows: u64,
) -> Result<u64> {
    spec.check()?;
    let model = spec.model();
    let header = match spec.nonzeros {
        Some(_) => String::new(),
        None => {
            let mut h = String::from("label");
            for j in 0..spec.features {
                h.push_str(&format!(",f{j}"));
            }
            h.push('\n');
            h
        }
    };
    write_chunks(
        path,
        header.as_bytes(),
        Some(rows.div_ceil(ROWS_PER_CHUNK)),
        |chunk, buf| {
            let start = chunk * ROWS_PER_CHUNK;
            for i in start..(start + ROWS_PER_CHUNK).min(rows) {
                let (label, features) = spec.row(&model, first + i);
                push_row(buf, spec.nonzeros.is_some(), label, &features);
            }
        },
        |_, c| Take {
            bytes: c.len(),
            done: false,
        },
    )?;
    Ok(rows)
}

fn push_row(buf: &mut Vec<u8>, sparse: bool, label: u32, features: &[(u32, f64)]) {
    let mut digits = itoa::Buffer::new();
    buf.extend_from_slice(digits.format(label).as_bytes());
    for (j, v) in features {
        if sparse {
            buf.push(b' ');
            buf.extend_from_slice(digits.format(j + 1).as_bytes());
            buf.extend_from_slice(b":1");
        } else {
            buf.push(b',');
            push_fixed4(buf, *v);
        }
    }
    buf.push(b'\n');
}

/// `v` with four decimals, without going through a float formatter.
fn push_fixed4(buf: &mut Vec<u8>, v: f64) {
    let scaled = (v * 10_000.0).round() as i64;
    if scaled < 0 {
        buf.push(b'-');
    }
    let magnitude = scaled.unsigned_abs();
    let mut digits = itoa::Buffer::new();
    buf.extend_from_slice(digits.format(magnitude / 10_000).as_bytes());
    buf.push(b'.');
    let fraction = magnitude % 10_000;
    buf.extend_from_slice(format!("{fraction:04}").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(nonzeros: Option<u32>, classes: u32) -> ClassificationSpec {
        ClassificationSpec {
            features: 20,
            classes,
            nonzeros,
            noise: 0.0,
            seed: 7,
        }
    }

    #[test]
    fn dense_rows_are_labelled_by_the_planted_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        let s = spec(None, 2);
        write_classification_file(&path, &s, 0, 500).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("label,f0,f1,"));
        let model = s.model();
        let mut ones = 0;
        for line in lines {
            let fields: Vec<f64> = line.split(',').map(|f| f.parse().unwrap()).collect();
            assert_eq!(fields.len(), 21);
            let score: f64 = fields[1..].iter().zip(&model[0]).map(|(x, w)| x * w).sum();
            // The printed features are rounded; only near-ties could flip.
            if score.abs() > 1e-2 {
                assert_eq!(fields[0], f64::from(u8::from(score > 0.0)), "{line}");
            }
            ones += fields[0] as u32;
        }
        assert!((150..350).contains(&ones), "{ones} positives of 500");
    }

    #[test]
    fn sparse_rows_have_distinct_ascending_features_and_test_rows_continue_the_stream() {
        let s = spec(Some(5), 4);
        let model = s.model();
        assert_eq!(model.len(), 4);
        let (label, features) = s.row(&model, 3);
        assert!(label < 4);
        assert_eq!(features.len(), 5);
        assert!(features.windows(2).all(|w| w[0].0 < w[1].0));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.libsvm");
        write_classification_file(&path, &s, 3, 1).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let want: Vec<String> = features
            .iter()
            .map(|(j, _)| format!("{}:1", j + 1))
            .collect();
        assert_eq!(text, format!("{label} {}\n", want.join(" ")));
    }

    #[test]
    fn impossible_specs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        for bad in [
            spec(Some(21), 2),
            spec(None, 1),
            ClassificationSpec {
                noise: 2.0,
                ..spec(None, 2)
            },
        ] {
            assert!(write_classification_file(&path, &bad, 0, 1).is_err());
        }
        assert!(!path.exists());
        assert_eq!(push_fixed(-0.00004), "0.0000");
        assert_eq!(push_fixed(-1.23456), "-1.2346");
    }

    fn push_fixed(v: f64) -> String {
        let mut buf = Vec::new();
        push_fixed4(&mut buf, v);
        String::from_utf8(buf).unwrap()
    }
}
