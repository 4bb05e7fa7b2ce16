//! Pregel messages in batches: the [`Sender`] buffers (and, with a combiner, folds) a
//! partition's messages per destination partition and cuts them into batches; the
//! [`Inbox`] decodes the batches a partition received and hands each vertex its messages.
//!
//! A batch is `from partition (u32 LE) · sequence (u32 LE) · bincode Vec<(vertex,
//! message)>`. Batches are applied in `(from, sequence)` order whatever order the network
//! delivered them in, so a run folds its messages, and rounds its floating-point sums,
//! the same way every time.

use bytes::Bytes;
use weir_engine::TaskError;

use crate::dataset::Data;
use crate::graph::combine::Combiner;
use crate::graph::topology::{partition_of_vertex, Topology, VertexId};
use crate::shuffle::FxHashMap;

/// Messages a destination's buffer holds before it is cut into a batch.
pub const BATCH_MESSAGES: usize = 1 << 15;

/// One received batch, decoded.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Batch<M> {
    pub from: u32,
    pub sequence: u32,
    pub messages: Vec<(VertexId, M)>,
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
    let messages = bincode::deserialize(&bytes[8..]).map_err(|e| {
        TaskError::failed(format!(
            "a Pregel batch from partition {from} is malformed: {e}"
        ))
    })?;
    Ok(Batch {
        from,
        sequence,
        messages,
    })
}

/// A partition's outgoing messages of one superstep.
pub(crate) struct Sender<M> {
    from: u32,
    partitions: usize,
    combiner: Option<Combiner<M>>,
    plain: Vec<Vec<(VertexId, M)>>,
    combined: Vec<FxHashMap<VertexId, M>>,
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
    pub fn new(from: usize, partitions: usize, combiner: Option<Combiner<M>>) -> Self {
        Sender {
            from: from as u32,
            partitions,
            plain: (0..partitions).map(|_| Vec::new()).collect(),
            combined: (0..partitions).map(|_| FxHashMap::default()).collect(),
            combiner,
            sequence: vec![0; partitions],
            ready: Vec::new(),
            to_self: Vec::new(),
            sent: 0,
            delivered: 0,
            error: None,
        }
    }

    /// Buffers `message` for `vertex`.
    #[inline]
    pub fn send(&mut self, vertex: VertexId, message: M) {
        self.sent += 1;
        let to = partition_of_vertex(vertex, self.partitions);
        match &self.combiner {
            Some(combiner) => {
                let buffer = &mut self.combined[to];
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
                self.plain[to].push((vertex, message));
                if self.plain[to].len() >= BATCH_MESSAGES {
                    self.cut(to);
                }
            }
        }
    }

    /// Cuts destination `to`'s buffer into a batch.
    fn cut(&mut self, to: usize) {
        let messages: Vec<(VertexId, M)> = if self.combiner.is_some() {
            self.combined[to].drain().collect()
        } else {
            std::mem::take(&mut self.plain[to])
        };
        if messages.is_empty() {
            return;
        }
        self.delivered += messages.len() as u64;
        let sequence = self.sequence[to];
        self.sequence[to] += 1;
        if to == self.from as usize {
            self.to_self.push(Batch {
                from: self.from,
                sequence,
                messages,
            });
            return;
        }
        let mut bytes = Vec::with_capacity(8 + messages.len() * 16);
        bytes.extend_from_slice(&self.from.to_le_bytes());
        bytes.extend_from_slice(&sequence.to_le_bytes());
        match bincode::serialize_into(&mut bytes, &messages) {
            Ok(()) => self.ready.push((to, bytes)),
            Err(e) => {
                let e = TaskError::failed(format!("a Pregel message could not be encoded: {e}"));
                self.error.get_or_insert(e);
            }
        }
    }

    /// Cuts every buffer that holds messages.
    pub fn cut_all(&mut self) {
        for to in 0..self.partitions {
            self.cut(to);
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
        let locate = |vertex: VertexId| {
            topology.local_index(vertex).ok_or_else(|| {
                TaskError::failed(format!(
                    "a message was sent to vertex {vertex}, which is not in the graph"
                ))
            })
        };
        match combiner {
            Some(combiner) => {
                let mut slots: Vec<Option<M>> = (0..n).map(|_| None).collect();
                for (vertex, m) in batches.into_iter().flat_map(|b| b.messages) {
                    match &mut slots[locate(vertex)?] {
                        Some(into) => combiner.combine(into, m),
                        empty => *empty = Some(m),
                    }
                }
                Ok(Inbox::Combined(slots))
            }
            None => {
                let mut located = Vec::new();
                for (vertex, m) in batches.into_iter().flat_map(|b| b.messages) {
                    located.push((locate(vertex)? as u32, m));
                }
                // A stable sort keeps each vertex's messages in batch order.
                located.sort_by_key(|m| m.0);
                let mut offsets = vec![0u32; n + 1];
                for (i, _) in &located {
                    offsets[*i as usize + 1] += 1;
                }
                for i in 0..n {
                    offsets[i + 1] += offsets[i];
                }
                let messages = located.into_iter().map(|m| m.1).collect();
                Ok(Inbox::Grouped { offsets, messages })
            }
        }
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
        let all: usize = batches.iter().map(|b| b.messages.len()).sum();
        assert_eq!(all, 3);
        let inbox = Inbox::build(&topology(vec![3, 7]), batches, None).unwrap();
        assert_eq!(inbox.messages(0), &[2]);
        assert_eq!(inbox.messages(1), &[1, 3]);
    }

    #[test]
    fn a_combiner_folds_on_both_sides() {
        let mut sender = Sender::new(0, 1, Some(Combiner::sum()));
        for m in [1.0f64, 2.0, 4.0] {
            sender.send(5, m);
        }
        sender.cut_all();
        assert_eq!((sender.sent, sender.delivered), (3, 1));
        let mut batches = std::mem::take(&mut sender.to_self);
        batches.push(Batch {
            from: 1,
            sequence: 0,
            messages: vec![(5, 0.5)],
        });
        let inbox = Inbox::build(&topology(vec![5]), batches, Some(&Combiner::sum())).unwrap();
        assert_eq!(inbox.messages(0), &[7.5]);
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
            messages: vec![(9u64, 1u32)],
        };
        let e = Inbox::build(&topology(vec![1]), vec![batch], None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("vertex 9"), "{e}");
    }
}
