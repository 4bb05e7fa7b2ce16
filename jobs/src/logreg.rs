//! `logreg`: binary logistic regression on the parameter server, on sparse LIBSVM or
//! dense CSV examples, by minibatch SGD, AdaGrad or Adam with optional L2.
//!
//! Keys `0..F` are the feature weights, key `F` the bias. A minibatch pulls only the
//! weights its rows' features name (and the bias), so sparse data never moves the whole
//! model. Each epoch prints the training loss (mean log-loss over all training examples)
//! and, with `--test`, the held-out loss and accuracy; `--output` writes the weights as
//! `key<TAB>weight` (the bias last).

use weir_datasets::{ExampleBlock, ExampleRow, LabelRule};
use weir_engine::{Error, JobContext, Result};
use weir_operators::prelude::*;
use weir_operators::ps::{
    rule_named, train, train_sequential, Consistency, EpochStats, Evaluation, Learner, Straggler,
    TrainOptions, Trained,
};

use crate::ml_input::{
    feature_bound, ml_parts, read_examples, trainer_partitions, ExampleFormat, MlPart,
};
use crate::output::save_or_show;
use crate::registry::Job;

/// Options every parameter-server job shares.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Passes over the training data.
    #[arg(long, default_value_t = 10)]
    pub epochs: u64,
    /// Examples per minibatch (per trainer).
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// The servers' update rule: sgd, adagrad or adam.
    #[arg(long, default_value = "adagrad")]
    pub optimizer: String,
    /// The update rule's learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub learning_rate: f32,
    /// bsp, ssp:S (at most S clocks ahead of the slowest trainer) or asp.
    #[arg(long, default_value = "bsp")]
    pub consistency: Consistency,
    /// Server shards (default: one per worker).
    #[arg(long)]
    pub servers: Option<u32>,
    /// Trainers, one per data partition (default: one per task slot).
    #[arg(long)]
    pub trainers: Option<usize>,
    /// Seeds the minibatches' order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Slows worker W's trainers by factor F (`W:F`), to measure the consistency models.
    #[arg(long, value_parser = parse_straggler)]
    pub straggler: Option<Straggler>,
}

fn parse_straggler(text: &str) -> std::result::Result<Straggler, String> {
    let (w, f) = text
        .split_once(':')
        .ok_or_else(|| format!("straggler {text:?} is not WORKER:FACTOR"))?;
    let worker = w
        .parse()
        .map_err(|_| format!("straggler worker {w:?} is not a number"))?;
    let factor: f64 = f
        .parse()
        .ok()
        .filter(|f: &f64| f.is_finite() && *f >= 1.0)
        .ok_or_else(|| format!("straggler factor {f:?} is not a number ≥ 1"))?;
    Ok(Straggler { worker, factor })
}

impl TrainArgs {
    /// The run's options.
    pub fn options(&self) -> Result<TrainOptions> {
        let rule = rule_named(&self.optimizer, self.learning_rate).map_err(Error::Config)?;
        Ok(TrainOptions {
            epochs: self.epochs,
            batch: self.batch,
            consistency: self.consistency,
            servers: self.servers,
            seed: self.seed,
            rule,
            straggler: self.straggler,
            checkpoint_every: None,
        })
    }
}

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
        let trained = train(&parts, learner, u64::from(features) + 1, 1, options, |e| {
            print_epoch(ctx, e)
        })?;
        report(ctx, &trained, "loss")?;
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

/// Reads the training examples (and the held-out ones, refusing features the model does
/// not have) into one part per trainer; returns them with the model's feature count.
pub fn load_parts(
    ctx: &JobContext,
    input: &str,
    test: Option<&str>,
    partitions: usize,
    rule: LabelRule,
) -> Result<(Dataset<MlPart>, u32)> {
    let (train_blocks, format) = read_examples(ctx, input, partitions, rule, None)?;
    // A CSV header tells the features; LIBSVM rows are read once to find them.
    let (train_blocks, features) = match format {
        ExampleFormat::Csv(columns) => (train_blocks, columns.features()),
        ExampleFormat::Libsvm => {
            let persisted = train_blocks.persist();
            let features = feature_bound(&persisted)?;
            (persisted, features)
        }
    };
    let test_blocks = match test {
        Some(file) => Some(read_examples(ctx, file, partitions, rule, Some(features))?.0),
        None => None,
    };
    let parts = ml_parts(&train_blocks, test_blocks.as_ref())?.persist();
    parts.count()?;
    if train_blocks.is_persisted() {
        train_blocks.unpersist();
    }
    Ok((parts, features))
}

