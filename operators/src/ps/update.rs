//! How a server applies a pushed gradient to its parameters: the [`UpdateRule`] trait, and
//! the rules provided, SGD, AdaGrad (Duchi et al. 2011) and Adam (Kingma and Ba 2015).
//! A user's own rule implements the trait.
//!
//! A rule sees one key at a time: its values, its optimiser state (zero at first) and the
//! gradient pushed for it. Only pushed keys are touched, so state is lazy, as for sparse
//! data it must be: Adam counts its steps per key.

use std::sync::Arc;

use crate::ps::key_cache::Row;

/// An update rule of the servers.
pub trait UpdateRule: Send + Sync + 'static {
    /// Its name, for reports.
    fn name(&self) -> String;
    /// Floats of optimiser state per parameter value.
    fn state_per_value(&self) -> usize;
    /// Applies `grad` to one key's `weights`; `state` is that key's
    /// `state_per_value() * weights.len()` floats.
    fn apply(&self, weights: &mut [f32], state: &mut [f32], grad: &[f32]);

    /// Applies a run of keys' gradients: key `i` of the run is row `rows[i]` of the
    /// shard's `weights` and `state` (`width` values a row) and has
    /// `grads[i * width..(i + 1) * width]`. The provided loop calls [`apply`](Self::apply)
    /// per row, without dynamic dispatch; a rule may replace it with a faster one.
    fn apply_rows(
        &self,
        weights: &mut [f32],
        state: &mut [f32],
        width: usize,
        rows: &[Row],
        grads: &[f32],
    ) {
        let spv = self.state_per_value() * width;
        for (&row, grad) in rows.iter().zip(grads.chunks_exact(width.max(1))) {
            let row = row as usize;
            self.apply(
                &mut weights[row * width..(row + 1) * width],
                &mut state[row * spv..(row + 1) * spv],
                grad,
            );
        }
    }
}

/// Plain stochastic gradient descent: `w -= rate * g`.
#[derive(Debug, Clone, Copy)]
pub struct Sgd {
    pub rate: f32,
}

impl UpdateRule for Sgd {
    fn name(&self) -> String {
        format!("sgd(rate {})", self.rate)
    }
    fn state_per_value(&self) -> usize {
        0
    }
    #[inline]
    fn apply(&self, weights: &mut [f32], _state: &mut [f32], grad: &[f32]) {
        for (w, g) in weights.iter_mut().zip(grad) {
            *w -= self.rate * g;
        }
    }
    fn apply_rows(
        &self,
        weights: &mut [f32],
        _state: &mut [f32],
        width: usize,
        rows: &[Row],
        grads: &[f32],
    ) {
        if width == 1 {
            for (&row, g) in rows.iter().zip(grads) {
                weights[row as usize] -= self.rate * g;
            }
            return;
        }
        for (&row, grad) in rows.iter().zip(grads.chunks_exact(width)) {
            let row = row as usize;
            self.apply(&mut weights[row * width..(row + 1) * width], &mut [], grad);
        }
    }
}

/// AdaGrad: each value's step shrinks with the square root of its summed squared
/// gradients.
#[derive(Debug, Clone, Copy)]
pub struct AdaGrad {
    pub rate: f32,
    pub epsilon: f32,
}

impl UpdateRule for AdaGrad {
    fn name(&self) -> String {
        format!("adagrad(rate {})", self.rate)
    }
    fn state_per_value(&self) -> usize {
        1
    }
    #[inline]
    fn apply(&self, weights: &mut [f32], state: &mut [f32], grad: &[f32]) {
        for ((w, s), g) in weights.iter_mut().zip(state.iter_mut()).zip(grad) {
            *s += g * g;
            *w -= self.rate * g / (s.sqrt() + self.epsilon);
        }
    }
}

/// Adam: bias-corrected first and second moment estimates, with a step count per value.
#[derive(Debug, Clone, Copy)]
pub struct Adam {
    pub rate: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
}

