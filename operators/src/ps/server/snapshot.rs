//! A server shard's snapshot: what `--checkpoint-every` keeps on the shard's worker and
//! its replica, and what a shard restored after a lost worker starts from.
//!
//! Layout (little-endian): the applied clock (`u64`), then the values and the optimiser
//! state, each as a `u64` count and that many `f32`s, then the running mean's state when
//! the shard averages (see `average`). A snapshot that does not fit the shard (another
//! size, cut short, bytes after the end) is refused with what is wrong.

use weir_engine::session::service::Replies;
use weir_engine::TaskError;

use super::{ServerShard, ShardSpec};

impl ServerShard {
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
        if let Some(average) = restored.average.as_mut() {
            average.decode(clock, &mut bytes).map_err(|e| corrupt(&e))?;
        }
        if !bytes.is_empty() {
            return Err(corrupt("bytes after the state"));
        }
        restored.applied.fill(clock);
        restored.expected.fill(clock);
        restored.last_snapshot = clock;
        Ok(restored)
    }

    /// The shard's snapshot: its applied clock, values and optimiser state (and the
    /// running mean's, when it averages).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + (self.weights.len() + self.state.len()) * 4);
        out.extend_from_slice(&self.applied_clock().to_le_bytes());
        for part in [&self.weights, &self.state] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            for v in part.iter() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        if let Some(average) = &self.average {
            average.encode(&mut out);
        }
        out
    }

    /// Keeps a snapshot when the applied clock reached the next multiple of
    /// `checkpoint_every`.
    pub(super) fn maybe_snapshot(&mut self, replies: &mut Replies<'_>) -> Result<(), TaskError> {
        let clock = self.applied_clock();
        let every = self.checkpoint_every;
        if every == 0 || clock < self.last_snapshot + every || clock.checked_rem(every) != Some(0) {
            return Ok(());
        }
        self.last_snapshot = clock;
        replies.keep_snapshot(clock, self.snapshot())
    }
}

fn take_u64(bytes: &mut &[u8]) -> Option<u64> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    *bytes = rest;
    Some(u64::from_le_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{push, spec};
    use super::*;
    use crate::ps::consistency::Consistency;
    use crate::ps::keys::KeyLayout;
    use crate::ps::update::rule_named;

    #[test]
    fn a_snapshot_restores_values_state_and_clock_and_corrupt_ones_are_refused() {
        let adam = spec(Consistency::Bsp, 2, rule_named("adam", 0.1).unwrap());
        let init = |k: u64, v: &mut [f32]| v.fill(k as f32);
        let mut s = ServerShard::new(&adam, 1, &init);
        s.take_push(push(0, 0, vec![5, 7], 1.0)).unwrap();
        s.take_push(push(1, 0, vec![7], -2.0)).unwrap();
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
}
