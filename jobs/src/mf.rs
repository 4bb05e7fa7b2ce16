//! `mf`: matrix factorisation by SGD on `(row, col, value)` ratings, the classic
//! parameter-server workload. Keys `0..R` hold the rows' factors and keys `R..R+C` the
//! columns', `--rank` floats each; a minibatch pulls only the factors of the rows and
//! columns it rates. Reports the RMSE on the training ratings and, with `--test`, on the
//! held-out ones; `--output` writes `key<TAB>factor index<TAB>value`.

use weir_datasets::{expand_inputs, plan_text_splits, RatingBlock};
use weir_engine::{Error, JobContext, Result};
use weir_operators::prelude::*;
use weir_operators::ps::{train, train_sequential, Evaluation, Learner};

use crate::ml_input::{read_line_blocks, trainer_partitions, with_positions, Positions};
use crate::output::save_or_show;
use crate::ps_args::{print_epoch_as, report, TrainArgs};
use crate::registry::Job;

/// A trainer's ratings: training and held-out.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RatingPart {
    pub train: RatingBlock,
    pub test: RatingBlock,
}

/// Matrix factorisation.
#[derive(Debug, Clone, clap::Parser)]
pub struct Mf {
    /// Training ratings: `row col value` a line.
    #[arg(long)]
    pub input: String,
    /// Held-out ratings, for the test RMSE.
    #[arg(long)]
    pub test: Option<String>,
    /// Factors per row and column.
    #[arg(long, default_value_t = 10)]
    pub rank: u32,
    /// L2 regularisation of the factors.
    #[arg(long, default_value_t = 0.01)]
    pub l2: f32,
    #[command(flatten)]
    pub train: TrainArgs,
}

impl Job for Mf {
    const NAME: &'static str = "mf";
    const ABOUT: &'static str =
        "Matrix factorisation by SGD on the parameter server (key<TAB>index<TAB>factor)";

    fn run(self, ctx: &JobContext) -> Result<()> {
        if self.rank == 0 {
            return Err(Error::Config("mf needs --rank of at least 1".into()));
        }
        let options = self.train.options()?;
        let partitions = trainer_partitions(ctx, self.train.trainers);
        let (parts, rows, cols) = load_ratings(ctx, &self.input, self.test.as_deref(), partitions)?;
        let (model, keys) = self.model(rows, cols);
        let width = self.rank as usize;
        let trained = train(&parts, model, keys, width, options, |e| {
            print_epoch_as(ctx, e, false)
        })?;
        report(ctx, &trained, false)?;
        let last = trained.stats.last();
        ctx.set_result("train_rmse", (2.0 * last.mean_train_loss()).sqrt());
        if let Some(loss) = last.mean_test_loss() {
            ctx.set_result("rmse", (2.0 * loss).sqrt());
        }
        let factors: Vec<(u64, u64, f64)> = trained
            .weights
            .iter()
            .enumerate()
            .map(|(i, w)| ((i / width) as u64, (i % width) as u64, f64::from(*w)))
            .collect();
        let factors = ctx.parallelize(factors, 1)?;
        save_or_show(ctx, &factors, |a: &(u64, u64, f64), b: &(u64, u64, f64)| {
            (a.0, a.1).cmp(&(b.0, b.1))
        })?;
        Ok(())
    }
}

impl Mf {
    /// The model of a `rows` × `cols` matrix, and its key count.
    fn model(&self, rows: u32, cols: u32) -> (Factors, u64) {
        let model = Factors {
            rows,
            rank: self.rank,
            l2: self.l2,
            seed: self.train.seed,
        };
        (model, u64::from(rows) + u64::from(cols))
    }
}

/// Reads the ratings into one part per trainer; returns them with the row and column
/// counts (one past the largest of either, training and held-out alike).
pub fn load_ratings(
    ctx: &JobContext,
    input: &str,
    test: Option<&str>,
    partitions: usize,
) -> Result<(Dataset<RatingPart>, u32, u32)> {
    let read = |file: &str| -> Result<Dataset<RatingBlock>> {
        let owned = file.to_string();
        let splits = ctx.driver_value(move || {
            let files = expand_inputs(&[owned])?;
            Ok(plan_text_splits(&files, partitions, 64 << 10, true)?)
        })?;
        Ok(read_line_blocks(
            ctx,
            "ratings",
            splits,
            partitions,
            RatingBlock::default,
            |b: &mut RatingBlock, line, path, no| b.push_line(line, path, no),
        ))
    };
    let train_blocks = read(input)?;
    let parts = match test {
        Some(file) => train_blocks.zip_partitions(&read(file)?, false, |_, mut a, mut b| {
            std::iter::once(RatingPart {
                train: a.next().unwrap_or_default(),
                test: b.next().unwrap_or_default(),
            })
        })?,
        None => train_blocks.map(|train| RatingPart {
            train,
            test: RatingBlock::default(),
        }),
    }
    .persist();
    let bounds = parts
        .map(|p| {
            let (a, b) = (p.train.bounds(), p.test.bounds());
            (a.0.max(b.0), a.1.max(b.1))
        })
        .collect()?;
    let rows = bounds.iter().map(|b| b.0).max().unwrap_or(0);
    let cols = bounds.iter().map(|b| b.1).max().unwrap_or(0);
    // A column's key is rows + col, and keys are looked up as 32-bit indexes.
    if u64::from(rows) + u64::from(cols) > u64::from(u32::MAX) {
        return Err(Error::Config(format!(
            "{input}: {rows} rows and {cols} columns are more than 2^32 factors"
        )));
    }
    Ok((parts, rows, cols))
}

