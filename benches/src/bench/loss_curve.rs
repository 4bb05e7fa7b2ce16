//! A parameter-server run's loss curve, from the points its trainers report (a window of
//! clocks each): the loss against the clock, against wall time, and when it first reaches
//! a target.
//!
//! Against the clock, a point is a window's loss over every trainer (their summed loss
//! over their examples). Against time, the trainers report at their own pace (under SSP
//! and ASP a fast trainer reports more often than a slow one), so the curve at a trainer's
//! report is the mean loss of every trainer's latest window: the training loss as the
//! trainers see the model at that moment. It starts once every trainer has reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A point a trainer reported: the minibatches of a window of clocks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainerPoint {
    pub trainer: u32,
    /// The clock after the window's last.
    pub clock: u64,
    /// Seconds since training began.
    pub seconds: f64,
    /// The window's summed loss.
    pub loss: f64,
    pub examples: u64,
}

/// Reads the trainers' points from a job's metrics result (its `curve`).
pub fn from_result(result: &serde_json::Map<String, serde_json::Value>) -> Vec<TrainerPoint> {
    result
        .get("curve")
        .and_then(|c| serde_json::from_value::<Vec<TrainerPoint>>(c.clone()).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.examples > 0 && p.loss.is_finite() && p.seconds.is_finite())
        .collect()
}

/// The mean loss of each window over every trainer, in clock order: `(clock, loss)`.
pub fn by_clock(points: &[TrainerPoint]) -> Vec<(f64, f64)> {
    let mut windows: BTreeMap<u64, (f64, u64)> = BTreeMap::new();
    for p in points {
        let w = windows.entry(p.clock).or_default();
        w.0 += p.loss;
        w.1 += p.examples;
    }
    windows
        .into_iter()
        .map(|(clock, (loss, n))| (clock as f64, loss / n as f64))
        .collect()
}

/// The mean of every trainer's latest window at each report, in time order:
/// `(seconds, loss)`.
pub fn by_time(points: &[TrainerPoint]) -> Vec<(f64, f64)> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let trainers: std::collections::BTreeSet<u32> = points.iter().map(|p| p.trainer).collect();
    let mut latest: BTreeMap<u32, f64> = BTreeMap::new();
    let mut curve = Vec::with_capacity(sorted.len());
    for p in sorted {
        latest.insert(p.trainer, p.loss / p.examples as f64);
        if latest.len() == trainers.len() {
            let mean = latest.values().sum::<f64>() / latest.len() as f64;
            curve.push((p.seconds, mean));
        }
    }
    curve
}

/// The first `x` at which `curve` is at or below `target`.
pub fn first_reaching(curve: &[(f64, f64)], target: f64) -> Option<f64> {
    curve.iter().find(|(_, y)| *y <= target).map(|(x, _)| *x)
}

/// The lowest loss of `curve`.
pub fn lowest(curve: &[(f64, f64)]) -> Option<f64> {
    curve.iter().map(|(_, y)| *y).min_by(f64::total_cmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(trainer: u32, clock: u64, seconds: f64, mean: f64) -> TrainerPoint {
        TrainerPoint {
            trainer,
            clock,
            seconds,
            loss: mean * 10.0,
            examples: 10,
        }
    }

    #[test]
    fn a_window_is_the_mean_over_trainers() {
        let points = [
            point(0, 2, 0.1, 1.0),
            point(1, 2, 0.3, 3.0),
            point(0, 4, 0.2, 0.5),
        ];
        assert_eq!(by_clock(&points), vec![(2.0, 2.0), (4.0, 0.5)]);
    }

    #[test]
    fn over_time_each_trainer_counts_with_its_latest_window() {
        let points = [
            point(0, 2, 0.1, 1.0),
            point(0, 4, 0.2, 0.75),
            point(1, 2, 0.3, 3.0),
            point(0, 6, 0.4, 0.5),
        ];
        // Nothing before every trainer has reported.
        assert_eq!(by_time(&points), vec![(0.3, 1.875), (0.4, 1.75)]);
    }

    #[test]
    fn the_target_is_reached_at_the_first_point_at_or_below_it() {
        let curve = [(1.0, 3.0), (2.0, 1.0), (3.0, 2.0), (4.0, 0.5)];
        assert_eq!(first_reaching(&curve, 1.0), Some(2.0));
        assert_eq!(first_reaching(&curve, 0.1), None);
        assert_eq!(lowest(&curve), Some(0.5));
    }

    #[test]
    fn points_come_from_the_metrics_result() {
        let result = serde_json::json!({"curve": [
            {"trainer": 0, "clock": 2, "seconds": 0.5, "loss": 4.0, "examples": 8},
            {"trainer": 1, "clock": 2, "seconds": 0.6, "loss": 1.0, "examples": 0},
        ]});
        let points = from_result(result.as_object().unwrap());
        let expected = TrainerPoint {
            loss: 4.0,
            examples: 8,
            ..point(0, 2, 0.5, 0.5)
        };
        assert_eq!(points, vec![expected]);
        assert!(from_result(&serde_json::Map::new()).is_empty());
    }
}
