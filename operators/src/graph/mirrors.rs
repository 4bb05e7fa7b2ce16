//! Mirrors: the dense path of `send_to_out_neighbours` and `send_to_in_neighbours`. When
//! many vertices broadcast in a superstep (CDLP's labels, PageRank's shares on a graph
//! with in-edges), a partition sends each broadcasting vertex's message **once to every
//! partition it has an edge into**, not once per edge, and the receiver expands it along
//! its own copy of the edges (Gemini's and PowerGraph's mirrors, GraphX's shipping of
//! vertex attributes to edge partitions). On R-MAT 20 with two partitions that is about
//! a million values a superstep instead of thirty-three million messages.
//!
//! Both sides derive the same numbering from the graph alone, with no exchange:
//!
//! * the sender's [`MirrorLists`]: for each destination partition, its local vertices
//!   with at least one edge (in the direction of the broadcast) into it, ascending;
//! * the receiver's [`GatherPlan`]: for each edge of the opposite view (in-edges for a
//!   broadcast along out-edges, out-edges for one along in-edges; an undirected graph's
//!   edges either way), the position of its other end in the concatenation of every
//!   partition's mirror list for this partition. The routes give each edge's other end
//!   by its local index in its partition, and the receiver's edges from partition `p`
//!   are exactly `p`'s edges to it, so ranking the distinct indexes per partition
//!   rebuilds `p`'s list.
//!
//! ```text
//!  partition p (sender)                         partition q (receiver)
//!  record each broadcast once ─┐
//!  cut: values of mirror list  │  MirrorValues   place at bases[p]..bases[p+1]
//!       p→q, ascending ────────┴──────────────▶  vertex t's messages: for each edge e of
//!                                                t in the view, values[sources[e]]
//! ```
//!
//! A rebuilt partition (after a lost worker) derives the same lists from the same graph,
//! so recovery needs nothing more than the values.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weir_engine::TaskError;

use crate::graph::bitmap;
use crate::graph::topology::{partition_of_vertex, Adjacency};

/// The sender's side: for each destination partition, the local vertices with an edge
/// into it, ascending.
pub(crate) struct MirrorLists {
    pub lists: Vec<Vec<u32>>,
}

impl MirrorLists {
    /// The lists of `edges` (routes resolved) over `partitions` partitions.
    pub fn build<E>(edges: &Adjacency<E>, partitions: usize) -> MirrorLists {
        let vertices = edges.offsets.len() - 1;
        let mut lists: Vec<Vec<u32>> = (0..partitions).map(|_| Vec::new()).collect();
        for source in 0..vertices {
            for &end in &edges.ends[edges.range(source)] {
                let list = &mut lists[partition_of_vertex(end, partitions)];
                if list.last() != Some(&(source as u32)) {
                    list.push(source as u32);
                }
            }
        }
        MirrorLists { lists }
    }
}

/// One sender's broadcast values for one receiver, in the order of its mirror list: the
/// whole list, or one slice of it (slices come in order, one after the other). Only the
/// vertices that broadcast have a value here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MirrorValues<M> {
    /// Broadcast along in-edges (else out-edges).
    pub inward: bool,
    /// The position of the slice's first vertex in the mirror list.
    pub start: u32,
    /// How many vertices of the list the slice covers.
    pub len: u32,
    /// The values of those that broadcast, in list order.
    pub values: Vec<M>,
    /// Which of them broadcast (bit `i` for the slice's vertex `i`); `None` when all did.
    pub present: Option<Vec<u64>>,
}

impl<M> MirrorValues<M> {
    /// The slice's positions (from 0) that have a value, with the values; an error if
    /// the bitmap and the values disagree.
    fn positioned(self) -> Result<Vec<(usize, M)>, String> {
        let len = self.len as usize;
        let positions: Vec<usize> = match &self.present {
            None => (0..len).collect(),
            Some(bits) if bits.len() == bitmap::words(len) => {
                (0..len).filter(|&i| bitmap::is_set(bits, i)).collect()
            }
            Some(bits) => {
                return Err(format!("{} bitmap words for {len} vertices", bits.len()));
            }
        };
        if positions.len() != self.values.len() {
            return Err(format!(
                "{} values for {} vertices that broadcast",
                self.values.len(),
                positions.len()
            ));
        }
        Ok(positions.into_iter().zip(self.values).collect())
    }
}

