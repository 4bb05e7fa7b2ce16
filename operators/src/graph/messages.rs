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
//! message)>, Vec<(vertex, message)>, Vec<MirrorValues>)`. Batches are applied in `(from, sequence)` order
//! whatever order the network delivered them in, so a run folds its messages, and rounds
//! its floating-point sums, the same way every time.

use serde::{Deserialize, Serialize};
use weir_engine::TaskError;

use crate::dataset::Data;
use crate::graph::combine::Combiner;
use crate::graph::mirrors::{MirrorLists, MirrorValues};
use crate::graph::push_plan::{merge_folded, Broadcasts, PushPlan};
use crate::graph::topology::{partition_of_vertex, Adjacency, Topology, VertexId};
use crate::shuffle::FxHashMap;

/// Messages a destination's buffer holds before it is cut into a batch.
pub const BATCH_MESSAGES: usize = 1 << 15;

/// Mirror values per batch.
const MIRROR_VALUES: usize = 1 << 14;

/// One batch, decoded.
#[derive(Serialize, Deserialize)]
pub(crate) struct Batch<M> {
    pub from: u32,
    pub sequence: u32,
    /// Messages by the target's local index.
    pub routed: Vec<(u32, M)>,
    /// Messages by the target's id.
    pub by_id: Vec<(VertexId, M)>,
    /// Broadcasts sent once per vertex, for the receiver to expand (see `mirrors`).
    pub mirrors: Vec<MirrorValues<M>>,
}

