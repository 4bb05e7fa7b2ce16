//! The job's handle on the engine: [`JobContext`].
//!
//! Every process runs the job function with its own `JobContext` (code is everywhere, only
//! values travel). On the driver the context runs actions through the scheduler; on a worker
//! (a *follower*) it only builds the plan, so the worker's tasks can find the same nodes,
//! shuffles and actions by position. Whatever the job function learns at run time (an
//! action's result, a broadcast value, the list of input splits) comes from the driver's
//! *value log*: the driver computes value `k`, sends it to every worker, and a worker's job
//! thread waits for value `k` where the driver computed it. So all processes take the same
//! path through the job function and build the same plan.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::observe::{Event, Recorder};
use crate::plan::{NodeId, Plan, ResultTask, SessionTask};
use crate::protocol::JobOptions;
use crate::scheduler::{Scheduler, SessionOutcome, SessionResults, SessionRun};
use crate::shuffle::block::{decode_value, encode_value};
use crate::task::add_to_current_task_counter;

/// Values a follower receives from the driver, in order.
#[derive(Default)]
pub struct ValueInbox {
    state: Mutex<(Vec<Vec<u8>>, Option<String>)>,
    arrived: Condvar,
}

impl ValueInbox {
    /// An inbox holding `values` already.
    pub fn with_values(values: Vec<Vec<u8>>) -> Arc<Self> {
        Arc::new(ValueInbox {
            state: Mutex::new((values, None)),
            arrived: Condvar::new(),
        })
    }

    /// Delivers value `seq` (values arrive in order; a repeat is ignored).
    pub fn push(&self, seq: u64, bytes: Vec<u8>) {
        let mut s = self.state.lock();
        if seq as usize == s.0.len() {
            s.0.push(bytes);
        }
        self.arrived.notify_all();
    }

    /// Ends the wait of the job thread: the job is over.
    pub fn close(&self, reason: &str) {
        let mut s = self.state.lock();
        if s.1.is_none() {
            s.1 = Some(reason.to_string());
        }
        self.arrived.notify_all();
    }

    fn get(&self, seq: u64) -> Result<Vec<u8>> {
        let mut s = self.state.lock();
        loop {
            if let Some(v) = s.0.get(seq as usize) {
                return Ok(v.clone());
            }
            if let Some(reason) = &s.1 {
                return Err(Error::Stopped(reason.clone()));
            }
            self.arrived.wait(&mut s);
        }
    }
}

/// Sends each new driver value to the workers.
pub type ValuePublisher = Box<dyn Fn(u64, &[u8]) + Send + Sync>;

enum Role {
    Driver {
        scheduler: Box<Mutex<Scheduler>>,
        publish: ValuePublisher,
        /// The run's event log, if it keeps one.
        recorder: Option<Recorder>,
    },
    Follower {
        inbox: Arc<ValueInbox>,
    },
}

struct Inner {
    plan: Arc<Plan>,
    options: JobOptions,
    role: Role,
    next_value: AtomicU64,
    result: Mutex<serde_json::Map<String, serde_json::Value>>,
    driver_counters: Mutex<BTreeMap<String, Arc<AtomicI64>>>,
}

/// A job's handle on the engine. Cheap to clone.
#[derive(Clone)]
pub struct JobContext {
    inner: Arc<Inner>,
}

/// A value computed on the driver and shared with every task.
#[derive(Debug)]
pub struct Broadcast<T>(Arc<T>);

impl<T> Clone for Broadcast<T> {
    fn clone(&self) -> Self {
        Broadcast(self.0.clone())
    }
}

