//! `kmeans`: k-means on the parameter server, started by k-means|| (Bahmani et al.,
//! VLDB 2012), over dense CSV points (a `label` column, if any, is ignored).
//!
//! The centroids are keys `0..k`, each `dim + 1` floats. Every trainer reads its whole
//! partition each clock (a clock is one Lloyd iteration): it pulls the centroids, assigns
//! each point to the nearest, and pushes each centroid's sum of points and count. The
//! shards' update rule, [`LloydStep`], a user-defined `UpdateRule`, adds the pushes up and
//! sets each centroid to its points' mean once every trainer has pushed. Stops after
//! `--iterations` or when the inertia falls by less than `--tolerance`. Reports the
//! inertia; `--output` writes `centroid<TAB>coordinate<TAB>value`, `--assignments DIR`
//! each point's centroid as `point<TAB>centroid` (points numbered in input order).

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use weir_datasets::{ExampleBlock, LabelRule};
use weir_engine::{Error, JobContext, Result};
use weir_operators::prelude::*;
use weir_operators::ps::{train, Consistency, Evaluation, Learner, TrainOptions, UpdateRule};

use crate::ml_input::{load_parts, trainer_partitions, MlPart};
use crate::output::save_or_show;
use crate::ps_args::print_epoch_as;
use crate::registry::Job;

/// k-means.
#[derive(Debug, Clone, clap::Parser)]
pub struct KMeans {
    /// Points: CSV (`.csv`) with a header; a `label` column is ignored.
    #[arg(long)]
    pub input: String,
    /// Clusters.
    #[arg(long)]
    pub k: u32,
    /// Lloyd iterations at the most.
    #[arg(long, default_value_t = 20)]
    pub iterations: u64,
    /// Stop once an iteration lowers the inertia by less than this fraction.
    #[arg(long, default_value_t = 1e-4)]
    pub tolerance: f64,
    /// k-means|| rounds of sampling.
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// Seeds the initialisation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Trainers, one per data partition (default: one per task slot).
    #[arg(long)]
    pub trainers: Option<usize>,
    /// Writes each point's centroid here.
    #[arg(long)]
    pub assignments: Option<String>,
}

impl Job for KMeans {
    const NAME: &'static str = "kmeans";
    const ABOUT: &'static str =
        "k-means with k-means|| initialisation on the parameter server (centroids, assignments)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        if self.k == 0 {
            return Err(Error::Config("kmeans needs --k of at least 1".into()));
        }
        let partitions = trainer_partitions(ctx, self.trainers);
        let (parts, dim) = load_parts(ctx, &self.input, None, partitions, LabelRule::Any)?;
        let dense = parts
            .map(|p| p.train.is_empty() || p.train.dense_width.is_some())
            .collect()?;
        if !dense.iter().all(|d| *d) {
            return Err(Error::Config(format!(
                "kmeans reads dense points (CSV with a header), not the sparse rows of {}",
                self.input
            )));
        }
        if let Some(dir) = &self.assignments {
            let dir = std::path::PathBuf::from(dir);
            ctx.driver_value(move || Ok(weir_datasets::check_output_dir(&dir)?))?;
        }
        let initial = kmeans_parallel(
            &parts,
            self.k as usize,
            dim as usize,
            self.rounds,
            self.seed,
        )?;
        let k = initial.len() / dim as usize;
        let model = Centroids {
            dim: dim as usize,
            initial: Arc::new(initial),
        };
        let options = TrainOptions {
            epochs: self.iterations,
            batch: usize::MAX,
            consistency: Consistency::Bsp,
            servers: None,
            seed: self.seed,
            rule: Arc::new(LloydStep {
                trainers: partitions,
            }),
            straggler: None,
            checkpoint_every: None,
            average_from: None,
            tolerance: Some(self.tolerance),
        };
        let width = dim as usize + 1;
        let trained = train(&parts, model, k as u64, width, options, |e| {
            print_epoch_as(ctx, e, false)
        })?;
        let centroids: Vec<f32> = trained
            .weights
            .chunks_exact(width)
            .flat_map(|c| c[..dim as usize].to_vec())
            .collect();
        let (assignments, inertia) = assign(&parts, &centroids, dim as usize)?;
        ctx.set_result("inertia", inertia);
        ctx.set_result("iterations", trained.stats.epochs.len().saturating_sub(1));
        ctx.set_result("k", k);
        if ctx.is_driver() && !ctx.options().silent {
            eprintln!("inertia {inertia:.6}");
        }
        let rows: Vec<(u64, u64, f64)> = centroids
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    (i / dim as usize) as u64,
                    (i % dim as usize) as u64,
                    f64::from(*v),
                )
            })
            .collect();
        let rows = ctx.parallelize(rows, 1)?;
        save_or_show(ctx, &rows, |a: &(u64, u64, f64), b: &(u64, u64, f64)| {
            (a.0, a.1).cmp(&(b.0, b.1))
        })?;
        if let Some(dir) = &self.assignments {
            assignments.save(dir)?;
        }
        Ok(())
    }
}

