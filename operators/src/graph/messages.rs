//! Pregel messages in batches: the [`Sender`] buffers (and, with a combiner, folds) a
//! partition's messages per destination partition and cuts them into batches; the
//! [`Inbox`] decodes the batches a partition received and hands each vertex its messages.
//!
//! A message along an edge is *routed*: it names its target by the target's local index
//! in the destination partition (the graph's routes), so the sender folds it into a dense
//! array of that partition's vertices and the receiver adds it into the slot it names,
//! with no hash table or search on either side. A message to any other vertex id goes by
//! id and is looked up on arrival.
//!
//! A batch is `from partition (u32 LE) · sequence (u32 LE) · bincode (Vec<(slot,
//! message)>, Vec<(vertex, message)>)`. Batches are applied in `(from, sequence)` order
//! whatever order the network delivered them in, so a run folds its messages, and rounds
//! its floating-point sums, the same way every time.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use weir_engine::TaskError;

use crate::dataset::Data;
use crate::graph::combine::Combiner;
use crate::graph::push_plan::{merge_folded, Broadcasts, PushPlan};
use crate::graph::topology::{partition_of_vertex, Adjacency, Topology, VertexId};
use crate::shuffle::FxHashMap;

/// Messages a destination's buffer holds before it is cut into a batch.
pub const BATCH_MESSAGES: usize = 1 << 15;

/// One batch, decoded.
#[derive(Serialize, Deserialize)]
pub(crate) struct Batch<M> {
    pub from: u32,
    pub sequence: u32,
    /// Messages by the target's local index.
    pub routed: Vec<(u32, M)>,
    /// Messages by the target's id.
    pub by_id: Vec<(VertexId, M)>,
}

impl<M> Batch<M> {
    fn len(&self) -> usize {
        self.routed.len() + self.by_id.len()
    }
}

/// Decodes a batch pushed by another partition.
pub(crate) fn decode_batch<M: Data>(bytes: &[u8]) -> Result<Batch<M>, TaskError> {
    if bytes.len() < 8 {
        return Err(TaskError::failed(format!(
            "a Pregel batch of {} bytes is shorter than its header",
            bytes.len()
        )));
    }
    let from = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"));
    let sequence = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    let (routed, by_id) = bincode::deserialize(&bytes[8..]).map_err(|e| {
        TaskError::failed(format!(
            "a Pregel batch from partition {from} is malformed: {e}"
        ))
    })?;
    Ok(Batch {
        from,
        sequence,
        routed,
        by_id,
    })
}

/// Routed messages a destination's buffer holds before they are combined and cut into
/// batches.
pub const COMBINE_MESSAGES: usize = 1 << 20;

/// Slots per block of the blocked combine: a block's fold stays in the L1/L2 cache.
const COMBINE_BLOCK_BITS: u32 = 12;

/// One destination's routed messages, combined in blocks: each message is appended to
/// the block of its slot's neighbourhood as it is sent (a few sequential write streams),
/// and when the destination is cut, each block is folded in a small array that stays in
/// cache. Folding straight into an array of all the destination's vertices would miss
/// the cache on nearly every message of a large graph. The block buffers keep their
/// memory from superstep to superstep.
struct BlockedFold<M> {
    blocks: Vec<Vec<(u32, M)>>,
    buffered: usize,
    fold: Vec<Option<M>>,
}

