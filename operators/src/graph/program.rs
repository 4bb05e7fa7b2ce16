//! [`VertexProgram`]: what a Pregel job runs on every active vertex each superstep, and
//! the [`Context`] it runs with: the superstep, the vertex's edges, sending, voting to
//! halt, and the aggregators.

use crate::dataset::Data;
use crate::graph::aggregate::Aggregate;
use crate::graph::combine::Combiner;
use crate::graph::messages::Sender;
use crate::graph::topology::{partition_of_vertex, Adjacency, Topology, VertexId};

/// What the master step decides after a superstep's barrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterDecision {
    /// Run the next superstep (unless every vertex halted and no message is in flight).
    Continue,
    /// End the run now.
    Halt,
}

/// A vertex-centric program (Pregel's `Vertex::Compute`).
///
/// Every superstep, `compute` runs on each vertex that has not voted to halt or that
/// received messages, with the messages sent to it in the superstep before. The run ends
/// when every vertex has voted to halt and no message is in flight, when the master says
/// so, or after `max_supersteps`.
pub trait VertexProgram: Send + Sync + 'static {
    /// A vertex's value (the graph's vertex value type).
    type Value: Data;
    /// An edge's value (the graph's edge value type).
    type Edge: Data;
    /// What vertices send each other.
    type Message: Data;
    /// The aggregators: `()` for none, else [`Sum`](super::Sum), [`Min`](super::Min),
    /// [`Max`](super::Max), tuples of them, or a type of the program's own.
    type Aggregates: Aggregate;

    /// Runs vertex `vertex` for one superstep.
    fn compute(
        &self,
        ctx: &mut Context<'_, Self>,
        vertex: VertexId,
        value: &mut Self::Value,
        messages: &[Self::Message],
    ) where
        Self: Sized;

    /// Folds messages to the same vertex on the sending side; with a combiner a vertex
    /// receives at most one message per superstep.
    fn combiner(&self) -> Option<Combiner<Self::Message>> {
        None
    }

    /// The combiner of the messages sent in superstep `superstep`: by default
    /// [`combiner`](Self::combiner) for every superstep. A program whose supersteps send
    /// different kinds of message folds those that fold and no others (as Giraph's
    /// master sets a combiner per superstep).
    fn combiner_at(&self, superstep: u64) -> Option<Combiner<Self::Message>> {
        let _ = superstep;
        self.combiner()
    }

    /// Runs on the driver after superstep `superstep`'s barrier with the reduced
    /// aggregates (Giraph's `MasterCompute`); what it leaves in `aggregates` is what
    /// vertices read in the next superstep.
    fn master(&self, superstep: u64, aggregates: &mut Self::Aggregates) -> MasterDecision {
        let _ = (superstep, aggregates);
        MasterDecision::Continue
    }
}

/// The edges of one vertex: other ends and values, side by side.
pub struct Edges<'a, E> {
    /// The other end of each edge.
    pub ends: &'a [VertexId],
    /// Each edge's value.
    pub values: &'a [E],
}

impl<'a, E> Edges<'a, E> {
    fn of(adjacency: &'a Adjacency<E>, local: usize) -> Self {
        Edges {
            ends: adjacency.ends_of(local),
            values: adjacency.values_of(local),
        }
    }

    /// How many edges.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// `(other end, value)` of each edge.
    pub fn iter(&self) -> impl Iterator<Item = (VertexId, &'a E)> + 'a {
        self.ends.iter().copied().zip(self.values.iter())
    }
}

/// The indexes (see [`Context::index`]) of local vertex `local`'s edges' other ends.
fn edge_indexes<E>(
    adjacency: &Adjacency<E>,
    local: usize,
    partitions: u32,
) -> Option<impl Iterator<Item = u64> + '_> {
    if !adjacency.is_resolved() {
        return None;
    }
    let range = adjacency.range(local);
    let ends = adjacency.ends[range.clone()].iter();
    let slots = adjacency.slots[range].iter();
    Some(ends.zip(slots).map(move |(&end, &slot)| {
        let partition = partition_of_vertex(end, partitions as usize) as u64;
        u64::from(slot) * u64::from(partitions) + partition
    }))
}

/// What a vertex's `compute` can read and do.
pub struct Context<'a, P: VertexProgram> {
    pub(crate) topology: &'a Topology<P::Edge>,
    pub(crate) local: usize,
    pub(crate) superstep: u64,
    pub(crate) num_vertices: u64,
    pub(crate) index_bound: u64,
    pub(crate) aggregated: &'a P::Aggregates,
    pub(crate) contribution: &'a mut P::Aggregates,
    pub(crate) sender: &'a mut Sender<P::Message>,
    pub(crate) halt: bool,
}

impl<'a, P: VertexProgram> Context<'a, P> {
    /// The current superstep, from 0.
    pub fn superstep(&self) -> u64 {
        self.superstep
    }

    /// The number of vertices in the graph.
    pub fn num_vertices(&self) -> u64 {
        self.num_vertices
    }

