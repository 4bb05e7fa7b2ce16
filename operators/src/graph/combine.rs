//! Combiners: fold the messages a partition sends to the same vertex in one superstep
//! into one before they leave the worker (Pregel's combiners). Sum, min and max are
//! provided; any associative and commutative fold can be given.

use std::ops::AddAssign;
use std::sync::Arc;

use crate::graph::bitmap;

/// A fold of one message into another.
type Fold<M> = dyn Fn(&mut M, M) + Send + Sync;

/// The fold of the values of `sources` that are set in the bitmap `present`, in order.
type GatherFold<M> = dyn Fn(&[M], &[u64], &[u32]) -> Option<M> + Send + Sync;

/// Folds a message into another one bound for the same vertex.
pub struct Combiner<M> {
    one: Arc<Fold<M>>,
    /// The same fold over a target's sources, compiled for the fold itself: the sender's
    /// plan folds every edge of a superstep through it with one dynamic call a target
    /// instead of one an edge.
    gathered: Arc<GatherFold<M>>,
}

impl<M> Clone for Combiner<M> {
    fn clone(&self) -> Self {
        Combiner {
            one: self.one.clone(),
            gathered: self.gathered.clone(),
        }
    }
}

impl<M> Combiner<M> {
    /// Folds `m` into `into`.
    #[inline]
    pub fn combine(&self, into: &mut M, m: M) {
        (self.one)(into, m)
    }
}

impl<M: Clone + 'static> Combiner<M> {
    /// A combiner from a fold; it must be associative and commutative.
    pub fn new(fold: impl Fn(&mut M, M) + Send + Sync + 'static) -> Self {
        let fold = Arc::new(fold);
        let inner = fold.clone();
        let gathered = move |values: &[M], present: &[u64], sources: &[u32]| {
            let mut folded: Option<M> = None;
            for &s in sources {
                let s = s as usize;
                if !bitmap::is_set(present, s) {
                    continue;
                }
                let m = values[s].clone();
                match &mut folded {
                    Some(into) => inner(into, m),
                    None => folded = Some(m),
                }
            }
            folded
        };
        Combiner {
            one: fold,
            gathered: Arc::new(gathered),
        }
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

    /// The fold of `values[s]` for the sources `s` flagged in the bitmap `present`, in
    /// their order; `None` if none is.
    #[inline]
    pub(crate) fn fold_present(&self, values: &[M], present: &[u64], sources: &[u32]) -> Option<M> {
        (self.gathered)(values, present, sources)
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
