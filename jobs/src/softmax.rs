//! `softmax`: multinomial logistic regression (many classes) on the parameter server, on
//! sparse LIBSVM or dense CSV examples whose labels are class numbers `0..classes`.
//!
//! Each key holds one slice of `classes` floats: keys `0..F` the feature weights of every
//! class, key `F` the classes' biases. A minibatch pulls only the slices its rows'
//! features name. `--output` writes `key<TAB>class<TAB>weight`.

use weir_datasets::{ExampleRow, LabelRule};
use weir_engine::{Error, JobContext, Result};
use weir_operators::prelude::*;
use weir_operators::ps::{train, train_sequential, Evaluation};

use crate::ml_input::{
    load_parts, read_parts_locally, trainer_partitions, ExampleModel, MlPart, OnExamples, Positions,
};
use crate::output::save_or_show;
use crate::ps_args::{print_epoch, report, TrainArgs};
use crate::registry::Job;

/// Multinomial logistic regression.
#[derive(Debug, Clone, clap::Parser)]
pub struct Softmax {
    /// Training examples: LIBSVM, or CSV (`.csv`) with a header and a `label` column.
    #[arg(long)]
    pub input: String,
    /// Held-out examples, in the same format.
    #[arg(long)]
    pub test: Option<String>,
    /// Classes: labels are `0..classes`.
    #[arg(long, default_value_t = 10)]
    pub classes: u32,
    /// L2 regularisation strength.
    #[arg(long, default_value_t = 0.0)]
    pub l2: f32,
    #[command(flatten)]
    pub train: TrainArgs,
}

impl Job for Softmax {
    const NAME: &'static str = "softmax";
    const ABOUT: &'static str =
        "Multinomial logistic regression on the parameter server (key<TAB>class<TAB>weight)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        if self.classes < 2 {
            return Err(Error::Config(
                "softmax needs --classes of at least 2".into(),
            ));
        }
        let options = self.train.options()?;
        let partitions = trainer_partitions(ctx, self.train.trainers);
        let rule = LabelRule::Classes(self.classes);
        let (parts, features) =
            load_parts(ctx, &self.input, self.test.as_deref(), partitions, rule)?;
        let learner = Multinomial {
            features,
            classes: self.classes,
            l2: self.l2,
        };
        let width = self.classes as usize;
        let trained = train(
            &parts,
            OnExamples(learner),
            u64::from(features) + 1,
            width,
            options,
            |e| print_epoch(ctx, e),
        )?;
        report(ctx, &trained, true)?;
        let weights: Vec<(u64, u64, f64)> = trained
            .weights
            .iter()
            .enumerate()
            .map(|(i, w)| ((i / width) as u64, (i % width) as u64, f64::from(*w)))
            .collect();
        let weights = ctx.parallelize(weights, 1)?;
        save_or_show(ctx, &weights, |a: &(u64, u64, f64), b: &(u64, u64, f64)| {
            (a.0, a.1).cmp(&(b.0, b.1))
        })?;
        Ok(())
    }
}

/// The multinomial model: `classes` weights per feature, and a bias per class.
#[derive(Debug, Clone, Copy)]
pub struct Multinomial {
    pub features: u32,
    pub classes: u32,
    pub l2: f32,
}

impl Multinomial {
    /// Each class's score of `row`, into `scores`, with the pulled `values` of `keys`.
    fn scores(&self, row: &ExampleRow<'_>, at: &Positions<'_>, values: &[f32], scores: &mut [f32]) {
        let c = self.classes as usize;
        scores.copy_from_slice(&values[values.len() - c..]);
        let mut add = |at: usize, x: f32| {
            for (s, w) in scores.iter_mut().zip(&values[at * c..(at + 1) * c]) {
                *s += x * w;
            }
        };
        match row.indices {
            None => row.values.iter().enumerate().for_each(|(j, x)| add(j, *x)),
            Some(indices) => indices
                .iter()
                .zip(row.values)
                .for_each(|(j, x)| add(at.of(*j), *x)),
        }
    }

    /// Turns `scores` into probabilities; returns the log of the normaliser.
    fn softmax(scores: &mut [f32]) -> f32 {
        let top = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for s in scores.iter_mut() {
            *s = (*s - top).exp();
            sum += *s;
        }
        scores.iter_mut().for_each(|s| *s /= sum);
        top + sum.ln()
    }

