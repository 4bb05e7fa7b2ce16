//! `logreg`: binary logistic regression on the parameter server, on sparse LIBSVM or
//! dense CSV examples, by minibatch SGD, AdaGrad or Adam with optional L2.
//!
//! Keys `0..F` are the feature weights, key `F` the bias. A minibatch pulls only the
//! weights its rows' features name (and the bias), so sparse data never moves the whole
//! model. Each epoch prints the training loss (mean log-loss over all training examples)
//! and, with `--test`, the held-out loss and accuracy; `--output` writes the weights as
//! `key<TAB>weight` (the bias last).

use weir_datasets::{ExampleRow, LabelRule};
use weir_engine::{JobContext, Result};
use weir_operators::prelude::*;
use weir_operators::ps::{train, train_sequential, Evaluation};

use crate::ml_input::{
    load_parts, read_parts_locally, trainer_partitions, ExampleModel, MlPart, OnExamples, Positions,
};
use crate::output::save_or_show;
use crate::ps_args::{print_epoch, report, TrainArgs};
use crate::registry::Job;

/// Binary logistic regression.
#[derive(Debug, Clone, clap::Parser)]
pub struct LogReg {
    /// Training examples: LIBSVM, or CSV (`.csv`) with a header and a `label` column.
    #[arg(long)]
    pub input: String,
    /// Held-out examples, in the same format.
    #[arg(long)]
    pub test: Option<String>,
    /// L2 regularisation strength.
    #[arg(long, default_value_t = 0.0)]
    pub l2: f32,
    #[command(flatten)]
    pub train: TrainArgs,
}

impl Job for LogReg {
    const NAME: &'static str = "logreg";
    const ABOUT: &'static str =
        "Binary logistic regression on the parameter server (weights as key<TAB>weight)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        let options = self.train.options()?;
        let partitions = trainer_partitions(ctx, self.train.trainers);
        let (parts, features) = load_parts(
            ctx,
            &self.input,
            self.test.as_deref(),
            partitions,
            LabelRule::Binary,
        )?;
        let learner = LogisticRegression {
            features,
            l2: self.l2,
        };
        let trained = train(
            &parts,
            OnExamples(learner),
            u64::from(features) + 1,
            1,
            options,
            |e| print_epoch(ctx, e),
        )?;
        report(ctx, &trained, true)?;
        let weights: Vec<(u64, f64)> = trained
            .weights
            .iter()
            .enumerate()
            .map(|(k, w)| (k as u64, f64::from(*w)))
            .collect();
        let weights = ctx.parallelize(weights, 1)?;
        save_or_show(ctx, &weights, |a: &(u64, f64), b: &(u64, f64)| {
            a.0.cmp(&b.0)
        })?;
        Ok(())
    }
}

/// The logistic-regression model.
#[derive(Debug, Clone, Copy)]
pub struct LogisticRegression {
    pub features: u32,
    pub l2: f32,
}

impl LogisticRegression {
    /// `w·x + b` of a row with the pulled `values` of `keys` (the bias last).
    fn score(&self, row: &ExampleRow<'_>, at: &Positions<'_>, values: &[f32]) -> f32 {
        let bias = values[values.len() - 1];
        match row.indices {
            // Dense rows pull every key: feature j is key j.
            None => {
                row.values
                    .iter()
                    .zip(values)
                    .map(|(x, w)| x * w)
                    .sum::<f32>()
                    + bias
            }
            Some(indices) => {
                indices
                    .iter()
                    .zip(row.values)
                    .map(|(j, x)| x * values[at.of(*j)])
                    .sum::<f32>()
                    + bias
            }
        }
    }
}