/// The squared distance from `x` to the nearest of `centroids` (`dim` each), and which.
pub fn nearest(x: &[f32], centroids: &[f32], dim: usize) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (c, centre) in centroids.chunks_exact(dim).enumerate() {
        let d: f32 = x.iter().zip(centre).map(|(a, b)| (a - b) * (a - b)).sum();
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

/// The centroids on the parameter server.
#[derive(Debug, Clone)]
pub struct Centroids {
    pub dim: usize,
    /// Where they start, `dim` floats each.
    pub initial: Arc<Vec<f32>>,
}

impl Learner for Centroids {
    type Part = MlPart;

    fn examples(&self, part: &MlPart) -> usize {
        part.train.len()
    }

    fn keys(&self, _part: &MlPart, _rows: &[u32], keys: &mut Vec<u64>) {
        keys.clear();
        keys.extend(0..(self.initial.len() / self.dim) as u64);
    }

    fn gradient(
        &self,
        part: &MlPart,
        rows: &[u32],
        _keys: &[u64],
        values: &[f32],
        grads: &mut [f32],
    ) -> f64 {
        let w = self.dim + 1;
        let centroids: Vec<f32> = values
            .chunks_exact(w)
            .flat_map(|c| c[..self.dim].to_vec())
            .collect();
        let mut inertia = 0.0;
        for &r in rows {
            let x = part.train.row(r as usize).values;
            let (c, d) = nearest(x, &centroids, self.dim);
            inertia += f64::from(d);
            let sums = &mut grads[c * w..(c + 1) * w];
            sums.iter_mut().zip(x).for_each(|(s, v)| *s += v);
            sums[self.dim] += 1.0;
        }
        inertia
    }

    fn mean_gradient(&self) -> bool {
        false
    }

    fn evaluation_keys(&self, part: &MlPart, keys: &mut Vec<u64>) {
        self.keys(part, &[], keys);
    }

    fn evaluate(&self, part: &MlPart, _keys: &[u64], values: &[f32]) -> Evaluation {
        let w = self.dim + 1;
        let centroids: Vec<f32> = values
            .chunks_exact(w)
            .flat_map(|c| c[..self.dim].to_vec())
            .collect();
        let inertia = (0..part.train.len())
            .map(|r| f64::from(nearest(part.train.row(r).values, &centroids, self.dim).1))
            .sum::<f64>();
        // Half the mean squared distance, so that the RMSE line reads as a distance.
        Evaluation {
            train_loss: inertia / 2.0,
            train_examples: part.train.len() as u64,
            ..Evaluation::default()
        }
    }

    fn init(&self, key: u64, values: &mut [f32]) {
        let at = key as usize * self.dim;
        values[..self.dim].copy_from_slice(&self.initial[at..at + self.dim]);
        values[self.dim] = 0.0;
    }
}

/// Lloyd's step as the shards' update rule. A push holds a centroid's sum of points and
/// their count (its last float); the rule adds the pushes up in its state and, once every
/// trainer has pushed (counted in the centroid's last value), moves the centroid to the
/// mean. A centroid no point chose stays where it is.
#[derive(Debug, Clone, Copy)]
pub struct LloydStep {
    pub trainers: usize,
}

impl UpdateRule for LloydStep {
    fn name(&self) -> String {
        "lloyd".into()
    }

    fn state_per_value(&self) -> usize {
        1
    }

    fn apply(&self, weights: &mut [f32], state: &mut [f32], grad: &[f32]) {
        let dim = weights.len() - 1;
        state.iter_mut().zip(grad).for_each(|(s, g)| *s += g);
        weights[dim] += 1.0;
        if weights[dim] < self.trainers as f32 {
            return;
        }
        let count = state[dim];
        if count > 0.0 {
            for (w, s) in weights[..dim].iter_mut().zip(&state[..dim]) {
                *w = s / count;
            }
        }
        state.iter_mut().for_each(|s| *s = 0.0);
        weights[dim] = 0.0;
    }
}

/// Each point's centroid (numbered in partition order) and the inertia.
fn assign(
    parts: &Dataset<MlPart>,
    centroids: &[f32],
    dim: usize,
) -> Result<(Dataset<(u64, u64)>, f64)> {
    let ctx = parts.context();
    let centroids = ctx.broadcast(centroids.to_vec())?;
    let sizes = parts.map(|p| p.train.len() as u64).collect()?;
    let starts: Vec<u64> = sizes
        .iter()
        .scan(0u64, |acc, n| {
            let start = *acc;
            *acc += n;
            Some(start)
        })
        .collect();
    let starts = ctx.broadcast(starts)?;
    let c = centroids.clone();
    let assignments = parts.map_partitions(move |p, parts| {
        let (c, start) = (c.clone(), starts.value()[p]);
        parts.flat_map(move |part| {
            let c = c.clone();
            (0..part.train.len())
                .map(move |r| {
                    (
                        start + r as u64,
                        nearest(part.train.row(r).values, c.value(), dim).0 as u64,
                    )
                })
                .collect::<Vec<_>>()
        })
    });
    let inertia = parts
        .map(move |part| {
            (0..part.train.len())
                .map(|r| f64::from(nearest(part.train.row(r).values, centroids.value(), dim).1))
                .sum::<f64>()
        })
        .collect()?
        .iter()
        .sum();
    Ok((assignments, inertia))
}

/// k-means||: a first centre drawn at random, then `rounds` rounds that each add every
/// point with a chance of `2k · d² / cost`, the candidates weighted by the points nearest
/// to them and reduced to `k` centres by weighted k-means++ and Lloyd on the driver.
pub fn kmeans_parallel(
    parts: &Dataset<MlPart>,
    k: usize,
    dim: usize,
    rounds: u32,
    seed: u64,
) -> Result<Vec<f32>> {
    let ctx = parts.context().clone();
    let points = parts.map(|p| p.train.len() as u64).collect()?;
    let total: u64 = points.iter().sum();
    if total == 0 {
        return Err(Error::Config("kmeans: the input has no points".into()));
    }
    let first = {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut pick = rng.gen_range(0..total);
        let p = points.iter().position(|n| {
            let here = pick < *n;
            if !here {
                pick -= n;
            }
            here
        });
        let (p, row) = (p.unwrap_or(0), pick as usize);
        let chosen = parts
            .map_partitions(move |q, parts| {
                parts
                    .filter(move |_| q == p)
                    .map(move |part| part.train.row(row).values.to_vec())
            })
            .collect()?;
        chosen.into_iter().next().unwrap_or_else(|| vec![0.0; dim])
    };
    let mut candidates = first;
    for round in 0..rounds {
        let c = ctx.broadcast(candidates.clone())?;
        let cost: f64 = parts
            .map(move |part| cost_of(&part.train, c.value(), dim))
            .collect()?
            .iter()
            .sum();
        if cost <= 0.0 {
            break;
        }
        let c = ctx.broadcast(candidates.clone())?;
        let oversample = 2.0 * k as f64;
        let picked = parts
            .map_partitions(move |p, parts| {
                let c = c.clone();
                parts.flat_map(move |part| {
                    let stream = seed ^ (u64::from(round) << 32) ^ p as u64;
                    let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream);
                    let mut out = Vec::new();
                    for r in 0..part.train.len() {
                        let x = part.train.row(r).values;
                        let d = f64::from(nearest(x, c.value(), dim).1);
                        if rng.gen_bool((oversample * d / cost).min(1.0)) {
                            out.extend_from_slice(x);
                        }
                    }
                    std::iter::once(out)
                })
            })
            .collect()?;
        candidates.extend(picked.into_iter().flatten());
    }
    let c = ctx.broadcast(candidates.clone())?;
    let n = candidates.len() / dim;
    let weights: Vec<f64> = parts
        .map(move |part| {
            let mut w = vec![0.0f64; n];
            for r in 0..part.train.len() {
                w[nearest(part.train.row(r).values, c.value(), dim).0] += 1.0;
            }
            w
        })
        .collect()?
        .into_iter()
        .fold(vec![0.0; n], |mut acc, w| {
            acc.iter_mut().zip(w).for_each(|(a, b)| *a += b);
            acc
        });
    ctx.driver_value(move || Ok(recluster(&candidates, &weights, k, dim, seed)))
}

