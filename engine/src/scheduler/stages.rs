//! Which stages an action still needs: the walk from the action's node down to the
//! shuffle outputs it misses, and the queueing of the tasks of every stage whose own
//! inputs are complete.
//!
//! The walk stops at datasets cached in full and at complete shuffles, so its cost is the
//! frontier of work still to do, however long the plan behind that frontier is.

use super::*;
use crate::plan::Dependency;

impl Scheduler {
    pub(super) fn complete(&self, shuffle: ShuffleId) -> bool {
        self.map_outputs
            .get(&shuffle)
            .is_some_and(|m| m.iter().all(Option::is_some))
    }

    /// Whether every partition of `node` is cached on some live worker.
    pub(super) fn fully_cached(&self, node: NodeId) -> bool {
        self.plan.is_cached_node(node)
            && (0..self.plan.node(node).num_partitions()).all(|p| {
                self.cache_locations
                    .get(&(node, p))
                    .is_some_and(|w| !w.is_empty())
            })
    }

    /// Shuffles whose outputs `node` still misses, deepest first.
    fn missing_shuffles(&self, node: NodeId, out: &mut Vec<ShuffleId>, seen: &mut HashSet<NodeId>) {
        if !seen.insert(node) || self.fully_cached(node) {
            return;
        }
        for dep in self.plan.node(node).dependencies() {
            match dep {
                Dependency::OneToOne { parent } | Dependency::Range { parent, .. } => {
                    self.missing_shuffles(*parent, out, seen)
                }
                Dependency::Shuffle { shuffle } => self.missing_shuffle(*shuffle, out, seen),
            }
        }
    }

    fn missing_shuffle(
        &self,
        shuffle: ShuffleId,
        out: &mut Vec<ShuffleId>,
        seen: &mut HashSet<NodeId>,
    ) {
        if self.complete(shuffle) || out.contains(&shuffle) {
            return;
        }
        let entry = self.plan.shuffle(shuffle).expect("a plan's shuffles exist");
        self.missing_shuffles(entry.task.map_node(), out, seen);
        out.push(shuffle);
    }

    pub(super) fn map_node(&self, shuffle: ShuffleId) -> NodeId {
        self.plan
            .shuffle(shuffle)
            .expect("a plan's shuffles exist")
            .task
            .map_node()
    }

    /// Queues the tasks of every stage that can run now: map stages whose inputs are
    /// complete, and the action's own stage once nothing is missing.
    pub(super) fn enqueue_ready(&mut self, run: &mut ActionRun) {
        let mut missing = Vec::new();
        self.missing_shuffles(run.node, &mut missing, &mut HashSet::new());
        let forced: Vec<ShuffleId> = self.forced.iter().copied().collect();
        for s in forced {
            if self.complete(s) {
                self.forced.remove(&s);
            } else {
                self.missing_shuffle(s, &mut missing, &mut HashSet::new());
            }
        }
        // A map stage is ready when every shuffle it reads is complete.
        let ready: Vec<ShuffleId> = missing
            .iter()
            .copied()
            .filter(|&s| {
                let mut below = Vec::new();
                self.missing_shuffles(self.map_node(s), &mut below, &mut HashSet::new());
                below.is_empty()
            })
            .collect();
        // Queued tasks whose inputs were lost meanwhile wait until they are recomputed,
        // instead of being launched to fail; results that arrived leave the queue.
        let (results, map_outputs) = (&run.results, &self.map_outputs);
        run.pending.retain(|p| match p.kind {
            TaskKind::ShuffleMap { shuffle, map } => {
                ready.contains(&shuffle)
                    && map_outputs
                        .get(&shuffle)
                        .is_some_and(|h| h.get(map) == Some(&None))
            }
            TaskKind::Result { partition, .. } => {
                missing.is_empty() && results[partition].is_none()
            }
        });
        let queued: HashSet<TaskKind> = run.pending.iter().map(|p| p.kind).collect();
        for &s in &ready {
            self.queue_map_stage(s, &queued, run);
        }
        if missing.is_empty() {
            self.queue_result_stage(&queued, run);
        } else if ready.is_empty() && self.running.is_empty() && run.pending.is_empty() {
            // Cannot happen with a well-formed plan; guard against spinning forever.
            tracing::error!(
                "no runnable stage for action {}; missing shuffles {missing:?}",
                run.action
            );
        }
    }

