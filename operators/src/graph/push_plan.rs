//! [`PushPlan`] and [`Broadcasts`]: the fast path of `send_to_out_neighbours` and
//! `send_to_in_neighbours`, where every edge of a vertex carries the same message
//! (PageRank's share, BFS's depth, CDLP's label).
//!
//! Such a vertex only records its message, once, in a dense array by local index. At the
//! end of the superstep the sender walks a plan of the partition's edges grouped by
//! destination partition and target slot (built once per run, by counting passes over
//! the routes). Under a combiner it folds, for each target, the messages of its sources:
//! one combined message per target, with no per-edge message ever written. A superstep
//! then reads the plan (four bytes an edge) instead of writing and re-reading every
//! message (sixteen bytes an edge and more), which is what bounds it on a graph larger
//! than the cache. Without a combiner it emits every message, grouped by target, so the
//! receiver places them in a few sequential streams instead of scattering them.
//! The sources of a target are in ascending local order, so the fold order (and a
//! floating-point sum), like the order a vertex sees its messages in, is the same every
//! run.

use crate::graph::bitmap;
use crate::graph::combine::Combiner;
use crate::graph::mirrors::MirrorValues;
use crate::graph::topology::{partition_of_vertex, Adjacency};

/// One partition's edges (out or in) by destination partition and target slot.
pub(crate) struct PushPlan {
    /// Per destination: `sources[starts[s]..starts[s + 1]]` are the local indexes of
    /// the vertices with an edge to slot `s` there, ascending.
    dests: Vec<DestPlan>,
}

struct DestPlan {
    starts: Vec<u32>,
    sources: Vec<u32>,
}

/// Target slots per bucket of the plan's build: a bucket's counters and the part of
/// the plan it fills stay in cache while it is placed.
const BUILD_BUCKET_BITS: u32 = 12;

/// Edges bucketed at a time while the plan is built (eight bytes each).
const BUILD_CHUNK_EDGES: usize = 1 << 20;

impl PushPlan {
    /// The plan of the edges of `vertices` local vertices in `out` (out- or in-edges,
    /// routes resolved) over `partitions` partitions.
    ///
    /// Placing each edge straight at its target's next free place would write all over
    /// the plan, a cache miss an edge; instead the edges of a chunk of sources are first
    /// appended to buckets of nearby targets (a few sequential streams), then each bucket
    /// is placed within its own small part of the plan. Sources are taken in ascending
    /// order, so every target's sources end up ascending.
    pub fn build<E>(out: &Adjacency<E>, vertices: usize, partitions: usize) -> PushPlan {
        debug_assert!(out.is_resolved());
        let mut counts: Vec<Vec<u32>> = (0..partitions).map(|_| Vec::new()).collect();
        for (end, &slot) in out.ends.iter().zip(&out.slots) {
            let count = &mut counts[partition_of_vertex(*end, partitions)];
            if slot as usize >= count.len() {
                count.resize(slot as usize + 1, 0);
            }
            count[slot as usize] += 1;
        }
        // Bucket `first_bucket[p] + (slot >> BUILD_BUCKET_BITS)` holds the edges to
        // slots of destination `p` in that range.
        let mut first_bucket = Vec::with_capacity(partitions + 1);
        let mut buckets_total = 0usize;
        for count in &counts {
            first_bucket.push(buckets_total);
            buckets_total += count.len().div_ceil(1 << BUILD_BUCKET_BITS);
        }
        let mut dests: Vec<DestPlan> = counts
            .into_iter()
            .map(|mut count| {
                let mut total = 0u32;
                for c in count.iter_mut() {
                    let here = *c;
                    *c = total;
                    total += here;
                }
                count.push(total);
                DestPlan {
                    starts: count,
                    sources: vec![0; total as usize],
                }
            })
            .collect();
        let mut next: Vec<Vec<u32>> = dests.iter().map(|d| d.starts.clone()).collect();
        let mut buckets: Vec<Vec<(u32, u32)>> = vec![Vec::new(); buckets_total];
        let mut source = 0usize;
        while source < vertices {
            // One chunk of sources: about BUILD_CHUNK_EDGES edges.
            let first = out.offsets[source];
            let mut end = source;
            while end < vertices && out.offsets[end] - first < BUILD_CHUNK_EDGES as u64 {
                end += 1;
            }
            let end = end.max(source + 1);
            for s in source..end {
                let range = out.range(s);
                for (target, &slot) in out.ends[range.clone()].iter().zip(&out.slots[range]) {
                    let to = partition_of_vertex(*target, partitions);
                    let b = first_bucket[to] + (slot >> BUILD_BUCKET_BITS) as usize;
                    buckets[b].push((slot, s as u32));
                }
            }
            for (to, dest) in dests.iter_mut().enumerate() {
                let last = first_bucket.get(to + 1).copied().unwrap_or(buckets_total);
                for bucket in &mut buckets[first_bucket[to]..last] {
                    for (slot, s) in bucket.drain(..) {
                        let at = &mut next[to][slot as usize];
                        dest.sources[*at as usize] = s;
                        *at += 1;
                    }
                }
            }
            source = end;
        }
        PushPlan { dests }
    }
}