/// Reduces the weighted candidates to `k` centres: the best (by weighted cost) of
/// [`RECLUSTER_TRIES`] seeded k-means++ and Lloyd runs, cheap on a few hundred candidates.
fn recluster(candidates: &[f32], weights: &[f64], k: usize, dim: usize, seed: u64) -> Vec<f32> {
    let cost = |centres: &[f32]| -> f64 {
        candidates
            .chunks_exact(dim)
            .zip(weights)
            .map(|(x, w)| w * f64::from(nearest(x, centres, dim).1))
            .sum()
    };
    (0..RECLUSTER_TRIES)
        .map(|t| weighted_kmeans(candidates, weights, k, dim, seed.wrapping_add(t), 50))
        .min_by(|a, b| cost(a).total_cmp(&cost(b)))
        .unwrap_or_default()
}

/// Seeded k-means++ and Lloyd runs on the k-means|| candidates.
const RECLUSTER_TRIES: u64 = 10;

fn cost_of(block: &ExampleBlock, centres: &[f32], dim: usize) -> f64 {
    (0..block.len())
        .map(|r| f64::from(nearest(block.row(r).values, centres, dim).1))
        .sum()
}

/// k-means++ then Lloyd on weighted points (`dim` floats each); `k` centres, fewer when
/// there are fewer distinct points.
pub fn weighted_kmeans(
    points: &[f32],
    weights: &[f64],
    k: usize,
    dim: usize,
    seed: u64,
    iterations: usize,
) -> Vec<f32> {
    let n = points.len() / dim.max(1);
    if n == 0 {
        return Vec::new();
    }
    let point = |i: usize| &points[i * dim..(i + 1) * dim];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6b6d_2b2b);
    let mut centres: Vec<f32> = point(rng.gen_range(0..n)).to_vec();
    while centres.len() / dim < k.min(n) {
        let d: Vec<f64> = (0..n)
            .map(|i| weights[i] * f64::from(nearest(point(i), &centres, dim).1))
            .collect();
        let total: f64 = d.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut pick = rng.gen_range(0.0..total);
        let i = d.iter().position(|x| {
            pick -= x;
            pick < 0.0
        });
        centres.extend_from_slice(point(i.unwrap_or(n - 1)));
    }
    for _ in 0..iterations {
        let m = centres.len() / dim;
        let mut sums = vec![0.0f64; m * dim];
        let mut counts = vec![0.0f64; m];
        for (x, w) in points.chunks_exact(dim).zip(weights) {
            let c = nearest(x, &centres, dim).0;
            counts[c] += w;
            for (s, v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(x) {
                *s += w * f64::from(*v);
            }
        }
        let mut moved = false;
        for c in 0..m {
            if counts[c] > 0.0 {
                for j in 0..dim {
                    let v = (sums[c * dim + j] / counts[c]) as f32;
                    moved |= v != centres[c * dim + j];
                    centres[c * dim + j] = v;
                }
            }
        }
        if !moved {
            break;
        }
    }
    centres
}

/// Plain sequential Lloyd from a seeded k-means++ start: the reference the job's inertia is
/// measured against. Returns the centroids and the inertia.
pub fn lloyd(
    points: &[f32],
    k: usize,
    dim: usize,
    seed: u64,
    iterations: usize,
) -> (Vec<f32>, f64) {
    let n = points.len() / dim;
    let ones = vec![1.0; n];
    let centres = weighted_kmeans(points, &ones, k, dim, seed, iterations);
    let inertia = (0..n)
        .map(|i| f64::from(nearest(&points[i * dim..(i + 1) * dim], &centres, dim).1))
        .sum();
    (centres, inertia)
}