impl<M: 'static> BlockedFold<M> {
    fn new() -> Self {
        BlockedFold {
            blocks: Vec::new(),
            buffered: 0,
            fold: Vec::new(),
        }
    }

    #[inline(always)]
    fn push(&mut self, slot: u32, message: M) {
        let b = (slot >> COMBINE_BLOCK_BITS) as usize;
        if b >= self.blocks.len() {
            self.blocks.resize_with(b + 1, Vec::new);
        }
        self.blocks[b].push((slot, message));
        self.buffered += 1;
    }

    /// Every buffered message folded into one per slot, ascending by slot, in the order
    /// they were sent within a slot.
    fn drain(&mut self, combiner: &Combiner<M>) -> Vec<(u32, M)> {
        let mut out = Vec::with_capacity(self.buffered.min(1 << 16));
        if self.fold.is_empty() {
            self.fold = (0..1usize << COMBINE_BLOCK_BITS).map(|_| None).collect();
        }
        for (b, block) in self.blocks.iter_mut().enumerate() {
            if block.is_empty() {
                continue;
            }
            let base = (b as u32) << COMBINE_BLOCK_BITS;
            for (slot, m) in block.drain(..) {
                match &mut self.fold[(slot - base) as usize] {
                    Some(into) => combiner.combine(into, m),
                    empty => *empty = Some(m),
                }
            }
            for (i, m) in self.fold.iter_mut().enumerate() {
                if let Some(m) = m.take() {
                    out.push((base + i as u32, m));
                }
            }
        }
        self.buffered = 0;
        out
    }
}

/// A partition's outgoing messages of one superstep.
pub(crate) struct Sender<M> {
    from: u32,
    partitions: usize,
    combiner: Option<Combiner<M>>,
    /// With a combiner: routed messages, to be folded by block.
    blocked: Vec<BlockedFold<M>>,
    /// With plain messages: `send_to_out_neighbours` and `send_to_in_neighbours` record
    /// each vertex's message once, and the plans of the out- and in-edges fold or group
    /// them per target (see `push_plan`).
    broadcast_allowed: bool,
    plans: [Option<PushPlan>; 2],
    broadcasts: [Broadcasts<M>; 2],
    routed: Vec<Vec<(u32, M)>>,
    by_id: Vec<Vec<(VertexId, M)>>,
    by_id_combined: Vec<FxHashMap<VertexId, M>>,
    sequence: Vec<u32>,
    /// Encoded batches for other partitions, waiting for the outbox.
    pub ready: Vec<(usize, Vec<u8>)>,
    /// Batches for this partition itself, kept decoded.
    pub to_self: Vec<Batch<M>>,
    /// Messages sent by `compute` (before combining).
    pub sent: u64,
    /// Messages that left in batches (after combining).
    pub delivered: u64,
    /// The first encoding error, reported after the vertex that hit it.
    pub error: Option<TaskError>,
}

impl<M: Data> Sender<M> {
    /// A sender for partition `from` of `partitions`.
    pub fn new(from: usize, partitions: usize, combiner: Option<Combiner<M>>) -> Self {
        Sender {
            from: from as u32,
            partitions,
            blocked: (0..partitions).map(|_| BlockedFold::new()).collect(),
            broadcast_allowed: !std::mem::needs_drop::<M>(),
            plans: [None, None],
            broadcasts: [Broadcasts::new(), Broadcasts::new()],
            combiner,
            routed: (0..partitions).map(|_| Vec::new()).collect(),
            by_id: (0..partitions).map(|_| Vec::new()).collect(),
            by_id_combined: (0..partitions).map(|_| FxHashMap::default()).collect(),
            sequence: vec![0; partitions],
            ready: Vec::new(),
            to_self: Vec::new(),
            sent: 0,
            delivered: 0,
            error: None,
        }
    }

    /// Starts a superstep: counters and batch sequences from zero, the buffers (empty
    /// after the last `cut_all`) kept with their memory.
    pub fn begin(&mut self) {
        self.sequence.iter_mut().for_each(|s| *s = 0);
        self.sent = 0;
        self.delivered = 0;
        self.error = None;
    }

    /// Sends `message` to the vertex at local index `slot` of `vertex`'s partition.
    #[inline(always)]
    pub fn send_routed(&mut self, vertex: VertexId, slot: u32, message: M) {
        self.sent += 1;
        let to = partition_of_vertex(vertex, self.partitions);
        if self.combiner.is_some() {
            let blocked = &mut self.blocked[to];
            blocked.push(slot, message);
            if blocked.buffered >= COMBINE_MESSAGES {
                self.cut(to);
            }
        } else {
            self.routed[to].push((slot, message));
            if self.routed[to].len() >= BATCH_MESSAGES {
                self.cut(to);
            }
        }
    }

