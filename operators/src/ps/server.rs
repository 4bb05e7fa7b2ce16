//! A server shard: one key range of the parameters, with its optimiser state and its
//! vector clock, living on a worker for the whole job and answering the trainers' pulls
//! and pushes (a service of the job's session, on a thread of its own).
//!
//! The vector clock holds, for each trainer, how many of its clocks the shard has
//! applied. A push of clock `c` from trainer `t` is applied at once under SSP and ASP;
//! under BSP the shard holds a clock's pushes until every trainer's is in, then applies
//! them in trainer order, so every run gives the same model. A pull is answered when the
//! consistency model allows (see `consistency`), else parked until a push moves the clock
//! far enough. A message's keys are resolved to the shard's rows on arrival, or taken as
//! the rows of the trainer's last listed keys when it sends them again (`key_cache`).
//! Messages that do not fit (a trainer its sender does not hold, a key outside the shard,
//! a list sent again that the shard does not hold, a clock out of turn, a malformed body)
//! are refused with the reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use weir_engine::session::service::{Replies, SessionService};
use weir_engine::TaskError;

use crate::ps::average::Average;
use crate::ps::consistency::Consistency;
use crate::ps::key_cache::{KnownKeys, Row, Rows, MAX_SHARD_KEYS};
use crate::ps::keys::KeyLayout;
use crate::ps::update::UpdateRule;
use crate::ps::wire::{put_values, Answer, Floats, Pull, Push, Request};

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
    /// Answer evaluations and finish with the mean of the values over the pushes of this
    /// clock and later (see `average`); `None`: with the values.
    pub average_from: Option<u64>,
}

/// A push's gradients, its keys resolved to rows.
struct Update {
    rows: Rows,
    values: Floats,
}

/// A pull waiting for the clock, its keys resolved to rows.
struct Waiting {
    trainer: u32,
    request: u64,
    clock: u64,
    exact: bool,
    rows: Rows,
}

/// One shard of the parameters.
pub struct ServerShard {
    shard: u32,
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
    held: BTreeMap<u64, Vec<Option<Update>>>,
    /// Pulls waiting for the clock to move.
    parked: Vec<Waiting>,
    /// The rows of each trainer's last listed keys.
    known: KnownKeys,
    /// Keep a snapshot every this many clocks (0: never).
    checkpoint_every: u64,
    /// The clock of the last snapshot kept.
    last_snapshot: u64,
    /// A run of a push's gradients, as they are applied.
    grads: Vec<f32>,
    average: Option<Average>,
}

/// Keys a shard applies per call of its rule (their gradients stay in the cache), and
/// gathers per run of an answer.
const APPLY_RUN: usize = 1024;

