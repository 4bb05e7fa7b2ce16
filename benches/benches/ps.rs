//! Parameter-server push and pull of large batches over loopback TCP against a raw TCP
//! copy of the same bytes, side by side in one criterion group (`ps_loopback`), in bytes/s:
//!
//! * `raw_tcp_copy`: the bytes of a round, written one way in 1 MiB writes (see
//!   `common::RawCopy`): the ceiling.
//! * `weir_push`: a trainer on worker A pushes `BATCHES` gradients of `KEYS` keys each to a
//!   shard on worker B, as `PsClient::push` does: encoded with the parameter server's wire
//!   format (`encode_push`: values as raw `f32`, and the keys as their count, since the
//!   shard was sent the same list before: key caching, `SentKeys`) and sent through
//!   the engine's push exchange (`Pusher` → an authenticated link → B's data server →
//!   B's `Mailbox` subscription). The shard thread decodes each push, a `ServerShard`
//!   (SGD, asynchronous) applies it, and the thread acknowledges it; a round ends when
//!   every push is acknowledged.
//! * `weir_pull`: the trainer sends `BATCHES` pulls of `KEYS` keys; the shard thread
//!   decodes each, the `ServerShard` gathers the answer and the thread sends it back
//!   through its own pusher; the trainer decodes every answer into its values. The
//!   round's bytes are the pulls' and the answers'.
//!
//! The keys are listed to the shard once, before the first round; a round's bytes are the
//! bytes a trainer that pushes and pulls the same keys again sends and receives, and the
//! raw copy moves as many.
//!
//! And `ps_restore/shard_10M`: a shard of 10M parameters under AdaGrad (values and
//! optimiser state, 80 MB) restored on a new worker the way recovery does it: its
//! snapshot handed over from the replica's worker through the push exchange, then
//! `ServerShard::restore`. The time of one restore is the figure.
//!
//! Run with `cargo bench --bench ps`.

mod common;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use weir_engine::auth::Secret;
use weir_engine::exchange::{Delivery, Mailbox, Network, Pusher};
use weir_engine::shuffle::fetch::serve_blocks;
use weir_engine::shuffle::ShuffleStore;
use weir_operators::ps::wire::{encode_pull, encode_push, Answer, OutgoingKeys, Request};
use weir_operators::ps::{
    AdaGrad, Consistency, KeyLayout, KeySet, SentKeys, ServerShard, Sgd, ShardSpec,
};

use common::RawCopy;

/// Keys per pushed or pulled batch (one `f32` each).
const KEYS: usize = 1 << 20;
/// Batches per round, sent back to back.
const BATCHES: usize = 16;
const CHANNEL: u64 = 1;
/// The channel snapshots travel on.
const SNAPSHOTS: u64 = 2;
/// Parameters of the restored shard.
const RESTORED_KEYS: u64 = 10_000_000;
/// The shard's target at worker B, and the trainer's at worker A.
const SHARD: u32 = 1 << 31;
const TRAINER: u32 = 0;

/// A worker on loopback: its data server, its mailbox and its pusher.
struct Worker {
    id: u32,
    address: String,
    mailbox: Arc<Mailbox>,
    pusher: Arc<Pusher>,
    _spill: tempfile::TempDir,
}

fn start_worker(runtime: &tokio::runtime::Runtime, secret: &Arc<Secret>, id: u32) -> Worker {
    let spill = tempfile::tempdir().expect("a spill directory");
    let store = ShuffleStore::new(1 << 20, spill.path().to_path_buf());
    let mailbox = Mailbox::new();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let address = listener.local_addr().expect("bound").to_string();
    runtime.spawn(serve_blocks(
        listener,
        store,
        mailbox.clone(),
        secret.clone(),
        id,
    ));
    let network = Network {
        runtime: runtime.handle().clone(),
        secret: secret.clone(),
    };
    Worker {
        id,
        address,
        pusher: Arc::new(Pusher::new(Some(network), id, mailbox.clone())),
        mailbox,
        _spill: spill,
    }
}