/// The messages vertices broadcast along their out-edges this superstep, by local
/// index: plain values and a presence bitmap (an array of `Option` would make every
/// read in the fold hang on a branch on the data just loaded).
pub(crate) struct Broadcasts<M> {
    values: Vec<M>,
    present: Vec<u64>,
    /// Whether any vertex broadcast since the last fold.
    pub any: bool,
}

impl<M: Clone + 'static> Broadcasts<M> {
    pub fn new() -> Self {
        Broadcasts {
            values: Vec::new(),
            present: Vec::new(),
            any: false,
        }
    }

    /// Records `message` as local vertex `local`'s broadcast; `vertices` is the
    /// partition's size. `false` if the vertex already broadcast this superstep (the
    /// caller then sends the second message along the edges itself).
    #[inline]
    pub fn set(&mut self, local: usize, message: &M, vertices: usize) -> bool {
        if self.values.len() < vertices {
            // Filler values are never read: only flagged slots are.
            self.values.resize(vertices, message.clone());
            self.present.resize(bitmap::words(vertices), 0);
        }
        if bitmap::is_set(&self.present, local) {
            return false;
        }
        self.values[local] = message.clone();
        bitmap::set(&mut self.present, local);
        self.any = true;
        true
    }

    /// The combined message to each target slot in destination `to` with a
    /// broadcasting source, ascending by slot.
    pub fn fold(&self, plan: &PushPlan, to: usize, combiner: &Combiner<M>) -> Vec<(u32, M)> {
        let dest = &plan.dests[to];
        let mut out = Vec::new();
        for (slot, range) in dest.starts.windows(2).enumerate() {
            let sources = &dest.sources[range[0] as usize..range[1] as usize];
            if let Some(m) = combiner.fold_present(&self.values, &self.present, sources) {
                out.push((slot as u32, m));
            }
        }
        out
    }

    /// Every message to destination `to`, grouped by target slot (ascending) and, within
    /// a target, by source; handed to `emit` in lists of at most `batch`.
    pub fn expand(
        &self,
        plan: &PushPlan,
        to: usize,
        batch: usize,
        mut emit: impl FnMut(Vec<(u32, M)>),
    ) {
        let dest = &plan.dests[to];
        let mut out = Vec::with_capacity(batch);
        for (slot, range) in dest.starts.windows(2).enumerate() {
            for &source in &dest.sources[range[0] as usize..range[1] as usize] {
                let s = source as usize;
                if bitmap::is_set(&self.present, s) {
                    out.push((slot as u32, self.values[s].clone()));
                    if out.len() == batch {
                        emit(std::mem::replace(&mut out, Vec::with_capacity(batch)));
                    }
                }
            }
        }
        if !out.is_empty() {
            emit(out);
        }
    }

    /// The broadcasts of the vertices `list` (positions `start..` of a mirror list, see
    /// `mirrors`), in its order: a value for each vertex that broadcast.
    pub fn mirror_values(&self, list: &[u32], start: usize, inward: bool) -> MirrorValues<M> {
        let mut values = Vec::with_capacity(list.len());
        let mut bits = vec![0u64; bitmap::words(list.len())];
        for (i, &s) in list.iter().enumerate() {
            let s = s as usize;
            if bitmap::is_set(&self.present, s) {
                values.push(self.values[s].clone());
                bitmap::set(&mut bits, i);
            }
        }
        let all = values.len() == list.len();
        MirrorValues {
            inward,
            start: start as u32,
            len: list.len() as u32,
            values,
            present: (!all).then_some(bits),
        }
    }

    /// Forgets this superstep's broadcasts (keeping the memory).
    pub fn clear(&mut self) {
        self.present.iter_mut().for_each(|w| *w = 0);
        // Messages that own memory (shared rows, say) are not kept alive past their
        // superstep; plain ones keep the array for the next.
        if std::mem::needs_drop::<M>() {
            self.values = Vec::new();
        }
        self.any = false;
    }
}

