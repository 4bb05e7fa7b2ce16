//! A server shard: one key range of the parameters, with its optimiser state and its
//! vector clock, living on a worker for the whole job and answering the trainers' pulls
//! and pushes (a service of the job's session, on a thread of its own).
//!
//! The vector clock holds, for each trainer, how many of its clocks the shard has
//! applied. A push of clock `c` from trainer `t` is applied at once under SSP and ASP;
//! under BSP the shard holds a clock's pushes until every trainer's is in, then applies
//! them in trainer order, so every run gives the same model. A pull is answered when the
//! consistency model allows (see `consistency`), else parked until a push moves the clock
//! far enough. Messages that do not fit (a trainer its sender does not hold, a key outside
//! the shard, a clock out of turn, a malformed body) are refused with the reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use weir_engine::session::service::{Replies, SessionService};
use weir_engine::TaskError;

use crate::ps::consistency::Consistency;
use crate::ps::keys::KeyLayout;
use crate::ps::update::UpdateRule;
use crate::ps::wire::{Answer, Pull, Push, Request};

/// How a shard starts a key's values.
pub type Init = dyn Fn(u64, &mut [f32]) + Send + Sync;

/// What every shard of a job shares.
#[derive(Clone)]
pub struct ShardSpec {
    pub layout: KeyLayout,
    pub trainers: usize,
    pub rule: Arc<dyn UpdateRule>,
    pub consistency: Consistency,
    /// Keep a snapshot every this many clocks (0: never).
    pub checkpoint_every: u64,
}

/// One shard of the parameters.
pub struct ServerShard {
    shard: u32,
    first_key: u64,
    keys: u64,
    width: usize,
    weights: Vec<f32>,
    state: Vec<f32>,
    rule: Arc<dyn UpdateRule>,
    consistency: Consistency,
    /// Clocks applied, per trainer.
    applied: Vec<u64>,
    /// The clock each trainer's next push must carry.
    expected: Vec<u64>,
    /// BSP: the pushes of clocks not yet complete, by clock and trainer.
    held: BTreeMap<u64, Vec<Option<Push>>>,
    /// Pulls waiting for the clock to move.
    parked: Vec<Pull>,
    /// Keep a snapshot every this many clocks (0: never).
    checkpoint_every: u64,
    /// The clock of the last snapshot kept.
    last_snapshot: u64,
}

impl ServerShard {
    /// Shard `shard` of `spec`, every key started by `init`.
    pub fn new(spec: &ShardSpec, shard: u32, init: &Init) -> Self {
        let range = spec.layout.range(shard);
        let keys = range.end - range.start;
        let width = spec.layout.width;
        let mut weights = vec![0.0f32; keys as usize * width];
        for (i, values) in weights.chunks_exact_mut(width).enumerate() {
            init(range.start + i as u64, values);
        }
        let state = vec![0.0f32; weights.len() * spec.rule.state_per_value()];
        let trainers = spec.trainers;
        ServerShard {
            shard,
            first_key: range.start,
            keys,
            width,
            weights,
            state,
            rule: spec.rule.clone(),
            consistency: spec.consistency,
            applied: vec![0; trainers],
            expected: vec![0; trainers],
            held: BTreeMap::new(),
            parked: Vec::new(),
            checkpoint_every: spec.checkpoint_every,
            last_snapshot: 0,
        }
    }

