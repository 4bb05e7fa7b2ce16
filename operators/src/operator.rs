//! [`Operator`]: a user-defined stateful operator over each partition, and
//! [`apply`](crate::Dataset::apply), which runs one.
//!
//! Where `map_partitions` hands over the whole record stream, an operator is driven one
//! record at a time: a fresh operator per partition is opened, given every record, and
//! finished, and its outputs are handed downstream as they are produced. Nothing collects the
//! partition: a small buffer is refilled from the operator as the next stage pulls records.

use std::sync::Arc;

use crate::dataset::{Data, Dataset, Records};

/// A stateful per-partition operator: open, process each record, finish.
pub trait Operator: Send + 'static {
    /// The records it reads.
    type In: Data;
    /// The records it produces.
    type Out: Data;

    /// Called once before the partition's first record.
    fn open(&mut self, _partition: usize) {}

    /// Called for each record; push outputs into `out`.
    fn process(&mut self, record: Self::In, out: &mut Vec<Self::Out>);

    /// Called after the last record; push any remaining outputs.
    fn finish(&mut self, _out: &mut Vec<Self::Out>) {}
}

/// Drives an operator over a partition's records as its outputs are pulled.
struct Driven<O: Operator> {
    operator: O,
    input: Records<O::In>,
    /// Outputs not handed out yet, in reverse order (the next one is last).
    ready: Vec<O::Out>,
    finished: bool,
}

impl<O: Operator> Iterator for Driven<O> {
    type Item = O::Out;

    fn next(&mut self) -> Option<O::Out> {
        loop {
            if let Some(out) = self.ready.pop() {
                return Some(out);
            }
            if self.finished {
                return None;
            }
            match self.input.next() {
                Some(record) => self.operator.process(record, &mut self.ready),
                None => {
                    self.operator.finish(&mut self.ready);
                    self.finished = true;
                }
            }
            self.ready.reverse();
        }
    }
}

impl<T: Data> Dataset<T> {
    /// Runs the operator `make` builds over every partition: a fresh one per partition,
    /// opened with the partition index, given each record in order, then finished. `name`
    /// names the step in the plan and metrics.
    ///
    /// ```
    /// use weir_operators::operator::Operator;
    /// use weir_operators::prelude::*;
    ///
    /// /// Drops a record equal to the one before it.
    /// struct DedupConsecutive(Option<String>);
    ///
    /// impl Operator for DedupConsecutive {
    ///     type In = String;
    ///     type Out = String;
    ///     fn process(&mut self, record: String, out: &mut Vec<String>) {
    ///         if self.0.as_ref() != Some(&record) {
    ///             self.0 = Some(record.clone());
    ///             out.push(record);
    ///         }
    ///     }
    /// }
    ///
    /// let out = weir_operators::testing::local(|ctx| {
    ///     let words = ["a", "a", "b", "b", "b", "a"].map(String::from).to_vec();
    ///     ctx.parallelize(words, 1)?.apply("dedup", || DedupConsecutive(None)).collect()
    /// });
    /// assert_eq!(out, vec!["a", "b", "a"]);
    /// ```
    pub fn apply<O: Operator<In = T>>(
        &self,
        name: &str,
        make: impl Fn() -> O + Send + Sync + 'static,
    ) -> Dataset<O::Out> {
        let make = Arc::new(make);
        self.narrow(name, false, move |p, input, _| {
            let mut operator = make();
            operator.open(p);
            Box::new(Driven {
                operator,
                input,
                ready: Vec::new(),
                finished: false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Operator;
    use crate::prelude::*;
    use crate::testing::{local, local_with};

    /// The running total of each partition, then the partition's index and total.
    struct RunningTotal {
        partition: usize,
        total: u64,
    }

    impl Operator for RunningTotal {
        type In = u64;
        type Out = (usize, u64);
        fn open(&mut self, partition: usize) {
            self.partition = partition;
        }
        fn process(&mut self, record: u64, out: &mut Vec<(usize, u64)>) {
            self.total += record;
            out.push((self.partition, self.total));
        }
        fn finish(&mut self, out: &mut Vec<(usize, u64)>) {
            out.push((usize::MAX - self.partition, self.total));
        }
    }

    fn running_total() -> RunningTotal {
        RunningTotal {
            partition: usize::MAX,
            total: 0,
        }
    }

    /// Emits each record `record % 4` times (several, or none, per record).
    struct Repeat;

    impl Operator for Repeat {
        type In = u32;
        type Out = u32;
        fn process(&mut self, record: u32, out: &mut Vec<u32>) {
            for _ in 0..record % 4 {
                out.push(record);
            }
        }
    }

    #[test]
    fn matches_a_sequential_fold_per_partition() {
        for (threads, partitions) in [(1, 1), (2, 4), (3, 6)] {
            let (input, out) = local_with(threads, move |ctx| {
                let ds = ctx.generate(1_000, partitions, |i| i * 3)?;
                let input = ds.map_partitions(|p, r| r.map(move |x| (p, x))).collect()?;
                Ok((input, ds.apply("running_total", running_total).collect()?))
            });
            let mut expected = Vec::new();
            for p in 0..partitions {
                let mut total = 0;
                for &(_, x) in input.iter().filter(|(q, _)| *q == p) {
                    total += x;
                    expected.push((p, total));
                }
                expected.push((usize::MAX - p, total));
            }
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn outputs_keep_their_order_whatever_their_number() {
        let data: Vec<u32> = (0..500).collect();
        let expected: Vec<u32> = data
            .iter()
            .flat_map(|&x| (0..x % 4).map(move |_| x))
            .collect();
        let out = local_with(3, move |ctx| {
            ctx.parallelize(data, 5)?
                .apply("repeat", || Repeat)
                .collect()
        });
        assert_eq!(out, expected);
    }

    #[test]
    fn empty_partitions_are_opened_and_finished() {
        let out = local(|ctx| {
            ctx.parallelize(Vec::<u64>::new(), 3)?
                .apply("running_total", running_total)
                .collect()
        });
        assert_eq!(
            out,
            vec![(usize::MAX, 0), (usize::MAX - 1, 0), (usize::MAX - 2, 0)]
        );
    }

    #[test]
    fn the_operator_is_driven_lazily() {
        let pulled = local(|ctx| {
            let reads = ctx.counter("reads");
            let ds = ctx.generate(10_000, 1, |i| i)?.map(move |x| {
                reads.add(1);
                x
            });
            assert_eq!(ds.apply("running_total", running_total).take(3)?.len(), 3);
            Ok(ctx.counter_values()?.get("reads").copied().unwrap_or(0))
        });
        assert_eq!(pulled, 3);
    }
}
