//! Routes: each edge's other end as a local index in that end's partition, found once
//! when the graph is built, so that a message along an edge needs no lookup on either
//! side: the sender folds it into a dense array of the destination partition's vertices
//! and the receiver adds it into the slot it names.
//!
//! Two shuffles of the distinct ends (not of the edges): every partition asks the
//! partition owning each end it has for the end's local index, and gets the answers
//! back. An end that no partition holds (an edge naming a vertex missing from the vertex
//! list) is an error naming it.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use weir_engine::{Result, TaskError};

use crate::dataset::{Data, Dataset, Records};
use crate::graph::build::GraphPart;
use crate::graph::topology::{Adjacency, Topology, VertexId};
use crate::shuffle::partition_by;

/// The answer to "where is vertex `t`?": its local index, or `None` if no vertex has it.
type Answer = (VertexId, Option<u32>);

/// `base` with every adjacency's `slots` filled.
pub(crate) fn resolve<V: Data, E: Data>(
    base: &Dataset<GraphPart<V, E>>,
) -> Result<Dataset<GraphPart<V, E>>> {
    let partitions = base.num_partitions();
    let questions: Dataset<(VertexId, u32)> = base.flat_map(|part| {
        let t = &part.topology;
        let mut ends: Vec<VertexId> = t.out_edges.ends.clone();
        if let Some(ins) = &t.in_edges {
            ends.extend_from_slice(&ins.ends);
        }
        ends.sort_unstable();
        ends.dedup();
        let from = t.partition;
        ends.into_iter().map(move |e| (e, from)).collect::<Vec<_>>()
    });
    let asked = questions.partition_by_key(partitions);
    let answers: Dataset<(u32, Answer)> =
        asked.zip_partitions(base, false, |_, questions, mut parts| {
            let part = parts.next();
            questions
                .map(move |(end, from)| {
                    let local = part
                        .as_ref()
                        .and_then(|p| p.topology.local_index(end))
                        .map(|i| i as u32);
                    (from, (end, local))
                })
                .collect::<Vec<_>>()
                .into_iter()
        })?;
    let identity = Arc::new(|p: &u32| *p as usize);
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

/// The part with its routes, from the answers to its questions.
fn with_routes<V: Data, E: Data>(
    part: GraphPart<V, E>,
    answers: Records<(u32, Answer)>,
) -> std::result::Result<GraphPart<V, E>, TaskError> {
    let mut index: FxHashMap<VertexId, u32> = FxHashMap::default();
    for (_, (end, local)) in answers {
        let local = local.ok_or_else(|| {
            TaskError::failed(format!(
                "an edge names vertex {end}, which is not in the vertex list"
            ))
        })?;
        index.insert(end, local);
    }
    let route = |a: &Adjacency<E>| -> std::result::Result<Vec<u32>, TaskError> {
        a.ends
            .iter()
            .map(|end| {
                index
                    .get(end)
                    .copied()
                    .ok_or_else(|| TaskError::failed(format!("no route was found to vertex {end}")))
            })
            .collect()
    };
    let t: &Topology<E> = &part.topology;
    let mut topology = Topology {
        partition: t.partition,
        partitions: t.partitions,
        vertices: t.vertices.clone(),
        out_edges: t.out_edges.clone(),
        in_edges: t.in_edges.clone(),
        directed: t.directed,
    };
    topology.out_edges.slots = route(&topology.out_edges)?;
    if let Some(ins) = &mut topology.in_edges {
        ins.slots = route(ins)?;
    }
    Ok(GraphPart {
        topology: Arc::new(topology),
        values: part.values,
    })
}