    /// Sends `message` along every edge of local vertex `local` in `edges` (the
    /// partition's out-edges, `inward` false, or in-edges) by the push plan, if this
    /// sender can (plain messages, resolved routes); `false` if the caller must send
    /// along the edges itself.
    #[inline]
    pub fn broadcast<E>(
        &mut self,
        edges: &Adjacency<E>,
        inward: bool,
        local: usize,
        message: &M,
    ) -> bool {
        if !self.broadcast_allowed || !edges.is_resolved() {
            return false;
        }
        let vertices = edges.offsets.len() - 1;
        let which = usize::from(inward);
        if self.plans[which].is_none() {
            self.plans[which] = Some(PushPlan::build(edges, vertices, self.partitions));
        }
        if !self.broadcasts[which].set(local, message, vertices) {
            return false;
        }
        self.sent += edges.range(local).len() as u64;
        true
    }

    /// Sends `message` to `vertex`, wherever it is.
    #[inline(always)]
    pub fn send(&mut self, vertex: VertexId, message: M) {
        self.sent += 1;
        let to = partition_of_vertex(vertex, self.partitions);
        match &self.combiner {
            Some(combiner) => {
                let buffer = &mut self.by_id_combined[to];
                match buffer.get_mut(&vertex) {
                    Some(into) => combiner.combine(into, message),
                    None => {
                        buffer.insert(vertex, message);
                        if buffer.len() >= BATCH_MESSAGES {
                            self.cut(to);
                        }
                    }
                }
            }
            None => {
                self.by_id[to].push((vertex, message));
                if self.by_id[to].len() >= BATCH_MESSAGES {
                    self.cut(to);
                }
            }
        }
    }

    /// Cuts what destination `to`'s buffers hold into batches, folding routed messages
    /// first when there is a combiner.
    #[inline(never)]
    fn cut(&mut self, to: usize) {
        self.cut_with(to, Vec::new());
    }

    /// As [`cut`](Self::cut), with `folded`: messages to `to` already combined, one per
    /// slot, ascending (with a combiner; without one, `folded` is empty).
    fn cut_with(&mut self, to: usize, folded: Vec<(u32, M)>) {
        let routed = match &self.combiner {
            Some(combiner) => merge_folded(folded, self.blocked[to].drain(combiner), combiner),
            None => std::mem::take(&mut self.routed[to]),
        };
        let by_id: Vec<(VertexId, M)> = if self.combiner.is_some() {
            self.by_id_combined[to].drain().collect()
        } else {
            std::mem::take(&mut self.by_id[to])
        };
        let mut routed = routed.into_iter().peekable();
        let mut by_id = Some(by_id).filter(|b| !b.is_empty());
        while routed.peek().is_some() || by_id.is_some() {
            let chunk: Vec<(u32, M)> = routed.by_ref().take(BATCH_MESSAGES).collect();
            self.emit(to, chunk, by_id.take().unwrap_or_default());
        }
    }

    /// Sends one batch to `to` (or keeps it, for this partition itself).
    fn emit(&mut self, to: usize, routed: Vec<(u32, M)>, by_id: Vec<(VertexId, M)>) {
        let sequence = self.sequence[to];
        self.sequence[to] += 1;
        let batch = Batch {
            from: self.from,
            sequence,
            routed,
            by_id,
        };
        self.delivered += batch.len() as u64;
        if to == self.from as usize {
            self.to_self.push(batch);
            return;
        }
        let mut bytes = Vec::with_capacity(8 + batch.len() * 12);
        bytes.extend_from_slice(&self.from.to_le_bytes());
        bytes.extend_from_slice(&sequence.to_le_bytes());
        match bincode::serialize_into(&mut bytes, &(&batch.routed, &batch.by_id)) {
            Ok(()) => self.ready.push((to, bytes)),
            Err(e) => {
                let e = TaskError::failed(format!("a Pregel message could not be encoded: {e}"));
                self.error.get_or_insert(e);
            }
        }
    }