    /// The shard as it was when it kept `snapshot`: values, optimiser state and clock
    /// (every trainer starts again from that clock).
    pub fn restore(spec: &ShardSpec, shard: u32, snapshot: &[u8]) -> Result<Self, TaskError> {
        let mut restored = ServerShard::new(spec, shard, &|_, _| {});
        let corrupt = |what: &str| {
            TaskError::failed(format!("the snapshot of shard {shard} is corrupt: {what}"))
        };
        let mut bytes = snapshot;
        let clock = take_u64(&mut bytes).ok_or_else(|| corrupt("no clock"))?;
        for (name, target) in [
            ("values", &mut restored.weights),
            ("optimiser state", &mut restored.state),
        ] {
            let len = take_u64(&mut bytes).ok_or_else(|| corrupt(name))?;
            if len != target.len() as u64 || bytes.len() < target.len() * 4 {
                return Err(corrupt(&format!(
                    "{len} {name} where the shard has {}",
                    target.len()
                )));
            }
            let (head, rest) = bytes.split_at(target.len() * 4);
            for (v, c) in target.iter_mut().zip(head.chunks_exact(4)) {
                *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
            bytes = rest;
        }
        if !bytes.is_empty() {
            return Err(corrupt("bytes after the state"));
        }
        restored.applied.fill(clock);
        restored.expected.fill(clock);
        restored.last_snapshot = clock;
        Ok(restored)
    }

    /// The shard's snapshot: its applied clock, values and optimiser state.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + (self.weights.len() + self.state.len()) * 4);
        out.extend_from_slice(&self.applied_clock().to_le_bytes());
        for part in [&self.weights, &self.state] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            for v in part.iter() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Keeps a snapshot when the applied clock reached the next multiple of
    /// `checkpoint_every`.
    fn maybe_snapshot(&mut self, replies: &mut Replies<'_>) -> Result<(), TaskError> {
        let clock = self.applied_clock();
        let every = self.checkpoint_every;
        if every == 0 || clock < self.last_snapshot + every || clock.checked_rem(every) != Some(0) {
            return Ok(());
        }
        self.last_snapshot = clock;
        replies.keep_snapshot(clock, &self.snapshot())
    }

    /// The shard's values, key after key.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The clock every trainer's updates are in up to.
    pub fn applied_clock(&self) -> u64 {
        self.applied.iter().copied().min().unwrap_or(0)
    }

    fn refuse(&self, from: u32, what: String) -> TaskError {
        TaskError::failed(format!(
            "parameter shard {} refused a message from worker {from}: {what}",
            self.shard
        ))
    }

    /// Checks that every key is in the shard's range.
    fn check_keys(&self, keys: &[u64]) -> Result<(), String> {
        match (keys.first(), keys.last()) {
            (Some(&first), Some(&last))
                if first < self.first_key || last - self.first_key >= self.keys =>
            {
                Err(format!(
                    "keys {first}..={last} are not all in the shard's range {}..{}",
                    self.first_key,
                    self.first_key + self.keys
                ))
            }
            _ => Ok(()),
        }
    }

    /// Applies one push's gradients.
    fn apply(&mut self, push: &Push) {
        let (w, spv) = (self.width, self.rule.state_per_value());
        for (i, key) in push.keys.iter().enumerate() {
            let at = (key - self.first_key) as usize;
            self.rule.apply(
                &mut self.weights[at * w..(at + 1) * w],
                &mut self.state[at * w * spv..(at + 1) * w * spv],
                &push.values[i * w..(i + 1) * w],
            );
        }
    }

    /// Takes a push in: applies it, or holds it until its clock is complete (BSP).
    fn take_push(&mut self, push: Push) {
        let t = push.trainer as usize;
        self.expected[t] += 1;
        if self.consistency != Consistency::Bsp {
            self.apply(&push);
            self.applied[t] = push.clock + 1;
            return;
        }
        let trainers = self.applied.len();
        let clock = push.clock;
        self.held
            .entry(clock)
            .or_insert_with(|| vec![None; trainers])[t] = Some(push);
        // Apply every complete clock, in clock order, each in trainer order.
        loop {
            let applied = self.applied_clock();
            let Some(entry) = self.held.first_entry() else {
                break;
            };
            if *entry.key() != applied || entry.get().iter().any(Option::is_none) {
                break;
            }
            let (clock, pushes) = entry.remove_entry();
            for push in pushes.into_iter().flatten() {
                self.apply(&push);
            }
            self.applied.iter_mut().for_each(|a| *a = clock + 1);
        }
    }

    fn ready(&self, pull: &Pull) -> bool {
        let applied = self.applied_clock();
        if pull.exact {
            applied >= pull.clock
        } else {
            self.consistency.allows(pull.clock, applied)
        }
    }

    fn answer(&self, pull: &Pull, replies: &mut Replies<'_>) -> Result<(), TaskError> {
        let w = self.width;
        let mut values = Vec::with_capacity(pull.keys.len() * w);
        for key in &pull.keys {
            let at = (key - self.first_key) as usize * w;
            values.extend_from_slice(&self.weights[at..at + w]);
        }
        let bytes = Answer::encode(pull.request, self.applied_clock(), &values);
        replies.to_partition(pull.trainer, pull.request, &bytes)
    }

    /// Answers the parked pulls the clock now allows.
    fn release(&mut self, replies: &mut Replies<'_>) -> Result<(), TaskError> {
        let parked = std::mem::take(&mut self.parked);
        for pull in parked {
            if self.ready(&pull) {
                self.answer(&pull, replies)?;
            } else {
                self.parked.push(pull);
            }
        }
        Ok(())
    }
}

impl SessionService for ServerShard {
    fn handle(
        &mut self,
        from: u32,
        _tag: u64,
        payload: Bytes,
        replies: &mut Replies<'_>,
    ) -> Result<(), TaskError> {
        let request = Request::decode(&payload, self.width).map_err(|e| self.refuse(from, e))?;
        let trainer = match &request {
            Request::Pull(p) => p.trainer,
            Request::Push(p) => p.trainer,
        };
        if trainer as usize >= self.applied.len() || replies.worker_of(trainer) != Some(from) {
            return Err(self.refuse(
                from,
                format!("it speaks for trainer {trainer}, which it does not hold"),
            ));
        }
        match request {
            Request::Pull(pull) => {
                self.check_keys(&pull.keys)
                    .map_err(|e| self.refuse(from, e))?;
                if self.ready(&pull) {
                    self.answer(&pull, replies)
                } else {
                    self.parked.push(pull);
                    Ok(())
                }
            }
            Request::Push(push) => {
                self.check_keys(&push.keys)
                    .map_err(|e| self.refuse(from, e))?;
                let expected = self.expected[trainer as usize];
                if push.clock != expected {
                    return Err(self.refuse(
                        from,
                        format!(
                            "trainer {trainer} pushed clock {} where {expected} was due",
                            push.clock
                        ),
                    ));
                }
                self.take_push(push);
                self.maybe_snapshot(replies)?;
                self.release(replies)
            }
        }
    }

