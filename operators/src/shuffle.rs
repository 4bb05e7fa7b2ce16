//! The two shuffles every wide operator is built from.
//!
//! * [`combine_by_key`]: records `(K, V)` are folded per key into a combiner `C` on the map
//!   side (when the operator allows it) and again on the reduce side: `reduce_by_key`,
//!   `aggregate_by_key`, `group_by_key`, `distinct`.
//! * [`partition_by`]: records move to the partition their key belongs to, unchanged:
//!   `repartition`, `sort_by_key`, the sides of `join` and `cogroup`.
//!
//! The map side hashes each key with the engine's deterministic hash (or a range
//! partitioner), appends records to one [`BlockBuilder`] per reduce partition, and hands
//! full blocks to the worker's shuffle store; a map-side combine flushes its table into
//! blocks whenever it grows past [`COMBINE_TABLE_LIMIT`] keys, so memory stays bounded.

use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use weir_engine::hash::partition_of;
use weir_engine::plan::{Dependency, NodeId, ShuffleId, ShuffleMapTask};
use weir_engine::shuffle::{BlockBuilder, BlockRecords};
use weir_engine::{TaskContext, TaskError};

use crate::dataset::{Data, Dataset, Key, Node, NodeBuilder, Partitioning, Records};

/// Keys a map-side combine holds before it flushes its table into blocks.
pub const COMBINE_TABLE_LIMIT: usize = 1 << 20;

/// The hash map every combine uses (deterministic, fast, not DoS-resistant).
pub type FxHashMap<K, V> = hashbrown::HashMap<K, V, BuildHasherDefault<rustc_hash::FxHasher>>;

/// Maps a key to its reduce partition.
pub type KeyPartitioner<K> = Arc<dyn Fn(&K) -> usize + Send + Sync>;

/// The hash partitioner over `n` partitions.
pub fn hash_partitioner<K: Key>(n: usize) -> KeyPartitioner<K> {
    Arc::new(move |k: &K| partition_of(k, n))
}

/// How values are folded per key.
pub struct Aggregator<V, C> {
    /// Makes a combiner from a key's first value.
    pub create: Arc<dyn Fn(V) -> C + Send + Sync>,
    /// Folds another value into a combiner.
    pub merge_value: Arc<dyn Fn(C, V) -> C + Send + Sync>,
    /// Folds two combiners.
    pub merge_combiners: Arc<dyn Fn(C, C) -> C + Send + Sync>,
}

impl<V, C> Clone for Aggregator<V, C> {
    fn clone(&self) -> Self {
        Aggregator {
            create: self.create.clone(),
            merge_value: self.merge_value.clone(),
            merge_combiners: self.merge_combiners.clone(),
        }
    }
}

#[inline]
fn upsert<K: Key, X, C>(
    table: &mut FxHashMap<K, C>,
    key: K,
    x: X,
    create: impl FnOnce(X) -> C,
    merge: impl FnOnce(C, X) -> C,
) {
    match table.entry(key) {
        hashbrown::hash_map::Entry::Occupied(e) => {
            e.replace_entry_with(|_, old| Some(merge(old, x)));
        }
        hashbrown::hash_map::Entry::Vacant(e) => {
            e.insert(create(x));
        }
    }
}

/// Per-reduce-partition block builders of one map task.
struct PartitionedWriter<'a> {
    tc: &'a TaskContext,
    writer: weir_engine::shuffle::ShuffleWriter,
    builders: Vec<BlockBuilder>,
    records: u64,
    bytes: u64,
    /// Time spent storing blocks (and, for combined output, encoding it).
    write_time: Duration,
}

impl<'a> PartitionedWriter<'a> {
    fn new(tc: &'a TaskContext, shuffle: ShuffleId, map: usize, partitions: usize) -> Self {
        PartitionedWriter {
            tc,
            writer: tc.shuffle_writer(shuffle, map, partitions),
            builders: (0..partitions).map(|_| BlockBuilder::new()).collect(),
            records: 0,
            bytes: 0,
            write_time: Duration::ZERO,
        }
    }

