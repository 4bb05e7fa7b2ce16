//! The trainers and the session that holds them: one trainer per cached data partition,
//! the parameter shards as the session's services (see `server`).
//!
//! A step of the session is an epoch under BSP, and all the epochs under SSP and ASP (a
//! barrier each epoch would make every trainer wait for the slowest, which is what those
//! models exist to avoid). The trainer first evaluates the model as the step finds it (an
//! exact pull: every update before is in), then runs the step's clocks: for each
//! minibatch it pulls the keys the minibatch reads, computes the gradient, and pushes its
//! mean. The pull of clock `c` is answered when the consistency model allows, which is
//! where BSP waits for the slowest trainer and SSP lets a trainer run ahead. Its report
//! holds the evaluation, the minibatches' losses (also as a curve over time and clocks)
//! and the traffic.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use weir_engine::observe::Event;
use weir_engine::plan::{NodeId, SessionPartition, SessionTask};
use weir_engine::session::service::SessionService;
use weir_engine::session::Outbox;
use weir_engine::{TaskContext, TaskError};

use crate::ps::client::{PsClient, Traffic};
use crate::ps::key_cache::{KeySet, SentKeys};
use crate::ps::keys::KeyLayout;
use crate::ps::learner::{Evaluation, Learner};
use crate::ps::schedule::{epoch_order, minibatch};
use crate::ps::server::{ServerShard, ShardSpec};

/// Points of the loss curve a trainer reports per epoch (about).
const CURVE_POINTS_PER_EPOCH: u64 = 32;

/// What the driver tells the trainers at a step's barrier.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Control {
    /// The step's first epoch.
    pub epoch: u64,
    /// Epochs the step trains, from `epoch` on.
    pub epochs: u64,
    pub clocks_per_epoch: u64,
    /// The first clock to run: the epoch's first, or a later one when the run resumes
    /// from the shards' snapshots mid-epoch.
    pub start_clock: u64,
    /// Evaluate the model first (not when resuming mid-step).
    pub evaluate: bool,
    /// Train after evaluating (the last step only evaluates).
    pub train: bool,
}

/// A point of a trainer's loss curve: the minibatches of a window of clocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The trainer (its data partition).
    pub trainer: u32,
    /// The clock after the window's last.
    pub clock: u64,
    /// When the window's last push left: seconds since the run started, by the driver's
    /// wall clock (the trainers report Unix time; the driver subtracts its start).
    pub seconds: f64,
    /// The minibatches' summed loss, as computed before their updates.
    pub loss: f64,
    pub examples: u64,
    /// The largest staleness the window's pulls ran at: their clock minus the oldest clock
    /// of the updates they were sure to see.
    #[serde(default)]
    pub staleness: u64,
}

/// What a trainer reports after an epoch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Report {
    /// The model as the epoch found it.
    pub evaluation: Evaluation,
    /// The minibatches' losses, summed, and their examples.
    pub minibatch_loss: f64,
    pub minibatch_examples: u64,
    /// What the minibatches' pulls and pushes moved (the evaluation's pull apart).
    pub traffic: Traffic,
    /// Bytes the evaluation's pull moved.
    pub evaluation_bytes: u64,
    /// Seconds computing gradients.
    pub compute_seconds: f64,
    /// The minibatches' losses, window by window (`seconds` in Unix time).
    pub curve: Vec<CurvePoint>,
}

/// A straggler made on purpose, to measure the consistency models: the trainers it slows
/// take `factor` times as long per minibatch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Straggler {
    pub slowed: Slowed,
    pub factor: f64,
}

/// Which trainers a [`Straggler`] slows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Slowed {
    /// Every trainer of this worker, at every clock.
    Worker(u32),
    /// One trainer at a time, in turn: at clock `c`, trainer `(c / clocks) mod trainers`
    /// (the slow machine moves, as it does in a large cluster).
    Rotating { clocks: u64 },
}

