//! Pregel (Malewicz et al., SIGMOD 2010) on Weir: graphs partitioned in worker memory
//! and vertex programs run superstep by superstep on long-lived partitions, with messages
//! pushed straight from worker to worker.
//!
//! * [`Graph`] (`build`): CSR partitions by a deterministic vertex hash ([`topology`]),
//!   loaded through typed column blocks (`blocks`), numbered through an [`IdIndex`]
//!   (`id_index`), with each edge's other end resolved to its local index (`routes`);
//! * [`VertexProgram`] and its [`Context`] (`program`), with [`Combiner`]s (`combine`)
//!   and [`Aggregate`]s (`aggregate`);
//! * [`Graph::pregel`] (`pregel`, the driver's barrier; `partition`, a worker's
//!   superstep; `messages`, the batches, and `inbox`, their receiving end; `push_plan`
//!   and `mirrors`, broadcasts along all edges) and
//!   its closure form [`Graph::pregel_fn`] (`closure`).
//!
//! ```
//! use weir_operators::graph::*;
//! use weir_operators::prelude::*;
//!
//! /// Hop distance from vertex 1.
//! struct Hops;
//! impl VertexProgram for Hops {
//!     type Value = u64;
//!     type Edge = ();
//!     type Message = u64;
//!     type Aggregates = ();
//!     fn compute(&self, ctx: &mut Context<'_, Self>, v: u64, d: &mut u64, messages: &[u64]) {
//!         let best = messages.iter().copied().min().unwrap_or(u64::MAX);
//!         let start = ctx.superstep() == 0 && v == 1;
//!         if start || best < *d {
//!             *d = if start { 0 } else { best };
//!             ctx.send_to_out_neighbours(&(*d + 1));
//!         }
//!         ctx.vote_to_halt();
//!     }
//!     fn combiner(&self) -> Option<Combiner<u64>> {
//!         Some(Combiner::min())
//!     }
//! }
//!
//! let mut hops = weir_operators::testing::local(|ctx| {
//!     let edges = ctx.parallelize(vec![(1u64, 2u64, ()), (2, 3, ()), (1, 3, ()), (3, 4, ())], 2)?;
//!     let graph = Graph::from_edges(&edges, None, u64::MAX, GraphOptions::default())?;
//!     graph.pregel(Hops, PregelOptions::default())?.collect()
//! });
//! hops.sort();
//! assert_eq!(hops, vec![(1, 0), (2, 1), (3, 1), (4, 2)]);
//! ```

mod aggregate;
mod bitmap;
mod blocks;
mod build;
mod closure;
mod combine;
mod id_index;
mod inbox;
mod messages;
mod mirrors;
mod partition;
mod pregel;
mod program;
mod push_plan;
mod routes;
pub mod topology;

pub use aggregate::{Aggregate, Max, Min, Sum};
pub use build::{Graph, GraphOptions, GraphPart, GraphSizes};
pub use combine::Combiner;
pub use id_index::IdIndex;
pub use messages::BATCH_MESSAGES;
pub use pregel::{PregelOptions, PregelStats};
pub use program::{Context, Edges, MasterDecision, VertexProgram};
pub use topology::{partition_of_vertex, Adjacency, Topology, VertexId};

#[cfg(test)]
mod tests;