/// Worker A's trainer and worker B's shard, each worker with its own runtime as separate
/// processes would have.
struct PsPair {
    trainer: Worker,
    /// The shard's worker and data address.
    shard_at: (u32, String),
    answers: crossbeam_channel::Receiver<Delivery>,
    /// Snapshots arriving at the shard's worker.
    snapshots: crossbeam_channel::Receiver<Delivery>,
    keys: KeySet,
    /// The keys last listed to the shard.
    sent: SentKeys,
    gradients: Vec<f32>,
    push_bytes: u64,
    pull_bytes: u64,
    _shard: JoinHandle<()>,
    _runtimes: [tokio::runtime::Runtime; 2],
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

impl PsPair {
    fn new() -> PsPair {
        let secret = Arc::new(Secret::new(b"ps bench".to_vec()));
        let (ra, rb) = (runtime(), runtime());
        let trainer = start_worker(&ra, &secret, 1);
        let shard = start_worker(&rb, &secret, 2);
        let answers = trainer.mailbox.subscribe(CHANNEL, TRAINER);
        let requests = shard.mailbox.subscribe(CHANNEL, SHARD);
        let snapshots = shard.mailbox.subscribe(SNAPSHOTS, SHARD);
        let back = (trainer.id, trainer.address.clone());
        let shard_at = (shard.id, shard.address.clone());
        let serving = std::thread::spawn(move || serve_shard(shard, requests, back));
        // Every other key: a sparse batch whose gaps still take a byte each.
        let keys = KeySet::new((0..KEYS as u64).map(|k| 2 * k).collect()).expect("sorted keys");
        let gradients: Vec<f32> = (0..KEYS).map(|i| (i % 97) as f32 * 1e-3).collect();
        let again = OutgoingKeys::Again(keys.len());
        let push_bytes = encode_push(0, 0, again, &gradients).len() as u64;
        let answer_bytes = Answer::encode(0, 0, &gradients).len() as u64;
        let pull_bytes = encode_pull(0, 0, 0, false, again).len() as u64 + answer_bytes;
        let mut pair = PsPair {
            trainer,
            shard_at,
            answers,
            snapshots,
            keys,
            sent: SentKeys::default(),
            gradients,
            push_bytes: push_bytes * BATCHES as u64,
            pull_bytes: pull_bytes * BATCHES as u64,
            _shard: serving,
            _runtimes: [ra, rb],
        };
        // List the keys to the shard once, as a trainer's first pull does.
        pair.pull_round(u64::MAX - BATCHES as u64);
        pair
    }

    fn send(&self, payload: Vec<u8>) {
        let (shard, address) = &self.shard_at;
        self.trainer
            .pusher
            .send(*shard, address, CHANNEL, 0, SHARD, payload)
            .expect("pushed to the shard");
    }

    /// Pushes a round's gradients and waits for every acknowledgement.
    fn push_round(&mut self) {
        for clock in 0..BATCHES as u64 {
            let keys = self.sent.outgoing(0, &self.keys, 0..KEYS);
            self.send(encode_push(0, clock, keys, &self.gradients));
        }
        for _ in 0..BATCHES {
            self.answers.recv().expect("an acknowledgement");
        }
    }

    /// Hands `snapshot` to the shard's worker and restores the shard from it there.
    fn restore(&self, spec: &ShardSpec, snapshot: &bytes::Bytes) -> ServerShard {
        let (shard, address) = &self.shard_at;
        self.trainer
            .pusher
            .send(*shard, address, SNAPSHOTS, 10, SHARD, snapshot.clone())
            .expect("snapshot sent");
        let arrived = self.snapshots.recv().expect("the snapshot arrived");
        ServerShard::restore(spec, 0, &arrived.payload).expect("a valid snapshot")
    }