/// How slow one trainer is, clock by clock: extra time as a multiple of the compute time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slowdown {
    Never,
    Always(f64),
    InTurn {
        extra: f64,
        clocks: u64,
        trainers: u64,
    },
}

impl Slowdown {
    fn of(straggler: Option<Straggler>, worker: u32, trainers: usize) -> Slowdown {
        let Some(s) = straggler.filter(|s| s.factor > 1.0) else {
            return Slowdown::Never;
        };
        let extra = s.factor - 1.0;
        match s.slowed {
            Slowed::Worker(w) if w == worker => Slowdown::Always(extra),
            Slowed::Worker(_) => Slowdown::Never,
            Slowed::Rotating { clocks } => Slowdown::InTurn {
                extra,
                clocks: clocks.max(1),
                trainers: trainers.max(1) as u64,
            },
        }
    }

    /// The extra time of `trainer`'s clock `clock`, as a multiple of its compute time.
    fn at(self, trainer: usize, clock: u64) -> Option<f64> {
        match self {
            Slowdown::Never => None,
            Slowdown::Always(extra) => Some(extra),
            Slowdown::InTurn {
                extra,
                clocks,
                trainers,
            } => (clock / clocks % trainers == trainer as u64).then_some(extra),
        }
    }
}

/// How a parameter-server session opens its trainers and shards.
pub(crate) struct PsTask<L: Learner> {
    pub learner: Arc<L>,
    pub data: NodeId,
    pub shards: ShardSpec,
    pub seed: u64,
    pub straggler: Option<Straggler>,
}

impl<L: Learner> SessionTask for PsTask<L> {
    fn node(&self) -> NodeId {
        self.data
    }

    fn open(&self, p: usize, tc: &TaskContext) -> Result<Box<dyn SessionPartition>, TaskError> {
        let parts = tc.cached::<L::Part>(self.data, p).ok_or_else(|| {
            TaskError::failed(format!(
                "training partition {p} is not in this worker's memory"
            ))
        })?;
        if parts.len() > 1 {
            return Err(TaskError::failed(format!(
                "training partition {p} holds {} records, not one",
                parts.len()
            )));
        }
        let slowdown = Slowdown::of(self.straggler, tc.worker_id(), self.shards.trainers);
        Ok(Box::new(Trainer {
            learner: self.learner.clone(),
            parts,
            empty: L::Part::default(),
            partition: p,
            layout: self.shards.layout,
            seed: self.seed,
            slowdown,
            next_request: 0,
            sent_keys: SentKeys::default(),
        }))
    }

    fn services(&self) -> u32 {
        self.shards.layout.shards
    }

    fn open_service(&self, shard: u32) -> Result<Box<dyn SessionService>, TaskError> {
        let learner = self.learner.clone();
        let init = move |key, values: &mut [f32]| learner.init(key, values);
        Ok(Box::new(ServerShard::new(&self.shards, shard, &init)))
    }

    fn restore_service(
        &self,
        shard: u32,
        snapshot: &[u8],
    ) -> Result<Box<dyn SessionService>, TaskError> {
        Ok(Box::new(ServerShard::restore(
            &self.shards,
            shard,
            snapshot,
        )?))
    }
}

/// One trainer: its cached partition and where it is in the job.
struct Trainer<L: Learner> {
    learner: Arc<L>,
    parts: Arc<Vec<L::Part>>,
    empty: L::Part,
    partition: usize,
    layout: KeyLayout,
    seed: u64,
    /// Extra time per minibatch, as a multiple of its compute time (a straggler).
    slowdown: Slowdown,
    next_request: u64,
    /// The keys last listed to each shard (key caching).
    sent_keys: SentKeys,
}

impl<L: Learner> Trainer<L> {
    fn part(&self) -> &L::Part {
        self.parts.first().unwrap_or(&self.empty)
    }