impl<T> Broadcast<T> {
    /// The value.
    pub fn value(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::Deref for Broadcast<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A counter (accumulator): tasks add to it, the driver sums successful attempts.
#[derive(Debug, Clone)]
pub struct Counter {
    name: Arc<str>,
    driver_side: Arc<AtomicI64>,
}

impl Counter {
    /// Adds `delta`: to the running task's tally inside a task, directly on the driver.
    #[inline]
    pub fn add(&self, delta: i64) {
        if !add_to_current_task_counter(&self.name, delta) {
            self.driver_side.fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// The counter's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl JobContext {
    /// The driver's context: actions run through `scheduler`, values go out through `publish`.
    pub fn driver(
        plan: Arc<Plan>,
        options: JobOptions,
        scheduler: Scheduler,
        publish: ValuePublisher,
    ) -> Self {
        let recorder = scheduler.recorder();
        Self::new(
            plan,
            options,
            Role::Driver {
                scheduler: Box::new(Mutex::new(scheduler)),
                publish,
                recorder,
            },
        )
    }

    /// A worker's context: builds the plan, takes values from `inbox`.
    pub fn follower(plan: Arc<Plan>, options: JobOptions, inbox: Arc<ValueInbox>) -> Self {
        Self::new(plan, options, Role::Follower { inbox })
    }

    fn new(plan: Arc<Plan>, options: JobOptions, role: Role) -> Self {
        JobContext {
            inner: Arc::new(Inner {
                plan,
                options,
                role,
                next_value: AtomicU64::new(0),
                result: Mutex::default(),
                driver_counters: Mutex::default(),
            }),
        }
    }

    /// The plan being built.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.inner.plan
    }

    /// The job's options.
    pub fn options(&self) -> &JobOptions {
        &self.inner.options
    }

    /// Default number of partitions.
    pub fn parallelism(&self) -> usize {
        self.inner.options.parallelism.max(1)
    }

    /// Whether this process is the driver (the one that prints and writes results).
    pub fn is_driver(&self) -> bool {
        matches!(self.inner.role, Role::Driver { .. })
    }

    /// Whether the job should print its summary here: on the driver, unless the run is silent.
    pub fn should_print(&self) -> bool {
        self.is_driver() && !self.inner.options.silent
    }

    /// Computes a value on the driver and hands the same value to every process's job
    /// function. `compute` runs on the driver only; on workers its result is ignored.
    pub fn driver_value<T, F>(&self, compute: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T>,
    {
        let seq = self.inner.next_value.fetch_add(1, Ordering::SeqCst);
        match &self.inner.role {
            Role::Driver { publish, .. } => {
                let value = compute()?;
                let bytes = encode_value(&value)?;
                publish(seq, &bytes);
                Ok(value)
            }
            Role::Follower { inbox } => Ok(decode_value(&inbox.get(seq)?)?),
        }
    }

    /// Runs an action on `node`: `task` runs on every partition (on the workers), `finish`
    /// turns the partitions' bytes into the result (on the driver), and every process gets
    /// that result.
    pub fn run_action<R, F>(
        &self,
        name: &str,
        node: NodeId,
        task: Arc<dyn ResultTask>,
        finish: F,
    ) -> Result<R>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce(Vec<Vec<u8>>) -> Result<R>,
    {
        let action = self.inner.plan.add_action(name, node, task);
        self.driver_value(|| match &self.inner.role {
            Role::Driver { scheduler, .. } => {
                let parts = scheduler.lock().run_action(action)?;
                finish(parts)
            }
            Role::Follower { .. } => unreachable!("compute runs on the driver only"),
        })
    }

    /// Runs session `task` (long-lived partitions stepped by the driver's barrier) from
    /// `control`, the first step's control bytes, until `master` ends it; returns each
    /// partition's and service shard's result. A lost worker fails it (see [`run_session_attempt`] for runs
    /// that recover).
    ///
    /// [`run_session_attempt`]: JobContext::run_session_attempt
    pub fn run_session<F>(
        &self,
        name: &str,
        task: Arc<dyn SessionTask>,
        control: Vec<u8>,
        master: F,
    ) -> Result<SessionResults>
    where
        F: FnMut(u64, &[Vec<u8>]) -> Result<Option<Vec<u8>>>,
    {
        match self.run_session_attempt(name, task, control, &SessionRun::default(), master)? {
            SessionOutcome::Closed(results) => Ok(results),
            SessionOutcome::Lost { step, workers, .. } => Err(Error::job(format!(
                "session {name} lost worker(s) {workers:?} at step {step}"
            ))),
        }
    }

    /// Runs one attempt of session `task` as `run` says (checkpoints, a checkpoint to
    /// restore); every process gets the same outcome, so the job can decide alike
    /// everywhere how to go on after a lost worker.
    pub fn run_session_attempt<F>(
        &self,
        name: &str,
        task: Arc<dyn SessionTask>,
        control: Vec<u8>,
        run: &SessionRun,
        mut master: F,
    ) -> Result<SessionOutcome>
    where
        F: FnMut(u64, &[Vec<u8>]) -> Result<Option<Vec<u8>>>,
    {
        let session = self.inner.plan.add_session(name, task);
        self.driver_value(|| match &self.inner.role {
            Role::Driver { scheduler, .. } => {
                scheduler
                    .lock()
                    .run_session(session, control, run, &mut master)
            }
            Role::Follower { .. } => unreachable!("compute runs on the driver only"),
        })
    }

    /// Shares `value` (as computed on the driver) with every task.
    pub fn broadcast<T>(&self, value: T) -> Result<Broadcast<T>>
    where
        T: Serialize + DeserializeOwned,
    {
        let v = self.driver_value(move || Ok(value))?;
        Ok(Broadcast(Arc::new(v)))
    }

    /// A counter named `name`.
    pub fn counter(&self, name: &str) -> Counter {
        let driver_side = self
            .inner
            .driver_counters
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone();
        Counter {
            name: name.into(),
            driver_side,
        }
    }

    /// Current counter totals (successful task attempts plus driver-side additions), the
    /// same in every process.
    pub fn counter_values(&self) -> Result<BTreeMap<String, i64>> {
        self.driver_value(|| Ok(self.counters_now()))
    }

    fn counters_now(&self) -> BTreeMap<String, i64> {
        let mut totals = match &self.inner.role {
            Role::Driver { scheduler, .. } => scheduler.lock().counters(),
            Role::Follower { .. } => BTreeMap::new(),
        };
        for (k, v) in self.inner.driver_counters.lock().iter() {
            let v = v.load(Ordering::Relaxed);
            if v != 0 {
                *totals.entry(k.clone()).or_default() += v;
            }
        }
        totals
    }

    /// Records a job-specific figure for the metrics (`result` in the metrics JSON).
    pub fn set_result(&self, key: &str, value: impl Serialize) {
        if self.is_driver() {
            if let Ok(v) = serde_json::to_value(value) {
                self.inner.result.lock().insert(key.to_string(), v);
            }
        }
    }

    /// The metrics so far (driver only; empty on workers).
    pub fn metrics(&self) -> crate::metrics::JobMetrics {
        let mut m = match &self.inner.role {
            Role::Driver { scheduler, .. } => scheduler.lock().metrics(),
            Role::Follower { .. } => Default::default(),
        };
        m.counters = self.counters_now();
        m.result = self.inner.result.lock().clone();
        m.threads = self.inner.options.threads;
        m.workers = self.inner.options.workers;
        m
    }

    /// Records an event of the job's own (a Pregel superstep, a parameter-server clock) in
    /// the run's event log: on the driver, when it keeps one; elsewhere nothing happens.
    /// `event` is only called when the event is written.
    pub fn record(&self, event: impl FnOnce() -> Event) {
        if let Role::Driver {
            recorder: Some(r), ..
        } = &self.inner.role
        {
            r.record(event());
        }
    }

    /// Runs `f` with the driver's scheduler (driver only).
    pub fn with_scheduler<R>(&self, f: impl FnOnce(&mut Scheduler) -> R) -> Option<R> {
        match &self.inner.role {
            Role::Driver { scheduler, .. } => Some(f(&mut scheduler.lock())),
            Role::Follower { .. } => None,
        }
    }
}
