//! Tests of the parameter server in one process: a least-squares learner trained under
//! each consistency model, BSP checked bit for bit against a sequential reference that
//! trains on the same minibatches in the same order, SSP against its staleness bound.

use std::sync::Arc;

use super::*;
use crate::prelude::*;
use crate::ps::key_cache::MAX_SHARD_KEYS;
use crate::testing::{local, try_local};

/// Sparse rows `(features, target)`.
type Rows = Vec<(Vec<(u32, f32)>, f32)>;

/// Least squares, `0.5 (w·x - y)^2` per example.
struct LeastSquares;

fn position(keys: &[u64], feature: u32) -> usize {
    keys.binary_search(&u64::from(feature)).expect("pulled key")
}

impl Learner for LeastSquares {
    type Part = Rows;
    fn examples(&self, part: &Rows) -> usize {
        part.len()
    }
    fn keys(&self, part: &Rows, rows: &[u32], keys: &mut Vec<u64>) {
        keys.clear();
        for &r in rows {
            keys.extend(part[r as usize].0.iter().map(|f| u64::from(f.0)));
        }
        keys.sort_unstable();
        keys.dedup();
    }
    fn gradient(
        &self,
        part: &Rows,
        rows: &[u32],
        keys: &[u64],
        values: &[f32],
        grads: &mut [f32],
    ) -> f64 {
        let mut loss = 0.0;
        for &r in rows {
            let (x, y) = &part[r as usize];
            let p: f32 = x.iter().map(|(f, v)| values[position(keys, *f)] * v).sum();
            let e = p - y;
            loss += 0.5 * f64::from(e * e);
            for (f, v) in x {
                grads[position(keys, *f)] += e * v;
            }
        }
        loss
    }
    fn evaluation_keys(&self, part: &Rows, keys: &mut Vec<u64>) {
        let all: Vec<u32> = (0..part.len() as u32).collect();
        self.keys(part, &all, keys);
    }
    fn evaluate(&self, part: &Rows, keys: &[u64], values: &[f32]) -> Evaluation {
        let all: Vec<u32> = (0..part.len() as u32).collect();
        let mut grads = vec![0.0; values.len()];
        Evaluation {
            train_loss: self.gradient(part, &all, keys, values, &mut grads),
            train_examples: part.len() as u64,
            ..Evaluation::default()
        }
    }
}

const FEATURES: u32 = 40;

/// `n` rows of 4 features each, targets from a planted model `w_f = f / 10`.
fn rows(n: usize, seed: u64) -> Rows {
    (0..n as u64)
        .map(|i| {
            let h = |k: u64| {
                (i * 7919 + k * 104_729 + seed * 31).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40
            };
            let mut x: Vec<(u32, f32)> = (0..4)
                .map(|k| ((h(k) % FEATURES as u64) as u32, 1.0 + (h(k + 9) % 3) as f32))
                .collect();
            x.sort_by_key(|f| f.0);
            x.dedup_by_key(|f| f.0);
            let y = x.iter().map(|(f, v)| *f as f32 / 10.0 * v).sum();
            (x, y)
        })
        .collect()
}

fn options(consistency: Consistency, epochs: u64) -> TrainOptions {
    TrainOptions {
        epochs,
        batch: 16,
        consistency,
        servers: Some(3),
        seed: 5,
        rule: Arc::new(Sgd { rate: 0.02 }),
        straggler: None,
        checkpoint_every: None,
        average_from: None,
        tolerance: None,
    }
}

/// The partitions of the test data: 4 of uneven sizes.
fn parts() -> Vec<Rows> {
    vec![rows(100, 1), rows(70, 2), rows(130, 3), rows(5, 4)]
}

/// Trains on `parts` in-process, one trainer per part.
fn train_parts(options: TrainOptions) -> Trained {
    local(|ctx| {
        let data = ctx.parallelize(parts(), 4)?;
        train(&data, LeastSquares, u64::from(FEATURES), 1, options, |_| {})
    })
}

#[test]
fn bsp_gives_the_sequential_reference_model_exactly() {
    let options = options(Consistency::Bsp, 4);
    let trained = train_parts(options.clone());
    let reference = train_sequential(&LeastSquares, &parts(), u64::from(FEATURES), 1, &options);
    assert_eq!(trained.weights, reference);
    let stats = &trained.stats;
    assert_eq!(stats.epochs.len(), 5, "the start and after each epoch");
    assert_eq!(stats.traffic.max_staleness, 0);
    assert_eq!(stats.clocks_per_epoch, 9);
    let losses: Vec<f64> = stats
        .epochs
        .iter()
        .map(|e| e.evaluation.mean_train_loss())
        .collect();
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    assert_eq!(stats.last().train_examples, 305);
}

#[test]
fn an_averaged_bsp_run_gives_the_averaged_reference_model_exactly() {
    let plain = options(Consistency::Bsp, 4);
    let averaged = TrainOptions {
        average_from: Some(1),
        ..plain.clone()
    };
    let trained = train_parts(averaged.clone());
    let reference = train_sequential(&LeastSquares, &parts(), u64::from(FEATURES), 1, &averaged);
    assert_eq!(trained.weights, reference);
    let last_values = train_parts(plain);
    assert_ne!(trained.weights, last_values.weights);
    // The evaluations before averaging began are of the same model; the last one is of
    // the mean, not of the last values.
    let loss = |t: &Trained, e: usize| t.stats.epochs[e].evaluation.mean_train_loss();
    assert_eq!(loss(&trained, 1), loss(&last_values, 1));
    assert_ne!(loss(&trained, 4), loss(&last_values, 4));
}

#[test]
fn the_model_approaches_the_planted_one_under_every_consistency() {
    for consistency in [Consistency::Bsp, Consistency::Ssp(2), Consistency::Asp] {
        let trained = train_parts(options(consistency, 30));
        let first = trained.stats.epochs[0].evaluation.mean_train_loss();
        let last = trained.stats.last().mean_train_loss();
        assert!(last < first / 50.0, "{consistency}: {first} -> {last}");
        if let Some(bound) = consistency.staleness() {
            assert!(
                trained.stats.traffic.max_staleness <= bound,
                "{consistency}: a pull saw a clock {} behind",
                trained.stats.traffic.max_staleness
            );
        }
    }
}

#[test]
fn pulls_and_pushes_move_little_more_than_the_values_they_touch() {
    let trained = train_parts(options(Consistency::Bsp, 2));
    let t = trained.stats.traffic;
    assert!(t.pulls > 0 && t.pushes > 0);
    // Tiny messages: headers dominate; the bound is loose here and tight at scale.
    assert!(
        t.pulled_bytes + t.pushed_bytes < 20 * t.touched_bytes,
        "{t:?}"
    );
}

#[test]
fn parameters_that_would_make_shards_too_large_to_number_their_rows_are_refused() {
    // Three servers hold 3 * MAX_SHARD_KEYS keys; one key more needs a fourth.
    let keys = 3 * MAX_SHARD_KEYS + 1;
    let three = TrainOptions {
        servers: Some(3),
        ..options(Consistency::Bsp, 1)
    };
    let refused = try_local(2, |ctx| {
        let data = ctx.parallelize(parts(), 4)?;
        train(&data, LeastSquares, keys, 1, three, |_| {})
    })
    .expect_err("refused before any shard is made");
    let message = refused.to_string();
    assert!(message.contains("use --servers 4 or more"), "{message}");
}