/// `log(1 + e^z)` without overflow.
pub fn softplus(z: f32) -> f32 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// `1 / (1 + e^-z)`.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl ExampleModel for LogisticRegression {
    fn features(&self) -> u32 {
        self.features
    }

    fn gradient_at(
        &self,
        part: &MlPart,
        rows: &[u32],
        at: &Positions<'_>,
        values: &[f32],
        grads: &mut [f32],
    ) -> f64 {
        let mut loss = 0.0f64;
        let bias = grads.len() - 1;
        for &r in rows {
            let row = part.train.row(r as usize);
            let z = self.score(&row, at, values);
            loss += f64::from(softplus(z) - row.label * z);
            let g = sigmoid(z) - row.label;
            match row.indices {
                None => grads
                    .iter_mut()
                    .zip(row.values)
                    .for_each(|(out, x)| *out += g * x),
                Some(indices) => {
                    for (j, x) in indices.iter().zip(row.values) {
                        grads[at.of(*j)] += g * x;
                    }
                }
            }
            grads[bias] += g;
        }
        if self.l2 > 0.0 {
            let n = rows.len() as f32;
            for (g, w) in grads[..bias].iter_mut().zip(values) {
                *g += self.l2 * w * n;
            }
        }
        loss
    }

    fn evaluate_at(&self, part: &MlPart, at: &Positions<'_>, values: &[f32]) -> Evaluation {
        let mut e = Evaluation::default();
        for r in 0..part.train.len() {
            let row = part.train.row(r);
            let z = self.score(&row, at, values);
            e.train_loss += f64::from(softplus(z) - row.label * z);
        }
        e.train_examples = part.train.len() as u64;
        for r in 0..part.test.len() {
            let row = part.test.row(r);
            let z = self.score(&row, at, values);
            e.test_loss += f64::from(softplus(z) - row.label * z);
            e.test_correct += u64::from((z > 0.0) == (row.label > 0.5));
        }
        e.test_examples = part.test.len() as u64;
        e
    }
}

/// The sequential reference of a BSP run of `args` with `partitions` trainers: the same
/// parts, minibatches and update rule, trained by one thread. Returns the weights (the
/// bias last).
pub fn reference(args: &LogReg, partitions: usize) -> Result<Vec<f32>> {
    let (parts, features) = read_parts_locally(
        &args.input,
        args.test.as_deref(),
        partitions,
        LabelRule::Binary,
    )?;
    let learner = LogisticRegression {
        features,
        l2: args.l2,
    };
    let options = args.train.options()?;
    Ok(train_sequential(
        &OnExamples(learner),
        &parts,
        u64::from(features) + 1,
        1,
        &options,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_datasets::ExampleBlock;
    use weir_operators::ps::Learner;

    fn block(lines: &[&str]) -> ExampleBlock {
        let mut b = ExampleBlock::sparse();
        for (i, l) in lines.iter().enumerate() {
            b.push_libsvm(
                l,
                std::path::Path::new("t"),
                i as u64 + 1,
                LabelRule::Binary,
                None,
            )
            .unwrap();
        }
        b
    }

    #[test]
    fn the_gradient_is_the_derivative_of_the_loss() {
        let part = MlPart {
            train: block(&["1 0:0.5 3:-1", "0 1:2 3:0.25", "1 2:1"]),
            test: ExampleBlock::default(),
        };
        let model = OnExamples(LogisticRegression {
            features: 4,
            l2: 0.1,
        });
        let rows = [0u32, 1, 2];
        let mut keys = Vec::new();
        model.keys(&part, &rows, &mut keys);
        assert_eq!(keys, vec![0, 1, 2, 3, 4]);
        let values = [0.3f32, -0.2, 0.1, 0.4, -0.05];
        let loss_at = |v: &[f32]| {
            let mut g = vec![0.0; v.len()];
            let data = model.gradient(&part, &rows, &keys, v, &mut g);
            let reg: f64 = v[..4]
                .iter()
                .map(|w| 0.5 * 0.1 * 3.0 * f64::from(w * w))
                .sum();
            data + reg
        };
        let mut grads = vec![0.0; values.len()];
        model.gradient(&part, &rows, &keys, &values, &mut grads);
        for k in 0..values.len() {
            let h = 1e-3f32;
            let (mut up, mut down) = (values, values);
            up[k] += h;
            down[k] -= h;
            let numeric = (loss_at(&up) - loss_at(&down)) / (2.0 * f64::from(h));
            assert!(
                (numeric - f64::from(grads[k])).abs() < 1e-3,
                "key {k}: numeric {numeric}, analytic {}",
                grads[k]
            );
        }
    }
}
