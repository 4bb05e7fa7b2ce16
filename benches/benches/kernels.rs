//! Micro-benchmarks of the engine's per-byte and per-record kernels.
//!
//! * `frame_encode` / `frame_decode`: the wire codec every TCP connection uses
//!   ([`weir_engine::frame::FrameCodec`]: 16-byte header, CRC32 of the body) on a small
//!   control message and on 64 KiB and 1 MiB shuffle-block-sized bodies, in bytes/s.
//! * `shuffle_map`: what a shuffle map task does per record, in records/s: the deterministic
//!   partitioner ([`weir_engine::hash::partition_of`]) and, for `combine_*`, the map-side
//!   combine of `combine_by_key` (one Fx hash table folded through an
//!   [`Aggregator`]'s closures, then drained into one [`BlockBuilder`] per reduce partition,
//!   blocks sealed at the target size), on word-count-like `(String, u64)` records and
//!   numeric `(u64, f64)` records.
//!
//! Run with `cargo bench --bench kernels` (add a filter such as `-- frame` to run part of it).

use std::hash::Hash;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio_util::codec::{Decoder, Encoder};
use weir_engine::frame::{Frame, FrameCodec, FrameKind};
use weir_engine::hash::{partition_of, stable_hash};
use weir_engine::shuffle::BlockBuilder;
use weir_operators::shuffle::{Aggregator, FxHashMap};

/// Records per `shuffle_map` iteration.
const RECORDS: usize = 1 << 20;
/// Distinct keys among them (a word-count vocabulary).
const DISTINCT_KEYS: usize = 50_000;
/// Reduce partitions the map side writes to.
const PARTITIONS: usize = 16;

fn payload(len: usize) -> Bytes {
    let mut rng = StdRng::seed_from_u64(len as u64);
    (0..len)
        .map(|_| rng.gen::<u8>())
        .collect::<Vec<u8>>()
        .into()
}