    /// Pulls a round's batches, requests `first..`, and decodes every answer.
    fn pull_round(&mut self, first: u64) {
        for request in first..first + BATCHES as u64 {
            let keys = self.sent.outgoing(0, &self.keys, 0..KEYS);
            self.send(encode_pull(0, request, 0, false, keys));
        }
        let mut sum = 0.0f32;
        let mut values = vec![0.0f32; KEYS];
        for _ in 0..BATCHES {
            let answer = self.answers.recv().expect("an answer");
            Answer::decode_into(&answer.payload, &mut values).expect("a valid answer");
            sum += values[KEYS - 1];
        }
        std::hint::black_box(sum);
    }
}

/// The shard: a `ServerShard` of the keys `0..2 * KEYS` under SGD, asynchronous, that
/// applies pushes (acknowledging each) and answers pulls.
fn serve_shard(me: Worker, requests: crossbeam_channel::Receiver<Delivery>, back: (u32, String)) {
    let spec = ShardSpec {
        layout: KeyLayout::new(2 * KEYS as u64, 1, 1),
        trainers: 1,
        rule: Arc::new(Sgd { rate: 0.1 }),
        consistency: Consistency::Asp,
        checkpoint_every: 0,
        average_from: None,
    };
    let mut shard = ServerShard::new(&spec, 0, &|_, v: &mut [f32]| v[0] = 0.0);
    for delivery in requests {
        let reply = match Request::decode(&delivery.payload, 1).expect("a valid request") {
            Request::Push(push) => {
                shard.take_push(push).expect("a push that fits");
                Vec::new()
            }
            Request::Pull(pull) => shard.answer_bytes(&pull).expect("a pull that fits"),
        };
        let sent = me.pusher.send(back.0, &back.1, CHANNEL, 0, TRAINER, reply);
        if sent.is_err() {
            return;
        }
    }
}

fn ps_loopback(c: &mut Criterion) {
    let mut pair = PsPair::new();
    let mut raw_push = RawCopy::new(pair.push_bytes).expect("connecting loopback sockets");
    let mut raw_pull = RawCopy::new(pair.pull_bytes).expect("connecting loopback sockets");
    let mut group = c.benchmark_group("ps_loopback");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Bytes(pair.push_bytes));
    group.bench_function("raw_tcp_copy_push_bytes", |b| {
        b.iter(|| raw_push.round(pair.push_bytes))
    });
    group.bench_function("weir_push", |b| b.iter(|| pair.push_round()));
    group.throughput(Throughput::Bytes(pair.pull_bytes));
    group.bench_function("raw_tcp_copy_pull_bytes", |b| {
        b.iter(|| raw_pull.round(pair.pull_bytes))
    });
    group.bench_function("weir_pull", |b| b.iter(|| pair.pull_round(0)));
    group.finish();
}

fn ps_restore(c: &mut Criterion) {
    let pair = PsPair::new();
    let spec = ShardSpec {
        layout: KeyLayout::new(RESTORED_KEYS, 1, 1),
        trainers: 2,
        rule: Arc::new(AdaGrad {
            rate: 0.1,
            epsilon: 1e-8,
        }),
        consistency: Consistency::Bsp,
        checkpoint_every: 10,
        average_from: None,
    };
    let shard = ServerShard::new(&spec, 0, &|key, v: &mut [f32]| v[0] = key as f32 * 1e-7);
    let snapshot = bytes::Bytes::from(shard.snapshot());
    drop(shard);
    let mut group = c.benchmark_group("ps_restore");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(snapshot.len() as u64));
    group.bench_function("shard_10M", |b| {
        b.iter(|| {
            let restored = pair.restore(&spec, &snapshot);
            std::hint::black_box(restored.weights()[RESTORED_KEYS as usize - 1]);
        })
    });
    group.finish();
}

criterion_group!(benches, ps_loopback, ps_restore);
criterion_main!(benches);
