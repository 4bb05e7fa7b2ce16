//! The closure form of Pregel for the simple case, as GraphX's `Pregel(initialMsg,
//! maxIterations)(vprog, sendMsg, mergeMsg)`: every vertex starts with `initial`, and a
//! vertex that received messages (merged into one) updates its value with `vprog`; if
//! `vprog` says the value changed, each of its out-edges is offered to `send`. Vertices
//! run only when messages arrive, so the run ends when no value changes. (GraphX's
//! `sendMsg` sees the target's value to decide; here the source decides, so `vprog` says
//! whether there is news to send.)

use std::marker::PhantomData;

use weir_engine::Result;

use crate::dataset::{Data, Dataset};
use crate::graph::build::Graph;
use crate::graph::combine::Combiner;
use crate::graph::pregel::PregelOptions;
use crate::graph::program::{Context, VertexProgram};
use crate::graph::topology::VertexId;

/// A [`VertexProgram`] made of three closures.
struct VertexFns<V, E, M, P, S, G> {
    initial: M,
    vprog: P,
    send: S,
    merge: G,
    types: PhantomData<fn() -> (V, E)>,
}

impl<V, E, M, P, S, G> VertexProgram for VertexFns<V, E, M, P, S, G>
where
    V: Data,
    E: Data,
    M: Data,
    P: Fn(VertexId, &mut V, &M) -> bool + Send + Sync + 'static,
    S: Fn(VertexId, &V, VertexId, &E) -> Option<M> + Send + Sync + 'static,
    G: Fn(&mut M, M) + Clone + Send + Sync + 'static,
{
    type Value = V;
    type Edge = E;
    type Message = M;
    type Aggregates = ();

    fn compute(
        &self,
        ctx: &mut Context<'_, Self>,
        vertex: VertexId,
        value: &mut V,
        messages: &[M],
    ) {
        let message = match messages.first() {
            Some(m) => m,
            None if ctx.superstep() == 0 => &self.initial,
            None => {
                ctx.vote_to_halt();
                return;
            }
        };
        if !(self.vprog)(vertex, value, message) {
            ctx.vote_to_halt();
            return;
        }
        let value: &V = value;
        ctx.send_along_out_edges(|target, edge| (self.send)(vertex, value, target, edge));
        ctx.vote_to_halt();
    }

    fn combiner(&self) -> Option<Combiner<M>> {
        Some(Combiner::new(self.merge.clone()))
    }
}

impl<V: Data, E: Data> Graph<V, E> {
    /// Runs Pregel from three closures, as GraphX does: `vprog(vertex, value, message)`
    /// updates a vertex from its merged message (`initial` in superstep 0) and says
    /// whether it changed;
    /// `send(source, source value, target, edge value)` may send along an out-edge of a
    /// vertex that just ran; `merge` folds two messages to the same vertex.
    pub fn pregel_fn<M: Data>(
        &self,
        initial: M,
        options: PregelOptions,
        vprog: impl Fn(VertexId, &mut V, &M) -> bool + Send + Sync + 'static,
        send: impl Fn(VertexId, &V, VertexId, &E) -> Option<M> + Send + Sync + 'static,
        merge: impl Fn(&mut M, M) + Clone + Send + Sync + 'static,
    ) -> Result<Dataset<(VertexId, V)>> {
        let program = VertexFns {
            initial,
            vprog,
            send,
            merge,
            types: PhantomData,
        };
        self.pregel(program, options)
    }
}
