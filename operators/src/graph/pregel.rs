//! `Graph::pregel`: runs a [`VertexProgram`] as one session of long-lived partitions
//! (see `weir_engine::session`), the driver running only the barrier.
//!
//! ```text
//!  driver                                 worker A (partitions 0, 2)     worker B (1, 3)
//!  count the graph (builds the CSR partitions in worker memory, once)
//!  Open ────────────────────────────────▶ values and halted flags from the cached graph
//!  Step 0 {N, aggregates: default} ─────▶ compute every vertex ──batches──▶ (to B, to self)
//!                                         flush(0) ─────────────────────▶
//!        ◀──────────── {active, sent, aggregate} per partition
//!  reduce aggregates; master(0, &mut aggregates) → Continue or Halt
//!  stop if every vertex halted and nothing was sent, or at max_supersteps
//!  Step 1 {N, aggregates} ──────────────▶ wait for every worker's flush(0),
//!                                         inbox of superstep 0, compute active vertices …
//!  …
//!  Close ───────────────────────────────▶ each partition's values into worker memory
//!                                         as a partition of the output graph
//! ```
//!
//! The data never passes through the driver: batches go worker to worker, and the output
//! stays where it was computed, read by later stages like any persisted dataset.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use weir_engine::observe::Event;
use weir_engine::scheduler::{SessionOutcome, SessionRun};
use weir_engine::{Error, JobContext, Result};

use crate::dataset::{Data, Dataset, NodeBuilder, Records};
use crate::graph::aggregate::Aggregate;
use crate::graph::build::{Graph, GraphPart};
use crate::graph::partition::{Control, PregelTask, Report};
use crate::graph::program::{MasterDecision, VertexProgram};
use crate::graph::topology::VertexId;

/// How a Pregel run goes.
#[derive(Debug, Clone, Copy)]
pub struct PregelOptions {
    /// The run ends after this many supersteps even if vertices are still active.
    pub max_supersteps: u64,
    /// Checkpoint every this many supersteps (0: never); `None` takes the job's
    /// `--checkpoint-every` (10 unless set).
    pub checkpoint_every: Option<u64>,
}

impl Default for PregelOptions {
    fn default() -> Self {
        PregelOptions {
            max_supersteps: u64::MAX,
            checkpoint_every: None,
        }
    }
}

impl PregelOptions {
    /// At most `max_supersteps` supersteps, checkpoints as the job says.
    pub fn max_supersteps(max_supersteps: u64) -> Self {
        PregelOptions {
            max_supersteps,
            ..PregelOptions::default()
        }
    }
}

/// What a Pregel run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PregelStats {
    /// Supersteps run.
    pub supersteps: u64,
    /// Messages sent by `compute`, in all supersteps.
    pub messages: u64,
    /// Messages that crossed partitions in batches, after combining.
    pub delivered: u64,
    /// Vertices and (out-)edges of the graph.
    pub vertices: u64,
    pub edges: u64,
    /// Bytes the graph's structure takes in worker memory, all partitions together.
    pub graph_bytes: u64,
    /// Seconds spent building the graph in memory (if it was not there yet).
    pub load_seconds: f64,
    /// Seconds of the supersteps, from open to close.
    pub run_seconds: f64,
    /// Whether the run ended by itself (every vertex halted with no message in flight,
    /// or the master halted it) rather than at `max_supersteps`.
    pub converged: bool,
    /// Times the run went back to a checkpoint after losing a worker.
    pub rollbacks: u64,
    /// Times it started again from superstep 0 (a partition lost its checkpoint too).
    pub restarts: u64,
}

impl<V: Data, E: Data> Graph<V, E> {
    /// Runs `program` to the end and returns every vertex with its final value.
    pub fn pregel<P>(&self, program: P, options: PregelOptions) -> Result<Dataset<(VertexId, V)>>
    where
        P: VertexProgram<Value = V, Edge = E>,
    {
        Ok(self.run_pregel(program, options)?.0.vertices())
    }

    /// Runs `program` to the end; returns the graph with the final values (its structure
    /// shared with this one) and what the run did.
    ///
    /// When a worker is lost, the run goes back to the last complete checkpoint: the
    /// lost graph partitions are rebuilt from lineage on the survivors, the vertex values
    /// come from the checkpoint's replicas, and the supersteps since are run again. When
    /// a partition lost its checkpoint too, the run starts again from superstep 0. Either
    /// way the result is the one an undisturbed run gives, and the driver says so in one
    /// line.
    pub fn run_pregel<P>(
        &self,
        program: P,
        options: PregelOptions,
    ) -> Result<(Graph<V, E>, PregelStats)>
    where
        P: VertexProgram<Value = V, Edge = E>,
    {
        let ctx = self.parts.context().clone();
        let load = Instant::now();
        let sizes = self.sizes()?;
        let (vertices, edges, graph_bytes) = (sizes.vertices, sizes.edges, sizes.bytes);
        let index_bound = sizes.index_bound(self.num_partitions());
        let load_seconds = load.elapsed().as_secs_f64();
        let output = output_node::<V, E>(&ctx, self.num_partitions());
        let program = Arc::new(program);
        let control = |aggregated: P::Aggregates| {
            bincode::serialize(&Control {
                num_vertices: vertices,
                index_bound,
                aggregated,
            })
            .map_err(|e| Error::job(format!("a Pregel control message: {e}")))
        };
        let first = control(P::Aggregates::default())?;
        let mut barrier = Barrier::<P> {
            program: program.clone(),
            max_supersteps: options.max_supersteps,
            control: &control,
            per_step: Vec::new(),
            converged: false,
            ctx: ctx.clone(),
        };
        let run = SessionRun {
            checkpoint_every: options
                .checkpoint_every
                .unwrap_or(ctx.options().checkpoint_every),
            restore: None,
            resume_services: None,
        };
        let started = Instant::now();
        let (rollbacks, restarts) =
            self.attempts(&program, output.id(), &first, run, &mut barrier)?;
        let (messages, delivered) = barrier
            .per_step
            .iter()
            .fold((0, 0), |(m, d), s| (m + s.0, d + s.1));
        let stats = PregelStats {
            supersteps: barrier.per_step.len() as u64,
            messages,
            delivered,
            vertices,
            edges,
            graph_bytes,
            load_seconds,
            run_seconds: started.elapsed().as_secs_f64(),
            converged: barrier.converged,
            rollbacks,
            restarts,
        };
        let stats = ctx.driver_value(move || Ok(stats))?;
        let graph = Graph {
            parts: output,
            unrouted: None,
            directed: self.directed,
        };
        Ok((graph, stats))
    }
}