    /// Cuts every buffer that holds messages: the end of the superstep.
    pub fn cut_all(&mut self) {
        for to in 0..self.partitions {
            let mut folded = Vec::new();
            for which in 0..2 {
                let (Some(plan), broadcasts) = (&self.plans[which], &self.broadcasts[which]) else {
                    continue;
                };
                if !broadcasts.any {
                    continue;
                }
                match &self.combiner {
                    Some(combiner) => {
                        let more = broadcasts.fold(plan, to, combiner);
                        folded = merge_folded(folded, more, combiner);
                    }
                    None => {
                        let mut batches = Vec::new();
                        broadcasts.expand(plan, to, BATCH_MESSAGES, |b| batches.push(b));
                        for batch in batches {
                            self.emit(to, batch, Vec::new());
                        }
                    }
                }
            }
            self.cut_with(to, folded);
        }
        for broadcasts in &mut self.broadcasts {
            if broadcasts.any {
                broadcasts.clear();
            }
        }
    }
}

/// The messages a partition received for one superstep, by local vertex.
pub(crate) enum Inbox<M> {
    /// At most one (combined) message per vertex.
    Combined(Vec<Option<M>>),
    /// `messages[offsets[i]..offsets[i + 1]]` are local vertex `i`'s.
    Grouped { offsets: Vec<u32>, messages: Vec<M> },
}

impl<M: Data> Inbox<M> {
    /// Applies `batches` in `(from, sequence)` order to the vertices of `topology`.
    pub fn build<E>(
        topology: &Topology<E>,
        mut batches: Vec<Batch<M>>,
        combiner: Option<&Combiner<M>>,
    ) -> Result<Self, TaskError> {
        batches.sort_by_key(|b| (b.from, b.sequence));
        let n = topology.len();
        // Every message by local index, in batch order: by-id messages are looked up.
        let mut located: Vec<Vec<(u32, M)>> = Vec::with_capacity(batches.len());
        for batch in batches {
            let mut routed = batch.routed;
            if let Some((slot, _)) = routed.iter().find(|(slot, _)| *slot as usize >= n) {
                return Err(TaskError::failed(format!(
                    "a message names local vertex {slot} of partition {}, which has {n}",
                    topology.partition
                )));
            }
            for (vertex, m) in batch.by_id {
                let i = topology.local_index(vertex).ok_or_else(|| {
                    TaskError::failed(format!(
                        "a message was sent to vertex {vertex}, which is not in the graph"
                    ))
                })?;
                routed.push((i as u32, m));
            }
            located.push(routed);
        }
        Ok(match combiner {
            Some(combiner) => {
                let mut slots: Vec<Option<M>> = (0..n).map(|_| None).collect();
                for (i, m) in located.into_iter().flatten() {
                    match &mut slots[i as usize] {
                        Some(into) => combiner.combine(into, m),
                        empty => *empty = Some(m),
                    }
                }
                Inbox::Combined(slots)
            }
            None => group(n, located),
        })
    }

