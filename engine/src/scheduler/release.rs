//! State has a lifetime: the shuffle outputs and cached partitions that no dataset the job
//! still holds can read are dropped on every worker.
//!
//! Which datasets the job holds comes from the plan's handles (one per `Dataset` the job
//! function keeps). From them the scheduler walks the plan as the stage walk does, stopping
//! at datasets cached in full and at complete shuffles: what the walk meets is what a later
//! stage may read; every other tracked shuffle output and cache is released. Nothing is
//! lost for recovery: a released output that a lost worker's partitions turn out to need
//! again is recomputed from lineage, as any lost output is. The walk runs when an action
//! starts and when it ends, so an iterative job holds one iteration's state, not all of
//! them.

use super::*;
use crate::plan::Dependency;

impl Scheduler {
    /// Drops, on every worker, the shuffle outputs and cached partitions that neither a
    /// held dataset nor `extra` (the node of the action at hand) can read.
    pub(super) fn release_unreachable(&mut self, extra: NodeId) {
        let (nodes, shuffles) = self.reachable(extra);
        let dead_shuffles: Vec<ShuffleId> = self
            .map_outputs
            .keys()
            .filter(|s| !shuffles.contains(s))
            .copied()
            .collect();
        let dead_nodes: BTreeSet<NodeId> = self
            .cache_locations
            .keys()
            .map(|(node, _)| *node)
            .filter(|n| !nodes.contains(n) || !self.plan.is_cached_node(*n))
            .collect();
        if dead_shuffles.is_empty() && dead_nodes.is_empty() {
            return;
        }
        for s in &dead_shuffles {
            self.map_outputs.remove(s);
        }
        self.cache_locations
            .retain(|(node, _), _| !dead_nodes.contains(node));
        let keep = |kind: &TaskKind| match kind {
            TaskKind::ShuffleMap { shuffle, .. } => !dead_shuffles.contains(shuffle),
            TaskKind::Result { .. } => false,
        };
        self.attempts.retain(|kind, _| keep(kind));
        self.failed_on.retain(|kind, _| keep(kind));
        let dead_nodes: Vec<NodeId> = dead_nodes.into_iter().collect();
        tracing::debug!("releasing shuffles {dead_shuffles:?} and cached nodes {dead_nodes:?}");
        let live: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.alive)
            .map(|(id, _)| *id)
            .collect();
        for worker in live {
            self.cluster.release(worker, &dead_shuffles, &dead_nodes);
        }
    }

    /// The nodes and shuffles a later stage may read: walked from every held node, `extra`
    /// and the shuffles being recomputed, stopping at datasets cached in full and at
    /// complete shuffles.
    fn reachable(&self, extra: NodeId) -> (HashSet<NodeId>, HashSet<ShuffleId>) {
        let mut nodes = HashSet::new();
        let mut shuffles = HashSet::new();
        let mut stack = self.plan.held_nodes();
        stack.push(extra);
        for &s in &self.forced {
            shuffles.insert(s);
            stack.push(self.map_node(s));
        }
        while let Some(n) = stack.pop() {
            if !nodes.insert(n) || self.fully_cached(n) {
                continue;
            }
            for dep in self.plan.node(n).dependencies() {
                match *dep {
                    Dependency::OneToOne { parent } | Dependency::Range { parent, .. } => {
                        stack.push(parent)
                    }
                    Dependency::Shuffle { shuffle } => {
                        if shuffles.insert(shuffle) && !self.complete(shuffle) {
                            stack.push(self.map_node(shuffle));
                        }
                    }
                }
            }
        }
        (nodes, shuffles)
    }
}