/// Prints an epoch's figures on the driver.
pub fn print_epoch(ctx: &JobContext, e: &EpochStats) {
    if !ctx.is_driver() || ctx.options().silent {
        return;
    }
    let mut line = format!(
        "epoch {:>3}  {:>7.2}s  train loss {:.6}",
        e.epoch,
        e.seconds,
        e.evaluation.mean_train_loss()
    );
    if let Some(loss) = e.evaluation.mean_test_loss() {
        line.push_str(&format!("  test loss {loss:.6}"));
    }
    if let Some(accuracy) = e.evaluation.test_accuracy() {
        line.push_str(&format!("  test accuracy {accuracy:.4}"));
    }
    eprintln!("{line}");
}

/// Puts the final figures and the traffic in the metrics' result.
pub fn report(ctx: &JobContext, trained: &Trained, loss_name: &str) -> Result<()> {
    let stats = &trained.stats;
    let last = stats.last();
    ctx.set_result(loss_name, last.mean_train_loss());
    if let Some(loss) = last.mean_test_loss() {
        ctx.set_result("test_loss", loss);
    }
    if let Some(accuracy) = last.test_accuracy() {
        ctx.set_result("test_accuracy", accuracy);
    }
    ctx.set_result("epochs", stats.epochs.len().saturating_sub(1));
    ctx.set_result("clocks_per_epoch", stats.clocks_per_epoch);
    ctx.set_result("trainers", stats.trainers);
    ctx.set_result("servers", stats.servers);
    ctx.set_result("bytes_pulled", stats.traffic.pulled_bytes);
    ctx.set_result("bytes_pushed", stats.traffic.pushed_bytes);
    ctx.set_result("bytes_touched", stats.traffic.touched_bytes);
    ctx.set_result("max_staleness", stats.traffic.max_staleness);
    ctx.set_result("history", &stats.epochs);
    Ok(())
}

/// The logistic-regression model.
#[derive(Debug, Clone, Copy)]
pub struct LogisticRegression {
    pub features: u32,
    pub l2: f32,
}

/// Where feature `index` sits among sorted `keys`.
fn position(keys: &[u64], index: u32) -> usize {
    keys.binary_search(&u64::from(index))
        .unwrap_or_else(|_| panic!("feature {index} was not pulled"))
}

impl LogisticRegression {
    /// `w·x + b` of a row with the pulled `values` of `keys` (the bias last).
    fn score(&self, row: &ExampleRow<'_>, keys: &[u64], values: &[f32]) -> f32 {
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
                    .map(|(j, x)| x * values[position(keys, *j)])
                    .sum::<f32>()
                    + bias
            }
        }
    }

    /// The keys of `rows` of `block`, sorted, with the bias.
    fn keys_of(
        &self,
        block: &ExampleBlock,
        rows: impl Iterator<Item = usize>,
        keys: &mut Vec<u64>,
    ) {
        keys.clear();
        if block.dense_width.is_some() {
            keys.extend(0..=u64::from(self.features));
            return;
        }
        for r in rows {
            if let Some(indices) = block.row(r).indices {
                keys.extend(indices.iter().map(|j| u64::from(*j)));
            }
        }
        keys.sort_unstable();
        keys.dedup();
        keys.push(u64::from(self.features));
    }
}