/// Merges two lists of `(slot, message)`, each ascending with distinct slots, folding
/// the messages of a slot in both (`first`'s, then `second`'s).
pub(crate) fn merge_folded<M: 'static>(
    first: Vec<(u32, M)>,
    second: Vec<(u32, M)>,
    combiner: &Combiner<M>,
) -> Vec<(u32, M)> {
    if second.is_empty() {
        return first;
    }
    if first.is_empty() {
        return second;
    }
    let mut out = Vec::with_capacity(first.len() + second.len());
    let mut second = second.into_iter().peekable();
    for (slot, mut m) in first {
        while let Some((s, _)) = second.peek() {
            if *s > slot {
                break;
            }
            let (s, other) = second.next().expect("peeked");
            if s == slot {
                combiner.combine(&mut m, other);
            } else {
                out.push((s, other));
            }
        }
        out.push((slot, m));
    }
    out.extend(second);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::topology::VertexId;

    /// Ten local vertices with edges `(local source, end)` over two partitions, routed
    /// with each end's slot being `end / 2` (any fixed choice serves the plan).
    fn adjacency(edges: &[(u32, VertexId)]) -> Adjacency<()> {
        let locals: Vec<u32> = edges.iter().map(|e| e.0).collect();
        let ends: Vec<VertexId> = edges.iter().map(|e| e.1).collect();
        let mut out = Adjacency::from_columns(10, &locals, &ends, &vec![(); ends.len()]);
        out.slots = out.ends.iter().map(|&e| (e / 2) as u32).collect();
        out
    }

    #[test]
    fn the_fold_sums_each_targets_broadcasting_sources_in_source_order() {
        let edges = [(3, 8), (1, 8), (1, 9), (5, 8), (7, 2), (2, 9), (4, 4)];
        let plan = PushPlan::build(&adjacency(&edges), 10, 2);
        let mut broadcasts = Broadcasts::new();
        for source in [1usize, 3, 4, 7] {
            assert!(broadcasts.set(source, &(source as f64 * 10.0), 10));
        }
        assert!(!broadcasts.set(1, &0.5, 10));
        {}
        let sum = Combiner::sum();
        let mut want: std::collections::BTreeMap<(usize, u32), f64> = Default::default();
        for &(source, end) in &edges {
            if [1, 3, 4, 7].contains(&source) {
                let key = (partition_of_vertex(end, 2), (end / 2) as u32);
                *want.entry(key).or_default() += source as f64 * 10.0;
            }
        }
        for to in 0..2 {
            let mut expanded: Vec<(u32, f64)> = Vec::new();
            broadcasts.expand(&plan, to, 2, |batch| {
                assert!(batch.len() <= 2);
                expanded.extend(batch);
            });
            assert!(expanded.windows(2).all(|w| w[0].0 <= w[1].0));
            let mut folded: Vec<(u32, f64)> = Vec::new();
            for (slot, m) in expanded {
                match folded.last_mut() {
                    Some(last) if last.0 == slot => last.1 += m,
                    _ => folded.push((slot, m)),
                }
            }
            let got = broadcasts.fold(&plan, to, &sum);
            assert_eq!(got, folded);
            let expected: Vec<(u32, f64)> = want
                .iter()
                .filter(|((d, _), _)| *d == to)
                .map(|((_, slot), m)| (*slot, *m))
                .collect();
            assert_eq!(got, expected, "destination {to}");
        }
        broadcasts.clear();
        assert!(!broadcasts.any);
        assert!(broadcasts.fold(&plan, 0, &sum).is_empty());
    }

    #[test]
    fn merging_folds_shared_slots_and_keeps_the_order() {
        let sum = Combiner::sum();
        let merged = merge_folded(vec![(1, 1), (4, 2), (9, 3)], vec![(0, 10), (4, 20)], &sum);
        assert_eq!(merged, vec![(0, 10), (1, 1), (4, 22), (9, 3)]);
        assert_eq!(merge_folded(vec![], vec![(2, 1)], &sum), vec![(2, 1)]);
    }
}