fn frame_codec(c: &mut Criterion) {
    let cases = [
        ("control_96B", FrameKind::Control, payload(96)),
        ("block_64KiB", FrameKind::FetchBlock, payload(64 << 10)),
        ("block_1MiB", FrameKind::FetchBlock, payload(1 << 20)),
    ];

    let mut group = c.benchmark_group("frame_encode");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, kind, body) in &cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), body, |b, body| {
            let mut codec = FrameCodec::default();
            let mut dst = BytesMut::with_capacity(body.len() + 64);
            b.iter(|| {
                dst.clear();
                codec
                    .encode(Frame::new(*kind, body.clone()), &mut dst)
                    .expect("encodable frame");
                black_box(dst.len())
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("frame_decode");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, kind, body) in &cases {
        let mut wire = BytesMut::new();
        FrameCodec::default()
            .encode(Frame::new(*kind, body.clone()), &mut wire)
            .expect("encodable frame");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &wire, |b, wire| {
            let mut codec = FrameCodec::default();
            b.iter_batched_ref(
                || wire.clone(),
                |src| {
                    let frame = codec
                        .decode(src)
                        .expect("valid frame")
                        .expect("whole frame");
                    black_box(frame.body.len())
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

/// A skewed key index: small indices (frequent words) come up far more often.
fn skewed_index(rng: &mut StdRng) -> usize {
    let u: f64 = rng.gen();
    ((u * u * u) * DISTINCT_KEYS as f64) as usize
}

/// Word-count-like records: words of 3 to 10 letters with a skewed frequency.
fn word_records() -> Vec<(String, u64)> {
    let mut rng = StdRng::seed_from_u64(1);
    let vocabulary: Vec<String> = (0..DISTINCT_KEYS)
        .map(|_| {
            let len = rng.gen_range(3..=10);
            (0..len)
                .map(|_| rng.gen_range(b'a'..=b'z') as char)
                .collect()
        })
        .collect();
    (0..RECORDS)
        .map(|_| (vocabulary[skewed_index(&mut rng)].clone(), 1))
        .collect()
}

/// Numeric records: ids with a skewed frequency and a measurement each.
fn numeric_records() -> Vec<(u64, f64)> {
    let mut rng = StdRng::seed_from_u64(2);
    (0..RECORDS)
        .map(|_| {
            let id = (skewed_index(&mut rng) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (id, rng.gen::<f64>())
        })
        .collect()
}

/// The aggregator `reduce_by_key(|a, b| a + b)` builds: a value is its own combiner.
fn sum_aggregator<V: std::ops::Add<Output = V> + 'static>() -> Aggregator<V, V> {
    Aggregator {
        create: Arc::new(|v| v),
        merge_value: Arc::new(|a, b| a + b),
        merge_combiners: Arc::new(|a, b| a + b),
    }
}

/// One map task's block builders and sealed blocks per reduce partition, and their size.
struct MapOutput {
    builders: Vec<BlockBuilder>,
    blocks: Vec<Vec<Bytes>>,
    bytes: u64,
}

impl MapOutput {
    fn new(partitions: usize) -> Self {
        MapOutput {
            builders: (0..partitions).map(|_| BlockBuilder::new()).collect(),
            blocks: vec![Vec::new(); partitions],
            bytes: 0,
        }
    }

    #[inline]
    fn push<R: Serialize>(&mut self, partition: usize, record: &R) {
        let b = &mut self.builders[partition];
        b.push(record).expect("encodable record");
        if b.is_full() {
            let block = b.finish();
            self.bytes += block.len() as u64;
            self.blocks[partition].push(block);
        }
    }

    fn finish(mut self) -> u64 {
        for (p, b) in self.builders.iter_mut().enumerate() {
            if !b.is_empty() {
                let block = b.finish();
                self.bytes += block.len() as u64;
                self.blocks[p].push(block);
            }
        }
        self.bytes
    }
}

/// `partition_by`'s map side: every record straight into its partition's block.
fn partition_only<K: Hash + Serialize, V: Serialize>(records: Vec<(K, V)>) -> u64 {
    let mut out = MapOutput::new(PARTITIONS);
    for record in records {
        out.push(partition_of(&record.0, PARTITIONS), &record);
    }
    out.finish()
}

/// `combine_by_key`'s map side with a map-side combine.
fn combine<K, V, C>(records: Vec<(K, V)>, agg: &Aggregator<V, C>) -> u64
where
    K: Hash + Eq + Serialize,
    C: Serialize,
{
    let mut table: FxHashMap<K, C> = FxHashMap::default();
    for (k, v) in records {
        match table.entry(k) {
            hashbrown::hash_map::Entry::Occupied(e) => {
                e.replace_entry_with(|_, old| Some((agg.merge_value)(old, v)));
            }
            hashbrown::hash_map::Entry::Vacant(e) => {
                e.insert((agg.create)(v));
            }
        }
    }
    let mut out = MapOutput::new(PARTITIONS);
    for (k, c) in table.drain() {
        out.push(partition_of(&k, PARTITIONS), &(k, c));
    }
    out.finish()
}

fn shuffle_map(c: &mut Criterion) {
    let words = word_records();
    let numbers = numeric_records();
    let mut group = c.benchmark_group("shuffle_map");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(RECORDS as u64));

    group.bench_function("stable_hash/string", |b| {
        b.iter(|| {
            words
                .iter()
                .fold(0u64, |acc, (k, _)| acc ^ stable_hash(k.as_str()))
        })
    });
    group.bench_function("partition/string_u64", |b| {
        b.iter_batched(|| words.clone(), partition_only, BatchSize::PerIteration)
    });
    group.bench_function("partition/u64_f64", |b| {
        b.iter_batched(|| numbers.clone(), partition_only, BatchSize::PerIteration)
    });
    let word_sum = sum_aggregator::<u64>();
    group.bench_function("combine/string_u64", |b| {
        b.iter_batched(
            || words.clone(),
            |records| combine(records, &word_sum),
            BatchSize::PerIteration,
        )
    });
    let number_sum = sum_aggregator::<f64>();
    group.bench_function("combine/u64_f64", |b| {
        b.iter_batched(
            || numbers.clone(),
            |records| combine(records, &number_sum),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, frame_codec, shuffle_map);
criterion_main!(benches);