    /// An inbox with no messages.
    pub fn empty() -> Self {
        Inbox::Grouped {
            offsets: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// Local vertex `i`'s messages.
    #[inline]
    pub fn messages(&self, i: usize) -> &[M] {
        match self {
            Inbox::Combined(slots) => slots[i].as_slice(),
            Inbox::Grouped { offsets, messages } if !offsets.is_empty() => {
                &messages[offsets[i] as usize..offsets[i + 1] as usize]
            }
            Inbox::Grouped { .. } => &[],
        }
    }
}

/// The messages of `n` vertices grouped by vertex with a counting sort, each vertex's in
/// the order of `located` (lists of `(local index, message)`, freed as they are placed).
fn group<M: Data>(n: usize, located: Vec<Vec<(u32, M)>>) -> Inbox<M> {
    let mut offsets = vec![0u32; n + 1];
    for (i, _) in located.iter().flatten() {
        offsets[*i as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let total = offsets[n] as usize;
    let mut next: Vec<u32> = offsets[..n].to_vec();
    let first = located.iter().flatten().next().map(|(_, m)| m.clone());
    let messages = match first {
        // Plain messages are placed into copies of the first, all overwritten.
        Some(filler) if !std::mem::needs_drop::<M>() => {
            let mut messages = vec![filler; total];
            for (i, m) in located.into_iter().flatten() {
                let at = &mut next[i as usize];
                messages[*at as usize] = m;
                *at += 1;
            }
            messages
        }
        _ => {
            let mut placed: Vec<Option<M>> = (0..total).map(|_| None).collect();
            for (i, m) in located.into_iter().flatten() {
                let at = &mut next[i as usize];
                placed[*at as usize] = Some(m);
                *at += 1;
            }
            placed.into_iter().flatten().collect()
        }
    };
    Inbox::Grouped { offsets, messages }
}

/// Splits raw pushed batches and this partition's own into decoded batches.
pub(crate) fn decode_all<M: Data>(
    received: Vec<Bytes>,
    own: Vec<Batch<M>>,
) -> Result<Vec<Batch<M>>, TaskError> {
    let mut batches = own;
    for bytes in received {
        batches.push(decode_batch(&bytes)?);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(vertices: Vec<u64>) -> Topology<()> {
        Topology::build(0, 1, vertices, Vec::new(), None, true).unwrap()
    }

    #[test]
    fn batches_round_trip_and_group_by_vertex_in_batch_order() {
        let mut sender = Sender::new(0, 2, None);
        for (v, m) in [(7u64, 1u32), (3, 2), (7, 3)] {
            sender.send(v, m);
        }
        sender.cut_all();
        let mut batches: Vec<Batch<u32>> = sender
            .ready
            .iter()
            .map(|(_, b)| decode_batch(b).unwrap())
            .collect();
        batches.append(&mut sender.to_self);
        assert_eq!(sender.sent, 3);
        let all: usize = batches.iter().map(|b| b.len()).sum();
        assert_eq!(all, 3);
        let inbox = Inbox::build(&topology(vec![3, 7]), batches, None).unwrap();
        assert_eq!(inbox.messages(0), &[2]);
        assert_eq!(inbox.messages(1), &[1, 3]);
    }

    #[test]
    fn a_combiner_folds_on_both_sides() {
        let mut sender = Sender::new(0, 1, Some(Combiner::sum()));
        for m in [1.0f64, 2.0, 4.0] {
            sender.send_routed(5, 0, m);
        }
        sender.cut_all();
        assert_eq!((sender.sent, sender.delivered), (3, 1));
        let mut batches = std::mem::take(&mut sender.to_self);
        batches.push(Batch {
            from: 1,
            sequence: 0,
            routed: Vec::new(),
            by_id: vec![(5, 0.5)],
        });
        let inbox = Inbox::build(&topology(vec![5]), batches, Some(&Combiner::sum())).unwrap();
        assert_eq!(inbox.messages(0), &[7.5]);
    }

    #[test]
    fn the_blocked_combine_folds_each_slot_once_in_ascending_order() {
        let mut x = 1u64;
        let messages: Vec<(u32, u64)> = (0..50_000)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((x >> 40) as u32 % 20_000, x >> 60)
            })
            .collect();
        let mut want: std::collections::BTreeMap<u32, u64> = Default::default();
        for (s, m) in &messages {
            *want.entry(*s).or_default() += m;
        }
        let mut blocked = BlockedFold::new();
        for (slot, m) in messages {
            blocked.push(slot, m);
        }
        let got = blocked.drain(&Combiner::sum());
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn bad_batches_and_unknown_vertices_are_refused() {
        assert!(decode_batch::<u32>(&[1, 2, 3]).is_err());
        let mut bytes = vec![0u8; 8];
        bytes.extend_from_slice(&[0xff; 5]);
        assert!(decode_batch::<u32>(&bytes).is_err());
        let batch = Batch {
            from: 0,
            sequence: 0,
            routed: Vec::new(),
            by_id: vec![(9u64, 1u32)],
        };
        let e = Inbox::build(&topology(vec![1]), vec![batch], None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("vertex 9"), "{e}");
        let batch = Batch {
            from: 0,
            sequence: 0,
            routed: vec![(1, 1u32)],
            by_id: Vec::new(),
        };
        let e = Inbox::build(&topology(vec![1]), vec![batch], None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("local vertex 1"), "{e}");
    }
}