    fn queue_map_stage(
        &mut self,
        shuffle: ShuffleId,
        queued: &HashSet<TaskKind>,
        run: &mut ActionRun,
    ) {
        let entry = self.plan.shuffle(shuffle).expect("a plan's shuffles exist");
        let map_node = entry.task.map_node();
        let maps = self.plan.node(map_node).num_partitions();
        let outputs = self
            .map_outputs
            .entry(shuffle)
            .or_insert_with(|| vec![None; maps]);
        let tasks: Vec<(TaskKind, usize)> = outputs
            .iter()
            .enumerate()
            .filter(|(_, h)| h.is_none())
            .map(|(map, _)| (TaskKind::ShuffleMap { shuffle, map }, map))
            .collect();
        let name = format!(
            "{} (map side of {})",
            self.plan.node(map_node).name(),
            entry.name
        );
        let stage = self.stage_id(StageKey::Shuffle(shuffle), name);
        self.queue_tasks(stage, map_node, tasks, queued, run);
    }

    fn queue_result_stage(&mut self, queued: &HashSet<TaskKind>, run: &mut ActionRun) {
        let action = run.action;
        let entry = self.plan.action(action).expect("action exists");
        let name = format!("{} on {}", entry.name, self.plan.node(run.node).name());
        let stage = self.stage_id(StageKey::Action(action), name);
        let tasks: Vec<(TaskKind, usize)> = run
            .results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_none())
            .map(|(partition, _)| (TaskKind::Result { action, partition }, partition))
            .collect();
        let node = run.node;
        self.queue_tasks(stage, node, tasks, queued, run);
    }

    /// Queues the `(task, partition of node)` pairs not already queued or running.
    fn queue_tasks(
        &mut self,
        stage: usize,
        node: NodeId,
        tasks: Vec<(TaskKind, usize)>,
        queued: &HashSet<TaskKind>,
        run: &mut ActionRun,
    ) {
        let running: HashSet<TaskKind> = self.running.values().map(|r| r.kind).collect();
        let mut added = 0;
        for (kind, partition) in tasks {
            if !queued.contains(&kind) && !running.contains(&kind) {
                let preferred = self.preferred_workers(node, partition);
                run.pending.push_back(Pending {
                    kind,
                    preferred,
                    since: Instant::now(),
                });
                added += 1;
            }
        }
        self.announce(stage, node, added);
    }

    fn announce(&mut self, stage: usize, node: NodeId, added: usize) {
        if added > 0 {
            if self.stages[stage].tasks == 0 && self.stages[stage].failed_tasks == 0 {
                self.stages[stage].start_seconds = self.started.elapsed().as_secs_f64();
            }
            self.stage_done[stage] = false;
            if let Some(p) = &self.progress {
                p.stage_started(stage, &self.stages[stage].name, added);
            }
            if self.recording() {
                let shuffle_map = self
                    .stage_ids
                    .iter()
                    .any(|(k, &id)| id == stage && matches!(k, StageKey::Shuffle(_)));
                self.record(Event::StageSubmitted {
                    stage,
                    name: self.stages[stage].name.clone(),
                    tasks: self.plan.node(node).num_partitions(),
                    queued: added,
                    parents: self.parent_stages(node),
                    shuffle_map,
                });
            }
        }
    }

    /// The stages whose shuffles `node` reads, through narrow dependencies (not past cached
    /// nodes, which are read from memory), ascending.
    fn parent_stages(&self, node: NodeId) -> Vec<usize> {
        let mut parents = BTreeSet::new();
        let mut stack = vec![node];
        let mut seen = HashSet::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) || (n != node && self.fully_cached(n)) {
                continue;
            }
            for dep in self.plan.node(n).dependencies() {
                match *dep {
                    Dependency::OneToOne { parent } | Dependency::Range { parent, .. } => {
                        stack.push(parent)
                    }
                    Dependency::Shuffle { shuffle } => {
                        if let Some(&id) = self.stage_ids.get(&StageKey::Shuffle(shuffle)) {
                            parents.insert(id);
                        }
                    }
                }
            }
        }
        parents.into_iter().collect()
    }

    pub(super) fn stage_id(&mut self, key: StageKey, name: String) -> usize {
        if let Some(&id) = self.stage_ids.get(&key) {
            return id;
        }
        let id = self.stages.len();
        self.stages.push(StageMetrics {
            id,
            name,
            ..Default::default()
        });
        self.stage_done.push(false);
        self.stage_ids.insert(key, id);
        id
    }

    pub(super) fn finish_stage(&mut self, stage: usize) {
        if !std::mem::replace(&mut self.stage_done[stage], true) {
            let s = &mut self.stages[stage];
            s.seconds = self.started.elapsed().as_secs_f64() - s.start_seconds;
            if let Some(p) = &self.progress {
                p.stage_finished(stage);
            }
            self.record(Event::StageCompleted { stage });
        }
    }
}
