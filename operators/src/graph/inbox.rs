//! [`Inbox`]: the messages a partition received for one superstep, by local vertex.
//!
//! Batches are applied in `(from, sequence)` order whatever order the network delivered
//! them in. Routed and by-id messages are folded into one slot per vertex (with a
//! combiner) or grouped by vertex with a counting sort; mirror values (broadcasts sent
//! once per vertex, see `mirrors`) are kept as they came and expanded along the
//! partition's own edges when a vertex asks for its messages. A vertex sees its routed
//! and by-id messages first, then those expanded from mirrors: out-edge broadcasts, then
//! in-edge ones.

use std::sync::Arc;

use bytes::Bytes;
use weir_engine::TaskError;

use crate::dataset::Data;
use crate::graph::combine::Combiner;
use crate::graph::messages::{decode_batch, expanding_edges, Batch};
use crate::graph::mirrors::{GatherPlan, Gathered, MirrorValues};
use crate::graph::topology::Topology;

/// Routed and by-id messages by local vertex.
enum Regular<M> {
    /// At most one (combined) message per vertex.
    Combined(Vec<Option<M>>),
    /// `messages[offsets[i]..offsets[i + 1]]` are local vertex `i`'s.
    Grouped { offsets: Vec<u32>, messages: Vec<M> },
}

impl<M> Regular<M> {
    #[inline]
    fn messages(&self, i: usize) -> &[M] {
        match self {
            Regular::Combined(slots) => slots[i].as_slice(),
            Regular::Grouped { offsets, messages } if !offsets.is_empty() => {
                &messages[offsets[i] as usize..offsets[i + 1] as usize]
            }
            Regular::Grouped { .. } => &[],
        }
    }
}

/// The gather plans of a partition's two broadcast directions, built the first time
/// mirror values arrive for one and kept for the run.
pub(crate) type GatherPlans = [Option<Arc<GatherPlan>>; 2];

/// The messages a partition received for one superstep.
pub(crate) struct Inbox<M> {
    regular: Regular<M>,
    mirrored: Vec<Gathered<M>>,
    combiner: Option<Combiner<M>>,
    /// A vertex's messages when some come from mirrors.
    scratch: Vec<M>,
}

impl<M: Data> Inbox<M> {
    /// Applies `batches` to the vertices of `topology`, building the gather plans in
    /// `plans` that mirror values need.
    pub fn build<E>(
        topology: &Topology<E>,
        mut batches: Vec<Batch<M>>,
        combiner: Option<&Combiner<M>>,
        plans: &mut GatherPlans,
    ) -> Result<Self, TaskError> {
        batches.sort_by_key(|b| (b.from, b.sequence));
        let n = topology.len();
        // Every message by local index, in batch order: by-id messages are looked up.
        let mut located: Vec<Vec<(u32, M)>> = Vec::with_capacity(batches.len());
        let mut mirrors: [Vec<(u32, MirrorValues<M>)>; 2] = [Vec::new(), Vec::new()];
        for batch in batches {
            for m in batch.mirrors {
                mirrors[usize::from(m.inward)].push((batch.from, m));
            }
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
            if !routed.is_empty() {
                located.push(routed);
            }
        }
        let mut mirrored = Vec::new();
        for (which, received) in mirrors.into_iter().enumerate() {
            if received.is_empty() {
                continue;
            }
            let plan = match &plans[which] {
                Some(plan) => plan.clone(),
                None => {
                    let edges = expanding_edges(topology, which)
                        .filter(|edges| edges.is_resolved())
                        .ok_or_else(|| {
                            TaskError::failed(format!(
                                "partition {} received mirror values it has no routed edges \
                                 to expand along",
                                topology.partition
                            ))
                        })?;
                    let plan = Arc::new(GatherPlan::build(edges, topology.partitions as usize));
                    plans[which] = Some(plan.clone());
                    plan
                }
            };
            mirrored.extend(Gathered::place(plan, received)?);
        }
        let regular = match combiner {
            _ if located.is_empty() => Regular::Grouped {
                offsets: Vec::new(),
                messages: Vec::new(),
            },
            Some(combiner) => {
                let mut slots: Vec<Option<M>> = (0..n).map(|_| None).collect();
                for (i, m) in located.into_iter().flatten() {
                    match &mut slots[i as usize] {
                        Some(into) => combiner.combine(into, m),
                        empty => *empty = Some(m),
                    }
                }
                Regular::Combined(slots)
            }
            None => group(n, located),
        };
        Ok(Inbox {
            regular,
            mirrored,
            combiner: combiner.cloned(),
            scratch: Vec::new(),
        })
    }

