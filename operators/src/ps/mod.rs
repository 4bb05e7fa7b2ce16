//! The parameter server (Li et al., OSDI 2014) on Weir's long-lived sessions: parameters
//! sharded by key range over server shards that live for the whole job, trainers (one per
//! cached data partition) that pull the keys their minibatch reads and push gradients,
//! batched per shard, and the consistency models BSP, SSP and ASP enforced by the shards'
//! vector clocks. One concept per file:
//!
//! - `keys`: the key layout and its ranges over the shards;
//! - `update`: the servers' update rules (SGD, AdaGrad, Adam, or a user's own);
//! - `average`: iterate averaging, the model as its mean over the later pushes;
//! - `consistency`: BSP / SSP(S) / ASP and when a pull may be answered;
//! - `wire`: the pull, push and answer messages and their compact encoding;
//! - `wire_keys`: their keys, as varint gaps checked once and read in place, or a list
//!   sent again as its count;
//! - `key_cache`: key lists sent once per trainer and shard, then as their count;
//! - `server`: a shard: values, optimiser state, vector clock, parked pulls;
//! - `client`: a trainer's asynchronous, batched pull and push;
//! - `learner`: what a model tells the parameter server;
//! - `reference`: the sequential reference a BSP run must match exactly;
//! - `schedule`: which examples each minibatch holds;
//! - `trainer`: the trainers and the session that holds them;
//! - `train`: the driver's side, an epoch per barrier.
//!
//! Messages travel over the same push exchange as Pregel's, worker to worker; the driver
//! only runs the epoch barrier.

mod average;
mod client;
mod consistency;
mod key_cache;
mod keys;
mod learner;
mod reference;
pub mod schedule;
mod server;
mod train;
mod trainer;
mod update;
pub mod wire;
mod wire_keys;

pub use average::Average;
pub use client::{PsClient, PullHandle, Traffic};
pub use consistency::Consistency;
pub use key_cache::{KeySet, KnownKeys, Rows, SentKeys};
pub use keys::KeyLayout;
pub use learner::{Evaluation, Learner};
pub use reference::train_sequential;
pub use server::{ServerShard, ShardSpec};
pub use train::{train, EpochStats, TrainOptions, TrainStats, Trained};
pub use trainer::{CurvePoint, Slowed, Straggler};
pub use update::{rule_named, AdaGrad, Adam, Sgd, UpdateRule};

#[cfg(test)]
mod tests;
