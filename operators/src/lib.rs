//! Weir's Dataset API: sources on the job context, and the operators on [`Dataset`], one
//! file per operator with its tests beside it.
//!
//! ```
//! use weir_operators::prelude::*;
//! let mut counts = weir_operators::testing::local(|ctx| {
//!     ctx.parallelize(vec!["a b a".to_string()], 1)?
//!         .flat_map(|l| l.split_whitespace().map(|w| (w.to_string(), 1u64)).collect::<Vec<_>>())
//!         .reduce_by_key(|a, b| a + b)
//!         .collect()
//! });
//! counts.sort();
//! assert_eq!(counts, vec![("a".to_string(), 2), ("b".to_string(), 1)]);
//! ```

mod action;
pub mod dataset;
pub mod graph;
pub mod ps;
pub mod shuffle;
pub mod sources;
pub mod testing;

mod aggregate_by_key;
mod cogroup;
mod collect;
mod count;
mod distinct;
mod filter;
mod flat_map;
mod group_by_key;
mod join;
mod key_by;
mod map;
mod map_partitions;
pub mod operator;
mod persist;
mod reduce_by_key;
mod repartition;
mod sample;
pub mod save;
mod sort_by_key;
mod take;
mod union;
mod zip_partitions;

pub use dataset::{Data, Dataset, Key, Partitioning, Records};
pub use save::{Field, Row, SaveSummary};
pub use sources::Sources;

/// Everything a job needs in one import.
pub mod prelude {
    pub use crate::dataset::{Data, Dataset, Key, Records};
    pub use crate::operator::Operator;
    pub use crate::save::{Row, SaveSummary};
    pub use crate::sources::Sources;
    pub use weir_engine::{Broadcast, Counter, Error, JobContext, Result};
}