impl<V: Data, E: Data> Graph<V, E> {
    /// Runs attempts of the session until one closes: after a lost worker, from the last
    /// complete checkpoint or from the start, the lost graph partitions rebuilt from
    /// lineage first. Returns how many times it rolled back and restarted.
    fn attempts<P>(
        &self,
        program: &Arc<P>,
        output: weir_engine::plan::NodeId,
        first: &[u8],
        mut run: SessionRun,
        barrier: &mut Barrier<'_, P>,
    ) -> Result<(u64, u64)>
    where
        P: VertexProgram<Value = V, Edge = E>,
    {
        let ctx = self.parts.context();
        let (mut rollbacks, mut restarts) = (0, 0);
        loop {
            let task = Arc::new(PregelTask {
                program: program.clone(),
                graph_node: self.parts.id(),
                output_node: output,
            });
            let master = |step: u64, reports: &[Vec<u8>]| barrier.after(step, reports);
            let outcome = ctx.run_session_attempt("pregel", task, first.to_vec(), &run, master)?;
            let SessionOutcome::Lost {
                step,
                workers,
                checkpoint,
                ..
            } = outcome
            else {
                return Ok((rollbacks, restarts));
            };
            let going_back = match &checkpoint {
                Some(c) => {
                    rollbacks += 1;
                    format!("rolling back to the checkpoint of superstep {}", c.step)
                }
                None => {
                    restarts += 1;
                    "no complete checkpoint survived: restarting from superstep 0 from lineage"
                        .to_string()
                }
            };
            barrier.converged = false;
            if ctx.is_driver() {
                eprintln!("pregel: lost worker(s) {workers:?} at superstep {step}; {going_back}");
            }
            run.restore = checkpoint;
            // The lost graph partitions are built again from lineage.
            self.counts()?;
        }
    }
}

/// The driver's barrier of a run: reduces the partitions' reports, runs the master and
/// decides the next superstep's control bytes or the end. Its per-superstep figures are
/// overwritten when a rolled-back run does a superstep again.
struct Barrier<'c, P: VertexProgram> {
    program: Arc<P>,
    max_supersteps: u64,
    control: &'c dyn Fn(P::Aggregates) -> Result<Vec<u8>>,
    /// `(messages sent, messages delivered)` of each superstep.
    per_step: Vec<(u64, u64)>,
    converged: bool,
    /// The job's context, for the run's event log.
    ctx: JobContext,
}

impl<P: VertexProgram> Barrier<'_, P> {
    fn after(&mut self, step: u64, reports: &[Vec<u8>]) -> Result<Option<Vec<u8>>> {
        let mut total = Report::<P::Aggregates>::default();
        for (p, bytes) in reports.iter().enumerate() {
            let r: Report<P::Aggregates> = bincode::deserialize(bytes).map_err(|e| {
                Error::job(format!("partition {p} sent a malformed Pregel report: {e}"))
            })?;
            total.active += r.active;
            total.sent += r.sent;
            total.delivered += r.delivered;
            total.aggregate.merge(r.aggregate);
        }
        self.per_step.truncate(step as usize);
        self.per_step.push((total.sent, total.delivered));
        self.ctx.record(|| Event::Superstep {
            step,
            active_vertices: total.active,
            messages: total.sent,
            delivered: total.delivered,
        });
        let mut aggregated = total.aggregate;
        let decision = self.program.master(step, &mut aggregated);
        let quiet = total.active == 0 && total.sent == 0;
        if decision == MasterDecision::Halt || quiet {
            self.converged = true;
            return Ok(None);
        }
        if step + 1 >= self.max_supersteps {
            return Ok(None);
        }
        (self.control)(aggregated).map(Some)
    }
}

/// The persisted node a Pregel run leaves its output in: filled by the session's close,
/// read from worker memory. It has no lineage to recompute from, so a lost partition is
/// an error naming it.
fn output_node<V: Data, E: Data>(
    ctx: &weir_engine::JobContext,
    partitions: usize,
) -> Dataset<GraphPart<V, E>> {
    let mut builder = NodeBuilder::new("pregel", partitions, Vec::new());
    builder.persisted = true;
    builder.build_with_id(ctx, |id, p, tc| {
        match tc.cached::<GraphPart<V, E>>(id, p) {
            Some(data) if tc.keeps_cached(id) => {
                Ok(Box::new(data.as_ref().clone().into_iter()) as Records<GraphPart<V, E>>)
            }
            _ => Err(weir_engine::TaskError::failed(format!(
                "partition {p} of a Pregel result is no longer in worker memory (its worker was lost or it was unpersisted); run the job again"
            ))),
        }
    })
}
