//! Checkpoints of a session, the worker's side: how a partition's snapshot is kept and
//! replicated, handed over when its partition moves, and how a session is given up when a
//! worker is lost.
//!
//! A checkpoint of step `s` is taken as step `s` starts: each partition's state (what
//! `SessionPartition::snapshot` returns) together with the inbox it is about to read (the
//! batches of step `s - 1`). The snapshot is pushed on the session's checkpoint channel,
//! tag `s`, to this worker itself and to the next worker of the session in id order (its
//! replica), so it outlives the loss of either. Pushes on a link arrive in order, so once
//! every worker has read step `s`'s flush markers (that is, finished step `s + 1`),
//! every replica of checkpoint `s` has arrived: the driver then counts it complete.
//!
//! ```text
//!  driver                      worker A (owner of p)          worker B (replica of p)
//!  Step{s, checkpoint} ──────▶ snapshot p + inbox ─push(ckpt, s, p)─▶ kept in mailbox
//!                              (and a copy to itself)
//!                              step s … flush(s) ────────────────▶
//!  Step{s+1} ────────────────▶ …                                   read flush(s): has it
//!  ◀── StepDone{s+1} from all: checkpoint s is complete
//!  … worker A lost …
//!  Abort to survivors; the job rebuilds lost input from lineage, then
//!  Open{restore: s, sources} ─▶ B hands p's snapshot to p's new owner, every worker waits
//!                              for every other's hand-over flush, then restores its
//!                              partitions and reads step s's inbox from the snapshot
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use super::service::SERVICE_TARGET;
use super::{LocalSession, STEP_INPUT_WAIT};
use crate::error::TaskError;
use crate::exchange::{ChannelId, Pusher};
use crate::executor::WorkerEnv;
use crate::plan::{SessionId, SessionPartition};
use crate::protocol::{ServiceRestore, SessionReply, SessionRestore};
use crate::task::WorkerId;

/// The bit that sets checkpoint channels apart from sessions' own channels.
pub const CHECKPOINT_CHANNEL: u64 = 1 << 62;

/// The checkpoint channel of a run whose first session is `session`.
pub fn checkpoint_channel(session: SessionId) -> ChannelId {
    CHECKPOINT_CHANNEL | session as u64
}

/// The worker that keeps the replicas of `worker`'s snapshots: the next one of
/// `workers` (ascending) after it, wrapping around; itself when it is alone.
pub fn replica_of(worker: WorkerId, workers: &[WorkerId]) -> WorkerId {
    workers
        .iter()
        .copied()
        .find(|w| *w > worker)
        .or_else(|| workers.first().copied())
        .unwrap_or(worker)
}

/// Where one step's snapshots go.
pub(super) struct Replica<'a> {
    pub pusher: &'a Pusher,
    pub channel: ChannelId,
    pub step: u64,
    pub me: WorkerId,
    pub next: WorkerId,
    pub addresses: &'a BTreeMap<WorkerId, String>,
}

impl Replica<'_> {
    /// Snapshots partition `p` with the inbox it is about to read; keeps the snapshot
    /// here and pushes its replica.
    pub fn keep(
        &self,
        p: u32,
        partition: &dyn SessionPartition,
        inbox: &[Bytes],
    ) -> Result<(), TaskError> {
        let bytes = Bytes::from(encode(&partition.snapshot()?, inbox));
        for worker in [self.me, self.next] {
            let address = self
                .addresses
                .get(&worker)
                .map(String::as_str)
                .unwrap_or("");
            self.pusher
                .send(worker, address, self.channel, self.step, p, bytes.clone())?;
            if self.next == self.me {
                break;
            }
        }
        Ok(())
    }
}

/// A snapshot's bytes: the partition's state, then the inbox's batch count, then each
/// batch, every part after its length (u64 LE): bincode's layout of `(Vec<u8>,
/// Vec<Vec<u8>>)`, written a part at a time (bincode would make a call of every byte).
fn encode(state: &[u8], inbox: &[Bytes]) -> Vec<u8> {
    let parts = inbox.iter().map(|b| 8 + b.len()).sum::<usize>();
    let mut out = Vec::with_capacity(16 + state.len() + parts);
    out.extend_from_slice(&(state.len() as u64).to_le_bytes());
    out.extend_from_slice(state);
    out.extend_from_slice(&(inbox.len() as u64).to_le_bytes());
    for batch in inbox {
        out.extend_from_slice(&(batch.len() as u64).to_le_bytes());
        out.extend_from_slice(batch);
    }
    out
}

