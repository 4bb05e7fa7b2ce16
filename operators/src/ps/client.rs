//! A trainer's side of the parameter server: [`PsClient::pull`] and
//! [`PsClient::push`], batched per shard and asynchronous (ps-lite's `Pull` and `Push`).
//!
//! A pull cuts its sorted keys into one request per shard, sends them all, and returns a
//! [`PullHandle`] at once; [`PsClient::wait`] gathers the answers into one dense vector
//! in the keys' order. Answers to other outstanding pulls met while waiting are kept for
//! their own wait. A push sends every shard the gradients of its keys, and an empty push
//! to the shards it has none for, since a push also moves the trainer's clock there.
//! Keys a shard was sent last time travel as their count (key caching, `key_cache`). A
//! push is held until the next pull to its shard and travels in one message with it
//! (one wake-up of the shard instead of two); [`PsClient::wait`] and
//! [`PsClient::flush`] send what is still held.
//! The client counts what it moves, so a run can show its bytes against the bytes of the
//! parameters it touched.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use weir_engine::session::Outbox;
use weir_engine::TaskError;

use crate::ps::key_cache::{KeySet, SentKeys};
use crate::ps::keys::KeyLayout;
use crate::ps::wire::{put_pull, put_push, Answer};

/// How long a trainer waits for a shard's answer.
pub const ANSWER_WAIT: Duration = Duration::from_secs(120);

/// What a trainer moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// Bytes of pull requests and their answers.
    pub pulled_bytes: u64,
    /// Bytes of pushes.
    pub pushed_bytes: u64,
    /// Bytes of the parameter values pulled and of the gradients pushed: what a pull or
    /// push of these keys has to move at the least.
    pub touched_bytes: u64,
    /// Pulls and pushes (one per key set, not per shard).
    pub pulls: u64,
    pub pushes: u64,
    /// The most clocks a pull's answer lagged behind the trainer's clock.
    pub max_staleness: u64,
    /// Seconds spent waiting for answers.
    pub wait_seconds: f64,
}

impl Traffic {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Traffic) {
        self.pulled_bytes += other.pulled_bytes;
        self.pushed_bytes += other.pushed_bytes;
        self.touched_bytes += other.touched_bytes;
        self.pulls += other.pulls;
        self.pushes += other.pushes;
        self.max_staleness = self.max_staleness.max(other.max_staleness);
        self.wait_seconds += other.wait_seconds;
    }
}

/// An outstanding pull.
#[must_use = "a pull's values come with wait"]
pub struct PullHandle {
    clock: u64,
    keys: usize,
    /// `(request, indexes of the keys it covers)`, one per shard asked.
    requests: Vec<(u64, Range<usize>)>,
}

/// A trainer's connection to the shards, for one step.
pub struct PsClient<'o, 'a> {
    outbox: &'o mut Outbox<'a>,
    layout: KeyLayout,
    trainer: u32,
    next_request: &'o mut u64,
    sent: &'o mut SentKeys,
    /// Per shard, the pushes not sent yet, encoded back to back.
    held: Vec<Vec<u8>>,
    early: HashMap<u64, Bytes>,
    pub traffic: Traffic,
}

impl<'o, 'a> PsClient<'o, 'a> {
    /// The client of trainer `trainer`; `next_request` numbers its requests across steps,
    /// and `sent` keeps the keys last listed to each shard across steps (the session's
    /// shards keep them as long).
    pub fn new(
        outbox: &'o mut Outbox<'a>,
        layout: KeyLayout,
        trainer: u32,
        next_request: &'o mut u64,
        sent: &'o mut SentKeys,
    ) -> Self {
        PsClient {
            outbox,
            layout,
            trainer,
            next_request,
            sent,
            held: vec![Vec::new(); layout.shards as usize],
            early: HashMap::new(),
            traffic: Traffic::default(),
        }
    }

    /// Reports the trainer's progress to the driver's event log and live UI now (see
    /// `Outbox::record`).
    pub fn record(&self, events: &[weir_engine::observe::Event]) {
        self.outbox.record(events);
    }

    /// Whether [`record`](Self::record) reports anything.
    pub fn recording(&self) -> bool {
        self.outbox.recording()
    }

    /// Checks that the set's keys are the parameters' (a set is sorted and distinct).
    fn check_keys(&self, keys: &KeySet) -> Result<(), TaskError> {
        match keys.last() {
            Some(&k) if k >= self.layout.keys => Err(TaskError::failed(format!(
                "key {k} is outside the parameters (0..{})",
                self.layout.keys
            ))),
            _ => Ok(()),
        }
    }