/// The receiver's side: where each edge's other end sits among the mirror values.
pub(crate) struct GatherPlan {
    /// The view's offsets: vertex `t`'s edges are `sources[offsets[t]..offsets[t + 1]]`.
    offsets: Arc<Vec<u64>>,
    /// Per edge: its other end's position in the concatenated mirror values. (A number
    /// per edge, read in order, is what keeps gathering fast: looking the position up by
    /// the other end's partition and index makes two dependent random reads of every
    /// edge, three times slower on CDLP.)
    sources: Vec<u32>,
    /// `bases[p]..bases[p + 1]` are partition `p`'s mirrors.
    bases: Vec<usize>,
}

impl GatherPlan {
    /// The plan of `view` (the edges opposite to the broadcast's, routes resolved) over
    /// `partitions` partitions.
    pub fn build<E>(view: &Adjacency<E>, partitions: usize) -> GatherPlan {
        debug_assert!(view.is_resolved());
        // Per partition, a mark for each local index named; then each mark's rank.
        let mut ranks: Vec<Vec<u32>> = (0..partitions).map(|_| Vec::new()).collect();
        for (&end, &slot) in view.ends.iter().zip(&view.slots) {
            let marks = &mut ranks[partition_of_vertex(end, partitions)];
            if slot as usize >= marks.len() {
                marks.resize(slot as usize + 1, 0);
            }
            marks[slot as usize] = 1;
        }
        let mut bases = Vec::with_capacity(partitions + 1);
        let mut total = 0usize;
        for marks in &mut ranks {
            bases.push(total);
            for mark in marks.iter_mut() {
                let here = *mark;
                *mark = total as u32;
                total += here as usize;
            }
        }
        bases.push(total);
        let sources = view
            .ends
            .iter()
            .zip(&view.slots)
            .map(|(&end, &slot)| ranks[partition_of_vertex(end, partitions)][slot as usize])
            .collect();
        GatherPlan {
            offsets: view.offsets.clone(),
            sources,
            bases,
        }
    }

    /// How many mirror values partition `from` sends this partition.
    pub fn mirrors_of(&self, from: usize) -> usize {
        self.bases[from + 1] - self.bases[from]
    }
}

/// One superstep's mirror values of one direction, placed for gathering.
pub(crate) struct Gathered<M> {
    plan: Arc<GatherPlan>,
    values: Vec<M>,
    present: Vec<u64>,
    /// Whether every mirror's value came (the common case, read without the bitmap).
    complete: bool,
}

impl<M: Clone> Gathered<M> {
    /// Places the values `received` (sender partition, values) along `plan`.
    pub fn place(
        plan: Arc<GatherPlan>,
        received: Vec<(u32, MirrorValues<M>)>,
    ) -> Result<Option<Self>, TaskError> {
        let Some(filler) = received.iter().find_map(|(_, m)| m.values.first().cloned()) else {
            return Ok(None);
        };
        let total = *plan.bases.last().expect("bases");
        let mut values = vec![filler; total];
        let mut present = vec![0u64; bitmap::words(total)];
        let mut shown_total = 0usize;
        // Per sender: how many of its values came so far (slices come in order).
        let mut placed = vec![0usize; plan.bases.len().saturating_sub(1)];
        for (from, mirror) in received {
            let from = from as usize;
            let Some(done) = placed.get_mut(from) else {
                return Err(TaskError::failed(format!(
                    "partition {from} sent mirror values, where this partition expects none \
                     from it"
                )));
            };
            let expected = plan.mirrors_of(from);
            let end = mirror.start as usize + mirror.len as usize;
            if mirror.start as usize != *done || end > expected {
                return Err(TaskError::failed(format!(
                    "partition {from} sent mirror values {}..{end}, where this partition \
                     expects {expected} in order and has {done}",
                    mirror.start
                )));
            }
            *done = end;
            let base = plan.bases[from] + mirror.start as usize;
            let positioned = mirror.positioned().map_err(|e| {
                TaskError::failed(format!(
                    "partition {from} sent malformed mirror values: {e}"
                ))
            })?;
            shown_total += positioned.len();
            for (i, value) in positioned {
                values[base + i] = value;
                bitmap::set(&mut present, base + i);
            }
        }
        let short = |p: &usize| placed[*p] != 0 && placed[*p] != plan.mirrors_of(*p);
        if let Some(from) = (0..placed.len()).find(short) {
            return Err(TaskError::failed(format!(
                "partition {from} sent {} mirror values, where this partition expects {}",
                placed[from],
                plan.mirrors_of(from)
            )));
        }
        Ok(Some(Gathered {
            plan,
            values,
            present,
            complete: shown_total == total,
        }))
    }