    fn finish(&mut self) -> Result<Vec<u8>, TaskError> {
        let mut out = Vec::with_capacity(self.weights.len() * 4);
        for v in &self.weights {
            out.extend_from_slice(&v.to_le_bytes());
        }
        Ok(out)
    }
}

fn take_u64(bytes: &mut &[u8]) -> Option<u64> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    *bytes = rest;
    Some(u64::from_le_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps::update::{rule_named, Sgd};

    fn spec(consistency: Consistency, trainers: usize, rule: Arc<dyn UpdateRule>) -> ShardSpec {
        ShardSpec {
            layout: KeyLayout::new(10, 2, 2),
            trainers,
            rule,
            consistency,
            checkpoint_every: 4,
        }
    }

    fn shard(consistency: Consistency, trainers: usize) -> ServerShard {
        let init = |k: u64, v: &mut [f32]| v.fill(k as f32);
        ServerShard::new(
            &spec(consistency, trainers, Arc::new(Sgd { rate: 1.0 })),
            1,
            &init,
        )
    }

    #[test]
    fn a_snapshot_restores_values_state_and_clock_and_corrupt_ones_are_refused() {
        let adam = spec(Consistency::Bsp, 2, rule_named("adam", 0.1).unwrap());
        let init = |k: u64, v: &mut [f32]| v.fill(k as f32);
        let mut s = ServerShard::new(&adam, 1, &init);
        s.take_push(push(0, 0, vec![5, 7], 1.0));
        s.take_push(push(1, 0, vec![7], -2.0));
        let bytes = s.snapshot();
        let restore = |layout: KeyLayout, bytes: &[u8]| {
            ServerShard::restore(
                &ShardSpec {
                    layout,
                    ..adam.clone()
                },
                1,
                bytes,
            )
        };
        let back = restore(adam.layout, &bytes).unwrap();
        assert_eq!(back.weights, s.weights);
        assert_eq!(back.state, s.state);
        assert_eq!(
            (back.applied_clock(), back.expected.clone()),
            (1, vec![1, 1])
        );
        let longer = [bytes.clone(), vec![0]].concat();
        for bad in [&bytes[..bytes.len() - 1], &bytes[..4], &longer[..]] {
            assert!(restore(adam.layout, bad).is_err());
        }
        // A snapshot of another shard's size is refused.
        assert!(restore(KeyLayout::new(12, 2, 2), &bytes).is_err());
    }

    fn push(trainer: u32, clock: u64, keys: Vec<u64>, grad: f32) -> Push {
        let values = vec![grad; keys.len() * 2];
        Push {
            trainer,
            clock,
            keys,
            values,
        }
    }

    #[test]
    fn a_shard_holds_its_range_started_by_init() {
        let s = shard(Consistency::Bsp, 1);
        assert_eq!(s.first_key, 5);
        assert_eq!(
            s.weights(),
            &[5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 8.0, 8.0, 9.0, 9.0]
        );
        assert!(s.check_keys(&[5, 9]).is_ok());
        assert!(s.check_keys(&[4, 9]).is_err());
        assert!(s.check_keys(&[5, 10]).is_err());
    }

    #[test]
    fn bsp_applies_a_clock_once_every_trainer_pushed_it_in_trainer_order() {
        let mut s = shard(Consistency::Bsp, 2);
        s.take_push(push(1, 0, vec![5], 1.0));
        assert_eq!(s.weights()[0], 5.0, "held until trainer 0 pushes clock 0");
        assert_eq!(s.applied_clock(), 0);
        s.take_push(push(1, 1, vec![6], 1.0));
        s.take_push(push(0, 0, vec![5], 2.0));
        assert_eq!(s.weights()[0], 2.0, "both pushes of clock 0");
        assert_eq!(s.weights()[2], 6.0, "clock 1 is still held");
        assert_eq!(s.applied_clock(), 1);
        s.take_push(push(0, 1, vec![], 0.0));
        assert_eq!(s.weights()[2], 5.0);
        assert_eq!(s.applied_clock(), 2);
    }

    #[test]
    fn asp_and_ssp_apply_at_once_and_the_clock_is_the_slowest_trainer() {
        let mut s = shard(Consistency::Ssp(1), 2);
        s.take_push(push(1, 0, vec![5], 1.0));
        s.take_push(push(1, 1, vec![5], 1.0));
        assert_eq!(s.weights()[0], 3.0);
        assert_eq!(s.applied_clock(), 0, "trainer 0 has pushed nothing");
        let pull = |clock| Pull {
            trainer: 1,
            request: 0,
            clock,
            exact: false,
            keys: vec![5],
        };
        assert!(s.ready(&pull(1)), "one clock ahead is within the bound");
        assert!(!s.ready(&pull(2)));
        assert!(!s.ready(&Pull {
            exact: true,
            ..pull(1)
        }));
    }
}
