//! Progress a session's partitions report during a step (`Outbox::record`): it reaches
//! the run's event log as it is made, only when the driver records events, and a worker
//! that reports an event of a kind partitions may not report is evicted.

use super::tests::{Fill, Numbers};
use super::*;
use crate::context::JobContext;
use crate::local::run_local;
use crate::observe::{read_log, EventLog};
use crate::plan::{NodeId, SessionTask};
use crate::protocol::JobOptions;
use crate::scheduler::Observers;

/// Every partition reports `event(step, partition)` at every step.
struct Reporter {
    node: NodeId,
    event: fn(u64, usize) -> Event,
}
struct ReporterPartition {
    partition: usize,
    event: fn(u64, usize) -> Event,
}
impl SessionTask for Reporter {
    fn node(&self) -> NodeId {
        self.node
    }
    fn open(&self, p: usize, _tc: &TaskContext) -> Result<Box<dyn SessionPartition>, TaskError> {
        Ok(Box::new(ReporterPartition {
            partition: p,
            event: self.event,
        }))
    }
}
impl SessionPartition for ReporterPartition {
    fn step(
        &mut self,
        step: u64,
        _control: &[u8],
        _inbox: Vec<bytes::Bytes>,
        outbox: &mut Outbox<'_>,
    ) -> Result<Vec<u8>, TaskError> {
        outbox.record(&[(self.event)(step, self.partition)]);
        Ok(Vec::new())
    }
    fn finish(&mut self, _tc: &TaskContext) -> Result<Vec<u8>, TaskError> {
        Ok(Vec::new())
    }
}

const STEPS: u64 = 3;
const PARTITIONS: usize = 4;

fn clock(step: u64, partition: usize) -> Event {
    Event::Clock {
        trainer: partition as u32,
        worker: None,
        clock: step,
        loss: 0.5,
        staleness: 0,
    }
}

fn job_end(_: u64, _: usize) -> Event {
    Event::JobEnd {
        ok: true,
        error: None,
    }
}

/// Runs the reporter session in one process with an event log; returns the run's outcome
/// and the log's events.
fn run(event: fn(u64, usize) -> Event, record_events: bool) -> (bool, Vec<Event>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let log = EventLog::start(Some(&path), None).unwrap();
    let observers = Observers {
        progress: None,
        recorder: Some(log.recorder()),
    };
    let options = JobOptions {
        threads: 2,
        parallelism: PARTITIONS,
        record_events,
        ..JobOptions::default()
    };
    let job = |ctx: &JobContext| {
        let node = ctx.plan().add_node(Arc::new(Numbers(PARTITIONS)));
        let _held = ctx.plan().hold(node);
        ctx.run_action("fill", node, Arc::new(Fill(node)), |_| Ok(()))?;
        let task = Arc::new(Reporter { node, event });
        ctx.run_session("reporter", task, Vec::new(), |step, _| {
            Ok((step + 1 < STEPS).then(Vec::new))
        })?;
        Ok(())
    };
    let ok = run_local("reporter", &[], options, observers, job).is_ok();
    log.finish().unwrap();
    let events = read_log(&path).unwrap().events;
    (ok, events.into_iter().map(|s| s.event).collect())
}

#[test]
fn progress_reaches_the_event_log_during_the_steps() {
    let (ok, events) = run(clock, true);
    assert!(ok);
    let mut clocks: Vec<(u32, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Clock {
                trainer,
                clock,
                worker,
                ..
            } => {
                assert_eq!(*worker, Some(0), "the driver names the reporting worker");
                Some((*trainer, *clock))
            }
            _ => None,
        })
        .collect();
    clocks.sort_unstable();
    let want: Vec<(u32, u64)> = (0..PARTITIONS as u32)
        .flat_map(|p| (0..STEPS).map(move |s| (p, s)))
        .collect();
    assert_eq!(clocks, want);
    // Each step's progress is in before that step's barrier.
    let first_barrier = events
        .iter()
        .position(|e| matches!(e, Event::SessionStep { step: 0, .. }))
        .unwrap();
    let step_zero_clocks = events[..first_barrier]
        .iter()
        .filter(|e| matches!(e, Event::Clock { clock: 0, .. }))
        .count();
    assert_eq!(step_zero_clocks, PARTITIONS);
}

#[test]
fn no_progress_is_sent_when_the_driver_records_none() {
    let (ok, events) = run(clock, false);
    assert!(ok);
    assert!(!events.iter().any(|e| matches!(e, Event::Clock { .. })));
}

#[test]
fn a_worker_reporting_another_kind_of_event_is_evicted() {
    let (ok, events) = run(job_end, true);
    assert!(!ok, "the only worker was evicted: the job cannot go on");
    let evicted = events.iter().find_map(|e| match e {
        Event::WorkerEvicted { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    let reason = evicted.expect("the worker was evicted");
    assert!(reason.contains("reported a job_end event"), "{reason}");
    let ends = events
        .iter()
        .filter(|e| matches!(e, Event::JobEnd { .. }))
        .count();
    assert_eq!(ends, 1, "only the driver's own job_end is in the log");
}
