//! Aggregators: values every vertex may contribute to during a superstep, reduced across
//! partitions at the barrier and readable by every vertex (and by the master) in the next
//! superstep, as in Pregel and Giraph.
//!
//! A program's aggregates are one value of a type implementing [`Aggregate`]: one of the
//! provided [`Sum`], [`Min`], [`Max`], a tuple of them, `()` for none, or a user type
//! whose `merge` is its own fold.

use std::ops::AddAssign;

use crate::dataset::Data;

/// A value that partitions fold into and the barrier reduces: `merge` must be
/// associative and commutative, and `Default` its identity.
pub trait Aggregate: Data + Default {
    /// Folds `other` into `self`.
    fn merge(&mut self, other: Self);
}

impl Aggregate for () {
    fn merge(&mut self, _other: Self) {}
}

/// A sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sum<T>(pub T);

impl<T: Data + Default + AddAssign> Aggregate for Sum<T> {
    fn merge(&mut self, other: Self) {
        self.0 += other.0;
    }
}

impl<T: AddAssign> Sum<T> {
    /// Adds `x`.
    pub fn add(&mut self, x: T) {
        self.0 += x;
    }
}

/// A minimum; `None` until something is contributed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Min<T>(pub Option<T>);

impl<T> Default for Min<T> {
    fn default() -> Self {
        Min(None)
    }
}

impl<T: Data + PartialOrd> Aggregate for Min<T> {
    fn merge(&mut self, other: Self) {
        if let Some(x) = other.0 {
            self.add(x);
        }
    }
}

impl<T: PartialOrd> Min<T> {
    /// Takes `x` if it is smaller.
    pub fn add(&mut self, x: T) {
        if !matches!(&self.0, Some(m) if *m <= x) {
            self.0 = Some(x);
        }
    }
}

/// A maximum; `None` until something is contributed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Max<T>(pub Option<T>);

impl<T> Default for Max<T> {
    fn default() -> Self {
        Max(None)
    }
}

impl<T: Data + PartialOrd> Aggregate for Max<T> {
    fn merge(&mut self, other: Self) {
        if let Some(x) = other.0 {
            self.add(x);
        }
    }
}

impl<T: PartialOrd> Max<T> {
    /// Takes `x` if it is larger.
    pub fn add(&mut self, x: T) {
        if !matches!(&self.0, Some(m) if *m >= x) {
            self.0 = Some(x);
        }
    }
}

macro_rules! tuple_aggregate {
    ($($name:ident $index:tt),+) => {
        impl<$($name: Aggregate),+> Aggregate for ($($name,)+) {
            fn merge(&mut self, other: Self) {
                $(self.$index.merge(other.$index);)+
            }
        }
    };
}
tuple_aggregate!(A 0, B 1);
tuple_aggregate!(A 0, B 1, C 2);
tuple_aggregate!(A 0, B 1, C 2, D 3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_aggregates_fold_and_start_from_their_identity() {
        let mut a = (Sum(0u64), Min::<i64>::default(), Max::<f64>::default());
        a.merge((Sum(3), Min(Some(-2)), Max(None)));
        a.merge((Sum(4), Min(Some(5)), Max(Some(1.5))));
        a.merge(Default::default());
        assert_eq!(a, (Sum(7), Min(Some(-2)), Max(Some(1.5))));
        let mut m = Min::default();
        for x in [3, 1, 2] {
            m.add(x);
        }
        assert_eq!(m.0, Some(1));
    }
}