impl<M> Batch<M> {
    fn len(&self) -> usize {
        self.routed.len()
            + self.by_id.len()
            + self.mirrors.iter().map(|m| m.values.len()).sum::<usize>()
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
    let (routed, by_id, mirrors) = bincode::deserialize(&bytes[8..]).map_err(|e| {
        TaskError::failed(format!(
            "a Pregel batch from partition {from} is malformed: {e}"
        ))
    })?;
    Ok(Batch {
        from,
        sequence,
        routed,
        by_id,
        mirrors,
    })
}

/// Bytes of routed messages a destination's buffer holds before they are combined and
/// cut into batches.
const COMBINE_BUFFER_BYTES: usize = 1 << 20;

/// Routed messages of type `M` a destination's buffer holds before they are combined.
fn combine_messages<M>() -> usize {
    (COMBINE_BUFFER_BYTES / std::mem::size_of::<(u32, M)>()).max(1 << 10)
}

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
    /// `send_to_out_neighbours` and `send_to_in_neighbours` record each vertex's message
    /// once; at the cut it goes as mirror values (see `mirrors`) or along the plans of
    /// the out- and in-edges, folded or grouped per target (see `push_plan`).
    plans: [Option<PushPlan>; 2],
    broadcasts: [Broadcasts<M>; 2],
    /// Edges the broadcasts of this superstep go along, per direction: enough of them
    /// and the values go once per vertex and destination instead (see `mirrors`).
    broadcast_edges: [u64; 2],
    mirror_lists: [Option<MirrorLists>; 2],
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
    pub fn new(from: usize, partitions: usize) -> Self {
        Sender {
            from: from as u32,
            partitions,
            blocked: (0..partitions).map(|_| BlockedFold::new()).collect(),
            plans: [None, None],
            broadcasts: [Broadcasts::new(), Broadcasts::new()],
            broadcast_edges: [0, 0],
            mirror_lists: [None, None],
            combiner: None,
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

    /// Starts a superstep whose messages fold with `combiner`: counters and batch
    /// sequences from zero, the buffers (empty after the last `cut_all`) kept with their
    /// memory.
    pub fn begin(&mut self, combiner: Option<Combiner<M>>) {
        self.combiner = combiner;
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
            if blocked.buffered >= combine_messages::<M>() {
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
    /// partition's out-edges, `inward` false, or in-edges) at the cut, if this sender
    /// can (resolved routes, the vertex's first broadcast this superstep that way);
    /// `false` if the caller must send along the edges itself.
    #[inline]
    pub fn broadcast<E>(
        &mut self,
        edges: &Adjacency<E>,
        inward: bool,
        local: usize,
        message: &M,
    ) -> bool {
        if !edges.is_resolved() {
            return false;
        }
        let vertices = edges.offsets.len() - 1;
        let which = usize::from(inward);
        if !self.broadcasts[which].set(local, message, vertices) {
            return false;
        }
        let along = edges.range(local).len() as u64;
        self.sent += along;
        self.broadcast_edges[which] += along;
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
            let by_id = by_id.take().unwrap_or_default();
            self.emit(to, chunk, by_id, Vec::new());
        }
    }

    /// Sends one batch to `to` (or keeps it, for this partition itself).
    fn emit(
        &mut self,
        to: usize,
        routed: Vec<(u32, M)>,
        by_id: Vec<(VertexId, M)>,
        mirrors: Vec<MirrorValues<M>>,
    ) {
        let sequence = self.sequence[to];
        self.sequence[to] += 1;
        let batch = Batch {
            from: self.from,
            sequence,
            routed,
            by_id,
            mirrors,
        };
        self.delivered += batch.len() as u64;
        if to == self.from as usize {
            self.to_self.push(batch);
            return;
        }
        let mut bytes = Vec::with_capacity(8 + batch.len() * 12);
        bytes.extend_from_slice(&self.from.to_le_bytes());
        bytes.extend_from_slice(&sequence.to_le_bytes());
        let body = (&batch.routed, &batch.by_id, &batch.mirrors);
        match bincode::serialize_into(&mut bytes, &body) {
            Ok(()) => self.ready.push((to, bytes)),
            Err(e) => {
                let e = TaskError::failed(format!("a Pregel message could not be encoded: {e}"));
                self.error.get_or_insert(e);
            }
        }
    }

    /// Cuts every buffer that holds messages: the end of the superstep. Broadcasts go
    /// as mirror values where the receivers can expand them and they cover enough edges
    /// (an eighth of the partition's), else along the push plan. `drain` takes the
    /// batches ready so far, as they come, so they need not all be held at once.
    pub fn cut_all<E>(
        &mut self,
        topology: &Topology<E>,
        mut drain: impl FnMut(&mut Self) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        let mut dense = [false; 2];
        for (which, dense) in dense.iter_mut().enumerate() {
            if !self.broadcasts[which].any {
                continue;
            }
            let edges = broadcast_edges(topology, which);
            *dense = self.broadcast_edges[which] * 8 >= edges.ends.len() as u64
                && expandable(topology, which);
            if *dense && self.mirror_lists[which].is_none() {
                self.mirror_lists[which] = Some(MirrorLists::build(edges, self.partitions));
            }
            if !*dense && self.plans[which].is_none() {
                let vertices = edges.offsets.len() - 1;
                self.plans[which] = Some(PushPlan::build(edges, vertices, self.partitions));
            }
        }
        for to in 0..self.partitions {
            let mut folded = Vec::new();
            for (which, &dense) in dense.iter().enumerate() {
                if !self.broadcasts[which].any {
                    continue;
                }
                if dense {
                    self.send_mirror_values(to, which, &mut drain)?;
                    continue;
                }
                let broadcasts = &self.broadcasts[which];
                let plan = self.plans[which].as_ref().expect("built above");
                match &self.combiner {
                    Some(combiner) => {
                        let more = broadcasts.fold(plan, to, combiner);
                        folded = merge_folded(folded, more, combiner);
                    }
                    None => {
                        let mut batches = Vec::new();
                        broadcasts.expand(plan, to, BATCH_MESSAGES, |b| batches.push(b));
                        for batch in batches {
                            self.emit(to, batch, Vec::new(), Vec::new());
                        }
                    }
                }
            }
            self.cut_with(to, folded);
            drain(self)?;
        }
        for broadcasts in &mut self.broadcasts {
            if broadcasts.any {
                broadcasts.clear();
            }
        }
        self.broadcast_edges = [0, 0];
        Ok(())
    }

    /// Sends destination `to` the broadcasts of direction `which` as mirror values, in
    /// slices, so no batch (nor the frame and buffers it passes through on either side)
    /// grows with the partition.
    fn send_mirror_values(
        &mut self,
        to: usize,
        which: usize,
        drain: &mut impl FnMut(&mut Self) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        let lists = self.mirror_lists[which].as_ref().expect("built by cut_all");
        let total = lists.lists[to].len();
        for start in (0..total).step_by(MIRROR_VALUES) {
            let list = &self.mirror_lists[which].as_ref().expect("built").lists[to];
            let slice = &list[start..(start + MIRROR_VALUES).min(total)];
            let values = self.broadcasts[which].mirror_values(slice, start, which == 1);
            self.emit(to, Vec::new(), Vec::new(), vec![values]);
            drain(self)?;
        }
        Ok(())
    }
}

/// The edges broadcasts go along: out-edges (`which` 0) or in-edges (1; an undirected
/// graph's edges either way).
fn broadcast_edges<E>(topology: &Topology<E>, which: usize) -> &Adjacency<E> {
    match which {
        1 => topology.in_view().unwrap_or(&topology.out_edges),
        _ => &topology.out_edges,
    }
}

/// The edges a receiver expands broadcasts along: the opposite of `broadcast_edges`;
/// `None` for broadcasts along the out-edges of a directed graph kept without in-edges.
pub(crate) fn expanding_edges<E>(topology: &Topology<E>, which: usize) -> Option<&Adjacency<E>> {
    match (which, topology.directed) {
        (0, true) => topology.in_edges.as_ref(),
        _ => Some(&topology.out_edges),
    }
}

/// Whether receivers can expand broadcasts along `which` (their edges are routed).
fn expandable<E>(topology: &Topology<E>, which: usize) -> bool {
    expanding_edges(topology, which).is_some_and(|edges| edges.is_resolved())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn malformed_batches_are_refused() {
        assert!(decode_batch::<u32>(&[1, 2, 3]).is_err());
        let mut bytes = vec![0u8; 8];
        bytes.extend_from_slice(&[0xff; 5]);
        assert!(decode_batch::<u32>(&bytes).is_err());
    }

    #[test]
    fn many_broadcasts_go_as_mirror_values_and_few_along_the_plan() {
        // Vertices 0..40 in one partition, each with edges to the next three.
        let vertices: Vec<u64> = (0..40).collect();
        let edges: Vec<(u64, u64, ())> = (0..40u64)
            .flat_map(|v| (1..4).map(move |k| (v, (v + k) % 40, ())))
            .collect();
        let ins = edges.iter().map(|&(s, d, ())| (d, s, ())).collect();
        let mut t = Topology::build(0, 1, vertices, edges, Some(ins), true).unwrap();
        t.out_edges.slots = t.out_edges.ends.iter().map(|&e| e as u32).collect();
        let ins = t.in_edges.as_mut().unwrap();
        ins.slots = ins.ends.iter().map(|&e| e as u32).collect();
        let mut sender = Sender::new(0, 1);
        for v in 0..40 {
            assert!(sender.broadcast(&t.out_edges, false, v, &(v as u32)));
        }
        sender.cut_all(&t, |_| Ok(())).unwrap();
        let batch = &sender.to_self[0];
        assert!(batch.routed.is_empty());
        assert_eq!(batch.mirrors[0].values, (0..40).collect::<Vec<u32>>());
        assert_eq!(batch.mirrors[0].present, None);
        assert_eq!((sender.sent, sender.delivered), (120, 40));
        sender.to_self.clear();
        sender.begin(None);
        assert!(sender.broadcast(&t.out_edges, false, 7, &7));
        sender.cut_all(&t, |_| Ok(())).unwrap();
        let batch = &sender.to_self[0];
        assert!(batch.mirrors.is_empty());
        assert_eq!(batch.routed.len(), 3);
    }
}