    /// An inbox with no messages.
    pub fn empty() -> Self {
        Inbox {
            regular: Regular::Grouped {
                offsets: Vec::new(),
                messages: Vec::new(),
            },
            mirrored: Vec::new(),
            combiner: None,
            scratch: Vec::new(),
        }
    }

    /// Local vertex `i`'s messages (one at most, with a combiner).
    #[inline]
    pub fn messages(&mut self, i: usize) -> &[M] {
        if self.mirrored.is_empty() {
            return self.regular.messages(i);
        }
        let scratch = &mut self.scratch;
        scratch.clear();
        scratch.extend_from_slice(self.regular.messages(i));
        for mirrored in &self.mirrored {
            mirrored.gather(i, scratch);
        }
        if let (Some(combiner), true) = (&self.combiner, scratch.len() > 1) {
            let mut all = scratch.drain(..);
            let mut folded = all.next().expect("two or more");
            for m in all {
                combiner.combine(&mut folded, m);
            }
            scratch.push(folded);
        }
        &self.scratch
    }
}

/// The messages of `n` vertices grouped by vertex with a counting sort, each vertex's in
/// the order of `located` (lists of `(local index, message)`, freed as they are placed).
fn group<M: Data>(n: usize, located: Vec<Vec<(u32, M)>>) -> Regular<M> {
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
    Regular::Grouped { offsets, messages }
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
    use crate::graph::messages::Sender;

    fn topology(vertices: Vec<u64>) -> Topology<()> {
        Topology::build(0, 1, vertices, Vec::new(), None, true).unwrap()
    }

    fn build(topology: &Topology<()>, batches: Vec<Batch<u32>>) -> Result<Inbox<u32>, TaskError> {
        Inbox::build(topology, batches, None, &mut [None, None])
    }

    #[test]
    fn batches_round_trip_and_group_by_vertex_in_batch_order() {
        let mut sender = Sender::new(0, 2);
        for (v, m) in [(7u64, 1u32), (3, 2), (7, 3)] {
            sender.send(v, m);
        }
        let t = topology(vec![3, 7]);
        sender.cut_all(&t, |_| Ok(())).unwrap();
        let mut batches: Vec<Batch<u32>> = sender
            .ready
            .iter()
            .map(|(_, b)| decode_batch(b).unwrap())
            .collect();
        batches.append(&mut sender.to_self);
        assert_eq!(sender.sent, 3);
        let all: usize = batches.iter().map(|b| b.routed.len() + b.by_id.len()).sum();
        assert_eq!(all, 3);
        let mut inbox = build(&t, batches).unwrap();
        assert_eq!(inbox.messages(0), &[2]);
        assert_eq!(inbox.messages(1), &[1, 3]);
    }

    #[test]
    fn a_combiner_folds_on_both_sides() {
        let mut sender = Sender::new(0, 1);
        sender.begin(Some(Combiner::sum()));
        for m in [1.0f64, 2.0, 4.0] {
            sender.send_routed(5, 0, m);
        }
        let t = topology(vec![5]);
        sender.cut_all(&t, |_| Ok(())).unwrap();
        assert_eq!((sender.sent, sender.delivered), (3, 1));
        let mut batches = std::mem::take(&mut sender.to_self);
        batches.push(Batch {
            from: 1,
            sequence: 0,
            routed: Vec::new(),
            by_id: vec![(5, 0.5)],
            mirrors: Vec::new(),
        });
        let mut inbox =
            Inbox::build(&t, batches, Some(&Combiner::sum()), &mut [None, None]).unwrap();
        assert_eq!(inbox.messages(0), &[7.5]);
    }

    #[test]
    fn unknown_vertices_slots_and_unexpandable_mirrors_are_refused() {
        let batch = |routed, by_id, mirrors| Batch {
            from: 0,
            sequence: 0,
            routed,
            by_id,
            mirrors,
        };
        let e = build(
            &topology(vec![1]),
            vec![batch(vec![], vec![(9u64, 1u32)], vec![])],
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("vertex 9"), "{e}");
        let e = build(
            &topology(vec![1]),
            vec![batch(vec![(1, 1u32)], vec![], vec![])],
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("local vertex 1"), "{e}");
        let mirror = MirrorValues {
            inward: false,
            start: 0,
            len: 1,
            values: vec![1u32],
            present: None,
        };
        let e = build(
            &topology(vec![1]),
            vec![batch(vec![], vec![], vec![mirror])],
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("no routed edges"), "{e}");
    }
}
