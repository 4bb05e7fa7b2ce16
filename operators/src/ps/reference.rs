//! The sequential reference of a BSP run: one thread trains a [`Learner`] on the same
//! partitions, the same minibatches and the same update rule as the distributed run,
//! each clock computing every partition's gradient at the same values and applying them
//! in partition order, as the shards do. A BSP run with the same seed must give exactly
//! this model; tests and users check the engine against it.

use crate::ps::average::Average;
use crate::ps::key_cache::Row;
use crate::ps::learner::Learner;
use crate::ps::schedule::{clocks_per_epoch, epoch_order, minibatch};
use crate::ps::train::TrainOptions;

/// Trains `learner` on `parts` (partition `p` is trainer `p`) as a BSP run of `options`
/// would; returns the values of keys `0..keys`, `width` each.
pub fn train_sequential<L: Learner>(
    learner: &L,
    parts: &[L::Part],
    keys: u64,
    width: usize,
    options: &TrainOptions,
) -> Vec<f32> {
    let mut values = vec![0.0f32; keys as usize * width];
    for (key, v) in values.chunks_exact_mut(width).enumerate() {
        learner.init(key as u64, v);
    }
    let mut state = vec![0.0f32; values.len() * options.rule.state_per_value()];
    let spv = options.rule.state_per_value();
    let largest = parts.iter().map(|p| learner.examples(p)).max().unwrap_or(0);
    let clocks = clocks_per_epoch(largest, options.batch);
    let mut average = options
        .average_from
        .map(|epoch| Average::new(epoch * clocks, keys as usize, width));
    // One table of every key: a reference model is far below `MAX_SHARD_KEYS`.
    let mut rows: Vec<Row> = Vec::new();
    let (mut batch_keys, mut pulled) = (Vec::new(), Vec::new());
    for epoch in 0..options.epochs {
        let orders: Vec<Vec<u32>> = parts
            .iter()
            .enumerate()
            .map(|(p, part)| epoch_order(learner.examples(part), p, epoch, options.seed))
            .collect();
        for batch in 0..clocks {
            let mut pushes = Vec::with_capacity(parts.len());
            for (p, part) in parts.iter().enumerate() {
                let rows = minibatch(&orders[p], batch, clocks);
                if rows.is_empty() {
                    continue;
                }
                learner.keys(part, rows, &mut batch_keys);
                pulled.clear();
                for k in &batch_keys {
                    let at = *k as usize * width;
                    pulled.extend_from_slice(&values[at..at + width]);
                }
                let mut grads = vec![0.0f32; pulled.len()];
                learner.gradient(part, rows, &batch_keys, &pulled, &mut grads);
                if learner.mean_gradient() {
                    let scale = 1.0 / rows.len() as f32;
                    grads.iter_mut().for_each(|g| *g *= scale);
                }
                pushes.push((batch_keys.clone(), grads));
            }
            let clock = epoch * clocks + batch;
            for (keys, grads) in pushes {
                rows.clear();
                rows.extend(keys.iter().map(|&k| k as Row));
                if let Some(a) = average.as_mut() {
                    a.before(clock, &rows, &values);
                }
                for (i, k) in keys.iter().enumerate() {
                    let at = *k as usize * width;
                    options.rule.apply(
                        &mut values[at..at + width],
                        &mut state[at * spv..(at + width) * spv],
                        &grads[i * width..(i + 1) * width],
                    );
                }
            }
        }
    }
    match average {
        Some(average) => average.means(options.epochs * clocks, &values),
        None => values,
    }
}
