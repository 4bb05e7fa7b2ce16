//! Logistic regression by minibatch SGD on one thread: the examples in one compact block
//! (dense rows back to back, or CSR for sparse ones), each epoch a seeded shuffle cut into
//! minibatches of `batch`, the mean gradient applied by the same update rule the servers
//! use. Sparse data updates only the keys a minibatch touched (as the servers do), dense
//! data the whole vector in one pass.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use weir_datasets::{CsvColumns, DatasetError, ExampleBlock, ExampleRow, LabelRule, Result};
use weir_jobs::logreg::{sigmoid, softplus};
use weir_operators::ps::schedule::epoch_order;
use weir_operators::ps::UpdateRule;

use super::READ_BUFFER_BYTES;

/// How the baseline trains.
pub struct SgdOptions<'a> {
    pub epochs: u64,
    pub batch: usize,
    pub rule: &'a dyn UpdateRule,
    pub l2: f32,
    pub seed: u64,
}

/// Reads LIBSVM files, or CSV files (`.csv`: a header with a `label` column), into one
/// block; with `features`, a LIBSVM index at or past it is refused.
pub fn read_block(paths: &[PathBuf], features: Option<u32>) -> Result<ExampleBlock> {
    let mut block: Option<ExampleBlock> = None;
    for path in paths {
        let file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
        let mut lines = BufReader::with_capacity(READ_BUFFER_BYTES, file).lines();
        let csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let columns = match csv {
            true => {
                let header = lines
                    .next()
                    .transpose()
                    .map_err(|e| DatasetError::io(path, e))?;
                Some(CsvColumns::from_header(
                    header.as_deref().unwrap_or(""),
                    path,
                )?)
            }
            false => None,
        };
        let block = block.get_or_insert_with(|| match &columns {
            Some(c) => ExampleBlock::dense(c.features()),
            None => ExampleBlock::sparse(),
        });
        for (i, line) in lines.enumerate() {
            let line = line.map_err(|e| DatasetError::io(path, e))?;
            let line_no = i as u64 + 1 + u64::from(csv);
            match &columns {
                Some(c) => block.push_csv(&line, path, line_no, c, LabelRule::Binary)?,
                None => block.push_libsvm(&line, path, line_no, LabelRule::Binary, features)?,
            };
        }
    }
    Ok(block.unwrap_or_default())
}

/// `w·x + b` of `row` (the bias is the last weight).
fn score(row: &ExampleRow<'_>, weights: &[f32]) -> f32 {
    let bias = weights[weights.len() - 1];
    let dot: f32 = match row.indices {
        None => row.values.iter().zip(weights).map(|(x, w)| x * w).sum(),
        Some(indices) => indices
            .iter()
            .zip(row.values)
            .map(|(j, x)| x * weights[*j as usize])
            .sum(),
    };
    dot + bias
}

/// Trains a model of `features` weights and a bias on `train`; returns them, the bias
/// last.
pub fn train(train: &ExampleBlock, features: u32, opts: &SgdOptions) -> Vec<f32> {
    let keys = features as usize + 1;
    let spv = opts.rule.state_per_value();
    let mut weights = vec![0.0f32; keys];
    let mut state = vec![0.0f32; keys * spv];
    let mut grads = vec![0.0f32; keys];
    let mut touched: Vec<u32> = Vec::new();
    for epoch in 0..opts.epochs {
        let order = epoch_order(train.len(), 0, epoch, opts.seed);
        for rows in order.chunks(opts.batch.max(1)) {
            touched.clear();
            for &r in rows {
                let row = train.row(r as usize);
                let g = sigmoid(score(&row, &weights)) - row.label;
                match row.indices {
                    None => grads
                        .iter_mut()
                        .zip(row.values)
                        .for_each(|(o, x)| *o += g * x),
                    Some(indices) => {
                        for (j, x) in indices.iter().zip(row.values) {
                            grads[*j as usize] += g * x;
                        }
                        touched.extend_from_slice(indices);
                    }
                }
                grads[keys - 1] += g;
            }
            // The mean gradient (with L2 on the feature weights), then the update rule.
            let scale = 1.0 / rows.len() as f32;
            let mut step = |k: usize| {
                let l2 = if k + 1 < keys {
                    opts.l2 * weights[k]
                } else {
                    0.0
                };
                let g = grads[k] * scale + l2;
                grads[k] = 0.0;
                let s = &mut state[k * spv..(k + 1) * spv];
                opts.rule.apply(&mut weights[k..k + 1], s, &[g]);
            };
            if train.dense_width.is_some() {
                (0..keys).for_each(&mut step);
            } else {
                touched.sort_unstable();
                touched.dedup();
                touched.iter().for_each(|&k| step(k as usize));
                step(keys - 1);
            }
        }
    }
    weights
}

/// The mean log-loss and the accuracy of `weights` on `block`.
pub fn evaluate(block: &ExampleBlock, weights: &[f32]) -> (f64, f64) {
    let (mut loss, mut correct) = (0.0f64, 0u64);
    for r in 0..block.len() {
        let row = block.row(r);
        let (z, label) = (score(&row, weights), row.label);
        loss += f64::from(softplus(z) - label * z);
        correct += u64::from((z > 0.0) == (label > 0.5));
    }
    let n = block.len().max(1) as f64;
    (loss / n, correct as f64 / n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_operators::ps::AdaGrad;

    #[test]
    fn it_learns_a_separable_rule_from_dense_and_sparse_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (csv, svm) = (dir.path().join("a.csv"), dir.path().join("a.libsvm"));
        let mut dense = String::from("label,x,y\n");
        let mut sparse = String::new();
        for i in 0..400 {
            let (x, y) = ((i % 20) as f32 / 10.0 - 1.0, (i / 20) as f32 / 10.0 - 1.0);
            let label = u8::from(x + 0.5 * y > 0.1);
            dense.push_str(&format!("{label},{x},{y}\n"));
            sparse.push_str(&format!("{label} 0:{x} 1:{y}\n"));
        }
        std::fs::write(&csv, dense).unwrap();
        std::fs::write(&svm, sparse).unwrap();
        let rule = AdaGrad {
            rate: 0.5,
            epsilon: 1e-8,
        };
        let opts = SgdOptions {
            epochs: 20,
            batch: 16,
            rule: &rule,
            l2: 0.0,
            seed: 3,
        };
        let a = read_block(&[csv], None).unwrap();
        let b = read_block(&[svm], None).unwrap();
        let (wa, wb) = (train(&a, 2, &opts), train(&b, 2, &opts));
        // The same rows in the same order: the same model, whatever the layout.
        assert_eq!(wa, wb);
        let (loss, accuracy) = evaluate(&a, &wa);
        assert!(accuracy > 0.95 && loss < 0.3, "{accuracy} {loss}");
        assert!(read_block(&[dir.path().join("none.csv")], None).is_err());
    }
}
