//! One partition of a Pregel run on its worker: the vertex values and halted flags that
//! live from the session's open to its close, and one superstep over them.
//!
//! A superstep decodes the batches pushed to the partition in the superstep before,
//! runs `compute` on every vertex that is active or has messages, hands full batches to
//! the exchange as it goes (so sending overlaps computing and buffers stay bounded), and
//! reports the vertices still active, the messages sent and its aggregates.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_engine::plan::{NodeId, SessionPartition, SessionTask};
use weir_engine::session::Outbox;
use weir_engine::{TaskContext, TaskError};

use crate::graph::build::GraphPart;
use crate::graph::inbox::{decode_all, GatherPlans, Inbox};
use crate::graph::messages::{Batch, Sender};
use crate::graph::program::{Context, VertexProgram};
use crate::graph::topology::Topology;

/// What the driver sends every partition at a barrier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Control<A> {
    pub num_vertices: u64,
    pub index_bound: u64,
    pub aggregated: A,
}

/// What a partition reports at a barrier.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Report<A> {
    /// Vertices that did not vote to halt.
    pub active: u64,
    /// Messages sent by `compute`.
    pub sent: u64,
    /// Messages that left in batches, after combining.
    pub delivered: u64,
    /// The partition's contribution to the aggregates.
    pub aggregate: A,
}

/// How a Pregel session opens its partitions.
pub(crate) struct PregelTask<P: VertexProgram> {
    pub program: Arc<P>,
    pub graph_node: NodeId,
    pub output_node: NodeId,
}

impl<P: VertexProgram> SessionTask for PregelTask<P> {
    fn node(&self) -> NodeId {
        self.graph_node
    }

    fn open(&self, p: usize, tc: &TaskContext) -> Result<Box<dyn SessionPartition>, TaskError> {
        Ok(Box::new(self.open_partition(p, tc)?))
    }

    fn restore(
        &self,
        p: usize,
        tc: &TaskContext,
        snapshot: &[u8],
    ) -> Result<Box<dyn SessionPartition>, TaskError> {
        let mut partition = self.open_partition(p, tc)?;
        let state: Snapshot<P::Value, P::Message> =
            bincode::deserialize(snapshot).map_err(|e| {
                TaskError::failed(format!("the checkpoint of partition {p} is corrupt: {e}"))
            })?;
        if state.values.len() != partition.values.len()
            || state.halted.len() != partition.values.len()
        {
            return Err(TaskError::failed(format!(
                "the checkpoint of partition {p} has {} vertices, the graph partition {}",
                state.values.len(),
                partition.values.len()
            )));
        }
        partition.values = state.values;
        partition.halted = state.halted;
        partition.own_batches = state.own_batches;
        Ok(Box::new(partition))
    }
}

/// What a checkpoint keeps of a partition between supersteps.
#[derive(Serialize, Deserialize)]
struct Snapshot<V, M> {
    values: Vec<V>,
    halted: Vec<bool>,
    own_batches: Vec<Batch<M>>,
}

impl<P: VertexProgram> PregelTask<P> {
    fn open_partition(&self, p: usize, tc: &TaskContext) -> Result<PregelPartition<P>, TaskError> {
        let parts = tc
            .cached::<GraphPart<P::Value, P::Edge>>(self.graph_node, p)
            .ok_or_else(|| {
                TaskError::failed(format!(
                    "graph partition {p} is not in this worker's memory"
                ))
            })?;
        let part = parts
            .first()
            .ok_or_else(|| TaskError::failed(format!("graph partition {p} is empty")))?;
        let n = part.topology.len();
        Ok(PregelPartition {
            program: self.program.clone(),
            partition: p,
            topology: part.topology.clone(),
            values: part.values.as_ref().clone(),
            halted: vec![false; n],
            own_batches: Vec::new(),
            gather_plans: [None, None],
            sender: Sender::new(p, part.topology.partitions as usize),
            output_node: self.output_node,
        })
    }
}

