//! Tests of sessions: partitions that keep their state across steps and push to each
//! other, in one process and across two workers talking over loopback TCP.

use std::net::SocketAddr;

use super::*;
use crate::auth::Secret;
use crate::context::JobContext;
use crate::driver::{run_driver, DriverConfig};
use crate::local::run_local;
use crate::plan::{Dependency, NodeId, PlanNode, ResultTask, SessionTask};
use crate::protocol::JobOptions;
use crate::worker::{run_worker, JobFn, JobResolver, WorkerConfig};

/// A persisted node of `n` partitions, filled by [`Fill`].
pub(super) struct Numbers(pub(super) usize);
impl PlanNode for Numbers {
    fn name(&self) -> &str {
        "numbers"
    }
    fn num_partitions(&self) -> usize {
        self.0
    }
    fn dependencies(&self) -> &[Dependency] {
        &[]
    }
    fn is_persisted(&self) -> bool {
        true
    }
}

/// Caches `[10 p]` as partition `p`.
pub(super) struct Fill(pub(super) NodeId);
impl ResultTask for Fill {
    fn run(&self, p: usize, tc: &TaskContext) -> Result<Vec<u8>, TaskError> {
        tc.store_cached(self.0, p, Arc::new(vec![10 * p as u64]));
        Ok(Vec::new())
    }
}

/// Each partition passes its value to the next one around a ring every step and adds
/// the step's control byte to what it receives.
struct Ring(NodeId);
struct RingPartition {
    partition: usize,
    value: u64,
}
impl SessionTask for Ring {
    fn node(&self) -> NodeId {
        self.0
    }
    fn open(&self, p: usize, tc: &TaskContext) -> Result<Box<dyn SessionPartition>, TaskError> {
        let value = tc.cached::<u64>(self.0, p).expect("cached")[0];
        Ok(Box::new(RingPartition {
            partition: p,
            value,
        }))
    }
}
impl SessionPartition for RingPartition {
    fn step(
        &mut self,
        step: u64,
        control: &[u8],
        inbox: Vec<bytes::Bytes>,
        outbox: &mut Outbox<'_>,
    ) -> Result<Vec<u8>, TaskError> {
        if step > 0 {
            assert_eq!(inbox.len(), 1, "one batch from the previous partition");
            let got = u64::from_le_bytes(inbox[0][..8].try_into().unwrap());
            self.value = got + u64::from(control[0]);
        }
        let next = (self.partition + 1) % outbox.partitions();
        outbox.send(next, self.value.to_le_bytes().to_vec())?;
        Ok(self.value.to_le_bytes().to_vec())
    }
    fn finish(&mut self, _tc: &TaskContext) -> Result<Vec<u8>, TaskError> {
        Ok(self.value.to_le_bytes().to_vec())
    }
}

fn as_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().unwrap())
}

/// The ring job: fills a cached node of four partitions, then runs six steps of the ring
/// session, checking every step's reports and the results.
fn ring_job(ctx: &JobContext) -> crate::Result<()> {
    let n = 4;
    let node = ctx.plan().add_node(Arc::new(Numbers(n)));
    let _held = ctx.plan().hold(node);
    ctx.run_action("fill", node, Arc::new(Fill(node)), |_| Ok(()))?;
    let steps = 6u64;
    let mut seen = Vec::new();
    let results = ctx.run_session("ring", Arc::new(Ring(node)), vec![1], |step, reports| {
        seen.push(reports.iter().map(|r| as_u64(r)).collect::<Vec<_>>());
        Ok((step + 1 < steps).then(|| vec![1]))
    })?;
    if !ctx.is_driver() {
        return Ok(());
    }
    // After step s, partition p holds 10 ((p - s) mod n) + s.
    for (s, values) in seen.iter().enumerate() {
        for (p, v) in values.iter().enumerate() {
            let from = (p + n * steps as usize - s) % n;
            assert_eq!(*v, 10 * from as u64 + s as u64, "step {s}, partition {p}");
        }
    }
    let last: Vec<u64> = results.partitions.iter().map(|r| as_u64(r)).collect();
    assert_eq!(&last, seen.last().unwrap());
    Ok(())
}

fn options(workers: usize, threads: usize) -> JobOptions {
    JobOptions {
        workers,
        threads,
        parallelism: 4,
        ..JobOptions::default()
    }
}

#[test]
fn partitions_keep_their_state_and_push_to_each_other_in_one_process() {
    run_local("ring", &[], options(1, 2), Default::default(), ring_job).unwrap();
}