    /// Appends local vertex `t`'s messages to `out`, in the order of its edges.
    #[inline]
    pub fn gather(&self, t: usize, out: &mut Vec<M>) {
        let range = self.plan.offsets[t] as usize..self.plan.offsets[t + 1] as usize;
        let sources = &self.plan.sources[range];
        if self.complete {
            out.extend(sources.iter().map(|&s| self.values[s as usize].clone()));
            return;
        }
        for &s in sources {
            let s = s as usize;
            if bitmap::is_set(&self.present, s) {
                out.push(self.values[s].clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::topology::{Topology, VertexId};

    /// A routed directed graph of `partitions` partitions with in-edges.
    fn routed(edges: &[(VertexId, VertexId)], partitions: usize) -> Vec<Topology<()>> {
        let mut vertices: Vec<VertexId> = edges.iter().flat_map(|e| [e.0, e.1]).collect();
        vertices.sort_unstable();
        vertices.dedup();
        let mut parts: Vec<Topology<()>> = (0..partitions)
            .map(|p| {
                let mine: Vec<VertexId> = vertices
                    .iter()
                    .copied()
                    .filter(|&v| partition_of_vertex(v, partitions) == p)
                    .collect();
                let owned = |at: fn(&(VertexId, VertexId)) -> VertexId| {
                    edges
                        .iter()
                        .filter(|e| partition_of_vertex(at(e), partitions) == p)
                        .map(|&(s, d)| {
                            if at(&(s, d)) == s {
                                (s, d, ())
                            } else {
                                (d, s, ())
                            }
                        })
                        .collect::<Vec<_>>()
                };
                Topology::build(
                    p as u32,
                    partitions as u32,
                    mine,
                    owned(|e| e.0),
                    Some(owned(|e| e.1)),
                    true,
                )
                .unwrap()
            })
            .collect();
        let index = |v: VertexId, parts: &[Topology<()>]| {
            parts[partition_of_vertex(v, partitions)]
                .local_index(v)
                .unwrap() as u32
        };
        for p in 0..partitions {
            let out: Vec<u32> = parts[p]
                .out_edges
                .ends
                .iter()
                .map(|&v| index(v, &parts))
                .collect();
            let ins: Vec<u32> = parts[p]
                .in_edges
                .as_ref()
                .unwrap()
                .ends
                .iter()
                .map(|&v| index(v, &parts))
                .collect();
            parts[p].out_edges.slots = out;
            parts[p].in_edges.as_mut().unwrap().slots = ins;
        }
        parts
    }

    #[test]
    fn gathering_mirror_values_gives_each_vertex_one_message_per_in_edge() {
        let edges: Vec<(VertexId, VertexId)> = (0..300u64)
            .map(|i| ((i * 7919) % 41, (i * 104_729 + 3) % 37))
            .collect();
        let partitions = 3;
        let parts = routed(&edges, partitions);
        // Every vertex but multiples of 5 broadcasts its own id.
        let plans: Vec<Arc<GatherPlan>> = parts
            .iter()
            .map(|t| Arc::new(GatherPlan::build(t.in_edges.as_ref().unwrap(), partitions)))
            .collect();
        let mut received: Vec<Vec<(u32, MirrorValues<u64>)>> = vec![Vec::new(); partitions];
        for (p, t) in parts.iter().enumerate() {
            let lists = MirrorLists::build(&t.out_edges, partitions);
            for (q, list) in lists.lists.iter().enumerate() {
                // In slices of four, as a sender cuts long lists.
                for (k, slice) in list.chunks(4).enumerate() {
                    let ids = slice.iter().map(|&l| t.vertices[l as usize]);
                    let mut bits = vec![0u64; bitmap::words(slice.len())];
                    for (i, v) in ids.clone().enumerate() {
                        if v % 5 != 0 {
                            bitmap::set(&mut bits, i);
                        }
                    }
                    received[q].push((
                        p as u32,
                        MirrorValues {
                            inward: false,
                            start: 4 * k as u32,
                            len: slice.len() as u32,
                            values: ids.filter(|v| v % 5 != 0).collect(),
                            present: Some(bits),
                        },
                    ));
                }
            }
        }
        for (q, t) in parts.iter().enumerate() {
            let gathered = Gathered::place(plans[q].clone(), std::mem::take(&mut received[q]))
                .unwrap()
                .unwrap();
            for (i, &v) in t.vertices.iter().enumerate() {
                let mut got = Vec::new();
                gathered.gather(i, &mut got);
                got.sort_unstable();
                let mut want: Vec<u64> = edges
                    .iter()
                    .filter(|e| e.1 == v && e.0 % 5 != 0)
                    .map(|e| e.0)
                    .collect();
                want.sort_unstable();
                assert_eq!(got, want, "vertex {v}");
            }
        }
    }

    #[test]
    fn a_mirror_batch_of_the_wrong_size_is_refused() {
        let edges: Vec<(VertexId, VertexId)> = (0..30).map(|i| (i, (i * 7 + 3) % 30)).collect();
        let parts = routed(&edges, 2);
        let plan = Arc::new(GatherPlan::build(parts[0].in_edges.as_ref().unwrap(), 2));
        let wrong = MirrorValues {
            inward: false,
            start: 0,
            len: plan.mirrors_of(1) as u32 + 1,
            values: vec![1u64; plan.mirrors_of(1) + 1],
            present: None,
        };
        let e = Gathered::place(plan.clone(), vec![(1, wrong)])
            .err()
            .unwrap();
        assert!(e.to_string().contains("partition 1 sent"), "{e}");
        // A slice missing, or one slice short of the list.
        let slice = |start: u32, n: usize| MirrorValues {
            inward: false,
            start,
            len: n as u32,
            values: vec![1u64; n],
            present: None,
        };
        let n = plan.mirrors_of(1);
        assert!(n >= 2, "the test graph gives partition 1 mirrors");
        // A bitmap that names fewer vertices than the values.
        let mut one = vec![0u64; bitmap::words(n)];
        bitmap::set(&mut one, 0);
        let disagreeing = MirrorValues {
            present: Some(one),
            ..slice(0, n)
        };
        let e = Gathered::place(plan.clone(), vec![(1, disagreeing)])
            .err()
            .unwrap();
        assert!(e.to_string().contains("malformed mirror values"), "{e}");
        for slices in [vec![slice(1, n - 1)], vec![slice(0, n - 1)]] {
            let received = slices.into_iter().map(|m| (1, m)).collect();
            let e = Gathered::place(plan.clone(), received).err().unwrap();
            assert!(e.to_string().contains("partition 1 sent"), "{e}");
        }
        let e = Gathered::place(
            plan,
            vec![(
                7,
                MirrorValues {
                    inward: false,
                    start: 0,
                    len: 1,
                    values: vec![1u64],
                    present: None,
                },
            )],
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("partition 7"), "{e}");
    }
}