impl ServerShard {
    /// Shard `shard` of `spec`, every key started by `init`.
    pub fn new(spec: &ShardSpec, shard: u32, init: &Init) -> Self {
        let range = spec.layout.range(shard);
        let keys = range.end - range.start;
        debug_assert!(keys <= MAX_SHARD_KEYS, "`train` refuses larger shards");
        let width = spec.layout.width;
        let mut weights = vec![0.0f32; keys as usize * width];
        for (i, values) in weights.chunks_exact_mut(width).enumerate() {
            init(range.start + i as u64, values);
        }
        let state = vec![0.0f32; weights.len() * spec.rule.state_per_value()];
        let trainers = spec.trainers;
        ServerShard {
            shard,
            width,
            weights,
            state,
            rule: spec.rule.clone(),
            consistency: spec.consistency,
            applied: vec![0; trainers],
            expected: vec![0; trainers],
            held: BTreeMap::new(),
            parked: Vec::new(),
            known: KnownKeys::new(trainers, range.start, keys),
            checkpoint_every: spec.checkpoint_every,
            last_snapshot: 0,
            grads: Vec::new(),
            average: spec
                .average_from
                .map(|from| Average::new(from, keys as usize, width)),
        }
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

    /// Applies one push's gradients, a run of rows at a time, each run handed to the rule
    /// in one call: the gradients read where they arrived when aligned, else copied into
    /// a buffer of the shard's first.
    fn apply(&mut self, update: &Update) {
        let w = self.width;
        let now = self.applied_clock();
        let in_place = update.values.as_aligned();
        for (run, rows) in update.rows.chunks(APPLY_RUN).enumerate() {
            let from = run * APPLY_RUN * w;
            let grads = match in_place {
                Some(all) => &all[from..from + rows.len() * w],
                None => {
                    self.grads.resize(rows.len() * w, 0.0);
                    update.values.read_into(from, &mut self.grads);
                    &self.grads[..]
                }
            };
            if let Some(average) = self.average.as_mut() {
                average.before(now, rows, &self.weights);
            }
            self.rule
                .apply_rows(&mut self.weights, &mut self.state, w, rows, grads);
        }
    }

    /// Takes a push in (its clock the trainer's next): its keys resolved, applies it or
    /// holds it until its clock is complete (BSP). An error names what does not fit.
    pub fn take_push(&mut self, push: Push) -> Result<(), String> {
        let rows = self.known.resolve(push.trainer, &push.keys)?;
        let update = Update {
            rows,
            values: push.values,
        };
        self.take_update(push.trainer, push.clock, update);
        Ok(())
    }

    fn take_update(&mut self, trainer: u32, clock: u64, update: Update) {
        let t = trainer as usize;
        self.expected[t] += 1;
        if self.consistency != Consistency::Bsp {
            self.apply(&update);
            self.applied[t] = clock + 1;
            return;
        }
        let trainers = self.applied.len();
        self.held
            .entry(clock)
            .or_insert_with(|| (0..trainers).map(|_| None).collect())[t] = Some(update);
        // Apply every complete clock, in clock order, each in trainer order.
        loop {
            let applied = self.applied_clock();
            let Some(entry) = self.held.first_entry() else {
                break;
            };
            if *entry.key() != applied || entry.get().iter().any(Option::is_none) {
                break;
            }
            let (clock, updates) = entry.remove_entry();
            for update in updates.into_iter().flatten() {
                self.apply(&update);
            }
            self.applied.iter_mut().for_each(|a| *a = clock + 1);
        }
    }

    fn ready(&self, clock: u64, exact: bool) -> bool {
        let applied = self.applied_clock();
        if exact {
            applied >= clock
        } else {
            self.consistency.allows(clock, applied)
        }
    }

    /// The answer to `pull` as the shard's values stand, its keys resolved; an exact pull
    /// (an evaluation) of an averaging shard gets the means. An error names what does not
    /// fit.
    pub fn answer_bytes(&mut self, pull: &Pull) -> Result<Vec<u8>, String> {
        let rows = self.known.resolve(pull.trainer, &pull.keys)?;
        Ok(self.answer_rows(pull.request, pull.exact, &rows))
    }

    /// The answer's bytes: the values of `rows` gathered a run at a time into a buffer
    /// that stays in the cache and appended from there, with no buffer of the whole
    /// answer's values on the way.
    fn answer_rows(&self, request: u64, exact: bool, rows: &[Row]) -> Vec<u8> {
        let w = self.width;
        let now = self.applied_clock();
        let mut bytes = Answer::start(request, now, rows.len() * w);
        match self.average.as_ref().filter(|_| exact) {
            Some(average) => {
                let mut mean = vec![0.0f32; w];
                for &row in rows {
                    average.mean_into(now, row as usize, &self.weights, &mut mean);
                    put_values(&mut bytes, &mean);
                }
            }
            None if w == 1 => {
                let mut run = [0.0f32; APPLY_RUN];
                for rows in rows.chunks(APPLY_RUN) {
                    for (value, &row) in run.iter_mut().zip(rows) {
                        *value = self.weights[row as usize];
                    }
                    put_values(&mut bytes, &run[..rows.len()]);
                }
            }
            None => {
                for &row in rows {
                    let row = row as usize;
                    put_values(&mut bytes, &self.weights[row * w..(row + 1) * w]);
                }
            }
        }
        bytes
    }

    fn answer(&self, pull: &Waiting, replies: &mut Replies<'_>) -> Result<(), TaskError> {
        let bytes = self.answer_rows(pull.request, pull.exact, &pull.rows);
        replies.to_partition(pull.trainer, pull.request, bytes)
    }

    /// Takes one request of a message from worker `from`: checks that it speaks for a
    /// trainer `from` holds, then answers or parks a pull, applies or holds a push.
    fn take_request(
        &mut self,
        from: u32,
        request: Request,
        replies: &mut Replies<'_>,
    ) -> Result<(), TaskError> {
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
                let rows = self
                    .known
                    .resolve(trainer, &pull.keys)
                    .map_err(|e| self.refuse(from, e))?;
                let waiting = Waiting {
                    trainer,
                    request: pull.request,
                    clock: pull.clock,
                    exact: pull.exact,
                    rows,
                };
                if self.ready(pull.clock, pull.exact) {
                    self.answer(&waiting, replies)
                } else {
                    self.parked.push(waiting);
                    Ok(())
                }
            }
            Request::Push(push) => {
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
                self.take_push(push).map_err(|e| self.refuse(from, e))?;
                self.maybe_snapshot(replies)?;
                self.release(replies)
            }
        }
    }

    /// Answers the parked pulls the clock now allows.
    fn release(&mut self, replies: &mut Replies<'_>) -> Result<(), TaskError> {
        let parked = std::mem::take(&mut self.parked);
        for pull in parked {
            if self.ready(pull.clock, pull.exact) {
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
        let requests =
            Request::decode_all(&payload, self.width).map_err(|e| self.refuse(from, e))?;
        for request in requests {
            self.take_request(from, request, replies)?;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>, TaskError> {
        let means;
        let weights = match &self.average {
            Some(average) => {
                means = average.means(self.applied_clock(), &self.weights);
                &means
            }
            None => &self.weights,
        };
        let mut out = Vec::with_capacity(weights.len() * 4);
        for v in weights {
            out.extend_from_slice(&v.to_le_bytes());
        }
        Ok(out)
    }
}

mod snapshot;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps::update::{rule_named, Sgd};
    use crate::ps::wire::KeyList;

    pub(super) fn spec(
        consistency: Consistency,
        trainers: usize,
        rule: Arc<dyn UpdateRule>,
    ) -> ShardSpec {
        ShardSpec {
            layout: KeyLayout::new(10, 2, 2),
            trainers,
            rule,
            consistency,
            checkpoint_every: 4,
            average_from: None,
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
    fn an_averaging_shard_answers_evaluations_with_the_mean_and_snapshots_it() {
        let sgd = ShardSpec {
            average_from: Some(1),
            ..spec(Consistency::Bsp, 1, rule_named("sgd", 1.0).unwrap())
        };
        let mut s = ServerShard::new(&sgd, 1, &|_, v: &mut [f32]| v.fill(0.0));
        // Key 6's first value after clocks 0, 1, 2: 1, 3, 6; averaged from clock 1: 4.5.
        for (clock, grad) in [(0, -1.0), (1, -2.0), (2, -3.0)] {
            s.take_push(push(0, clock, vec![6], grad)).unwrap();
        }
        let pull = |exact| Pull {
            trainer: 0,
            request: 9,
            clock: 3,
            exact,
            keys: KeyList::of(&[6]),
        };
        let value = |s: &mut ServerShard, exact| {
            let answer = Answer::decode(&s.answer_bytes(&pull(exact)).unwrap(), 2).unwrap();
            answer.values[0]
        };
        assert_eq!((value(&mut s, false), value(&mut s, true)), (6.0, 4.5));
        let mut back = ServerShard::restore(&sgd, 1, &s.snapshot()).unwrap();
        assert_eq!(value(&mut back, true), 4.5);
        assert!(ServerShard::restore(
            &spec(Consistency::Bsp, 1, sgd.rule.clone()),
            1,
            &s.snapshot()
        )
        .is_err());
    }

    pub(super) fn push(trainer: u32, clock: u64, keys: Vec<u64>, grad: f32) -> Push {
        let values = Floats::from_slice(&vec![grad; keys.len() * 2]);
        Push {
            trainer,
            clock,
            keys: KeyList::of(&keys),
            values,
        }
    }

    #[test]
    fn a_shard_holds_its_range_started_by_init() {
        let s = shard(Consistency::Bsp, 1);
        assert_eq!(
            s.weights(),
            &[5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 8.0, 8.0, 9.0, 9.0]
        );
        let mut s = s;
        assert!(s.take_push(push(0, 0, vec![5, 9], 0.0)).is_ok());
        for outside in [vec![4, 9], vec![5, 10]] {
            let refused = s.take_push(push(0, 1, outside, 0.0)).unwrap_err();
            assert!(
                refused.contains("not all in the shard's range"),
                "{refused}"
            );
        }
    }

    #[test]
    fn bsp_applies_a_clock_once_every_trainer_pushed_it_in_trainer_order() {
        let mut s = shard(Consistency::Bsp, 2);
        s.take_push(push(1, 0, vec![5], 1.0)).unwrap();
        assert_eq!(s.weights()[0], 5.0, "held until trainer 0 pushes clock 0");
        assert_eq!(s.applied_clock(), 0);
        s.take_push(push(1, 1, vec![6], 1.0)).unwrap();
        s.take_push(push(0, 0, vec![5], 2.0)).unwrap();
        assert_eq!(s.weights()[0], 2.0, "both pushes of clock 0");
        assert_eq!(s.weights()[2], 6.0, "clock 1 is still held");
        assert_eq!(s.applied_clock(), 1);
        s.take_push(push(0, 1, vec![], 0.0)).unwrap();
        assert_eq!(s.weights()[2], 5.0);
        assert_eq!(s.applied_clock(), 2);
    }

    #[test]
    fn asp_and_ssp_apply_at_once_and_the_clock_is_the_slowest_trainer() {
        let mut s = shard(Consistency::Ssp(1), 2);
        s.take_push(push(1, 0, vec![5], 1.0)).unwrap();
        s.take_push(push(1, 1, vec![5], 1.0)).unwrap();
        assert_eq!(s.weights()[0], 3.0);
        assert_eq!(s.applied_clock(), 0, "trainer 0 has pushed nothing");
        assert!(s.ready(1, false), "one clock ahead is within the bound");
        assert!(!s.ready(2, false));
        assert!(!s.ready(1, true));
    }

    #[test]
    fn keys_sent_again_are_the_rows_the_trainer_last_listed() {
        let mut s = shard(Consistency::Asp, 2);
        let again = |trainer, clock, grad| Push {
            trainer,
            clock,
            keys: KeyList::Again(2),
            values: Floats::from_slice(&[grad; 4]),
        };
        let refused = s.take_push(again(0, 0, 1.0)).unwrap_err();
        assert!(refused.contains("has listed none"), "{refused}");
        s.take_push(push(0, 0, vec![6, 8], 1.0)).unwrap();
        s.take_push(again(0, 1, 2.0)).unwrap();
        assert_eq!(s.weights()[2..4], [3.0, 3.0], "key 6: 6 - 1 - 2");
        assert_eq!(s.weights()[6..8], [5.0, 5.0], "key 8: 8 - 1 - 2");
        assert!(
            s.take_push(again(1, 0, 1.0)).is_err(),
            "trainer 1 listed none"
        );
        let pull = Pull {
            trainer: 0,
            request: 4,
            clock: 2,
            exact: false,
            keys: KeyList::Again(2),
        };
        let answer = Answer::decode(&s.answer_bytes(&pull).unwrap(), 4).unwrap();
        assert_eq!(answer.values, [3.0, 3.0, 5.0, 5.0]);
    }
}