    /// The loss of `row` (and its class probabilities in `scores`).
    fn loss(
        &self,
        row: &ExampleRow<'_>,
        at: &Positions<'_>,
        values: &[f32],
        scores: &mut [f32],
    ) -> f64 {
        self.scores(row, at, values, scores);
        let label_score = scores[row.label as usize];
        let log_norm = Self::softmax(scores);
        f64::from(log_norm - label_score)
    }
}

impl ExampleModel for Multinomial {
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
        let c = self.classes as usize;
        let mut p = vec![0.0f32; c];
        let mut loss = 0.0;
        let bias = grads.len() - c;
        for &r in rows {
            let row = part.train.row(r as usize);
            loss += self.loss(&row, at, values, &mut p);
            p[row.label as usize] -= 1.0;
            let mut add = |at: usize, x: f32| {
                for (g, d) in grads[at..at + c].iter_mut().zip(&p) {
                    *g += x * d;
                }
            };
            match row.indices {
                None => row
                    .values
                    .iter()
                    .enumerate()
                    .for_each(|(j, x)| add(j * c, *x)),
                Some(indices) => indices
                    .iter()
                    .zip(row.values)
                    .for_each(|(j, x)| add(at.of(*j) * c, *x)),
            }
            add(bias, 1.0);
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
        let mut p = vec![0.0f32; self.classes as usize];
        let mut e = Evaluation::default();
        for r in 0..part.train.len() {
            e.train_loss += self.loss(&part.train.row(r), at, values, &mut p);
        }
        e.train_examples = part.train.len() as u64;
        for r in 0..part.test.len() {
            let row = part.test.row(r);
            e.test_loss += self.loss(&row, at, values, &mut p);
            let best = (0..p.len())
                .max_by(|a, b| p[*a].total_cmp(&p[*b]))
                .unwrap_or(0);
            e.test_correct += u64::from(best == row.label as usize);
        }
        e.test_examples = part.test.len() as u64;
        e
    }
}

/// The sequential reference of a BSP run of `args` with `partitions` trainers (see
/// `logreg::reference`); returns the weights, key after key, `classes` each.
pub fn reference(args: &Softmax, partitions: usize) -> Result<Vec<f32>> {
    let rule = LabelRule::Classes(args.classes);
    let (parts, features) =
        read_parts_locally(&args.input, args.test.as_deref(), partitions, rule)?;
    let learner = Multinomial {
        features,
        classes: args.classes,
        l2: args.l2,
    };
    let keys = u64::from(features) + 1;
    Ok(train_sequential(
        &OnExamples(learner),
        &parts,
        keys,
        args.classes as usize,
        &args.train.options()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_datasets::ExampleBlock;
    use weir_operators::ps::Learner;

    #[test]
    fn the_gradient_is_the_derivative_of_the_loss() {
        let mut train = ExampleBlock::dense(2);
        let p = std::path::Path::new("t.csv");
        let cols = weir_datasets::CsvColumns::from_header("label,a,b", p).unwrap();
        for (i, line) in ["0,0.5,-1", "2,1,0.25", "1,-0.3,2"].iter().enumerate() {
            train
                .push_csv(line, p, i as u64 + 2, &cols, LabelRule::Classes(3))
                .unwrap();
        }
        let part = MlPart {
            train,
            test: ExampleBlock::default(),
        };
        let model = OnExamples(Multinomial {
            features: 2,
            classes: 3,
            l2: 0.0,
        });
        let rows = [0u32, 1, 2];
        let mut keys = Vec::new();
        model.keys(&part, &rows, &mut keys);
        assert_eq!(keys, vec![0, 1, 2]);
        let values: Vec<f32> = (0..9).map(|i| (i as f32 - 4.0) / 10.0).collect();
        let loss_at = |v: &[f32]| {
            let mut g = vec![0.0; v.len()];
            model.gradient(&part, &rows, &keys, v, &mut g)
        };
        let mut grads = vec![0.0; values.len()];
        model.gradient(&part, &rows, &keys, &values, &mut grads);
        for k in 0..values.len() {
            let h = 1e-3f32;
            let (mut up, mut down) = (values.clone(), values.clone());
            up[k] += h;
            down[k] -= h;
            let numeric = (loss_at(&up) - loss_at(&down)) / (2.0 * f64::from(h));
            assert!(
                (numeric - f64::from(grads[k])).abs() < 1e-3,
                "value {k}: {numeric} vs {}",
                grads[k]
            );
        }
    }
}
