//! What a model tells the parameter server: the [`Learner`] trait. A job implements it
//! for its model (logistic regression, softmax, k-means, matrix factorisation); the
//! trainers call it on their cached data partition and the servers to start the keys.

use serde::{Deserialize, Serialize};

use crate::dataset::Data;

/// A model trained on the parameter server.
///
/// Its parameters are keys `0..keys` of `width` floats each (see `KeyLayout`). A
/// trainer's minibatch is a set of example indexes (`rows`) of its partition; the learner
/// names the keys they read, then computes their gradient from the pulled values.
pub trait Learner: Send + Sync + 'static {
    /// The data of one partition, cached in worker memory across epochs (one record per
    /// partition; a partition without one is empty).
    type Part: Data + Default;

    /// How many training examples `part` has.
    fn examples(&self, part: &Self::Part) -> usize;

    /// Writes into `keys` (cleared first) the sorted, distinct keys examples `rows` of
    /// `part` read.
    fn keys(&self, part: &Self::Part, rows: &[u32], keys: &mut Vec<u64>);

    /// Adds into `grads` (laid out like `values`: `width` floats per key of `keys`) the
    /// gradient of the loss summed over examples `rows`, at the parameter values
    /// `values`, regularisation included; returns the summed loss. The trainer pushes
    /// the mean over the minibatch.
    fn gradient(
        &self,
        part: &Self::Part,
        rows: &[u32],
        keys: &[u64],
        values: &[f32],
        grads: &mut [f32],
    ) -> f64;

    /// Writes into `keys` (cleared first) the sorted, distinct keys [`evaluate`] reads.
    ///
    /// [`evaluate`]: Learner::evaluate
    fn evaluation_keys(&self, part: &Self::Part, keys: &mut Vec<u64>);

    /// Evaluates the model (`values` of `keys`) on `part`: its training and held-out
    /// examples.
    fn evaluate(&self, part: &Self::Part, keys: &[u64], values: &[f32]) -> Evaluation;

    /// Whether the trainer pushes the minibatch's mean gradient (the default) or the sums
    /// `gradient` returned, for an update rule that counts for itself (k-means' centroids).
    fn mean_gradient(&self) -> bool {
        true
    }

    /// The starting values of `key` (zero unless the model says otherwise).
    fn init(&self, key: u64, values: &mut [f32]) {
        let _ = key;
        values.fill(0.0);
    }
}

/// A model's figures on some data, summed over partitions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The training loss summed over the training examples.
    pub train_loss: f64,
    pub train_examples: u64,
    /// The loss summed over the held-out examples, and how many were right.
    pub test_loss: f64,
    pub test_correct: u64,
    pub test_examples: u64,
}

impl Evaluation {
    /// Adds `other`'s sums to these.
    pub fn merge(&mut self, other: &Evaluation) {
        self.train_loss += other.train_loss;
        self.train_examples += other.train_examples;
        self.test_loss += other.test_loss;
        self.test_correct += other.test_correct;
        self.test_examples += other.test_examples;
    }

    /// The mean training loss.
    pub fn mean_train_loss(&self) -> f64 {
        self.train_loss / self.train_examples.max(1) as f64
    }

    /// The mean held-out loss, if there are held-out examples.
    pub fn mean_test_loss(&self) -> Option<f64> {
        (self.test_examples > 0).then(|| self.test_loss / self.test_examples as f64)
    }

    /// The held-out accuracy, if there are held-out examples.
    pub fn test_accuracy(&self) -> Option<f64> {
        (self.test_examples > 0).then(|| self.test_correct as f64 / self.test_examples as f64)
    }
}