impl UpdateRule for Adam {
    fn name(&self) -> String {
        format!("adam(rate {})", self.rate)
    }
    fn state_per_value(&self) -> usize {
        3
    }
    #[inline]
    fn apply(&self, weights: &mut [f32], state: &mut [f32], grad: &[f32]) {
        let n = weights.len();
        let (m, rest) = state.split_at_mut(n);
        let (v, t) = rest.split_at_mut(n);
        for i in 0..n {
            let g = grad[i];
            t[i] += 1.0;
            m[i] = self.beta1 * m[i] + (1.0 - self.beta1) * g;
            v[i] = self.beta2 * v[i] + (1.0 - self.beta2) * g * g;
            let m_hat = m[i] / (1.0 - self.beta1.powf(t[i]));
            let v_hat = v[i] / (1.0 - self.beta2.powf(t[i]));
            weights[i] -= self.rate * m_hat / (v_hat.sqrt() + self.epsilon);
        }
    }
}

/// The rule called `name` (`sgd`, `adagrad`, `adam`) with learning rate `rate` and the
/// usual constants.
pub fn rule_named(name: &str, rate: f32) -> Result<Arc<dyn UpdateRule>, String> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!("learning rate {rate} is not a positive number"));
    }
    match name {
        "sgd" => Ok(Arc::new(Sgd { rate })),
        "adagrad" => Ok(Arc::new(AdaGrad {
            rate,
            epsilon: 1e-8,
        })),
        "adam" => Ok(Arc::new(Adam {
            rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        })),
        other => Err(format!(
            "optimizer {other:?} is not one of sgd, adagrad, adam"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimises (w - 3)^2 from 0 with `rule`; returns w after `steps` steps.
    fn descend(rule: &dyn UpdateRule, steps: usize) -> f32 {
        let mut w = [0.0f32];
        let mut state = vec![0.0f32; rule.state_per_value()];
        for _ in 0..steps {
            let g = [2.0 * (w[0] - 3.0)];
            rule.apply(&mut w, &mut state, &g);
        }
        w[0]
    }

    #[test]
    fn every_rule_descends_to_the_minimum() {
        for name in ["sgd", "adagrad", "adam"] {
            let rule = rule_named(name, 0.1).unwrap();
            let w = descend(rule.as_ref(), 2_000);
            assert!((w - 3.0).abs() < 1e-2, "{name} ended at {w}");
        }
    }

    #[test]
    fn sgd_takes_exactly_its_step_and_adam_its_first_step_is_the_rate() {
        let mut w = [1.0f32, 2.0];
        Sgd { rate: 0.5 }.apply(&mut w, &mut [], &[2.0, -4.0]);
        assert_eq!(w, [0.0, 4.0]);
        // Adam's first step is rate * sign(g), bias correction included.
        let adam = rule_named("adam", 0.01).unwrap();
        let mut w = [0.0f32];
        let mut state = [0.0f32; 3];
        adam.apply(&mut w, &mut state, &[123.0]);
        assert!((w[0] + 0.01).abs() < 1e-6, "{}", w[0]);
    }

    #[test]
    fn unknown_rules_and_bad_rates_are_refused() {
        assert!(rule_named("momentum", 0.1).is_err());
        assert!(rule_named("sgd", 0.0).is_err());
        assert!(rule_named("sgd", f32::NAN).is_err());
    }

    #[test]
    fn apply_rows_is_apply_row_by_row() {
        for name in ["sgd", "adagrad", "adam"] {
            for width in [1usize, 3] {
                let rule = rule_named(name, 0.1).unwrap();
                let spv = rule.state_per_value() * width;
                let rows: [Row; 3] = [4, 0, 2];
                let grads: Vec<f32> = (0..rows.len() * width).map(|i| i as f32 - 2.5).collect();
                let mut weights: Vec<f32> = (0..5 * width).map(|i| i as f32 * 0.25).collect();
                let mut state = vec![0.5f32; 5 * spv];
                let (mut w2, mut s2) = (weights.clone(), state.clone());
                rule.apply_rows(&mut weights, &mut state, width, &rows, &grads);
                for (i, &r) in rows.iter().enumerate() {
                    let r = r as usize;
                    rule.apply(
                        &mut w2[r * width..(r + 1) * width],
                        &mut s2[r * spv..(r + 1) * spv],
                        &grads[i * width..(i + 1) * width],
                    );
                }
                assert_eq!((weights, state), (w2, s2), "{name}, width {width}");
            }
        }
    }
}
