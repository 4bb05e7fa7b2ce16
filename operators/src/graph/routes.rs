//! Routes: each edge's other end as a local index in that end's partition, found once
//! when the graph is built, so that a message along an edge needs no lookup on either
//! side: the sender folds it into the blocks of the destination partition's vertices
//! and the receiver adds it into the slot it names.
//!
//! Two shuffles of the distinct ends (not of the edges), one record per pair of
//! partitions: every partition asks each other partition for the local indexes of the
//! ends it has there, as one sorted array, and gets them back as one array of indexes,
//! found by a merge walk along the owner's sorted vertices. An end that no partition
//! holds (an edge naming a vertex missing from the vertex list) is an error naming it.
//! The routed graph shares its edge arrays with the unrouted one; only the routes are
//! new.

use std::sync::Arc;

use weir_engine::{Result, TaskError};

use crate::dataset::{Data, Dataset, Records};
use crate::graph::build::GraphPart;
use crate::graph::id_index::IdIndex;
use crate::graph::topology::{partition_of_vertex, Adjacency, Topology, VertexId};
use crate::shuffle::partition_by;

/// No vertex has this end.
const MISSING: u32 = u32::MAX;

/// `(partition asked or asking, (ends, their local indexes))`.
type Exchange = (u32, (u32, Vec<VertexId>, Vec<u32>));

/// `base` with every adjacency's `slots` filled.
pub(crate) fn resolve<V: Data, E: Data>(
    base: &Dataset<GraphPart<V, E>>,
) -> Result<Dataset<GraphPart<V, E>>> {
    let partitions = base.num_partitions();
    let questions: Dataset<Exchange> = base.flat_map(|part| questions(&part.topology));
    let identity = Arc::new(|p: &u32| *p as usize);
    let asked = partition_by(&questions, "route questions", partitions, identity.clone());
    let answers: Dataset<Exchange> =
        asked.zip_partitions(base, false, |owner, asked, mut parts| {
            let part = parts.next();
            asked
                .map(move |(_, (from, ends, _))| {
                    let vertices = part.as_ref().map_or(&[][..], |p| &p.topology.vertices[..]);
                    let local = local_indexes(vertices, &ends);
                    (from, (owner as u32, ends, local))
                })
                .collect::<Vec<_>>()
                .into_iter()
        })?;
    let returned = partition_by(&answers, "routes", partitions, identity);
    let resolved = base.zip_partitions(&returned, false, |_, mut parts, answers| {
        let resolved = parts.next().map(|part| with_routes(part, answers));
        resolved.into_iter()
    })?;
    Ok(resolved.narrow("routes", false, |_, records, tc| {
        let parts: Vec<GraphPart<V, E>> = records
            .filter_map(|r| r.map_err(|e| tc.fail(e)).ok())
            .collect();
        Box::new(parts.into_iter()) as Records<GraphPart<V, E>>
    }))
}

/// Every edge end of `t`, once, ascending: out-edges and in-edges alike.
fn distinct_ends<E>(t: &Topology<E>) -> Vec<VertexId> {
    let ins = t.in_edges.as_ref().map_or(&[][..], |a| &a.ends[..]);
    let count = t.out_edges.ends.len() + ins.len();
    let ends = || t.out_edges.ends.iter().chain(ins).copied();
    IdIndex::sorted(ends, count).0
}

/// The questions of partition `t`: its distinct ends, by the partition owning them.
fn questions<E>(t: &Topology<E>) -> Vec<Exchange> {
    let partitions = t.partitions as usize;
    let mut by_owner: Vec<Vec<VertexId>> = (0..partitions).map(|_| Vec::new()).collect();
    for end in distinct_ends(t) {
        by_owner[partition_of_vertex(end, partitions)].push(end);
    }
    by_owner
        .into_iter()
        .enumerate()
        .filter(|(_, ends)| !ends.is_empty())
        .map(|(owner, ends)| (owner as u32, (t.partition, ends, Vec::new())))
        .collect()
}

/// The local index of each of `ends` (ascending) among `vertices` (ascending), or
/// [`MISSING`]: one merge walk.
fn local_indexes(vertices: &[VertexId], ends: &[VertexId]) -> Vec<u32> {
    let mut at = 0usize;
    ends.iter()
        .map(|&end| {
            while at < vertices.len() && vertices[at] < end {
                at += 1;
            }
            match vertices.get(at) {
                Some(&v) if v == end => at as u32,
                _ => MISSING,
            }
        })
        .collect()
}

/// The part with its routes, from the answers to its questions.
fn with_routes<V: Data, E: Data>(
    part: GraphPart<V, E>,
    answers: Records<Exchange>,
) -> std::result::Result<GraphPart<V, E>, TaskError> {
    let mut pairs: Vec<(VertexId, u32)> = Vec::new();
    for (_, (_, ends, local)) in answers {
        if let Some((end, _)) = ends.iter().zip(&local).find(|(_, &l)| l == MISSING) {
            return Err(TaskError::failed(format!(
                "an edge names vertex {end}, which is not in the vertex list"
            )));
        }
        pairs.extend(ends.into_iter().zip(local));
    }
    pairs.sort_unstable_by_key(|p| p.0);
    let (ends, local): (Vec<VertexId>, Vec<u32>) = pairs.into_iter().unzip();
    let index = IdIndex::with_values(&ends, local);
    drop(ends);
    let route = |a: &Adjacency<E>| -> std::result::Result<Vec<u32>, TaskError> {
        a.ends
            .iter()
            .map(|&end| {
                index
                    .get(end)
                    .ok_or_else(|| TaskError::failed(format!("no route was found to vertex {end}")))
            })
            .collect()
    };
    let t: &Topology<E> = &part.topology;
    let mut topology = t.clone();
    topology.out_edges.slots = route(&topology.out_edges)?;
    if let Some(ins) = &mut topology.in_edges {
        ins.slots = route(ins)?;
    }
    Ok(GraphPart {
        topology: Arc::new(topology),
        values: part.values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_walk_finds_local_indexes_and_marks_the_missing() {
        assert_eq!(
            local_indexes(&[2, 4, 6, 8], &[1, 4, 8, 9]),
            vec![MISSING, 1, 3, MISSING]
        );
        assert!(local_indexes(&[], &[1]) == vec![MISSING]);
    }
}