/// A snapshot's partition state and inbox.
pub(super) fn decode(snapshot: &[u8], p: usize) -> Result<(Vec<u8>, Vec<Bytes>), TaskError> {
    let corrupt = |what: &str| {
        TaskError::failed(format!(
            "the checkpoint of partition {p} is corrupt: {what}"
        ))
    };
    let mut reader = Parts(snapshot);
    let state_len = reader.length().ok_or_else(|| corrupt("no state length"))?;
    let state = reader
        .take(state_len)
        .ok_or_else(|| corrupt("the state is cut short"))?;
    let count = reader.length().ok_or_else(|| corrupt("no inbox count"))?;
    let mut inbox = Vec::new();
    for i in 0..count {
        let len = reader
            .length()
            .ok_or_else(|| corrupt(&format!("no length of batch {i}")))?;
        let batch = reader
            .take(len)
            .ok_or_else(|| corrupt(&format!("batch {i} is cut short")))?;
        inbox.push(Bytes::copy_from_slice(batch));
    }
    let rest = reader.0;
    if !rest.is_empty() {
        return Err(corrupt("bytes after the last batch"));
    }
    Ok((state.to_vec(), inbox))
}

/// Reads a snapshot's parts from the front.
struct Parts<'a>(&'a [u8]);

impl<'a> Parts<'a> {
    /// The next `n` bytes, if there are as many.
    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok().filter(|&n| n <= self.0.len())?;
        let (part, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(part)
    }

