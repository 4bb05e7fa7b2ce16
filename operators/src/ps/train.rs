//! `train`: runs a [`Learner`] on the parameter server over a dataset's partitions, the
//! driver running only the epoch barrier, and returns the model with what the run did.
//!
//! ```text
//!  driver                               worker A                     worker B
//!  cache the data, count each part      trainer 0, shard 0           trainer 1, shard 1
//!  Open ──────────────────────────────▶ shards start their keys (Learner::init)
//!  Step e {epoch e, clocks C} ────────▶ evaluate (exact pull at clock eC)
//!                                       clocks eC … eC+C-1: pull ─▶ shard ─▶ answer
//!                                                               push ─▶ shard applies
//!        ◀─────────────── each trainer's report (evaluation, losses, traffic)
//!  … after the last epoch, one more step only evaluates the final model
//!  Close ─────────────────────────────▶ each shard's values back to the driver
//! ```

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use weir_engine::{Error, Result};

use crate::dataset::Dataset;
use crate::ps::client::Traffic;
use crate::ps::consistency::Consistency;
use crate::ps::keys::KeyLayout;
use crate::ps::learner::{Evaluation, Learner};
use crate::ps::schedule::clocks_per_epoch;
use crate::ps::trainer::{Control, PsTask, Report, Straggler};
use crate::ps::update::UpdateRule;

/// How a parameter-server run goes.
#[derive(Clone)]
pub struct TrainOptions {
    pub epochs: u64,
    /// Examples per minibatch (the largest partition's; smaller ones cut theirs evenly
    /// into as many clocks).
    pub batch: usize,
    pub consistency: Consistency,
    /// Server shards; `None`: one per worker.
    pub servers: Option<u32>,
    /// Seeds the minibatches' order.
    pub seed: u64,
    pub rule: Arc<dyn UpdateRule>,
    /// A worker slowed on purpose, to measure the consistency models.
    pub straggler: Option<Straggler>,
}

/// The model after an epoch (or before the first: epoch 0 is the starting model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epochs trained before this evaluation.
    pub epoch: u64,
    /// Clocks every trainer had pushed.
    pub clock: u64,
    /// Seconds since the trainers opened.
    pub seconds: f64,
    pub evaluation: Evaluation,
    /// The mean loss of the epoch's minibatches, as computed before their updates
    /// (none before the first epoch).
    pub minibatch_loss: Option<f64>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainStats {
    /// The model before the first epoch and after each.
    pub epochs: Vec<EpochStats>,
    pub clocks_per_epoch: u64,
    pub trainers: usize,
    pub servers: u32,
    /// What the minibatches' pulls and pushes moved, all trainers together.
    pub traffic: Traffic,
    /// Bytes the evaluations' pulls moved.
    pub evaluation_bytes: u64,
    /// Seconds the trainers spent computing gradients, all together.
    pub compute_seconds: f64,
    /// Seconds from opening the trainers to closing them.
    pub run_seconds: f64,
}

impl TrainStats {
    /// The final model's figures.
    pub fn last(&self) -> Evaluation {
        self.epochs.last().map(|e| e.evaluation).unwrap_or_default()
    }
}

/// A trained model: `layout.keys` keys of `layout.width` values, key after key.
#[derive(Debug, Clone)]
pub struct Trained {
    pub layout: KeyLayout,
    pub weights: Vec<f32>,
    pub stats: TrainStats,
}

/// Trains `learner`'s `keys` keys of `width` values on `data` (one trainer per
/// partition); `on_epoch` sees every evaluation as it comes, on the driver.
pub fn train<L: Learner>(
    data: &Dataset<L::Part>,
    learner: L,
    keys: u64,
    width: usize,
    options: TrainOptions,
    mut on_epoch: impl FnMut(&EpochStats),
) -> Result<Trained> {
    let ctx = data.context().clone();
    if options.epochs == 0 || options.batch == 0 {
        return Err(Error::Config(
            "training needs --epochs and --batch above 0".into(),
        ));
    }
    let learner = Arc::new(learner);
    // The trainers read the data from worker memory; a dataset the job persisted stays
    // the job's to unpersist.
    let owned = !data.is_persisted();
    let cached = if owned { data.persist() } else { data.clone() };
    let counter = learner.clone();
    let sizes = cached
        .map_partitions(move |_, parts| {
            std::iter::once(parts.map(|part| counter.examples(&part)).sum::<usize>())
        })
        .collect()?;
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let clocks = clocks_per_epoch(largest, options.batch);
    let servers = options
        .servers
        .unwrap_or(ctx.options().workers.max(1) as u32)
        .max(1);
    let layout = KeyLayout::new(keys, width, servers);
    let task = Arc::new(PsTask {
        learner,
        data: cached.id(),
        layout,
        rule: options.rule.clone(),
        consistency: options.consistency,
        trainers: cached.num_partitions(),
        seed: options.seed,
        straggler: options.straggler,
    });
    let control = |epoch: u64| {
        bincode::serialize(&Control {
            epoch,
            clocks_per_epoch: clocks,
            train: epoch < options.epochs,
        })
        .map_err(|e| Error::job(format!("an epoch control: {e}")))
    };
    let mut stats = TrainStats {
        clocks_per_epoch: clocks,
        trainers: cached.num_partitions(),
        servers,
        ..TrainStats::default()
    };
    let mut pending_loss = None;
    let started = Instant::now();
    let results = ctx.run_session("parameter-server", task, control(0)?, |step, reports| {
        let mut epoch = EpochStats {
            epoch: step,
            clock: step * clocks,
            seconds: started.elapsed().as_secs_f64(),
            ..EpochStats::default()
        };
        let (mut loss, mut examples) = (0.0, 0);
        for (p, bytes) in reports.iter().enumerate() {
            let r: Report = bincode::deserialize(bytes)
                .map_err(|e| Error::job(format!("trainer {p} sent a malformed report: {e}")))?;
            epoch.evaluation.merge(&r.evaluation);
            loss += r.minibatch_loss;
            examples += r.minibatch_examples;
            stats.traffic.merge(&r.traffic);
            stats.evaluation_bytes += r.evaluation_bytes;
            stats.compute_seconds += r.compute_seconds;
        }
        // The minibatches of epoch `step` ran after its evaluation: their loss belongs
        // with the next one.
        epoch.minibatch_loss = pending_loss.take();
        pending_loss = (examples > 0).then(|| loss / examples as f64);
        on_epoch(&epoch);
        stats.epochs.push(epoch);
        if step >= options.epochs {
            return Ok(None);
        }
        control(step + 1).map(Some)
    })?;
    stats.run_seconds = started.elapsed().as_secs_f64();
    let stats = ctx.driver_value(move || Ok(stats))?;
    let mut weights = Vec::with_capacity(keys as usize * width);
    for (shard, bytes) in results.services.iter().enumerate() {
        let expected = (layout.range(shard as u32).end - layout.range(shard as u32).start) as usize
            * width
            * 4;
        if bytes.len() != expected {
            return Err(Error::job(format!(
                "parameter shard {shard} returned {} bytes, not {expected}",
                bytes.len()
            )));
        }
        weights.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
    }
    if owned {
        cached.unpersist();
    }
    Ok(Trained {
        layout,
        weights,
        stats,
    })
}
