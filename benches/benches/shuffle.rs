//! Shuffle throughput over loopback TCP against a raw TCP copy of the same number of bytes,
//! side by side in one criterion group (`shuffle_loopback`), in bytes/s:
//!
//! * `raw_tcp_copy`: two connected `std::net::TcpStream`s on 127.0.0.1; the bench thread
//!   writes the bytes in 1 MiB writes, a reader thread reads them into a 1 MiB buffer and
//!   discards them. The ceiling for any protocol on this host.
//! * `weir_fetch`: the engine's shuffle data plane as two workers on one host use it. Worker
//!   0 holds committed map outputs of encoded `(String, u64)` blocks in its `ShuffleStore`
//!   and serves them with `serve_blocks`; worker 1 (its own tokio runtime, like a separate
//!   worker process) reads one reduce partition through `TaskContext::read_shuffle`, i.e. a
//!   `TcpFetcher` over an authenticated, pooled connection, and opens every block with
//!   `BlockRecords` (checksum verified) as a reduce task does, without decoding records.
//! * `weir_fetch_decode`: the same, also decoding every record and folding it, i.e. the
//!   whole read side of a reduce task short of user code.
//!
//! Throughput counts the shuffle block bytes (frame headers excluded); the raw copy moves the
//! same number of bytes.
//!
//! Run with `cargo bench --bench shuffle`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use weir_engine::auth::Secret;
use weir_engine::executor::WorkerEnv;
use weir_engine::plan::{Plan, ShuffleId};
use weir_engine::shuffle::fetch::serve_blocks;
use weir_engine::shuffle::{BlockBuilder, BlockRecords, ShuffleStore};
use weir_engine::task::{ShuffleLocations, TaskContext};
use weir_engine::JobOptions;

use common::RawCopy;

/// Bytes moved per iteration (approximately, for the shuffle: whole blocks).
const TOTAL_BYTES: usize = 256 << 20;
/// Map outputs the reduce partition is read from.
const MAPS: usize = 8;
const SHUFFLE: ShuffleId = 0;

/// An encoded shuffle block of word-count records, about the engine's target block size.
fn word_block(seed: u64) -> Bytes {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut builder = BlockBuilder::new();
    while !builder.is_full() {
        let len = rng.gen_range(3..=10);
        let word: String = (0..len)
            .map(|_| rng.gen_range(b'a'..=b'z') as char)
            .collect();
        builder
            .push(&(word, rng.gen_range(1..1000u64)))
            .expect("encodable record");
    }
    builder.finish()
}

/// Two workers on one host: worker 0 serves map outputs, worker 1 reads a reduce partition.
struct WeirShuffle {
    reader: Arc<WorkerEnv>,
    locations: ShuffleLocations,
    /// Block bytes in the reduce partition.
    bytes: u64,
    _runtimes: [tokio::runtime::Runtime; 2],
    _spill: tempfile::TempDir,
}

fn worker_runtime(name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
}

impl WeirShuffle {
    fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let spill = tempfile::tempdir()?;
        let secret = Arc::new(Secret::generate());
        let options = JobOptions::default();

        // Worker 0: the map outputs and the block server.
        let server_rt = worker_runtime("weir-w0-net")?;
        let store = ShuffleStore::new(u64::MAX / 2, spill.path().join("w0"));
        let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?.to_string();
        server_rt.spawn(serve_blocks(
            listener,
            store.clone(),
            weir_engine::exchange::Mailbox::new(),
            secret.clone(),
            0,
        ));
        let holder = WorkerEnv::new(0, Plan::new(), store, None, options.clone())?;
        let blocks_per_map = TOTAL_BYTES.div_ceil(MAPS * word_block(0).len());
        let mut bytes = 0u64;
        for map in 0..MAPS {
            let block = word_block(map as u64 + 1);
            let tc = TaskContext::new(holder.clone(), map, 0, ShuffleLocations::default());
            let mut writer = tc.shuffle_writer(SHUFFLE, map, 1);
            for _ in 0..blocks_per_map {
                writer.put(0, block.clone())?;
                bytes += block.len() as u64;
            }
            writer.commit()?;
        }

        // Worker 1: the reading side, with its own runtime for the fetcher.
        let reader_rt = worker_runtime("weir-w1-net")?;
        let network = weir_engine::exchange::Network {
            runtime: reader_rt.handle().clone(),
            secret,
        };
        let reader = WorkerEnv::new(
            1,
            Plan::new(),
            ShuffleStore::new(0, spill.path().join("w1")),
            Some(network),
            options,
        )?;
        let locations = ShuffleLocations {
            shuffles: BTreeMap::from([(SHUFFLE, vec![Some(0); MAPS])]),
            addresses: BTreeMap::from([(0, address)]),
        };
        Ok(WeirShuffle {
            reader,
            locations,
            bytes,
            _runtimes: [server_rt, reader_rt],
            _spill: spill,
        })
    }

    /// Reads the reduce partition as a reduce task would; returns the block bytes read (and
    /// folds every record when `decode`).
    fn round(&self, decode: bool) -> u64 {
        let tc = TaskContext::new(self.reader.clone(), 0, 0, self.locations.clone());
        let mut bytes = 0u64;
        let mut fold = 0u64;
        for block in tc.read_shuffle(SHUFFLE, 0).expect("shuffle readable") {
            let block = block.expect("block fetched");
            bytes += block.len() as u64;
            let records = BlockRecords::<(String, u64)>::new(block).expect("valid block");
            if decode {
                for record in records {
                    let (word, count) = record.expect("decodable record");
                    fold = fold.wrapping_add(word.len() as u64 + count);
                }
            }
        }
        std::hint::black_box(fold);
        assert_eq!(bytes, self.bytes, "the whole partition was read");
        bytes
    }
}

fn shuffle_loopback(c: &mut Criterion) {
    let weir = WeirShuffle::new().expect("starting the shuffle server and fetcher");
    let mut raw = RawCopy::new(weir.bytes).expect("connecting loopback sockets");

    let mut group = c.benchmark_group("shuffle_loopback");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(weir.bytes));
    group.bench_function("raw_tcp_copy", |b| b.iter(|| raw.round(weir.bytes)));
    group.bench_function("weir_fetch", |b| b.iter(|| weir.round(false)));
    // Decoding every record takes seconds per round: enough time for ten of them.
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("weir_fetch_decode", |b| b.iter(|| weir.round(true)));
    group.finish();
}

criterion_group!(benches, shuffle_loopback);
criterion_main!(benches);
