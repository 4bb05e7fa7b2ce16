//! `train`: runs a [`Learner`] on the parameter server over a dataset's partitions, the
//! driver running only the step barrier (each epoch under BSP, only the start and the end
//! under SSP and ASP), and returns the model with what the run did.
//!
//! ```text
//!  driver                               worker A                     worker B
//!  cache the data, count each part      trainer 0, shard 0           trainer 1, shard 1
//!  Open ──────────────────────────────▶ shards start their keys (Learner::init)
//!  Step e {epoch e, clocks C} ────────▶ evaluate (exact pull at clock eC)
//!  (SSP, ASP: step 0 runs every epoch)
//!                                       clocks eC … eC+C-1: pull ─▶ shard ─▶ answer
//!                                                               push ─▶ shard applies
//!        ◀─────────────── each trainer's report (evaluation, losses, traffic)
//!  … after the last epoch, one more step only evaluates the final model
//!  Close ─────────────────────────────▶ each shard's values back to the driver
//! ```

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use weir_engine::observe::Event;
use weir_engine::plan::SessionTask;
use weir_engine::scheduler::{ServiceSnapshots, SessionOutcome, SessionResults, SessionRun};
use weir_engine::task::WorkerId;
use weir_engine::{Error, JobContext, Result};

use crate::dataset::{Data, Dataset};
use crate::ps::client::Traffic;
use crate::ps::consistency::Consistency;
use crate::ps::key_cache::MAX_SHARD_KEYS;
use crate::ps::keys::KeyLayout;
use crate::ps::learner::{Evaluation, Learner};
use crate::ps::schedule::clocks_per_epoch;
use crate::ps::server::ShardSpec;
use crate::ps::trainer::{unix_seconds, Control, CurvePoint, PsTask, Report, Straggler};
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
    /// Shards keep a snapshot every this many clocks (0: never); `None` takes the job's
    /// `--checkpoint-every`.
    pub checkpoint_every: Option<u64>,
    /// Stop once an epoch lowers the mean training loss by less than this fraction.
    pub tolerance: Option<f64>,
    /// Evaluate and finish with the model's mean over the pushes from this epoch on
    /// (averaged SGD, see `average`); `None`: with its last values.
    pub average_from: Option<u64>,
}

/// The model after an epoch (or before the first: epoch 0 is the starting model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epochs trained before this evaluation.
    pub epoch: u64,
    /// Clocks every trainer had pushed.
    pub clock: u64,
    /// Seconds from the trainers' opening to the step that evaluated this model.
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
    /// Times the run went on from the shards' snapshots after losing a worker.
    pub recoveries: u64,
    /// Every trainer's minibatch losses, a window of clocks a point, in the order the
    /// steps ended (a trainer's points in clock order).
    pub curve: Vec<CurvePoint>,
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
    let clocks = clocks_per_epoch(largest_partition(&cached, &learner)?, options.batch);
    let servers = options
        .servers
        .unwrap_or(ctx.options().workers.max(1) as u32)
        .max(1);
    let layout = shard_layout(keys, width, servers)?;
    let checkpoint_every = options
        .checkpoint_every
        .unwrap_or(ctx.options().checkpoint_every);
    // A run that stops at a tolerance needs every epoch's evaluation.
    let span = if options.consistency == Consistency::Bsp || options.tolerance.is_some() {
        1
    } else {
        options.epochs
    };
    let mut barrier = Barrier {
        stats: TrainStats {
            clocks_per_epoch: clocks,
            trainers: cached.num_partitions(),
            servers,
            ..TrainStats::default()
        },
        epochs: options.epochs,
        span,
        tolerance: options.tolerance,
        clocks,
        pending_loss: None,
        resumed_mid_step: None,
        started: Instant::now(),
        step_began: 0.0,
        started_unix: unix_seconds(),
        on_epoch: &mut on_epoch,
    };
    let task = Arc::new(PsTask {
        learner,
        data: cached.id(),
        shards: ShardSpec {
            layout,
            trainers: cached.num_partitions(),
            rule: options.rule.clone(),
            consistency: options.consistency,
            checkpoint_every,
            average_from: options.average_from.map(|epoch| epoch * clocks),
        },
        seed: options.seed,
        straggler: options.straggler,
    });
    let results = run_to_close(&ctx, task, &cached, &mut barrier)?;
    let run_seconds = barrier.started.elapsed().as_secs_f64();
    let mut stats = barrier.stats;
    stats.run_seconds = run_seconds;
    let stats = ctx.driver_value(move || Ok(stats))?;
    let weights = weights_from_shards(&layout, &results.services)?;
    if owned {
        cached.unpersist();
    }
    Ok(Trained {
        layout,
        weights,
        stats,
    })
}

