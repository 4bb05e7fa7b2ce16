//! ML inputs shared by the ML jobs: a training file (and a held-out one) read into one
//! compact [`ExampleBlock`] per partition, one partition per trainer.
//!
//! A file whose name ends in `.csv` is dense CSV: a header naming a `label` column and
//! numeric feature columns. Any other file is LIBSVM (`label index:value …`, indices
//! ascending). A malformed line fails the job naming file and line before anything is
//! written (or is skipped and counted under `--skip-bad-records`).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_datasets::{
    expand_inputs, plan_text_splits, CsvColumns, DatasetError, ExampleBlock, LabelRule, SplitLines,
    TextSplit,
};
use weir_engine::{Error, JobContext, Result};
use weir_operators::dataset::NodeBuilder;
use weir_operators::prelude::*;
use weir_operators::ps::{Evaluation, Learner};
use weir_operators::sources::bad_record;

/// Smallest byte range worth a split of its own.
const MIN_SPLIT_BYTES: u64 = 64 << 10;

/// A trainer's data: its share of the training examples and of the held-out ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MlPart {
    pub train: ExampleBlock,
    pub test: ExampleBlock,
}

/// How a file's lines are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ExampleFormat {
    Libsvm,
    Csv(CsvColumns),
}

/// A file set planned on the driver: its format and its splits.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Planned {
    format: ExampleFormat,
    splits: Vec<TextSplit>,
}

/// One trainer per task slot of the cluster, unless the job asks for a number.
pub fn trainer_partitions(ctx: &JobContext, asked: Option<usize>) -> usize {
    asked
        .unwrap_or(ctx.options().workers * ctx.options().threads)
        .max(1)
}

fn plan(input: &str, partitions: usize) -> Result<Planned> {
    let files = expand_inputs(&[input.to_string()])?;
    let csv = files
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "csv"));
    let format = if csv {
        let mut columns: Option<CsvColumns> = None;
        for file in &files {
            let found = read_csv_header(file)?;
            match &columns {
                Some(c) if *c != found => {
                    return Err(Error::Config(format!(
                        "{}: its header differs from the first file's",
                        file.display()
                    )))
                }
                _ => columns = Some(found),
            }
        }
        ExampleFormat::Csv(columns.ok_or_else(|| Error::Config(format!("{input}: no files")))?)
    } else {
        ExampleFormat::Libsvm
    };
    let splits = plan_text_splits(&files, partitions, MIN_SPLIT_BYTES, true)?;
    Ok(Planned { format, splits })
}

fn read_csv_header(path: &Path) -> Result<CsvColumns> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| DatasetError::io(path, e))?;
    let mut header = String::new();
    std::io::BufReader::new(file)
        .read_line(&mut header)
        .map_err(|e| DatasetError::io(path, e))?;
    Ok(CsvColumns::from_header(
        header.trim_end_matches('\n'),
        path,
    )?)
}

/// The examples of `input` in `partitions` partitions of one block each, labels checked
/// by `rule`; with `features`, a feature index at or past it is refused. Returns the
/// dataset and the format (a CSV file's feature count is known from its header).
pub fn read_examples(
    ctx: &JobContext,
    input: &str,
    partitions: usize,
    rule: LabelRule,
    features: Option<u32>,
) -> Result<(Dataset<ExampleBlock>, ExampleFormat)> {
    let input_owned = input.to_string();
    let planned: Planned = ctx.driver_value(move || plan(&input_owned, partitions))?;
    if let (ExampleFormat::Csv(c), Some(f)) = (&planned.format, features) {
        if c.features() > f {
            return Err(Error::Config(format!(
                "{input}: {} feature columns, the model has {f}",
                c.features()
            )));
        }
    }
    let format = planned.format.clone();
    let reading = planned.format.clone();
    let dataset = read_line_blocks(
        ctx,
        "examples",
        planned.splits,
        partitions,
        move || match &reading {
            ExampleFormat::Libsvm => ExampleBlock::sparse(),
            ExampleFormat::Csv(c) => ExampleBlock::dense(c.features()),
        },
        move |block: &mut ExampleBlock, line: &str, path: &Path, no: u64| match &planned.format {
            ExampleFormat::Libsvm => block.push_libsvm(line, path, no, rule, features),
            ExampleFormat::Csv(_) if no == 1 => Ok(false),
            ExampleFormat::Csv(c) => block.push_csv(line, path, no, c, rule),
        },
    );
    Ok((dataset, format))
}

/// The lines of `splits` read into one block per partition (partition `p` reads an even
/// share of the splits, in order): `push` appends a line's record to the block and says
/// whether it held one. A malformed line fails the task naming file and line, or is
/// skipped and counted under `--skip-bad-records`.
pub fn read_line_blocks<B, N, P>(
    ctx: &JobContext,
    name: &str,
    splits: Vec<TextSplit>,
    partitions: usize,
    new: N,
    push: P,
) -> Dataset<B>
where
    B: Data,
    N: Fn() -> B + Send + Sync + 'static,
    P: Fn(&mut B, &str, &Path, u64) -> std::result::Result<bool, DatasetError>
        + Send
        + Sync
        + 'static,
{
    let splits = Arc::new(splits);
    NodeBuilder::new(name, partitions, Vec::new()).build_with_id(ctx, move |id, p, tc| {
        let (from, to) = (
            p * splits.len() / partitions,
            (p + 1) * splits.len() / partitions,
        );
        let mut block = new();
        'splits: for split in &splits[from..to] {
            let mut lines = SplitLines::open(split)?;
            let mut count = 0u64;
            while let Some((line, no)) = lines.next_line()? {
                count += 1;
                if let Err(e) = push(&mut block, line, &split.path, no) {
                    if !bad_record(tc, id, p, e) {
                        break 'splits;
                    }
                }
            }
            tc.with_metrics(|m| {
                m.records_in += count;
                m.bytes_in += split.len();
            });
        }
        Ok(Box::new(std::iter::once(block)) as Records<B>)
    })
}