/// A partition's state between supersteps.
struct PregelPartition<P: VertexProgram> {
    program: Arc<P>,
    partition: usize,
    topology: Arc<Topology<P::Edge>>,
    values: Vec<P::Value>,
    halted: Vec<bool>,
    /// Messages this partition sent itself in the last superstep.
    own_batches: Vec<Batch<P::Message>>,
    /// The outgoing buffers, kept with their memory from superstep to superstep.
    sender: Sender<P::Message>,
    /// How mirror values expand along this partition's edges, built on first use.
    gather_plans: GatherPlans,
    output_node: NodeId,
}

impl<P: VertexProgram> PregelPartition<P> {
    /// Hands the sender's encoded batches to the exchange.
    fn push_ready(
        sender: &mut Sender<P::Message>,
        outbox: &mut Outbox<'_>,
    ) -> Result<(), TaskError> {
        if let Some(e) = sender.error.take() {
            return Err(e);
        }
        for (to, bytes) in sender.ready.drain(..) {
            outbox.send(to, bytes)?;
        }
        Ok(())
    }
}

impl<P: VertexProgram> SessionPartition for PregelPartition<P> {
    fn step(
        &mut self,
        step: u64,
        control: &[u8],
        inbox: Vec<bytes::Bytes>,
        outbox: &mut Outbox<'_>,
    ) -> Result<Vec<u8>, TaskError> {
        let control: Control<P::Aggregates> = bincode::deserialize(control).map_err(|e| {
            TaskError::failed(format!("a Pregel control message is malformed: {e}"))
        })?;
        let batches = decode_all(inbox, std::mem::take(&mut self.own_batches))?;
        let mut inbox = if batches.is_empty() {
            Inbox::empty()
        } else {
            // The messages were sent, and folded, with the last superstep's combiner.
            let combiner = step
                .checked_sub(1)
                .and_then(|s| self.program.combiner_at(s));
            let plans = &mut self.gather_plans;
            Inbox::build(&self.topology, batches, combiner.as_ref(), plans)?
        };
        let sender = &mut self.sender;
        sender.begin(self.program.combiner_at(step));
        let mut contribution = P::Aggregates::default();
        let mut active = 0u64;
        let topology: &Topology<P::Edge> = &self.topology;
        for (local, &vertex) in topology.vertices.iter().enumerate() {
            let messages = inbox.messages(local);
            if self.halted[local] && messages.is_empty() {
                continue;
            }
            let mut ctx = Context::<P> {
                topology,
                local,
                superstep: step,
                num_vertices: control.num_vertices,
                index_bound: control.index_bound,
                aggregated: &control.aggregated,
                contribution: &mut contribution,
                sender,
                halt: false,
            };
            self.program
                .compute(&mut ctx, vertex, &mut self.values[local], messages);
            let halt = ctx.halt;
            self.halted[local] = halt;
            active += u64::from(!halt);
            if !sender.ready.is_empty() || sender.error.is_some() {
                Self::push_ready(sender, outbox)?;
            }
        }
        sender.cut_all(topology, |sender| Self::push_ready(sender, outbox))?;
        self.own_batches = std::mem::take(&mut sender.to_self);
        let report = Report {
            active,
            sent: sender.sent,
            delivered: sender.delivered,
            aggregate: contribution,
        };
        Ok(bincode::serialize(&report)?)
    }

    fn snapshot(&self) -> Result<Vec<u8>, TaskError> {
        #[derive(Serialize)]
        struct SnapshotRef<'a, V, M> {
            values: &'a [V],
            halted: &'a [bool],
            own_batches: &'a [Batch<M>],
        }
        let state = SnapshotRef {
            values: &self.values,
            halted: &self.halted,
            own_batches: &self.own_batches,
        };
        Ok(bincode::serialize(&state)?)
    }

    fn finish(&mut self, tc: &TaskContext) -> Result<Vec<u8>, TaskError> {
        let part = GraphPart {
            topology: self.topology.clone(),
            values: Arc::new(std::mem::take(&mut self.values)),
        };
        tc.store_cached(self.output_node, self.partition, Arc::new(vec![part]));
        Ok(Vec::new())
    }
}