/// The examples in the largest of `data`'s partitions, which sets the clocks of an epoch.
fn largest_partition<L: Learner>(data: &Dataset<L::Part>, learner: &Arc<L>) -> Result<usize> {
    let counter = learner.clone();
    let sizes = data
        .map_partitions(move |_, parts| {
            std::iter::once(parts.map(|part| counter.examples(&part)).sum::<usize>())
        })
        .collect()?;
    Ok(sizes.into_iter().max().unwrap_or(0))
}

/// Runs the training session until it closes. When workers are lost it starts the
/// session again from the shards' newest surviving snapshots, after reading the lost
/// data partitions again from lineage on the survivors.
fn run_to_close<T: Data, F: FnMut(&EpochStats)>(
    ctx: &JobContext,
    task: Arc<dyn SessionTask>,
    cached: &Dataset<T>,
    barrier: &mut Barrier<'_, F>,
) -> Result<SessionResults> {
    let mut run = SessionRun::default();
    let mut first = barrier.control(0, 0);
    loop {
        let first_bytes = encode(&first)?;
        let master = |step: u64, reports: &[Vec<u8>]| barrier.after(step, reports);
        let outcome =
            ctx.run_session_attempt("parameter-server", task.clone(), first_bytes, &run, master)?;
        let (step, workers, services) = match outcome {
            SessionOutcome::Closed(results) => return Ok(results),
            SessionOutcome::Lost {
                step,
                workers,
                services,
                ..
            } => (step, workers, services),
        };
        let clock = services.as_ref().map_or(0, |s| s.tag);
        let resumed = clock / barrier.clocks / barrier.span;
        report_recovery(ctx, step, &workers, services.as_ref(), clock);
        barrier.stats.recoveries += 1;
        barrier.resume(resumed, clock);
        first = barrier.control(resumed, clock);
        run.resume_services = services.map(|s| (resumed, s));
        cached.count()?;
    }
}

/// The layout of `keys` keys of `width` values over `servers` shards; refused when a
/// shard would hold more keys than its rows can number.
fn shard_layout(keys: u64, width: usize, servers: u32) -> Result<KeyLayout> {
    if keys.div_ceil(u64::from(servers)) > MAX_SHARD_KEYS {
        return Err(Error::Config(format!(
            "{keys} parameters over {servers} server(s) make shards of more than \
             {MAX_SHARD_KEYS} keys; use --servers {} or more",
            keys.div_ceil(MAX_SHARD_KEYS)
        )));
    }
    Ok(KeyLayout::new(keys, width, servers))
}

/// Says, on the driver, that workers were lost and where training goes on from (the
/// shards' snapshots of `clock`, or the start), and records the shards' restore in the
/// event log.
fn report_recovery(
    ctx: &JobContext,
    step: u64,
    workers: &[WorkerId],
    services: Option<&ServiceSnapshots>,
    clock: u64,
) {
    if ctx.is_driver() {
        let from = match services {
            Some(_) => format!("the shards' snapshots of clock {clock}"),
            None => "the start (no complete snapshot survived)".to_string(),
        };
        eprintln!(
            "parameter server: lost worker(s) {workers:?} in step {step}; going on from {from}"
        );
    }
    if let Some(s) = services {
        ctx.record(|| Event::ServerRestore {
            shards: (0..s.holders.len() as u32).collect(),
            clock,
        });
    }
}

