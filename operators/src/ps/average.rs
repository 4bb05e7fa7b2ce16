//! Iterate averaging (Polyak and Juditsky 1992; "averaged SGD", as scikit-learn's
//! `average=True`): the model a shard answers evaluations with and finishes with is the
//! mean of its values over the pushes it applied from a given clock on, rather than the
//! last values, which a constant or slowly shrinking step leaves jittering around the
//! optimum.
//!
//! Time is the shard's applied clock (the slowest trainer's, which only grows), so every
//! shard and the sequential reference average over the same instants: the mean after
//! clock `now` is that of the values as they stood at the end of each clock from `from`
//! to `now`. It is kept lazily, so a push costs only its own keys, as sparse models need:
//! a key's running sum is brought up to date only when a push is about to change it (its
//! values times the clocks they were held), and a read adds the clocks since its last
//! change: with `n = now − from`, a key's mean is `(sum + values × (n − since)) / n`.

use crate::ps::key_cache::Row;
use crate::ps::wire::take_u64;

/// The running mean of a shard's (or the sequential reference's) values.
#[derive(Debug, Clone, PartialEq)]
pub struct Average {
    /// The clock averaging starts at.
    from: u64,
    width: usize,
    /// Per value: its values times the clocks they were held, up to `since` of its key.
    sums: Vec<f64>,
    /// Per key: the clock (counted from `from`) its sums run to.
    since: Vec<u64>,
}

impl Average {
    /// The mean of `keys` keys of `width` values, over the clocks from `from` on.
    pub fn new(from: u64, keys: usize, width: usize) -> Average {
        Average {
            from,
            width,
            sums: vec![0.0; keys * width],
            since: vec![0; keys],
        }
    }

    /// Call before an update at clock `now` changes `rows` of `weights`: brings their
    /// sums up to date.
    pub fn before(&mut self, now: u64, rows: &[Row], weights: &[f32]) {
        let n = now.saturating_sub(self.from);
        if n == 0 {
            return;
        }
        let w = self.width;
        for &row in rows {
            let row = row as usize;
            let held = n - self.since[row];
            self.since[row] = n;
            if held == 0 {
                continue;
            }
            for (sum, v) in self.sums[row * w..(row + 1) * w]
                .iter_mut()
                .zip(&weights[row * w..(row + 1) * w])
            {
                *sum += f64::from(*v) * held as f64;
            }
        }
    }

    /// Row `row`'s mean at clock `now` into `out`: its current `weights` until averaging
    /// has begun.
    pub fn mean_into(&self, now: u64, row: usize, weights: &[f32], out: &mut [f32]) {
        let w = self.width;
        let current = &weights[row * w..(row + 1) * w];
        let n = now.saturating_sub(self.from);
        if n == 0 {
            out.copy_from_slice(current);
            return;
        }
        let held = n.saturating_sub(self.since[row]) as f64;
        for ((o, sum), v) in out.iter_mut().zip(&self.sums[row * w..]).zip(current) {
            *o = ((sum + f64::from(*v) * held) / n as f64) as f32;
        }
    }

    /// Every row's mean at clock `now`.
    pub fn means(&self, now: u64, weights: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; weights.len()];
        for (row, chunk) in out.chunks_exact_mut(self.width.max(1)).enumerate() {
            self.mean_into(now, row, weights, chunk);
        }
        out
    }

    /// Appends the running mean's state (sums, since) to a snapshot.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for sum in &self.sums {
            out.extend_from_slice(&sum.to_le_bytes());
        }
        for since in &self.since {
            out.extend_from_slice(&since.to_le_bytes());
        }
    }

    /// Reads the state [`encode`](Self::encode) wrote, at clock `now`, into this (empty)
    /// mean of the same shape.
    pub fn decode(&mut self, now: u64, bytes: &mut &[u8]) -> Result<(), String> {
        let need = (self.sums.len() + self.since.len()) * 8;
        if bytes.len() < need {
            return Err(format!(
                "{} bytes of the mean where {need} were due",
                bytes.len()
            ));
        }
        for sum in &mut self.sums {
            *sum = f64::from_bits(take_u64(bytes)?);
        }
        let n = now.saturating_sub(self.from);
        for since in &mut self.since {
            *since = take_u64(bytes)?;
            if *since > n {
                return Err(format!("a key averaged to clock {since} of {n}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Updates two rows of width 2 at the clocks given, averaging from clock 1; returns
    /// the values at the end of each clock too.
    fn run(updates: &[(u64, Vec<Row>, f32)], end: u64) -> (Vec<f32>, Vec<Vec<f32>>, Average) {
        let mut weights = vec![1.0f32, 2.0, 3.0, 4.0];
        let mut average = Average::new(1, 2, 2);
        let mut at_end_of = Vec::new();
        for clock in 0..end {
            for (_, rows, delta) in updates.iter().filter(|u| u.0 == clock) {
                average.before(clock, rows, &weights);
                for &r in rows {
                    let r = r as usize;
                    weights[r * 2] += delta;
                    weights[r * 2 + 1] -= delta;
                }
            }
            at_end_of.push(weights.clone());
        }
        (weights, at_end_of, average)
    }

    #[test]
    fn the_mean_is_that_of_the_values_at_the_end_of_each_averaged_clock() {
        let updates = vec![
            (0, vec![0, 1], 10.0),
            (1, vec![0], 1.0),
            (1, vec![0, 1], 0.25),
            (2, vec![1], 2.0),
            (4, vec![0, 1], 0.5),
            (5, vec![1], -4.0),
        ];
        let (weights, at_end_of, average) = run(&updates, 7);
        let means = average.means(7, &weights);
        let averaged = &at_end_of[1..];
        for (i, mean) in means.iter().enumerate() {
            let expected = averaged.iter().map(|h| h[i]).sum::<f32>() / averaged.len() as f32;
            assert!(
                (mean - expected).abs() < 1e-5,
                "value {i}: {mean} vs {expected}"
            );
        }
        // Until averaging has begun, the mean is the values.
        let (weights, _, average) = run(&updates[..1], 1);
        assert_eq!(average.means(1, &weights), weights);
    }

    #[test]
    fn the_state_round_trips_and_a_corrupt_one_is_refused() {
        let (_, _, average) = run(&[(1, vec![0], 1.0), (2, vec![1], 2.0)], 3);
        let mut bytes = Vec::new();
        average.encode(&mut bytes);
        let mut back = Average::new(1, 2, 2);
        back.decode(3, &mut &bytes[..]).unwrap();
        assert_eq!(back, average);
        let mut short = Average::new(1, 2, 2);
        assert!(short.decode(3, &mut &bytes[..bytes.len() - 1]).is_err());
        let mut ahead = bytes.clone();
        let last = ahead.len() - 8;
        ahead[last..].copy_from_slice(&99u64.to_le_bytes());
        assert!(Average::new(1, 2, 2).decode(3, &mut &ahead[..]).is_err());
    }
}
