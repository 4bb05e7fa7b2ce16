//! Scaling arithmetic for `weir bench`: speedup, efficiency, the Karp–Flatt serial fraction,
//! Amdahl's and Gustafson's laws fitted to measurements, order statistics of repeated runs,
//! and the aligned text table `weir bench speedup` prints.

use std::fmt::Write as _;

/// Speedup of a run taking `tp` seconds over the baseline taking `t1` seconds: `t1 / tp`.
/// `tp` must be positive.
pub fn speedup(t1: f64, tp: f64) -> f64 {
    t1 / tp
}

/// Parallel efficiency on `p` workers: speedup divided by `p`.
pub fn efficiency(t1: f64, tp: f64, p: usize) -> f64 {
    speedup(t1, tp) / p as f64
}

/// The Karp–Flatt metric, the experimentally determined serial fraction
/// `e = (1/S − 1/p) / (1 − 1/p)`. Undefined for `p <= 1` (and for a non-positive speedup).
pub fn karp_flatt(speedup: f64, p: usize) -> Option<f64> {
    if p <= 1 || speedup <= 0.0 || !speedup.is_finite() {
        return None;
    }
    let inv_p = 1.0 / p as f64;
    Some((1.0 / speedup - inv_p) / (1.0 - inv_p))
}

/// The serial fraction `f` of Amdahl's law `S(p) = 1 / (f + (1 − f)/p)` fitted to
/// `(workers, speedup)` points by least squares on `1/S`, clamped to `[0, 1]`.
///
/// `1/S = 1/p + f·(1 − 1/p)` is linear in `f`, so with `x = 1 − 1/p` and `y = 1/S` the
/// least-squares estimate is `f = Σ x·(y − 1/p) / Σ x²`. Points with `p <= 1` carry no
/// information (`x = 0`) and points with a non-positive or non-finite speedup are ignored;
/// `None` when no point is left.
pub fn amdahl_fit(points: &[(usize, f64)]) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for &(p, s) in points {
        if p <= 1 || s <= 0.0 || !s.is_finite() {
            continue;
        }
        let inv_p = 1.0 / p as f64;
        let x = 1.0 - inv_p;
        num += x * (1.0 / s - inv_p);
        den += x * x;
    }
    (den > 0.0).then(|| (num / den).clamp(0.0, 1.0))
}

/// Amdahl's predicted speedup on `p` workers for serial fraction `f`: `1 / (f + (1 − f)/p)`.
pub fn amdahl_predict(f: f64, p: usize) -> f64 {
    1.0 / (f + (1.0 - f) / p as f64)
}

/// Gustafson's scaled speedup on `p` workers for serial fraction `f`: `p − f·(p − 1)`.
pub fn gustafson_scaled_speedup(p: usize, serial_fraction: f64) -> f64 {
    let p = p as f64;
    p - serial_fraction * (p - 1.0)
}

/// Scaled speedup measured in a weak-scaling run, where the work grows with `p`: one
/// worker does the baseline work in `t1` seconds, `p` workers do `p` times that work in
/// `tp` seconds, so `S(p) = p · t1 / tp`. `tp` must be positive.
pub fn measured_scaled_speedup(p: usize, t1: f64, tp: f64) -> f64 {
    p as f64 * t1 / tp
}

/// The serial fraction `f` of Gustafson's law `S(p) = p − f·(p − 1)` fitted to measured
/// `(workers, scaled speedup)` points by least squares, clamped to `[0, 1]`.
///
/// `p − S = f·(p − 1)` is linear in `f`, so with `x = p − 1` and `y = p − S` the estimate
/// is `f = Σ x·y / Σ x²`. Points with `p <= 1` or a non-finite speedup are ignored; `None`
/// when no point is left.
pub fn gustafson_fit(points: &[(usize, f64)]) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for &(p, s) in points {
        if p <= 1 || !s.is_finite() {
            continue;
        }
        let x = p as f64 - 1.0;
        num += x * (p as f64 - s);
        den += x * x;
    }
    (den > 0.0).then(|| (num / den).clamp(0.0, 1.0))
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// The smallest of `values`; `None` when empty.
pub fn min(values: &[f64]) -> Option<f64> {
    values.iter().copied().min_by(f64::total_cmp)
}

/// The largest of `values`; `None` when empty.
pub fn max(values: &[f64]) -> Option<f64> {
    values.iter().copied().max_by(f64::total_cmp)
}

/// One row of the speedup table: one worker count's repeated runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub workers: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Speedup over the one-worker median (scaled speedup for weak scaling).
    pub speedup: f64,
    pub efficiency: f64,
    /// Karp–Flatt serial fraction (strong scaling with more than one worker only).
    pub karp_flatt: Option<f64>,
}