    /// The next length (u64 LE).
    fn length(&mut self) -> Option<u64> {
        let bytes = self.take(8)?;
        Some(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }
}

/// Before a restored session opens: hands the snapshots this worker is the source of to
/// their partitions' new workers, waits until every worker has done the same, and returns
/// the snapshots of this worker's partitions. Later checkpoints (partial ones of the
/// attempt that failed) are dropped first.
pub(super) fn gather(
    env: &Arc<WorkerEnv>,
    local: &LocalSession,
    restore: &SessionRestore,
) -> Result<HashMap<u32, Bytes>, TaskError> {
    let (channel, step) = (local.checkpoints, restore.step);
    env.mailbox.forget_tags(channel, |t| t > step);
    if restore.sources.len() != local.route.placement.len() {
        return Err(TaskError::failed(format!(
            "a restore names {} sources for {} partitions",
            restore.sources.len(),
            local.route.placement.len()
        )));
    }
    let workers = local.workers();
    let address = |w: WorkerId| local.route.addresses.get(&w).cloned().unwrap_or_default();
    let placement = &local.route.placement;
    for (p, (&source, &owner)) in restore.sources.iter().zip(placement.iter()).enumerate() {
        if source != env.worker_id || owner == env.worker_id {
            continue;
        }
        for snapshot in env.mailbox.peek(channel, step, p as u32) {
            env.pusher
                .send(owner, &address(owner), channel, step, p as u32, snapshot)?;
        }
    }
    let peers: Vec<(WorkerId, String)> = workers.iter().map(|w| (*w, address(*w))).collect();
    env.pusher.flush(&peers, channel, step)?;
    env.mailbox
        .wait_flushed(channel, step, &workers, STEP_INPUT_WAIT)?;
    env.mailbox.finish_tag(channel, step);
    let mut mine = HashMap::new();
    for (p, _) in placement
        .iter()
        .enumerate()
        .filter(|(_, w)| **w == env.worker_id)
    {
        let snapshot = env
            .mailbox
            .peek(channel, step, p as u32)
            .into_iter()
            .next()
            .ok_or_else(|| {
                TaskError::failed(format!(
                    "no checkpoint of partition {p} at step {step} reached this worker"
                ))
            })?;
        mine.insert(p as u32, snapshot);
    }
    Ok(mine)
}

/// Before a session's service shards start again from their snapshots tagged `r.tag`:
/// hands the snapshots this worker is the source of to their shards' new workers, waits
/// until every worker has done the same, and returns this worker's shards' snapshots.
pub(super) fn gather_services(
    env: &Arc<WorkerEnv>,
    local: &LocalSession,
    r: &ServiceRestore,
) -> Result<HashMap<u32, Bytes>, TaskError> {
    let (channel, tag) = (local.checkpoints, r.tag);
    // Later snapshots (of the attempt that failed) go first: a holder keeps only a few
    // per shard, and the one handed over must not make way for them.
    env.mailbox.forget_tags(channel, |t| t > tag);
    let services = &local.route.services;
    if r.sources.len() != services.len() {
        return Err(TaskError::failed(format!(
            "a restore names {} snapshot sources for {} service shards",
            r.sources.len(),
            services.len()
        )));
    }
    let workers = local.workers();
    let address = |w: WorkerId| local.route.addresses.get(&w).cloned().unwrap_or_default();
    for (shard, (&source, &owner)) in r.sources.iter().zip(services.iter()).enumerate() {
        if source != env.worker_id || owner == env.worker_id {
            continue;
        }
        let target = SERVICE_TARGET | shard as u32;
        for snapshot in env.mailbox.peek(channel, tag, target) {
            env.pusher
                .send(owner, &address(owner), channel, tag, target, snapshot)?;
        }
    }
    let peers: Vec<(WorkerId, String)> = workers.iter().map(|w| (*w, address(*w))).collect();
    env.pusher.flush(&peers, channel, tag)?;
    env.mailbox
        .wait_flushed(channel, tag, &workers, STEP_INPUT_WAIT)?;
    env.mailbox.finish_tag(channel, tag);
    let mut mine = HashMap::new();
    for (shard, _) in services
        .iter()
        .enumerate()
        .filter(|(_, w)| **w == env.worker_id)
    {
        let snapshot = env
            .mailbox
            .peek(channel, tag, SERVICE_TARGET | shard as u32)
            .into_iter()
            .next()
            .ok_or_else(|| {
                TaskError::failed(format!(
                    "no snapshot of service shard {shard} at {tag} reached this worker"
                ))
            })?;
        mine.insert(shard as u32, snapshot);
    }
    Ok(mine)
}

/// Gives up `session` here: ends any wait of its current step and drops its partitions
/// and batches, keeping its checkpoints for the attempt that restores them.
pub(crate) fn abort(env: &Arc<WorkerEnv>, session: SessionId) -> SessionReply {
    env.mailbox.abort_channel(
        session as u64,
        "the session was given up after a lost worker",
    );
    let local = env.sessions.sessions.lock().remove(&session);
    env.mailbox.drop_channel(session as u64);
    let channel = local.map_or(checkpoint_channel(session), |l| l.lock().checkpoints);
    let snapshots = env
        .mailbox
        .held_tags(channel, |t| t & SERVICE_TARGET != 0)
        .into_iter()
        .map(|(target, tag)| (target & !SERVICE_TARGET, tag))
        .collect();
    SessionReply::Aborted { channel, snapshots }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replica_is_the_next_worker_around_the_ring() {
        let workers = [2, 5, 9];
        assert_eq!(replica_of(2, &workers), 5);
        assert_eq!(replica_of(5, &workers), 9);
        assert_eq!(replica_of(9, &workers), 2);
        assert_eq!(replica_of(4, &[4]), 4);
    }

    #[test]
    fn a_snapshot_decodes_to_its_state_and_inbox() {
        let inbox = [Bytes::from_static(b"ab"), Bytes::from_static(b"c")];
        let bytes = encode(&[1, 2], &inbox);
        // The layout bincode gives the same values.
        let by_bincode = bincode::serialize(&(vec![1u8, 2], vec![&b"ab"[..], &b"c"[..]]));
        assert_eq!(bytes, by_bincode.unwrap());
        let (state, inbox) = decode(&bytes, 0).unwrap();
        assert_eq!(state, vec![1, 2]);
        assert_eq!(
            inbox,
            vec![Bytes::from_static(b"ab"), Bytes::from_static(b"c")]
        );
        assert!(decode(&[1, 2, 3], 7)
            .unwrap_err()
            .to_string()
            .contains("partition 7"));
        // Cut short, with bytes left over, or claiming a huge batch: refused.
        for bad in [&bytes[..bytes.len() - 1], &[&bytes[..], &[0]].concat()[..]] {
            assert!(decode(bad, 3).unwrap_err().to_string().contains("corrupt"));
        }
        let mut huge = encode(&[], &[Bytes::from_static(b"x")]);
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&huge, 3).is_err());
    }
}