/// `log(1 + e^z)` without overflow.
fn softplus(z: f32) -> f32 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Learner for LogisticRegression {
    type Part = MlPart;

    fn examples(&self, part: &MlPart) -> usize {
        part.train.len()
    }

    fn keys(&self, part: &MlPart, rows: &[u32], keys: &mut Vec<u64>) {
        self.keys_of(&part.train, rows.iter().map(|r| *r as usize), keys);
    }

    fn gradient(
        &self,
        part: &MlPart,
        rows: &[u32],
        keys: &[u64],
        values: &[f32],
        grads: &mut [f32],
    ) -> f64 {
        let mut loss = 0.0f64;
        let bias = grads.len() - 1;
        for &r in rows {
            let row = part.train.row(r as usize);
            let z = self.score(&row, keys, values);
            loss += f64::from(softplus(z) - row.label * z);
            let g = sigmoid(z) - row.label;
            match row.indices {
                None => grads
                    .iter_mut()
                    .zip(row.values)
                    .for_each(|(out, x)| *out += g * x),
                Some(indices) => {
                    for (j, x) in indices.iter().zip(row.values) {
                        grads[position(keys, *j)] += g * x;
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

    fn evaluation_keys(&self, part: &MlPart, keys: &mut Vec<u64>) {
        let mut test_keys = Vec::new();
        self.keys_of(&part.train, 0..part.train.len(), keys);
        self.keys_of(&part.test, 0..part.test.len(), &mut test_keys);
        keys.extend(test_keys);
        keys.sort_unstable();
        keys.dedup();
    }

    fn evaluate(&self, part: &MlPart, keys: &[u64], values: &[f32]) -> Evaluation {
        let mut e = Evaluation::default();
        for r in 0..part.train.len() {
            let row = part.train.row(r);
            let z = self.score(&row, keys, values);
            e.train_loss += f64::from(softplus(z) - row.label * z);
        }
        e.train_examples = part.train.len() as u64;
        for r in 0..part.test.len() {
            let row = part.test.row(r);
            let z = self.score(&row, keys, values);
            e.test_loss += f64::from(softplus(z) - row.label * z);
            e.test_correct += u64::from((z > 0.0) == (row.label > 0.5));
        }
        e.test_examples = part.test.len() as u64;
        e
    }
}

/// Predicts `block`'s labels with `weights` (the bias last); returns the accuracy.
pub fn accuracy(weights: &[f32], block: &ExampleBlock) -> f64 {
    let (bias, w) = weights.split_last().unwrap_or((&0.0, &[]));
    let correct = (0..block.len())
        .filter(|&r| {
            let row = block.row(r);
            let z: f32 = match row.indices {
                None => row.values.iter().zip(w).map(|(x, w)| x * w).sum::<f32>(),
                Some(indices) => indices
                    .iter()
                    .zip(row.values)
                    .map(|(j, x)| x * w.get(*j as usize).copied().unwrap_or(0.0))
                    .sum(),
            } + bias;
            (z > 0.0) == (row.label > 0.5)
        })
        .count();
    correct as f64 / block.len().max(1) as f64
}

/// Reads the parts a run of `args` with `partitions` trainers reads, in this process.
pub fn read_parts_locally(
    input: &str,
    test: Option<&str>,
    partitions: usize,
    rule: LabelRule,
) -> Result<(Vec<MlPart>, u32)> {
    let options = weir_engine::JobOptions {
        threads: 1,
        parallelism: partitions,
        silent: true,
        ..weir_engine::JobOptions::default()
    };
    let mut out = None;
    weir_engine::local::run_local("read-parts", &[], options, None, |ctx| {
        let (parts, features) = load_parts(ctx, input, test, partitions, rule)?;
        out = Some((parts.collect()?, features));
        Ok(())
    })?;
    out.ok_or_else(|| Error::job("reading the parts gave nothing"))
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
        &learner,
        &parts,
        u64::from(features) + 1,
        1,
        &options,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let model = LogisticRegression {
            features: 4,
            l2: 0.1,
        };
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

    #[test]
    fn accuracy_counts_the_rows_on_the_right_side() {
        let b = block(&["1 0:1", "0 0:-1", "1 0:-1"]);
        assert!((accuracy(&[2.0, 0.0, 0.0, 0.0, 0.0], &b) - 2.0 / 3.0).abs() < 1e-12);
    }
}