    /// Evaluates the model with every update before `clock` in.
    fn evaluate(&self, client: &mut PsClient<'_, '_>, clock: u64) -> Result<Evaluation, TaskError> {
        let (mut keys, mut values) = (Vec::new(), Vec::new());
        self.learner.evaluation_keys(self.part(), &mut keys);
        let keys = KeySet::new(keys).map_err(TaskError::failed)?;
        let handle = client.pull(&keys, clock, true)?;
        client.wait(handle, &mut values)?;
        Ok(self.learner.evaluate(self.part(), &keys, &values))
    }

    /// Runs the clocks of the step's epochs, from `control.start_clock` on.
    fn train(
        &self,
        client: &mut PsClient<'_, '_>,
        control: &Control,
        report: &mut Report,
    ) -> Result<(), TaskError> {
        let clocks = control.clocks_per_epoch;
        // Clocks a point of the loss curve sums.
        let span = clocks.div_ceil(CURVE_POINTS_PER_EPOCH).max(1);
        let mut window = Window::default();
        let mut scratch = Scratch::default();
        for epoch in control.epoch..control.epoch + control.epochs {
            let first_clock = epoch * clocks;
            if control.start_clock >= first_clock + clocks {
                continue;
            }
            let order = epoch_order(
                self.learner.examples(self.part()),
                self.partition,
                epoch,
                self.seed,
            );
            for batch in control.start_clock.saturating_sub(first_clock)..clocks {
                let clock = first_clock + batch;
                let (loss, examples, staleness) = self.clock(
                    client,
                    &mut scratch,
                    (&order, batch, clock),
                    control,
                    report,
                )?;
                window.add(loss, examples, staleness);
                if (clock + 1).checked_rem(span) == Some(0) || batch + 1 == clocks {
                    let point = window.close(self.partition as u32, clock + 1);
                    report_progress(client, &point);
                    report.curve.push(point);
                }
            }
        }
        Ok(())
    }

    /// Runs minibatch `batch` of an epoch in `order` as clock `clock`: pull, gradient,
    /// push. Returns its summed loss, its examples and the staleness its pull ran at.
    fn clock(
        &self,
        client: &mut PsClient<'_, '_>,
        scratch: &mut Scratch,
        (order, batch, clock): (&[u32], u64, u64),
        control: &Control,
        report: &mut Report,
    ) -> Result<(f64, u64, u64), TaskError> {
        let learner = &self.learner;
        let part = self.part();
        if let Some(delay) = weir_engine::executor::injected_delay() {
            std::thread::sleep(delay);
        }
        let rows = minibatch(order, batch, control.clocks_per_epoch);
        if rows.is_empty() {
            // No pull follows to carry the push: it goes now.
            client.push(&KeySet::default(), &[], clock)?;
            client.flush()?;
            return Ok((0.0, 0, 0));
        }
        let Scratch {
            keys,
            set,
            values,
            grads,
        } = scratch;
        learner.keys(part, rows, keys);
        // The last clock's set when the keys are the same (a dense model's always are).
        *set = set.reuse_for(keys).map_err(TaskError::failed)?;
        let handle = client.pull(set, clock, false)?;
        let seen = client.wait(handle, values)?;
        let started = Instant::now();
        grads.clear();
        grads.resize(values.len(), 0.0f32);
        let loss = learner.gradient(part, rows, keys, values, grads);
        if learner.mean_gradient() {
            let scale = 1.0 / rows.len() as f32;
            grads.iter_mut().for_each(|g| *g *= scale);
        }
        let computed = started.elapsed();
        if let Some(extra) = self.slowdown.at(self.partition, clock) {
            std::thread::sleep(Duration::from_secs_f64(computed.as_secs_f64() * extra));
        }
        report.compute_seconds += computed.as_secs_f64();
        report.minibatch_loss += loss;
        report.minibatch_examples += rows.len() as u64;
        client.push(set, grads, clock)?;
        Ok((loss, rows.len() as u64, clock.saturating_sub(seen)))
    }
}

