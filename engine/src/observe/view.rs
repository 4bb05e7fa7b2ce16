//! A run folded from its events: the job, its stages, task attempts, workers, Pregel
//! supersteps and parameter-server clocks, as the JSON API serves them and `/metrics`
//! counts them. The live UI and the history server fold the same events the same way, so
//! a finished run looks the same in both.

use std::collections::BTreeMap;

use serde::Serialize;

use super::event::{Event, Locality, Stamped, TaskFigures};

/// The job as a whole.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct JobView {
    pub name: String,
    pub args: Vec<String>,
    pub workers: usize,
    pub threads: usize,
    pub unix_seconds: f64,
    pub pid: u32,
    /// `running`, `finished`, `failed`.
    pub state: String,
    pub error: Option<String>,
    /// Seconds from the start to the end, or to the latest event while it runs.
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StageView {
    pub id: usize,
    pub name: String,
    pub parents: Vec<usize>,
    pub shuffle_map: bool,
    pub submitted: f64,
    pub completed: Option<f64>,
    /// Its partitions: one task each.
    pub tasks: usize,
    /// Successful attempts (a partition computed again counts again).
    pub succeeded: usize,
    pub failed: usize,
    pub running: usize,
    pub records_in: u64,
    pub records_out: u64,
    pub bytes_in: u64,
    pub shuffle_read_bytes: u64,
    pub shuffle_write_bytes: u64,
    pub task_seconds: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TaskView {
    pub task: u64,
    pub stage: usize,
    pub partition: usize,
    pub worker: u32,
    pub slot: usize,
    pub attempt: u32,
    pub locality: Locality,
    pub start: f64,
    pub end: Option<f64>,
    pub ok: Option<bool>,
    pub figures: Option<TaskFigures>,
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WorkerView {
    pub id: u32,
    pub host: String,
    pub pid: u32,
    pub slots: usize,
    pub address: String,
    pub joined: f64,
    /// `alive`, `lost` or `evicted`.
    pub state: String,
    pub reason: Option<String>,
    pub left: Option<f64>,
    pub tasks: usize,
    pub failed_tasks: usize,
    pub busy_seconds: f64,
    pub peak_rss_bytes: u64,
    pub shuffle_read_bytes: u64,
    pub shuffle_write_bytes: u64,
    /// Shuffle bytes this worker read from each worker.
    pub read_from: BTreeMap<u32, u64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SuperstepView {
    pub step: u64,
    pub t: f64,
    pub active_vertices: u64,
    pub messages: u64,
    pub delivered: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ClockView {
    pub t: f64,
    /// The worker the trainer ran on.
    pub worker: Option<u32>,
    pub clock: u64,
    pub loss: f64,
    pub staleness: u64,
}

/// A marked moment: a lost worker, a recomputation, a rollback, a restore.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Mark {
    pub t: f64,
    pub what: String,
}

/// Everything the events of a run say, folded.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RunView {
    pub job: JobView,
    pub stages: Vec<StageView>,
    pub tasks: Vec<TaskView>,
    pub workers: BTreeMap<u32, WorkerView>,
    pub supersteps: Vec<SuperstepView>,
    pub clocks: BTreeMap<u32, Vec<ClockView>>,
    pub marks: Vec<Mark>,
    pub events: usize,
    /// Index into `tasks` of each running attempt, by task id.
    #[serde(skip)]
    running: BTreeMap<u64, usize>,
}

impl RunView {
    /// Folds `events` from the start.
    pub fn of(events: &[Stamped]) -> RunView {
        let mut view = RunView::default();
        for e in events {
            view.apply(e);
        }
        view
    }

    /// The run's id: its job, start time and driver pid.
    pub fn id(&self) -> String {
        run_id(&self.job.name, self.job.unix_seconds, self.job.pid)
    }

    /// Adds one event.
    pub fn apply(&mut self, stamped: &Stamped) {
        let t = stamped.t;
        self.events += 1;
        if self.job.state == "running" {
            self.job.seconds = self.job.seconds.max(t);
        }
        match &stamped.event {
            Event::JobStart {
                job,
                args,
                workers,
                threads,
                unix_seconds,
                pid,
                ..
            } => {
                self.job = JobView {
                    name: job.clone(),
                    args: args.clone(),
                    workers: *workers,
                    threads: *threads,
                    unix_seconds: *unix_seconds,
                    pid: *pid,
                    state: "running".into(),
                    ..JobView::default()
                };
            }
            Event::JobEnd { ok, error } => {
                self.job.state = if *ok { "finished" } else { "failed" }.into();
                self.job.error = error.clone();
                self.job.seconds = t;
            }
            Event::WorkerJoined {
                worker,
                host,
                pid,
                slots,
                address,
            } => {
                self.workers.insert(
                    *worker,
                    WorkerView {
                        id: *worker,
                        host: host.clone(),
                        pid: *pid,
                        slots: *slots,
                        address: address.clone(),
                        joined: t,
                        state: "alive".into(),
                        ..WorkerView::default()
                    },
                );
            }
            Event::WorkerLost { worker, reason } => self.worker_left(t, *worker, "lost", reason),
            Event::WorkerEvicted { worker, reason } => {
                self.worker_left(t, *worker, "evicted", reason)
            }
            Event::StageSubmitted {
                stage,
                name,
                tasks,
                parents,
                shuffle_map,
                ..
            } => {
                let s = self.stage_mut(*stage);
                if s.tasks == 0 {
                    s.name = name.clone();
                    s.parents = parents.clone();
                    s.shuffle_map = *shuffle_map;
                    s.submitted = t;
                }
                s.tasks = *tasks;
                s.completed = None;
            }
            Event::StageCompleted { stage } => self.stage_mut(*stage).completed = Some(t),
            Event::TaskStart {
                task,
                stage,
                partition,
                worker,
                slot,
                attempt,
                locality,
            } => {
                self.stage_mut(*stage).running += 1;
                self.running.insert(*task, self.tasks.len());
                self.tasks.push(TaskView {
                    task: *task,
                    stage: *stage,
                    partition: *partition,
                    worker: *worker,
                    slot: *slot,
                    attempt: *attempt,
                    locality: *locality,
                    start: t,
                    end: None,
                    ok: None,
                    figures: None,
                    failure: None,
                });
            }
            Event::TaskEnd {
                task,
                stage,
                worker,
                ok,
                figures,
                failure,
                ..
            } => self.task_end(t, *task, *stage, *worker, *ok, figures, failure),
            Event::Recompute {
                reason,
                map_outputs,
                cached_partitions,
            } => self.mark(t, format!(
                "recompute {map_outputs} map outputs, {cached_partitions} cached partitions: {reason}"
            )),
            Event::SessionStep { .. } => {}
            Event::Superstep {
                step,
                active_vertices,
                messages,
                delivered,
            } => {
                // A rolled-back run does supersteps again: the latest figures stand.
                self.supersteps.retain(|s| s.step < *step);
                self.supersteps.push(SuperstepView {
                    step: *step,
                    t,
                    active_vertices: *active_vertices,
                    messages: *messages,
                    delivered: *delivered,
                });
            }
            Event::Checkpoint { step, complete, .. } => {
                if *complete {
                    self.mark(t, format!("checkpoint of step {step} complete"));
                }
            }
            Event::SessionLost {
                step,
                workers,
                restore_step,
                ..
            } => self.mark(t, match restore_step {
                Some(r) => format!("workers {workers:?} lost at step {step}: back to step {r}"),
                None => format!("workers {workers:?} lost at step {step}: restart"),
            }),
            Event::Clock {
                trainer,
                worker,
                clock,
                loss,
                staleness,
            } => self.clocks.entry(*trainer).or_default().push(ClockView {
                t,
                worker: *worker,
                clock: *clock,
                loss: *loss,
                staleness: *staleness,
            }),
            Event::ServerRestore { shards, clock } => {
                self.mark(t, format!("server shards {shards:?} restored at clock {clock}"))
            }
        }
    }

    fn mark(&mut self, t: f64, what: String) {
        self.marks.push(Mark { t, what });
    }

    fn stage_mut(&mut self, stage: usize) -> &mut StageView {
        while self.stages.len() <= stage {
            let id = self.stages.len();
            self.stages.push(StageView {
                id,
                ..StageView::default()
            });
        }
        &mut self.stages[stage]
    }

    fn worker_left(&mut self, t: f64, worker: u32, state: &str, reason: &str) {
        if let Some(w) = self.workers.get_mut(&worker) {
            if w.state == "alive" {
                w.state = state.into();
                w.reason = Some(reason.to_string());
                w.left = Some(t);
            }
        }
        self.mark(t, format!("worker {worker} {state}: {reason}"));
    }

    #[allow(clippy::too_many_arguments)]
    fn task_end(
        &mut self,
        t: f64,
        task: u64,
        stage: usize,
        worker: u32,
        ok: bool,
        figures: &TaskFigures,
        failure: &Option<String>,
    ) {
        if let Some(i) = self.running.remove(&task) {
            let view = &mut self.tasks[i];
            view.end = Some(t);
            view.ok = Some(ok);
            view.figures = Some(figures.clone());
            view.failure = failure.clone();
        }
        let s = self.stage_mut(stage);
        s.running = s.running.saturating_sub(1);
        s.task_seconds += figures.seconds;
        if ok {
            s.succeeded += 1;
            s.records_in += figures.records_in;
            s.records_out += figures.records_out;
            s.bytes_in += figures.bytes_in;
            s.shuffle_read_bytes += figures.shuffle_read_bytes;
            s.shuffle_write_bytes += figures.shuffle_write_bytes;
        } else {
            s.failed += 1;
        }
        if let Some(w) = self.workers.get_mut(&worker) {
            w.busy_seconds += figures.seconds;
            w.peak_rss_bytes = w.peak_rss_bytes.max(figures.peak_rss_bytes);
            if ok {
                w.tasks += 1;
                w.shuffle_read_bytes += figures.shuffle_read_bytes;
                w.shuffle_write_bytes += figures.shuffle_write_bytes;
                for &(from, bytes) in &figures.shuffle_read_from {
                    *w.read_from.entry(from).or_default() += bytes;
                }
            } else {
                w.failed_tasks += 1;
            }
        }
    }

    /// Task attempts by state: `(succeeded, failed, running)`.
    pub fn task_counts(&self) -> (usize, usize, usize) {
        let done = self.tasks.iter().filter(|t| t.ok == Some(true)).count();
        let failed = self.tasks.iter().filter(|t| t.ok == Some(false)).count();
        (done, failed, self.running.len())
    }
}

/// The id of a run: `JOB-UNIXSECONDS-PID`, also the stem of its file in an event log
/// directory.
pub fn run_id(job: &str, unix_seconds: f64, pid: u32) -> String {
    let job: String = job
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{job}-{}-{pid}", unix_seconds as u64)
}