/// The model from the shards' closing values, shard after shard; a shard that returned
/// other than its keys' values fails the run.
fn weights_from_shards(layout: &KeyLayout, services: &[Vec<u8>]) -> Result<Vec<f32>> {
    let mut weights = Vec::with_capacity(layout.keys as usize * layout.width);
    for (shard, bytes) in services.iter().enumerate() {
        let range = layout.range(shard as u32);
        let expected = (range.end - range.start) as usize * layout.width * 4;
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
    Ok(weights)
}

fn encode(control: &Control) -> Result<Vec<u8>> {
    bincode::serialize(control).map_err(|e| Error::job(format!("an epoch control: {e}")))
}

/// The driver's step barrier: gathers the trainers' reports into the run's figures and
/// sends the next step's control, or ends the run after the last evaluation. Step `s`
/// trains epochs `s·span` up to `(s+1)·span` (at most `epochs`).
struct Barrier<'f, F: FnMut(&EpochStats)> {
    stats: TrainStats,
    epochs: u64,
    /// Epochs a step trains.
    span: u64,
    tolerance: Option<f64>,
    clocks: u64,
    /// The mean minibatch loss of the step just trained, for the next evaluation.
    pending_loss: Option<f64>,
    /// The step a resumed attempt starts in the middle of (it has no evaluation).
    resumed_mid_step: Option<u64>,
    started: Instant,
    /// When the running step began, in seconds since `started`.
    step_began: f64,
    /// `started` in Unix seconds, for the trainers' curve points.
    started_unix: f64,
    on_epoch: &'f mut F,
}

impl<F: FnMut(&EpochStats)> Barrier<'_, F> {
    /// The first epoch of step `step`.
    fn first_epoch(&self, step: u64) -> u64 {
        step.saturating_mul(self.span).min(self.epochs)
    }

    /// The control of step `step`, starting at `clock`.
    fn control(&self, step: u64, clock: u64) -> Control {
        let epoch = self.first_epoch(step);
        Control {
            epoch,
            epochs: self.first_epoch(step + 1) - epoch,
            clocks_per_epoch: self.clocks,
            start_clock: clock,
            evaluate: clock == epoch * self.clocks,
            train: epoch < self.epochs,
        }
    }

    /// Forgets what came after `clock`, where a resumed attempt starts (in step `step`).
    fn resume(&mut self, step: u64, clock: u64) {
        let first_clock = self.first_epoch(step) * self.clocks;
        let mid_step = clock != first_clock;
        // Keep the evaluations before the step, and its own when resuming mid-step.
        let keep = step as usize + usize::from(mid_step);
        self.stats.epochs.truncate(keep);
        self.stats.curve.retain(|p| p.clock <= clock);
        self.resumed_mid_step = mid_step.then_some(step);
        self.pending_loss = None;
    }

    /// Whether the last epoch lowered the training loss by less than the tolerance.
    fn converged(&self) -> bool {
        let (Some(tolerance), [.., before, last]) = (self.tolerance, &self.stats.epochs[..]) else {
            return false;
        };
        let (a, b) = (
            before.evaluation.mean_train_loss(),
            last.evaluation.mean_train_loss(),
        );
        a > 0.0 && (a - b) / a < tolerance
    }

    fn after(&mut self, step: u64, reports: &[Vec<u8>]) -> Result<Option<Vec<u8>>> {
        let first_epoch = self.first_epoch(step);
        let mut epoch = EpochStats {
            epoch: first_epoch,
            clock: first_epoch * self.clocks,
            seconds: self.step_began,
            ..EpochStats::default()
        };
        self.step_began = self.started.elapsed().as_secs_f64();
        let (mut loss, mut examples) = (0.0, 0);
        for (p, bytes) in reports.iter().enumerate() {
            let r: Report = bincode::deserialize(bytes)
                .map_err(|e| Error::job(format!("trainer {p} sent a malformed report: {e}")))?;
            epoch.evaluation.merge(&r.evaluation);
            loss += r.minibatch_loss;
            examples += r.minibatch_examples;
            self.stats.traffic.merge(&r.traffic);
            self.stats.evaluation_bytes += r.evaluation_bytes;
            self.stats.compute_seconds += r.compute_seconds;
            let started = self.started_unix;
            self.stats.curve.extend(r.curve.iter().map(|c| CurvePoint {
                seconds: c.seconds - started,
                ..*c
            }));
        }
        // The minibatches of step `step` ran after its evaluation: their loss belongs
        // with the next one.
        if self.resumed_mid_step.take() != Some(step) {
            epoch.minibatch_loss = self.pending_loss.take();
            (self.on_epoch)(&epoch);
            self.stats.epochs.push(epoch);
        }
        self.pending_loss = (examples > 0).then(|| loss / examples as f64);
        if first_epoch >= self.epochs || self.converged() {
            return Ok(None);
        }
        let next = self.first_epoch(step + 1);
        encode(&self.control(step + 1, next * self.clocks)).map(Some)
    }
}
