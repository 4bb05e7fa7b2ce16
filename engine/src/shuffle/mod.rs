//! The shuffle: map outputs written into each worker's [`store`], read by reduce tasks from
//! every holder.
//!
//! A reduce task asks [`read_blocks`] for its partition of a shuffle. Blocks held by its own
//! worker are read from the store directly; the others are fetched over TCP from their
//! holders, every holder at once, into one bounded channel (backpressure: a fetch waits when
//! the task has not consumed earlier blocks). A missing or unreachable map output surfaces
//! as [`TaskError::FetchFailed`] so the driver recomputes it from lineage.

pub mod block;
pub mod fetch;
pub mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

pub use block::{BlockBuilder, BlockRecords};
pub use store::{ShuffleStore, ShuffleWriter, StoredBlock};

use crate::error::TaskError;
use crate::executor::WorkerEnv;
use crate::plan::ShuffleId;
use crate::task::{ShuffleLocations, TaskMetrics, WorkerId};

/// Blocks in flight per reduce task before fetches wait.
pub const FETCH_BUFFER_BLOCKS: usize = 16;

/// What a fetch delivers to the reading task.
#[derive(Debug)]
pub enum FetchItem {
    /// A block of map output `map`.
    Block { map: u32, bytes: Bytes },
    /// A peer has sent everything asked of it.
    Done { peer: WorkerId },
    /// The fetch failed.
    Failed(TaskError),
}

/// The blocks of one reduce partition, local ones first.
pub struct ShuffleBlocks {
    local: std::vec::IntoIter<(u32, StoredBlock)>,
    remote: Option<tokio::sync::mpsc::Receiver<FetchItem>>,
    peers_pending: usize,
    shuffle: ShuffleId,
    worker: WorkerId,
    /// The worker holding each map output, for the bytes read from each.
    holders: Vec<Option<WorkerId>>,
    metrics: Arc<Mutex<TaskMetrics>>,
}

impl Iterator for ShuffleBlocks {
    type Item = Result<Bytes, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        let started = std::time::Instant::now();
        let item = self.next_block();
        let mut m = self.metrics.lock();
        m.shuffle_read_seconds += started.elapsed().as_secs_f64();
        Some(match item? {
            Ok((map, block)) => {
                let from = self.holders.get(map as usize).copied().flatten();
                m.add_shuffle_read(from.unwrap_or(self.worker), block.len() as u64);
                Ok(block)
            }
            Err(e) => Err(e),
        })
    }
}

impl ShuffleBlocks {
    /// The next block and its map output: local ones first, then remote ones as they
    /// arrive.
    fn next_block(&mut self) -> Option<Result<(u32, Bytes), TaskError>> {
        if let Some((map, stored)) = self.local.next() {
            return Some(match stored.load() {
                Ok(b) => Ok((map, b)),
                Err(e) => Err(TaskError::FetchFailed {
                    shuffle: self.shuffle,
                    map_partition: map as usize,
                    worker: self.worker,
                    message: format!("reading spilled block: {e}"),
                }),
            });
        }
        while self.peers_pending > 0 {
            let rx = self.remote.as_mut()?;
            match rx.blocking_recv() {
                Some(FetchItem::Block { map, bytes }) => return Some(Ok((map, bytes))),
                Some(FetchItem::Done { .. }) => self.peers_pending -= 1,
                Some(FetchItem::Failed(e)) => {
                    self.peers_pending = 0;
                    return Some(Err(e));
                }
                None => {
                    self.peers_pending = 0;
                    return Some(Err(TaskError::failed("shuffle fetch ended early")));
                }
            }
        }
        None
    }
}

/// Starts reading reduce partition `reduce` of `shuffle` for a task on `env`'s worker.
pub fn read_blocks(
    env: &Arc<WorkerEnv>,
    locations: &ShuffleLocations,
    shuffle: ShuffleId,
    reduce: usize,
    metrics: Arc<Mutex<TaskMetrics>>,
) -> Result<ShuffleBlocks, TaskError> {
    let holders = locations
        .shuffles
        .get(&shuffle)
        .ok_or_else(|| TaskError::FetchFailed {
            shuffle,
            map_partition: 0,
            worker: env.worker_id,
            message: "no map output locations were sent with the task".into(),
        })?;
    let mut local = Vec::new();
    let mut remote: BTreeMap<WorkerId, Vec<u32>> = BTreeMap::new();
    for (map, holder) in holders.iter().enumerate() {
        let missing = |worker| TaskError::FetchFailed {
            shuffle,
            map_partition: map,
            worker,
            message: "map output is not available".into(),
        };
        match holder {
            None => return Err(missing(env.worker_id)),
            Some(w) if *w == env.worker_id => {
                let blocks = env
                    .shuffle
                    .blocks(shuffle, map, reduce)
                    .ok_or_else(|| missing(*w))?;
                local.extend(blocks.into_iter().map(|b| (map as u32, b)));
            }
            Some(w) => remote.entry(*w).or_default().push(map as u32),
        }
    }
    let mut receiver = None;
    let peers_pending = remote.len();
    if !remote.is_empty() {
        let fetcher = env.fetcher.as_ref().ok_or_else(|| {
            TaskError::failed("map outputs live on other workers but this worker has no data plane")
        })?;
        let (tx, rx) = tokio::sync::mpsc::channel(FETCH_BUFFER_BLOCKS);
        for (peer, maps) in remote {
            let address = locations.addresses.get(&peer).cloned().unwrap_or_default();
            fetcher.fetch(peer, &address, shuffle, reduce, maps, tx.clone());
        }
        receiver = Some(rx);
    }
    Ok(ShuffleBlocks {
        local: local.into_iter(),
        remote: receiver,
        peers_pending,
        shuffle,
        worker: env.worker_id,
        holders: holders.clone(),
        metrics,
    })
}
