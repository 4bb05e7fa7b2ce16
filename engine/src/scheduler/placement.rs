//! Where tasks run and what they are told.
//!
//! A task whose input is a cached partition goes to a live worker holding it, and is
//! queued there at once, up to [`LOCAL_TASKS_PER_SLOT`] per slot: the tasks of an iteration
//! over cached data reach their workers in one burst instead of one round trip per task.
//! Only when every holder stays busy past [`LOCALITY_WAIT`] may such a task run elsewhere.
//! Any other task takes a free slot on the least loaded worker, not the one its last
//! attempt failed on while another is alive.
//!
//! A launched task carries the holders of exactly the shuffle outputs it will read on that
//! worker: found by walking narrow dependencies from its partition and stopping at
//! partitions that worker has cached, so the message does not grow with the plan.

use super::*;
use crate::observe::Locality;
use crate::plan::Dependency;
use crate::protocol::TaskDescription;
use crate::task::ShuffleLocations;

/// Tasks a worker may have queued per slot when they go there for their cached input.
pub const LOCAL_TASKS_PER_SLOT: usize = 4;

impl Scheduler {
    pub(super) fn is_alive(&self, worker: WorkerId) -> bool {
        self.workers.get(&worker).is_some_and(|w| w.alive)
    }

    fn is_cached_on(&self, node: NodeId, partition: usize, worker: WorkerId) -> bool {
        self.cache_locations
            .get(&(node, partition))
            .is_some_and(|holders| holders.contains(&worker))
    }

    /// Workers holding a cached partition that partition `p` of `node` reads narrowly.
    pub(super) fn preferred_workers(&self, node: NodeId, p: usize) -> Vec<WorkerId> {
        let (mut node, mut p) = (node, p);
        loop {
            if self.plan.is_cached_node(node) {
                if let Some(holders) = self.cache_locations.get(&(node, p)) {
                    return holders
                        .iter()
                        .copied()
                        .filter(|&w| self.is_alive(w))
                        .collect();
                }
            }
            let n = self.plan.node(node);
            let next = n.dependencies().iter().find_map(|d| match *d {
                Dependency::OneToOne { parent } => Some((parent, p)),
                Dependency::Range {
                    parent,
                    offset,
                    len,
                } if (offset..offset + len).contains(&p) => Some((parent, p - offset)),
                _ => None,
            });
            match next {
                Some((parent, pp)) => (node, p) = (parent, pp),
                None => return Vec::new(),
            }
        }
    }

    /// Launches every queued task that has a place to go.
    pub(super) fn dispatch(&mut self, run: &mut ActionRun) {
        let mut i = 0;
        while i < run.pending.len() {
            match self.place(&run.pending[i]) {
                Some(worker) => {
                    let task = run.pending.remove(i).expect("index in range");
                    let locality = match &task.preferred[..] {
                        [] => Locality::Any,
                        holders if holders.contains(&worker) => Locality::ProcessLocal,
                        _ => Locality::Remote,
                    };
                    self.launch(worker, task.kind, locality, run);
                }
                None => i += 1,
            }
        }
    }

    /// The worker `task` should go to now, if any.
    fn place(&self, task: &Pending) -> Option<WorkerId> {
        let holders: Vec<&WorkerId> = task
            .preferred
            .iter()
            .filter(|&&w| self.is_alive(w))
            .collect();
        if !holders.is_empty() {
            let local = holders
                .into_iter()
                .map(|w| (w, &self.workers[w]))
                .filter(|(_, s)| s.running < s.slots * LOCAL_TASKS_PER_SLOT)
                .min_by_key(|(_, s)| s.running);
            if let Some((w, _)) = local {
                return Some(*w);
            }
            if task.since.elapsed() < LOCALITY_WAIT {
                return None;
            }
        }
        // Not where its last attempt failed, while another worker is alive.
        let avoid = self
            .failed_on
            .get(&task.kind)
            .copied()
            .filter(|&bad| self.workers.iter().any(|(w, s)| *w != bad && s.alive));
        self.workers
            .iter()
            .filter(|(w, s)| s.alive && s.running < s.slots && Some(**w) != avoid)
            .min_by_key(|(_, s)| s.running)
            .map(|(w, _)| *w)
    }

    /// The shuffles partition `p` of `node` reads when computed on `worker`, ascending.
    fn shuffles_read(&self, node: NodeId, p: usize, worker: WorkerId) -> Vec<ShuffleId> {
        let mut reads = Vec::new();
        let mut stack = vec![(node, p)];
        let mut seen = HashSet::new();
        while let Some((n, p)) = stack.pop() {
            if !seen.insert((n, p))
                || (self.plan.is_cached_node(n) && self.is_cached_on(n, p, worker))
            {
                continue;
            }
            for dep in self.plan.node(n).dependencies() {
                match *dep {
                    Dependency::OneToOne { parent } => stack.push((parent, p)),
                    Dependency::Range {
                        parent,
                        offset,
                        len,
                    } => {
                        if (offset..offset + len).contains(&p) {
                            stack.push((parent, p - offset));
                        }
                    }
                    Dependency::Shuffle { shuffle } => reads.push(shuffle),
                }
            }
        }
        reads.sort_unstable();
        reads.dedup();
        reads
    }

    fn locations(&self, reads: &[ShuffleId]) -> ShuffleLocations {
        let mut locations = ShuffleLocations::default();
        for s in reads {
            if let Some(holders) = self.map_outputs.get(s) {
                for w in holders.iter().flatten() {
                    if let Some(state) = self.workers.get(w) {
                        locations.addresses.insert(*w, state.data_address.clone());
                    }
                }
                locations.shuffles.insert(*s, holders.clone());
            }
        }
        locations
    }

    fn launch(&mut self, worker: WorkerId, kind: TaskKind, locality: Locality, run: &ActionRun) {
        let (node, partition, fingerprint, stage) = match kind {
            TaskKind::ShuffleMap { shuffle, map } => {
                let e = self.plan.shuffle(shuffle).expect("shuffle exists");
                let stage = self.stage_ids[&StageKey::Shuffle(shuffle)];
                (e.task.map_node(), map, e.fingerprint, stage)
            }
            TaskKind::Result { action, partition } => {
                let stage = self.stage_ids[&StageKey::Action(action)];
                (run.node, partition, run.fingerprint, stage)
            }
        };
        let reads = self.shuffles_read(node, partition, worker);
        let locations = self.locations(&reads);
        let attempts = self.attempts.entry(kind).or_default();
        let attempt = *attempts;
        *attempts += 1;
        let task_id = self.next_task_id;
        let desc = TaskDescription {
            task_id,
            kind,
            attempt,
            fingerprint,
            locations,
        };
        let slot = match self.workers.get_mut(&worker) {
            Some(w) => {
                w.running += 1;
                take_slot(&mut w.slot_busy)
            }
            None => 0,
        };
        self.running.insert(
            task_id,
            Running {
                kind,
                worker,
                stage,
                reads,
                partition,
                attempt,
                slot,
            },
        );
        self.next_task_id += 1;
        self.record(Event::TaskStart {
            task: task_id,
            stage,
            partition,
            worker,
            slot,
            attempt,
            locality,
        });
        self.cluster.launch(worker, desc);
    }
}

/// The lowest free slot index, marked busy.
fn take_slot(busy: &mut Vec<bool>) -> usize {
    match busy.iter().position(|b| !b) {
        Some(i) => {
            busy[i] = true;
            i
        }
        None => {
            busy.push(true);
            busy.len() - 1
        }
    }
}