/// Partitions push their value to service shard `p mod 2` every step; each shard adds
/// what it gets to its total and answers the sender with the total so far.
struct Tally(NodeId);
struct TallyPartition {
    partition: usize,
    value: u64,
}
struct TallyShard(u64);
impl SessionTask for Tally {
    fn node(&self) -> NodeId {
        self.0
    }
    fn open(&self, p: usize, tc: &TaskContext) -> Result<Box<dyn SessionPartition>, TaskError> {
        let value = tc.cached::<u64>(self.0, p).expect("cached")[0];
        Ok(Box::new(TallyPartition {
            partition: p,
            value,
        }))
    }
    fn services(&self) -> u32 {
        2
    }
    fn open_service(&self, _shard: u32) -> Result<Box<dyn service::SessionService>, TaskError> {
        Ok(Box::new(TallyShard(0)))
    }
}
impl SessionPartition for TallyPartition {
    fn step(
        &mut self,
        step: u64,
        _control: &[u8],
        inbox: Vec<bytes::Bytes>,
        outbox: &mut Outbox<'_>,
    ) -> Result<Vec<u8>, TaskError> {
        assert!(inbox.is_empty(), "answers do not wait for a step's inbox");
        let shard = (self.partition % 2) as u32;
        let mut request = (self.partition as u32).to_le_bytes().to_vec();
        request.extend_from_slice(&self.value.to_le_bytes());
        outbox.send_to_service(shard, step, request)?;
        let answer = outbox.receive(Duration::from_secs(20))?;
        assert_eq!(
            answer.header.tag, step,
            "the answer carries the request's tag"
        );
        Ok(answer.payload.to_vec())
    }
    fn finish(&mut self, _tc: &TaskContext) -> Result<Vec<u8>, TaskError> {
        Ok(Vec::new())
    }
}
impl service::SessionService for TallyShard {
    fn handle(
        &mut self,
        from: WorkerId,
        tag: u64,
        payload: bytes::Bytes,
        replies: &mut service::Replies<'_>,
    ) -> Result<(), TaskError> {
        // A request is the sending partition (u32) and its value (u64).
        if payload.len() != 12 {
            return Err(TaskError::failed(format!(
                "a tally of {} bytes from worker {from}",
                payload.len()
            )));
        }
        let partition = u32::from_le_bytes(payload[..4].try_into().unwrap());
        if replies.worker_of(partition) != Some(from) {
            return Err(TaskError::failed(format!(
                "worker {from} does not hold partition {partition}"
            )));
        }
        self.0 += as_u64(&payload[4..]);
        replies.to_partition(partition, tag, self.0.to_le_bytes().to_vec())
    }
    fn finish(&mut self) -> Result<Vec<u8>, TaskError> {
        Ok(self.0.to_le_bytes().to_vec())
    }
}

/// The tally job: three steps of four partitions over two shards. Partitions 0 and 2
/// (values 0 and 20) go to shard 0, 1 and 3 (10 and 30) to shard 1.
fn tally_job(ctx: &JobContext) -> crate::Result<()> {
    let node = ctx.plan().add_node(Arc::new(Numbers(4)));
    let _held = ctx.plan().hold(node);
    ctx.run_action("fill", node, Arc::new(Fill(node)), |_| Ok(()))?;
    let mut answers = Vec::new();
    let results = ctx.run_session("tally", Arc::new(Tally(node)), vec![0], |step, reports| {
        answers.push(reports.iter().map(|r| as_u64(r)).collect::<Vec<_>>());
        Ok((step < 2).then(Vec::new))
    })?;
    if !ctx.is_driver() {
        return Ok(());
    }
    let totals: Vec<u64> = results.services.iter().map(|r| as_u64(r)).collect();
    assert_eq!(totals, vec![3 * 20, 3 * 40]);
    for (step, got) in answers.iter().enumerate() {
        // Each answer is its shard's total after the request: at least the requests of
        // the steps before and the sender's own.
        for (p, total) in got.iter().enumerate() {
            let per_step = if p % 2 == 0 { 20 } else { 40 };
            let own = 10 * p as u64;
            assert!(
                *total >= per_step * step as u64 + own,
                "step {step}, partition {p}: {total}"
            );
            assert!(
                *total <= per_step * (step as u64 + 1),
                "step {step}, partition {p}: {total}"
            );
        }
    }
    Ok(())
}

#[test]
fn services_answer_the_partitions_in_one_process() {
    run_local("tally", &[], options(1, 2), Default::default(), tally_job).unwrap();
}

#[test]
fn services_answer_the_partitions_across_workers_over_tcp() {
    let metrics = run_two_workers("tally", tally_job);
    assert_eq!(metrics.workers_detail.len(), 2);
}

struct RingResolver;
impl JobResolver for RingResolver {
    fn resolve(&self, job: &str, _args: &[String]) -> Result<JobFn, String> {
        match job {
            "ring" => Ok(Box::new(ring_job)),
            "tally" => Ok(Box::new(tally_job)),
            other => Err(format!("unknown job {other}")),
        }
    }
}

#[test]
fn partitions_push_to_each_other_across_workers_over_tcp() {
    let metrics = run_two_workers("ring", ring_job);
    // Both workers held partitions of the ring: the pushes crossed the network.
    assert_eq!(metrics.workers_detail.len(), 2);
    assert!(metrics.workers_detail.iter().all(|w| w.tasks > 0));
}

/// Runs `job` with a driver and two worker threads talking over loopback TCP.
fn run_two_workers(name: &str, job: fn(&JobContext) -> crate::Result<()>) -> crate::JobMetrics {
    let secret = Secret::new(b"session test".to_vec());
    let mut threads = Vec::new();
    let config = DriverConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        secret: secret.clone(),
        workers: 2,
        join_timeout: Duration::from_secs(30),
        heartbeat_timeout: Duration::from_secs(10),
        job: name.into(),
        args: Vec::new(),
        options: options(2, 1),
        observers: Default::default(),
    };
    let metrics = run_driver(
        config,
        |address| {
            for _ in 0..2 {
                let worker = WorkerConfig {
                    driver: address.to_string(),
                    secret: secret.clone(),
                    connect_timeout: Duration::from_secs(10),
                    heartbeat: Duration::from_millis(500),
                };
                threads.push(std::thread::spawn(move || {
                    run_worker(worker, &RingResolver)
                }));
            }
            Ok(())
        },
        job,
    )
    .unwrap();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    metrics
}