    #[inline]
    fn push<R: serde::Serialize>(&mut self, partition: usize, record: &R) -> Result<(), TaskError> {
        let b = &mut self.builders[partition];
        b.push(record)?;
        self.records += 1;
        if b.is_full() {
            let block = b.finish();
            self.put(partition, block)?;
        }
        Ok(())
    }

    fn put(&mut self, partition: usize, block: Bytes) -> Result<(), TaskError> {
        self.bytes += block.len() as u64;
        let started = Instant::now();
        let stored = self.writer.put(partition, block);
        self.write_time += started.elapsed();
        stored
    }

    /// Encodes the drained contents of a combine table, timed as shuffle write.
    fn push_combined<K: Key, C: Data>(
        &mut self,
        partitioner: &KeyPartitioner<K>,
        table: &mut FxHashMap<K, C>,
    ) -> Result<(), TaskError> {
        let before = self.write_time;
        let started = Instant::now();
        for (k, c) in table.drain() {
            self.push(partitioner(&k), &(k, c))?;
        }
        // The whole drain counts, the stores within it once.
        self.write_time = before + started.elapsed();
        Ok(())
    }

    fn commit(mut self) -> Result<Vec<u64>, TaskError> {
        let started = Instant::now();
        for p in 0..self.builders.len() {
            if !self.builders[p].is_empty() {
                let block = self.builders[p].finish();
                self.put(p, block)?;
            }
        }
        let spilled = self.writer.spilled_bytes();
        let (records, bytes) = (self.records, self.bytes);
        let sizes = self.writer.commit();
        let write_seconds = (self.write_time + started.elapsed()).as_secs_f64();
        self.tc.with_metrics(|m| {
            m.records_out += records;
            m.shuffle_write_bytes += bytes;
            m.spill_bytes += spilled;
            m.shuffle_write_seconds += write_seconds;
        });
        sizes
    }
}

/// Map side of [`combine_by_key`].
struct CombineMap<K, V, C> {
    parent: Arc<Node<(K, V)>>,
    parent_id: NodeId,
    partitions: usize,
    partitioner: KeyPartitioner<K>,
    aggregator: Aggregator<V, C>,
    map_side_combine: bool,
}

impl<K: Key, V: Data, C: Data> ShuffleMapTask for CombineMap<K, V, C> {
    fn map_node(&self) -> NodeId {
        self.parent_id
    }
    fn num_reduce_partitions(&self) -> usize {
        self.partitions
    }
    fn run_map(
        &self,
        shuffle: ShuffleId,
        map: usize,
        tc: &TaskContext,
    ) -> Result<Vec<u64>, TaskError> {
        let mut out = PartitionedWriter::new(tc, shuffle, map, self.partitions);
        let records = self.parent.compute(map, tc)?;
        if self.map_side_combine {
            let agg = &self.aggregator;
            let mut table: FxHashMap<K, C> = FxHashMap::default();
            for (k, v) in records {
                upsert(
                    &mut table,
                    k,
                    v,
                    |v| (agg.create)(v),
                    |c, v| (agg.merge_value)(c, v),
                );
                if table.len() >= COMBINE_TABLE_LIMIT {
                    out.push_combined(&self.partitioner, &mut table)?;
                }
            }
            out.push_combined(&self.partitioner, &mut table)?;
        } else {
            for (k, v) in records {
                out.push((self.partitioner)(&k), &(k, v))?;
            }
        }
        tc.check()?;
        out.commit()
    }
}

/// Map side of [`partition_by`].
struct PartitionMap<K, V> {
    parent: Arc<Node<(K, V)>>,
    parent_id: NodeId,
    partitions: usize,
    partitioner: KeyPartitioner<K>,
}

impl<K: Data, V: Data> ShuffleMapTask for PartitionMap<K, V> {
    fn map_node(&self) -> NodeId {
        self.parent_id
    }
    fn num_reduce_partitions(&self) -> usize {
        self.partitions
    }
    fn run_map(
        &self,
        shuffle: ShuffleId,
        map: usize,
        tc: &TaskContext,
    ) -> Result<Vec<u64>, TaskError> {
        let mut out = PartitionedWriter::new(tc, shuffle, map, self.partitions);
        for (k, v) in self.parent.compute(map, tc)? {
            out.push((self.partitioner)(&k), &(k, v))?;
        }
        tc.check()?;
        out.commit()
    }
}