    /// Asks the shards for the values of `keys` as seen at `clock`; with `exact`, waits
    /// for every update before `clock` whatever the consistency.
    pub fn pull(
        &mut self,
        keys: &KeySet,
        clock: u64,
        exact: bool,
    ) -> Result<PullHandle, TaskError> {
        self.check_keys(keys)?;
        let mut requests = Vec::new();
        for (shard, run) in self.layout.split(keys) {
            if run.is_empty() {
                continue;
            }
            let request = *self.next_request;
            *self.next_request += 1;
            let shard_keys = self.sent.outgoing(shard, keys, run.clone());
            // The pushes held for the shard go first, in the same message.
            let mut bytes = std::mem::take(&mut self.held[shard as usize]);
            let held = bytes.len();
            put_pull(&mut bytes, self.trainer, request, clock, exact, shard_keys);
            self.traffic.pulled_bytes += (bytes.len() - held) as u64;
            self.outbox.send_to_service(shard, request, bytes)?;
            requests.push((request, run));
        }
        self.traffic.pulls += 1;
        self.traffic.touched_bytes += (keys.len() * self.layout.width * 4) as u64;
        Ok(PullHandle {
            clock,
            keys: keys.len(),
            requests,
        })
    }

    /// Waits for a pull's answers; fills `values` (`width` floats per key, in the keys'
    /// order) and returns the oldest applied clock the answers saw.
    pub fn wait(&mut self, handle: PullHandle, values: &mut Vec<f32>) -> Result<u64, TaskError> {
        self.flush()?;
        let started = std::time::Instant::now();
        let w = self.layout.width;
        values.clear();
        values.resize(handle.keys * w, 0.0);
        let mut seen = handle.clock;
        for (request, run) in handle.requests {
            let bytes = self.answer_of(request)?;
            self.traffic.pulled_bytes += bytes.len() as u64;
            let (_, applied) = Answer::decode_into(&bytes, &mut values[run.start * w..run.end * w])
                .map_err(|e| {
                    TaskError::failed(format!("a malformed answer to pull {request}: {e}"))
                })?;
            seen = seen.min(applied);
        }
        self.traffic.max_staleness = self.traffic.max_staleness.max(handle.clock - seen);
        self.traffic.wait_seconds += started.elapsed().as_secs_f64();
        Ok(seen)
    }

    fn answer_of(&mut self, request: u64) -> Result<Bytes, TaskError> {
        if let Some(bytes) = self.early.remove(&request) {
            return Ok(bytes);
        }
        loop {
            let delivery = self.outbox.receive(ANSWER_WAIT)?;
            let named = Answer::request_of(&delivery.payload).map_err(|e| {
                TaskError::failed(format!(
                    "a malformed answer from worker {}: {e}",
                    delivery.header.from
                ))
            })?;
            if named == request {
                return Ok(delivery.payload);
            }
            self.early.insert(named, delivery.payload);
        }
    }

    /// Pushes `grads` (`width` floats per key of `keys`) as the trainer's update of
    /// `clock`, which moves its clock to `clock + 1` at every shard once sent: with the
    /// next pull, or by [`wait`](Self::wait) or [`flush`](Self::flush). Pushing the set a
    /// pull sent sends its keys as their count.
    pub fn push(&mut self, keys: &KeySet, grads: &[f32], clock: u64) -> Result<(), TaskError> {
        self.check_keys(keys)?;
        let w = self.layout.width;
        if grads.len() != keys.len() * w {
            return Err(TaskError::failed(format!(
                "a push of {} keys carries {} values, not {}",
                keys.len(),
                grads.len(),
                keys.len() * w
            )));
        }
        for (shard, run) in self.layout.split(keys) {
            let shard_keys = self.sent.outgoing(shard, keys, run.clone());
            let held = &mut self.held[shard as usize];
            let before = held.len();
            let values = &grads[run.start * w..run.end * w];
            put_push(held, self.trainer, clock, shard_keys, values);
            self.traffic.pushed_bytes += (held.len() - before) as u64;
        }
        self.traffic.pushes += 1;
        self.traffic.touched_bytes += (grads.len() * 4) as u64;
        Ok(())
    }

    /// Sends the pushes still held (a step's last push has no pull to travel with).
    pub fn flush(&mut self) -> Result<(), TaskError> {
        for (shard, held) in self.held.iter_mut().enumerate() {
            if !held.is_empty() {
                let bytes = std::mem::take(held);
                self.outbox.send_to_service(shard as u32, 0, bytes)?;
            }
        }
        Ok(())
    }
}