/// Sends a point of the loss curve to the driver as it is made, for the live UI's
/// parameter-server view (a point whose loss is not finite is left out: it has none to
/// show).
fn report_progress(client: &PsClient<'_, '_>, point: &CurvePoint) {
    let loss = point.loss / point.examples.max(1) as f64;
    if client.recording() && loss.is_finite() {
        client.record(&[Event::Clock {
            trainer: point.trainer,
            worker: None,
            clock: point.clock,
            loss,
            staleness: point.staleness,
        }]);
    }
}

/// Now, in seconds since the Unix epoch: the time base the trainers and the driver share.
pub(crate) fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A trainer's buffers, kept from clock to clock.
#[derive(Default)]
struct Scratch {
    keys: Vec<u64>,
    /// The keys as last pulled and pushed.
    set: KeySet,
    values: Vec<f32>,
    grads: Vec<f32>,
}

/// The loss of the clocks since the last curve point.
#[derive(Default)]
struct Window {
    loss: f64,
    examples: u64,
    staleness: u64,
}

impl Window {
    fn add(&mut self, loss: f64, examples: u64, staleness: u64) {
        self.loss += loss;
        self.examples += examples;
        self.staleness = self.staleness.max(staleness);
    }

    /// The window as a curve point ending before `clock`, now; starts the next.
    fn close(&mut self, trainer: u32, clock: u64) -> CurvePoint {
        let point = CurvePoint {
            trainer,
            clock,
            seconds: unix_seconds(),
            loss: self.loss,
            examples: self.examples,
            staleness: self.staleness,
        };
        *self = Window::default();
        point
    }
}

impl<L: Learner> SessionPartition for Trainer<L> {
    fn step(
        &mut self,
        _step: u64,
        control: &[u8],
        _inbox: Vec<bytes::Bytes>,
        outbox: &mut Outbox<'_>,
    ) -> Result<Vec<u8>, TaskError> {
        let control: Control = bincode::deserialize(control)
            .map_err(|e| TaskError::failed(format!("a malformed epoch control: {e}")))?;
        let mut next_request = self.next_request;
        let mut sent_keys = std::mem::take(&mut self.sent_keys);
        let mut client = PsClient::new(
            outbox,
            self.layout,
            self.partition as u32,
            &mut next_request,
            &mut sent_keys,
        );
        let mut report = Report::default();
        if control.evaluate {
            report.evaluation = self.evaluate(&mut client, control.start_clock)?;
            report.evaluation_bytes = client.traffic.pulled_bytes;
        }
        client.traffic = Traffic::default();
        if control.train {
            self.train(&mut client, &control, &mut report)?;
            client.flush()?;
        }
        report.traffic = client.traffic;
        self.next_request = next_request;
        self.sent_keys = sent_keys;
        bincode::serialize(&report)
            .map_err(|e| TaskError::failed(format!("encoding a trainer's report: {e}")))
    }

    fn finish(&mut self, _tc: &TaskContext) -> Result<Vec<u8>, TaskError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_straggler_slows_its_worker_always_or_each_trainer_in_turn() {
        let fixed = Some(Straggler {
            slowed: Slowed::Worker(1),
            factor: 3.0,
        });
        assert_eq!(Slowdown::of(fixed, 1, 4).at(0, 7), Some(2.0));
        assert_eq!(Slowdown::of(fixed, 0, 4).at(0, 7), None);
        let turns = Straggler {
            slowed: Slowed::Rotating { clocks: 4 },
            factor: 3.0,
        };
        let slow = Slowdown::of(Some(turns), 0, 2);
        let slowed_at = |trainer| {
            (0..16)
                .filter(|c| slow.at(trainer, *c).is_some())
                .collect::<Vec<u64>>()
        };
        assert_eq!(slowed_at(0), vec![0, 1, 2, 3, 8, 9, 10, 11]);
        assert_eq!(slowed_at(1), vec![4, 5, 6, 7, 12, 13, 14, 15]);
        let none = Some(Straggler {
            factor: 1.0,
            ..turns
        });
        assert_eq!(Slowdown::of(none, 0, 2), Slowdown::Never);
    }
}