impl Row {
    /// The row for `workers` workers whose runs took `seconds`, against the one-worker
    /// median `t1`. With `weak`, the work grew with the worker count: the speedup is the
    /// scaled speedup `p · t1 / tp` and no Karp–Flatt figure is given. `None` when
    /// `seconds` is empty.
    pub fn new(workers: usize, seconds: &[f64], t1: f64, weak: bool) -> Option<Row> {
        let med = median(seconds)?;
        let speedup = if weak {
            measured_scaled_speedup(workers, t1, med)
        } else {
            speedup(t1, med)
        };
        Some(Row {
            workers,
            median: med,
            min: min(seconds)?,
            max: max(seconds)?,
            speedup,
            efficiency: if weak {
                speedup / workers as f64
            } else {
                efficiency(t1, med, workers)
            },
            karp_flatt: if weak {
                None
            } else {
                karp_flatt(speedup, workers)
            },
        })
    }
}

/// The speedup table as aligned text.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub rows: Vec<Row>,
    /// Weak scaling: the speedup column is the scaled speedup.
    pub weak: bool,
}

impl Table {
    /// The table's text, a header line and one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let speedup_title = if self.weak { "scaled" } else { "speedup" };
        let header = [
            "workers",
            "median s",
            "min/max s",
            speedup_title,
            "efficiency",
            "karp-flatt",
        ];
        let mut cells: Vec<[String; 6]> = vec![header.map(str::to_string)];
        for r in &self.rows {
            cells.push([
                r.workers.to_string(),
                format!("{:.3}", r.median),
                format!("{:.3}/{:.3}", r.min, r.max),
                format!("{:.2}", r.speedup),
                format!("{:.2}", r.efficiency),
                r.karp_flatt
                    .map(|e| format!("{e:.3}"))
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        let mut widths = [0usize; 6];
        for line in &cells {
            for (w, c) in widths.iter_mut().zip(line) {
                *w = (*w).max(c.len());
            }
        }
        let mut out = String::new();
        for line in &cells {
            let mut text = String::new();
            for (i, (c, w)) in line.iter().zip(widths).enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                let _ = write!(text, "{c:>w$}");
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn speedup_and_efficiency() {
        // 10 s on one worker, 4 s on four: S = 10/4 = 2.5, E = 2.5/4 = 0.625.
        assert!(close(speedup(10.0, 4.0), 2.5));
        assert!(close(efficiency(10.0, 4.0, 4), 0.625));
        // Perfect scaling: 12 s → 3 s on 4 workers, S = 4, E = 1.
        assert!(close(efficiency(12.0, 3.0, 4), 1.0));
    }

    #[test]
    fn karp_flatt_values() {
        // S = 2.5, p = 4: (1/2.5 − 1/4) / (1 − 1/4) = (0.4 − 0.25) / 0.75 = 0.15 / 0.75 = 0.2.
        assert!(close(karp_flatt(2.5, 4).unwrap(), 0.2));
        // Perfect speedup S = p = 8: (1/8 − 1/8) / (7/8) = 0.
        assert!(close(karp_flatt(8.0, 8).unwrap(), 0.0));
        // No speedup S = 1, p = 2: (1 − 0.5) / 0.5 = 1.
        assert!(close(karp_flatt(1.0, 2).unwrap(), 1.0));
        assert_eq!(karp_flatt(1.0, 1), None);
        assert_eq!(karp_flatt(0.0, 4), None);
    }

    #[test]
    fn amdahl_predictions() {
        // f = 0.1, p = 4: 1 / (0.1 + 0.9/4) = 1 / (0.1 + 0.225) = 1 / 0.325 = 3.0769…
        assert!(close(amdahl_predict(0.1, 4), 1.0 / 0.325));
        // f = 0: S = p; f = 1: S = 1.
        assert!(close(amdahl_predict(0.0, 64), 64.0));
        assert!(close(amdahl_predict(1.0, 64), 1.0));
        // f = 0.5, p = 2: 1 / (0.5 + 0.25) = 4/3.
        assert!(close(amdahl_predict(0.5, 2), 4.0 / 3.0));
    }

    #[test]
    fn amdahl_fit_recovers_a_known_serial_fraction() {
        // Speedups generated from f = 0.2: S(2) = 1/(0.2 + 0.4) = 1/0.6 = 1.666…,
        // S(4) = 1/(0.2 + 0.2) = 2.5, S(8) = 1/(0.2 + 0.1) = 3.333….
        // Every point lies on the model, so the residuals are 0 and the fit is exact.
        let points = [
            (1, 1.0),
            (2, amdahl_predict(0.2, 2)),
            (4, amdahl_predict(0.2, 4)),
            (8, amdahl_predict(0.2, 8)),
        ];
        assert!(close(points[2].1, 2.5));
        assert!((amdahl_fit(&points).unwrap() - 0.2).abs() < 1e-12);
        for f in [0.0, 0.05, 0.5, 1.0] {
            let pts: Vec<(usize, f64)> = [2, 3, 16, 100]
                .iter()
                .map(|&p| (p, amdahl_predict(f, p)))
                .collect();
            assert!((amdahl_fit(&pts).unwrap() - f).abs() < 1e-12, "f = {f}");
        }
    }

    #[test]
    fn amdahl_fit_by_hand_and_clamped() {
        // (2, 1.6) and (4, 2.5): x = 0.5, 0.75; y − 1/p = 0.625 − 0.5 = 0.125, 0.4 − 0.25 = 0.15.
        // f = (0.5·0.125 + 0.75·0.15) / (0.25 + 0.5625) = (0.0625 + 0.1125) / 0.8125
        //   = 0.175 / 0.8125 = 0.215384…
        let f = amdahl_fit(&[(2, 1.6), (4, 2.5)]).unwrap();
        assert!(close(f, 0.175 / 0.8125));
        // Superlinear speedup gives a negative estimate, clamped to 0.
        assert_eq!(amdahl_fit(&[(2, 3.0)]), Some(0.0));
        // Slowdown gives an estimate above 1, clamped to 1.
        assert_eq!(amdahl_fit(&[(2, 0.5)]), Some(1.0));
        // Nothing to fit.
        assert_eq!(amdahl_fit(&[]), None);
        assert_eq!(amdahl_fit(&[(1, 1.0)]), None);
    }

    #[test]
    fn gustafson() {
        // f = 0.1, p = 8: 8 − 0.1·7 = 7.3.
        assert!(close(gustafson_scaled_speedup(8, 0.1), 7.3));
        assert!(close(gustafson_scaled_speedup(1, 0.3), 1.0));
        // Weak scaling: 2 s on 1 worker, 2.5 s on 4 workers with 4× the work: 4·2/2.5 = 3.2.
        assert!(close(measured_scaled_speedup(4, 2.0, 2.5), 3.2));
        // Points from f = 0.25: S(2) = 2 − 0.25 = 1.75, S(5) = 5 − 1 = 4; the fit is exact.
        let pts = [(1, 1.0), (2, 1.75), (5, 4.0)];
        assert!(close(gustafson_fit(&pts).unwrap(), 0.25));
        // By hand: (2, 1.5), (3, 2.0): x = 1, 2; y = 0.5, 1.0; f = (0.5 + 2) / (1 + 4) = 0.5.
        assert!(close(gustafson_fit(&[(2, 1.5), (3, 2.0)]).unwrap(), 0.5));
        assert_eq!(gustafson_fit(&[(1, 1.0)]), None);
    }

    #[test]
    fn order_statistics() {
        // Sorted 1, 2, 3: median 2.
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        // Sorted 1, 2, 4, 10: median (2 + 4)/2 = 3.
        assert_eq!(median(&[10.0, 4.0, 1.0, 2.0]), Some(3.0));
        assert_eq!(median(&[]), None);
        assert_eq!(min(&[3.0, 1.5, 2.0]), Some(1.5));
        assert_eq!(max(&[3.0, 1.5, 2.0]), Some(3.0));
        assert_eq!(min(&[]), None);
        assert_eq!(max(&[]), None);
    }

    #[test]
    fn rows_and_table() {
        // One worker: median of 9, 10, 11 = 10; S = 1, E = 1, no Karp–Flatt.
        let r1 = Row::new(1, &[11.0, 9.0, 10.0], 10.0, false).unwrap();
        assert_eq!((r1.median, r1.min, r1.max), (10.0, 9.0, 11.0));
        assert!(close(r1.speedup, 1.0));
        assert_eq!(r1.karp_flatt, None);
        // Four workers: median 4, S = 10/4 = 2.5, E = 0.625, e = 0.2 (see karp_flatt_values).
        let r4 = Row::new(4, &[4.0, 5.0, 3.0], 10.0, false).unwrap();
        assert!(close(r4.speedup, 2.5));
        assert!(close(r4.efficiency, 0.625));
        assert!(close(r4.karp_flatt.unwrap(), 0.2));
        // Weak: 4 workers, 12.5 s against 10 s: 4·10/12.5 = 3.2, E = 0.8.
        let w4 = Row::new(4, &[12.5], 10.0, true).unwrap();
        assert!(close(w4.speedup, 3.2));
        assert!(close(w4.efficiency, 0.8));
        assert_eq!(w4.karp_flatt, None);
        assert_eq!(Row::new(2, &[], 10.0, false), None);

        let text = Table {
            rows: vec![r1, r4],
            weak: false,
        }
        .render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "workers  median s     min/max s  speedup  efficiency  karp-flatt"
        );
        assert_eq!(
            lines[1],
            "      1    10.000  9.000/11.000     1.00        1.00           -"
        );
        assert_eq!(
            lines[2],
            "      4     4.000   3.000/5.000     2.50        0.62       0.200"
        );
        let weak = Table {
            rows: vec![w4],
            weak: true,
        }
        .render();
        assert!(weak.starts_with("workers  median s"));
        assert!(weak.lines().next().unwrap().contains("scaled"));
    }
}