/// The factor model: row factors at keys `0..rows`, column factors after them.
#[derive(Debug, Clone, Copy)]
pub struct Factors {
    pub rows: u32,
    pub rank: u32,
    pub l2: f32,
    pub seed: u64,
}

impl Factors {
    fn col_key(&self, col: u32) -> u64 {
        u64::from(self.rows) + u64::from(col)
    }

    fn keys_of(
        &self,
        block: &RatingBlock,
        picks: impl Iterator<Item = usize>,
        keys: &mut Vec<u64>,
    ) {
        keys.clear();
        for i in picks {
            keys.push(u64::from(block.rows[i]));
            keys.push(self.col_key(block.cols[i]));
        }
        keys.sort_unstable();
        keys.dedup();
    }

    /// The error `u·v - value` of rating `i`, with the factors' positions.
    fn error(
        &self,
        block: &RatingBlock,
        i: usize,
        at: &Positions<'_>,
        values: &[f32],
    ) -> (f32, usize, usize) {
        let k = self.rank as usize;
        let u = at.of(block.rows[i]) * k;
        let v = at.of(self.rows + block.cols[i]) * k;
        let dot: f32 = values[u..u + k]
            .iter()
            .zip(&values[v..v + k])
            .map(|(a, b)| a * b)
            .sum();
        (dot - block.values[i], u, v)
    }

    fn sum_squares(&self, block: &RatingBlock, at: &Positions<'_>, values: &[f32]) -> f64 {
        (0..block.len())
            .map(|i| f64::from(self.error(block, i, at, values).0).powi(2) / 2.0)
            .sum()
    }
}

impl Learner for Factors {
    type Part = RatingPart;

    fn examples(&self, part: &RatingPart) -> usize {
        part.train.len()
    }

    fn keys(&self, part: &RatingPart, rows: &[u32], keys: &mut Vec<u64>) {
        self.keys_of(&part.train, rows.iter().map(|r| *r as usize), keys);
    }

    fn gradient(
        &self,
        part: &RatingPart,
        rows: &[u32],
        keys: &[u64],
        values: &[f32],
        grads: &mut [f32],
    ) -> f64 {
        let k = self.rank as usize;
        with_positions(keys, |at| {
            let mut loss = 0.0;
            for &r in rows {
                let (e, u, v) = self.error(&part.train, r as usize, at, values);
                loss += f64::from(e * e) / 2.0;
                for j in 0..k {
                    let (pu, qv) = (values[u + j], values[v + j]);
                    grads[u + j] += e * qv + self.l2 * pu;
                    grads[v + j] += e * pu + self.l2 * qv;
                }
            }
            loss
        })
    }

    fn evaluation_keys(&self, part: &RatingPart, keys: &mut Vec<u64>) {
        let mut test = Vec::new();
        self.keys_of(&part.train, 0..part.train.len(), keys);
        self.keys_of(&part.test, 0..part.test.len(), &mut test);
        keys.extend(test);
        keys.sort_unstable();
        keys.dedup();
    }

    fn evaluate(&self, part: &RatingPart, keys: &[u64], values: &[f32]) -> Evaluation {
        with_positions(keys, |at| Evaluation {
            train_loss: self.sum_squares(&part.train, at, values),
            train_examples: part.train.len() as u64,
            test_loss: self.sum_squares(&part.test, at, values),
            test_correct: 0,
            test_examples: part.test.len() as u64,
        })
    }

    /// Small seeded factors: zeros would leave every gradient zero.
    fn init(&self, key: u64, values: &mut [f32]) {
        let scale = 0.1 / (self.rank as f32).sqrt();
        for (j, v) in values.iter_mut().enumerate() {
            let h = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (j as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)
                ^ self.seed)
                .wrapping_mul(0x94D0_49BB_1331_11EB);
            *v = scale * ((h >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0;
        }
    }
}

/// The sequential reference of a BSP run of `args` with `partitions` trainers.
pub fn reference(args: &Mf, partitions: usize) -> Result<Vec<f32>> {
    let options = weir_engine::JobOptions {
        threads: 1,
        parallelism: partitions,
        silent: true,
        ..weir_engine::JobOptions::default()
    };
    let mut read = None;
    weir_engine::local::run_local("read-ratings", &[], options, Default::default(), |ctx| {
        let (parts, rows, cols) = load_ratings(ctx, &args.input, args.test.as_deref(), partitions)?;
        read = Some((parts.collect()?, rows, cols));
        Ok(())
    })?;
    let (parts, rows, cols) = read.ok_or_else(|| Error::job("reading the ratings gave nothing"))?;
    let (model, keys) = args.model(rows, cols);
    Ok(train_sequential(
        &model,
        &parts,
        keys,
        args.rank as usize,
        &args.train.options()?,
    ))
}
