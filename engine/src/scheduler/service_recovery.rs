//! Service shards after a lost worker, the driver's side: the survivors say which
//! snapshots of the shards they hold (in their `Aborted` replies), the driver picks the
//! newest tag every shard still has, and the next attempt's `Open` names, for each shard,
//! the worker that hands its snapshot to the shard's new worker.

use serde::{Deserialize, Serialize};

use super::*;
use crate::protocol::ServiceRestore;

/// How long the survivors of a session get to say which snapshots they hold.
const ABORT_WAIT: Duration = Duration::from_secs(10);

/// The newest service snapshots every shard still has a live holder of: their tag
/// (a clock) and each shard's holders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSnapshots {
    /// The checkpoint channel they live on.
    pub channel: u64,
    pub tag: u64,
    pub holders: Vec<Vec<WorkerId>>,
}

impl ServiceSnapshots {
    /// The newest tag every one of `shards` shards has a snapshot of, among `held`
    /// (`(worker, shard, tag)`).
    pub fn newest_complete(
        channel: u64,
        shards: usize,
        held: &[(WorkerId, u32, u64)],
    ) -> Option<Self> {
        let mut tags: Vec<u64> = held.iter().map(|h| h.2).collect();
        tags.sort_unstable();
        tags.dedup();
        tags.into_iter().rev().find_map(|tag| {
            let holders: Vec<Vec<WorkerId>> = (0..shards as u32)
                .map(|s| {
                    held.iter()
                        .filter(|h| h.1 == s && h.2 == tag)
                        .map(|h| h.0)
                        .collect()
                })
                .collect();
            holders
                .iter()
                .all(|h: &Vec<WorkerId>| !h.is_empty())
                .then_some(ServiceSnapshots {
                    channel,
                    tag,
                    holders,
                })
        })
    }
}

impl Scheduler {
    /// Who hands each service shard's snapshot to its new worker: the new worker itself
    /// when it holds one, else a live holder.
    pub(super) fn service_sources(
        &self,
        step: u64,
        snapshots: &ServiceSnapshots,
        services: &[WorkerId],
    ) -> Result<ServiceRestore> {
        let sources = self.snapshot_sources(services, &snapshots.holders, |s| {
            format!(
                "every holder of service shard {s}'s snapshot {} was lost",
                snapshots.tag
            )
        })?;
        Ok(ServiceRestore {
            step,
            tag: snapshots.tag,
            sources,
        })
    }

    /// Waits for the survivors' `Aborted` replies and finds the newest service snapshots
    /// every shard still has. The failed step's own replies are passed over; a survivor
    /// lost meanwhile, or silent past [`ABORT_WAIT`], holds nothing.
    pub(super) fn surviving_snapshots(
        &mut self,
        session: SessionId,
        survivors: &[WorkerId],
        shards: usize,
    ) -> Option<ServiceSnapshots> {
        let deadline = Instant::now() + ABORT_WAIT;
        let mut replied: BTreeMap<WorkerId, Vec<(u32, u64)>> = BTreeMap::new();
        let mut channel = None;
        while Instant::now() < deadline
            && survivors
                .iter()
                .any(|w| self.is_alive(*w) && !replied.contains_key(w))
        {
            let event = match self.events.recv_timeout(IDLE_LOOK) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return None,
            };
            match event {
                SchedulerEvent::Session {
                    worker,
                    session: s,
                    reply:
                        SessionReply::Aborted {
                            channel: c,
                            snapshots,
                        },
                } if s == session && survivors.contains(&worker) => {
                    channel = Some(c);
                    replied.insert(worker, snapshots);
                }
                SchedulerEvent::Session { session: s, .. } if s == session => {}
                other => self.handle(other, None).ok()?,
            }
        }
        let held: Vec<(WorkerId, u32, u64)> = replied
            .iter()
            .filter(|(worker, _)| self.is_alive(**worker))
            .flat_map(|(worker, snapshots)| {
                snapshots.iter().map(|(shard, tag)| (*worker, *shard, *tag))
            })
            .collect();
        ServiceSnapshots::newest_complete(channel?, shards, &held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_tag_every_shard_has_is_picked() {
        // Shard 0 at 10 and 20, shard 1 at 10 only (its holder of 20 was lost).
        let held = [(1, 0, 10), (2, 0, 20), (2, 1, 10), (3, 0, 10)];
        let got = ServiceSnapshots::newest_complete(7, 2, &held).unwrap();
        assert_eq!(got.tag, 10);
        assert_eq!(got.holders, vec![vec![1, 3], vec![2]]);
        assert_eq!(got.channel, 7);
        assert!(ServiceSnapshots::newest_complete(7, 3, &held).is_none());
        assert!(ServiceSnapshots::newest_complete(7, 1, &[]).is_none());
    }
}