    /// The vertex's index: a number below [`index_bound`](Self::index_bound), one per
    /// vertex of the graph, for arrays over the whole graph (its local index times the
    /// number of partitions, plus its partition).
    pub fn index(&self) -> u64 {
        self.local as u64 * u64::from(self.topology.partitions) + u64::from(self.topology.partition)
    }

    /// The bound of every vertex's [`index`](Self::index).
    pub fn index_bound(&self) -> u64 {
        self.index_bound
    }

    /// The [`index`](Self::index) of each out-edge's other end, in edge order; `None` if
    /// the graph's routes are not resolved.
    pub fn out_edge_indexes(&self) -> Option<impl Iterator<Item = u64> + 'a> {
        edge_indexes(
            &self.topology.out_edges,
            self.local,
            self.topology.partitions,
        )
    }

    /// As [`out_edge_indexes`](Self::out_edge_indexes), for the in-edges (those of
    /// [`in_edges`](Self::in_edges)).
    pub fn in_edge_indexes(&self) -> Option<impl Iterator<Item = u64> + 'a> {
        let ins = self.topology.in_view()?;
        edge_indexes(ins, self.local, self.topology.partitions)
    }

    /// The vertex's out-edges (for an undirected graph, all its edges). They borrow the
    /// graph, not the context, so the program can send while walking them.
    pub fn out_edges(&self) -> Edges<'a, P::Edge> {
        Edges::of(&self.topology.out_edges, self.local)
    }

    /// The vertex's out-degree.
    pub fn out_degree(&self) -> usize {
        self.topology.out_edges.range(self.local).len()
    }

    /// The vertex's in-edges: for a directed graph built with in-edges, those; for an
    /// undirected graph, all its edges; otherwise `None`.
    pub fn in_edges(&self) -> Option<Edges<'a, P::Edge>> {
        let ins = self.topology.in_view()?;
        Some(Edges::of(ins, self.local))
    }

    /// Whether the graph is directed.
    pub fn is_directed(&self) -> bool {
        self.topology.directed
    }

    /// Sends `message` to `vertex`, delivered in the next superstep.
    #[inline]
    pub fn send(&mut self, vertex: VertexId, message: P::Message) {
        self.sender.send(vertex, message);
    }

    /// Sends `message` along every out-edge. The message is recorded once and sent at the
    /// end of the superstep: once per destination partition, expanded there (see
    /// `mirrors`), when many vertices broadcast, else along the push plan (`push_plan`).
    pub fn send_to_out_neighbours(&mut self, message: &P::Message) {
        let out = &self.topology.out_edges;
        if !self.sender.broadcast(out, false, self.local, message) {
            self.send_along_out_edges(|_, _| Some(message.clone()));
        }
    }

    /// Sends `message` along every in-edge (every edge, undirected); nothing for a
    /// directed graph built without in-edges.
    pub fn send_to_in_neighbours(&mut self, message: &P::Message) {
        let Some(ins) = self.topology.in_view() else {
            return;
        };
        // Its own record even where the in-edges are the out-edges (undirected): a
        // vertex may send both ways.
        if !self.sender.broadcast(ins, true, self.local, message) {
            self.send_along_in_edges(|_, _| Some(message.clone()));
        }
    }

    /// Offers each out-edge `(other end, edge value)` to `f` and sends what it returns
    /// along that edge. Messages along edges go by the routes the graph resolved when it
    /// was built: no lookup on either side.
    pub fn send_along_out_edges(
        &mut self,
        f: impl FnMut(VertexId, &P::Edge) -> Option<P::Message>,
    ) {
        let adjacency = &self.topology.out_edges;
        self.send_along(adjacency, f);
    }

    /// As [`send_along_out_edges`](Self::send_along_out_edges), along the in-edges.
    pub fn send_along_in_edges(&mut self, f: impl FnMut(VertexId, &P::Edge) -> Option<P::Message>) {
        if let Some(ins) = self.topology.in_view() {
            self.send_along(ins, f);
        }
    }

    fn send_along(
        &mut self,
        adjacency: &'a Adjacency<P::Edge>,
        mut f: impl FnMut(VertexId, &P::Edge) -> Option<P::Message>,
    ) {
        let range = adjacency.range(self.local);
        let (ends, values) = (
            &adjacency.ends[range.clone()],
            &adjacency.values[range.clone()],
        );
        if adjacency.is_resolved() {
            let slots = &adjacency.slots[range];
            for ((&end, value), &slot) in ends.iter().zip(values).zip(slots) {
                if let Some(m) = f(end, value) {
                    self.sender.send_routed(end, slot, m);
                }
            }
        } else {
            for (&end, value) in ends.iter().zip(values) {
                if let Some(m) = f(end, value) {
                    self.sender.send(end, m);
                }
            }
        }
    }

    /// Stops running this vertex until a message arrives for it.
    pub fn vote_to_halt(&mut self) {
        self.halt = true;
    }

    /// The aggregates reduced at the last barrier (defaults in superstep 0).
    pub fn aggregated(&self) -> &P::Aggregates {
        self.aggregated
    }

    /// This partition's contribution to the aggregates of this superstep.
    pub fn aggregate(&mut self) -> &mut P::Aggregates {
        self.contribution
    }
}