/// Visits every record of reduce partition `p` of `shuffle`.
fn for_each_shuffled<R: Data>(
    tc: &TaskContext,
    shuffle: ShuffleId,
    p: usize,
    mut f: impl FnMut(R),
) -> Result<(), TaskError> {
    let mut count = 0u64;
    for block in tc.read_shuffle(shuffle, p)? {
        for record in BlockRecords::<R>::new(block?)? {
            f(record?);
            count += 1;
        }
    }
    tc.with_metrics(|m| m.records_in += count);
    Ok(())
}

/// Folds the values of each key with `aggregator` across the cluster; the result has
/// `partitions` partitions, hash-partitioned by key unless `partitioner` says otherwise.
pub fn combine_by_key<K: Key, V: Data, C: Data>(
    ds: &Dataset<(K, V)>,
    name: &str,
    partitions: usize,
    aggregator: Aggregator<V, C>,
    map_side_combine: bool,
) -> Dataset<(K, C)> {
    let partitions = partitions.max(1);
    let map = Arc::new(CombineMap {
        parent: ds.node.clone(),
        parent_id: ds.id,
        partitions,
        partitioner: hash_partitioner(partitions),
        aggregator: aggregator.clone(),
        map_side_combine,
    });
    let shuffle = ds.ctx.plan().add_shuffle(name, map);
    let mut out = NodeBuilder::new(name, partitions, vec![Dependency::Shuffle { shuffle }]).build(
        &ds.ctx,
        move |p, tc| {
            let mut table: FxHashMap<K, C> = FxHashMap::default();
            if map_side_combine {
                let merge = &aggregator.merge_combiners;
                for_each_shuffled::<(K, C)>(tc, shuffle, p, |(k, c)| {
                    upsert(&mut table, k, c, |c| c, |a, b| merge(a, b))
                })?;
            } else {
                let agg = &aggregator;
                for_each_shuffled::<(K, V)>(tc, shuffle, p, |(k, v)| {
                    upsert(
                        &mut table,
                        k,
                        v,
                        |v| (agg.create)(v),
                        |c, v| (agg.merge_value)(c, v),
                    )
                })?;
            }
            Ok(Box::new(table.into_iter()) as Records<(K, C)>)
        },
    );
    out.partitioning = Some(Partitioning::Hash(partitions));
    out
}

/// Moves each record to partition `partitioner(key)` of `partitions`, unchanged.
pub fn partition_by<K: Data, V: Data>(
    ds: &Dataset<(K, V)>,
    name: &str,
    partitions: usize,
    partitioner: KeyPartitioner<K>,
) -> Dataset<(K, V)> {
    let partitions = partitions.max(1);
    let map = Arc::new(PartitionMap {
        parent: ds.node.clone(),
        parent_id: ds.id,
        partitions,
        partitioner,
    });
    let shuffle = ds.ctx.plan().add_shuffle(name, map);
    NodeBuilder::new(name, partitions, vec![Dependency::Shuffle { shuffle }]).build(
        &ds.ctx,
        move |p, tc| {
            let mut records = Vec::new();
            for_each_shuffled::<(K, V)>(tc, shuffle, p, |r| records.push(r))?;
            Ok(Box::new(records.into_iter()) as Records<(K, V)>)
        },
    )
}

/// `ds` hash-partitioned over `partitions`: itself when it already is, else a shuffle.
pub fn hash_partitioned<K: Key, V: Data>(
    ds: &Dataset<(K, V)>,
    name: &str,
    partitions: usize,
) -> Dataset<(K, V)> {
    if ds.partitioning == Some(Partitioning::Hash(partitions)) {
        return ds.clone();
    }
    let mut out = partition_by(ds, name, partitions, hash_partitioner(partitions));
    out.partitioning = Some(Partitioning::Hash(partitions));
    out
}
