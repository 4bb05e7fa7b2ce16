//! `persist`: keeps a dataset's partitions in worker memory once computed, so later
//! stages (the next iteration of a loop) read them instead of recomputing them. The driver
//! places later tasks on the worker holding the partition; a lost worker's partitions are
//! recomputed from lineage.

use std::sync::Arc;

use weir_engine::plan::Dependency;

use crate::dataset::{Data, Dataset, NodeBuilder, Records};

/// Iterates a cached partition, cloning records out of it.
struct CachedRecords<T> {
    data: Arc<Vec<T>>,
    next: usize,
}

impl<T: Clone> Iterator for CachedRecords<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        let item = self.data.get(self.next).cloned();
        self.next += 1;
        item
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.data.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl<T: Data> Dataset<T> {
    /// Keeps the partitions in worker memory after they are first computed. Cheap to clone
    /// records (`Arc`s, small tuples) make the best cached data.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let (a, b) = weir_operators::testing::local(|ctx| {
    ///     let squares = ctx.parallelize((0..10u64).collect(), 2)?.map(|x| x * x).persist();
    ///     Ok((squares.count()?, squares.collect()?.iter().sum::<u64>()))
    /// });
    /// assert_eq!((a, b), (10, 285));
    /// ```
    pub fn persist(&self) -> Dataset<T> {
        let parent = self.node.clone();
        let mut builder = NodeBuilder::new(
            "persist",
            self.num_partitions(),
            vec![Dependency::OneToOne { parent: self.id }],
        );
        builder.persisted = true;
        let mut ds = builder.build_with_id(&self.ctx, move |id, p, tc| {
            if !tc.keeps_cached(id) {
                return parent.compute(p, tc);
            }
            if let Some(data) = tc.cached::<T>(id, p) {
                return Ok(Box::new(CachedRecords { data, next: 0 }) as Records<T>);
            }
            let data: Vec<T> = parent.compute(p, tc)?.collect();
            tc.check()?;
            let data = Arc::new(data);
            tc.store_cached(id, p, data.clone());
            Ok(Box::new(CachedRecords { data, next: 0 }))
        });
        ds.partitioning = self.partitioning;
        ds
    }

    /// Drops the cached partitions on every worker; later reads compute them again from
    /// lineage (Spark's `unpersist`). A dataset that was never persisted is unchanged.
    ///
    /// Iterative jobs need not call it for what a loop replaces: once the job holds no
    /// handle that can read a cached dataset, the driver drops it by itself.
    ///
    /// ```
    /// use weir_operators::prelude::*;
    /// let n = weir_operators::testing::local(|ctx| {
    ///     let squares = ctx.parallelize((0..10u64).collect(), 2)?.map(|x| x * x).persist();
    ///     squares.count()?;
    ///     squares.unpersist();
    ///     squares.count()
    /// });
    /// assert_eq!(n, 10);
    /// ```
    pub fn unpersist(&self) {
        if self.node.persisted {
            self.ctx.plan().unpersist(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::testing::local;

    #[test]
    fn a_persisted_dataset_is_computed_once() {
        let (first, second, total) = local(|ctx| {
            let calls = ctx.counter("calls");
            let ds = ctx
                .parallelize((0..100u32).collect(), 4)?
                .map(move |x| {
                    calls.add(1);
                    x
                })
                .persist();
            let a = ds.count()?;
            let b = ds.map(|x| x + 1).count()?;
            Ok((a, b, ctx.counter_values()?["calls"]))
        });
        assert_eq!((first, second), (100, 100));
        assert_eq!(total, 100, "the map ran again despite persist");
    }

    /// What the worker's store and cache hold, and what the driver tracks: the same.
    fn holdings(ctx: &weir_engine::JobContext) -> (Vec<usize>, Vec<usize>) {
        ctx.with_scheduler(|s| {
            let worker = s.local_worker_holdings().expect("an in-process run");
            assert_eq!(worker, (s.tracked_shuffles(), s.cached_nodes()));
            worker
        })
        .expect("the driver's context")
    }

    #[test]
    fn an_iteration_keeps_only_what_later_stages_read() {
        crate::testing::local_with(2, |ctx| {
            let base = ctx.parallelize((0..200u64).collect(), 4)?.persist();
            let mut values = base
                .map(|x| (x % 10, 1u64))
                .reduce_by_key(|a, b| a + b)
                .persist();
            values.count()?;
            for _ in 0..5 {
                let next = values
                    .map(|(k, v)| ((k + 1) % 10, v + 1))
                    .reduce_by_key(|a, b| a + b)
                    .persist();
                assert_eq!(next.count()?, 10);
                // The job still holds `values` and `next`: both stay, the shuffle between
                // them (read by nothing that is not cached) goes.
                let (shuffles, nodes) = holdings(ctx);
                assert!(shuffles.is_empty(), "shuffle outputs kept: {shuffles:?}");
                assert_eq!(nodes, vec![base.id(), values.id(), next.id()]);
                values = next;
            }
            // The replaced datasets go at the next action.
            assert_eq!(base.count()?, 200);
            assert_eq!(holdings(ctx), (vec![], vec![base.id(), values.id()]));
            // Unpersisted, `values` is computed again from lineage; only the one shuffle
            // it reads stays, since the job still holds it.
            values.unpersist();
            assert_eq!(values.count()?, 10);
            let (shuffles, nodes) = holdings(ctx);
            assert_eq!((shuffles.len(), nodes), (1, vec![base.id()]));
            Ok(())
        });
    }
}