/// Zips training and held-out blocks, partition by partition, into trainers' parts.
pub fn ml_parts(
    train: &Dataset<ExampleBlock>,
    test: Option<&Dataset<ExampleBlock>>,
) -> Result<Dataset<MlPart>> {
    match test {
        None => Ok(train.map(|train| MlPart {
            train,
            test: ExampleBlock::default(),
        })),
        Some(test) => train.zip_partitions(test, false, |_, mut a, mut b| {
            let part = MlPart {
                train: a.next().unwrap_or_default(),
                test: b.next().unwrap_or_default(),
            };
            std::iter::once(part)
        }),
    }
}

/// One past the largest feature index of the training data.
pub fn feature_bound(train: &Dataset<ExampleBlock>) -> Result<u32> {
    let bounds = train.map(|b| b.feature_bound()).collect()?;
    Ok(bounds.into_iter().max().unwrap_or(0))
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
    weir_engine::local::run_local("read-parts", &[], options, Default::default(), |ctx| {
        let (parts, features) = load_parts(ctx, input, test, partitions, rule)?;
        out = Some((parts.collect()?, features));
        Ok(())
    })?;
    out.ok_or_else(|| Error::job("reading the parts gave nothing"))
}

/// Writes into `keys` the sorted keys of `rows` of `block` for a model of `features`
/// features: every feature of a dense block, the features the rows name of a sparse one,
/// and key `features`, the bias, last.
pub fn example_keys(
    block: &ExampleBlock,
    rows: impl Iterator<Item = usize>,
    features: u32,
    keys: &mut Vec<u64>,
) {
    keys.clear();
    if block.dense_width.is_some() {
        keys.extend(0..=u64::from(features));
        return;
    }
    for r in rows {
        if let Some(indices) = block.row(r).indices {
            keys.extend(indices.iter().map(|j| u64::from(*j)));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys.push(u64::from(features));
}

/// The keys an evaluation of `part` reads: its training and held-out rows' keys.
pub fn evaluation_keys(part: &MlPart, features: u32, keys: &mut Vec<u64>) {
    let mut test_keys = Vec::new();
    example_keys(&part.train, 0..part.train.len(), features, keys);
    example_keys(&part.test, 0..part.test.len(), features, &mut test_keys);
    keys.extend(test_keys);
    keys.sort_unstable();
    keys.dedup();
}

/// Where each pulled feature sits among a pull's keys: a dense table from feature to
/// position, so a row's features find their values with one read each, not a search.
pub struct Positions<'a>(&'a [u32]);

impl Positions<'_> {
    /// The position of feature `index` (one the pull read).
    pub fn of(&self, index: u32) -> usize {
        self.0[index as usize] as usize
    }
}

thread_local! {
    static POSITIONS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with the positions of sorted `keys` (the table is the thread's own and
/// reused; only the keys' entries are written, and only they are read).
pub fn with_positions<R>(keys: &[u64], f: impl FnOnce(&Positions<'_>) -> R) -> R {
    POSITIONS.with(|table| {
        let mut table = table.borrow_mut();
        let bound = keys.last().map_or(0, |k| *k as usize + 1);
        if table.len() < bound {
            table.resize(bound, 0);
        }
        for (i, k) in keys.iter().enumerate() {
            table[*k as usize] = i as u32;
        }
        f(&Positions(&table))
    })
}

/// A model of labelled examples whose key `j` holds feature `j`'s values and key
/// `features()` the bias: what it computes once a pull's values are found by position.
/// [`OnExamples`] makes it the parameter server's `Learner`.
pub trait ExampleModel: Send + Sync + 'static {
    /// The model's features (and so the bias's key).
    fn features(&self) -> u32;

    /// The summed loss of `rows` of the part's training examples, its gradient added into
    /// `grads` (see `Learner::gradient`).
    fn gradient_at(
        &self,
        part: &MlPart,
        rows: &[u32],
        at: &Positions<'_>,
        values: &[f32],
        grads: &mut [f32],
    ) -> f64;

    /// The model's figures on the part's training and held-out examples.
    fn evaluate_at(&self, part: &MlPart, at: &Positions<'_>, values: &[f32]) -> Evaluation;
}

/// An [`ExampleModel`] trained on the parameter server: a minibatch reads the keys of
/// its rows' features and the bias.
#[derive(Debug, Clone)]
pub struct OnExamples<M>(pub M);

impl<M: ExampleModel> Learner for OnExamples<M> {
    type Part = MlPart;

    fn examples(&self, part: &MlPart) -> usize {
        part.train.len()
    }

    fn keys(&self, part: &MlPart, rows: &[u32], keys: &mut Vec<u64>) {
        let rows = rows.iter().map(|r| *r as usize);
        example_keys(&part.train, rows, self.0.features(), keys);
    }

    fn gradient(
        &self,
        part: &MlPart,
        rows: &[u32],
        keys: &[u64],
        values: &[f32],
        grads: &mut [f32],
    ) -> f64 {
        with_positions(keys, |at| self.0.gradient_at(part, rows, at, values, grads))
    }

    fn evaluation_keys(&self, part: &MlPart, keys: &mut Vec<u64>) {
        evaluation_keys(part, self.0.features(), keys);
    }

    fn evaluate(&self, part: &MlPart, keys: &[u64], values: &[f32]) -> Evaluation {
        with_positions(keys, |at| self.0.evaluate_at(part, at, values))
    }
}
