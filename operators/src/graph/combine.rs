//! Combiners: fold the messages a partition sends to the same vertex in one superstep
//! into one before they leave the worker (Pregel's combiners). Sum, min and max are
//! provided; any associative and commutative fold can be given.

use std::ops::AddAssign;
use std::sync::Arc;

/// A fold of one message into another.
type Fold<M> = dyn Fn(&mut M, M) + Send + Sync;

/// Folds a message into another one bound for the same vertex.
pub struct Combiner<M>(Arc<Fold<M>>);

impl<M> Clone for Combiner<M> {
    fn clone(&self) -> Self {
        Combiner(self.0.clone())
    }
}

impl<M: 'static> Combiner<M> {
    /// A combiner from a fold; it must be associative and commutative.
    pub fn new(fold: impl Fn(&mut M, M) + Send + Sync + 'static) -> Self {
        Combiner(Arc::new(fold))
    }

    /// Keeps the sum.
    pub fn sum() -> Self
    where
        M: AddAssign,
    {
        Combiner::new(|into: &mut M, m| *into += m)
    }

    /// Keeps the smallest.
    pub fn min() -> Self
    where
        M: PartialOrd,
    {
        Combiner::new(|into: &mut M, m| {
            if m < *into {
                *into = m;
            }
        })
    }

    /// Keeps the largest.
    pub fn max() -> Self
    where
        M: PartialOrd,
    {
        Combiner::new(|into: &mut M, m| {
            if m > *into {
                *into = m;
            }
        })
    }

    /// Folds `m` into `into`.
    #[inline]
    pub fn combine(&self, into: &mut M, m: M) {
        (self.0)(into, m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_combiners_fold_as_named() {
        let (sum, min, max) = (Combiner::sum(), Combiner::min(), Combiner::max());
        let (mut s, mut lo, mut hi) = (1.5f64, 4u32, 4u32);
        for x in [2u32, 9, 3] {
            sum.combine(&mut s, f64::from(x));
            min.combine(&mut lo, x);
            max.combine(&mut hi, x);
        }
        assert_eq!((s, lo, hi), (15.5, 2, 9));
    }
}
