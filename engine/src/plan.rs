//! The plan: the DAG of datasets a job builds, as the engine sees it.
//!
//! Every process builds the same plan by running the same job function (code is everywhere,
//! only values travel), so nodes, shuffles and actions are named by their position in the
//! order they were created. The engine sees nodes type-erased: a name, a partition count and
//! dependencies. Typed work is behind two traits the operators implement: a
//! [`ShuffleMapTask`] writes one map partition's shuffle output, and a [`ResultTask`] turns one
//! partition into the bytes an action returns.
//!
//! A worker's job thread may lag behind the driver, so lookups can wait for the plan to grow
//! ([`Plan::wait_shuffle`], [`Plan::wait_action`]) until the plan is closed.
//!
//! The plan also knows which nodes the job can still reach: every `Dataset` handle the job
//! holds is a [`NodeHandle`], and [`Plan::held_nodes`] lists the nodes that have one. The
//! driver's scheduler frees the shuffle outputs and cached partitions that no held node
//! can read any more (see `scheduler::release`); [`Plan::unpersist`] marks a persisted
//! node whose cache the job gave up.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::TaskError;
use crate::hash::{fold_fingerprint, stable_hash};
use crate::task::TaskContext;

/// Position of a node in the plan.
pub type NodeId = usize;
/// Position of a shuffle in the plan.
pub type ShuffleId = usize;
/// Position of an action in the plan.
pub type ActionId = usize;

/// How a node's partitions depend on another node or shuffle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dependency {
    /// Partition `i` reads partition `i` of the parent.
    OneToOne { parent: NodeId },
    /// Partitions `offset..offset + len` read partitions `0..len` of the parent (union).
    Range {
        parent: NodeId,
        offset: usize,
        len: usize,
    },
    /// Every partition reads its share of every map output of the shuffle.
    Shuffle { shuffle: ShuffleId },
}

/// What the engine needs to know about a dataset.
pub trait PlanNode: Send + Sync + 'static {
    /// The operator's name, for stage names and metrics.
    fn name(&self) -> &str;
    /// How many partitions the dataset has.
    fn num_partitions(&self) -> usize;
    /// What the partitions are computed from.
    fn dependencies(&self) -> &[Dependency];
    /// Whether the partitions are kept in worker memory once computed.
    fn is_persisted(&self) -> bool {
        false
    }
}

/// The map side of a shuffle: computes one partition of the map node and writes it,
/// partitioned (and combined) for the reducers, through [`TaskContext::shuffle_writer`].
pub trait ShuffleMapTask: Send + Sync + 'static {
    /// The node whose partitions are the map tasks.
    fn map_node(&self) -> NodeId;
    /// How many reduce partitions the output is cut into.
    fn num_reduce_partitions(&self) -> usize;
    /// Runs map partition `map_partition` of shuffle `shuffle` (this shuffle's id in the
    /// plan); returns the bytes written per reduce partition.
    fn run_map(
        &self,
        shuffle: ShuffleId,
        map_partition: usize,
        tc: &TaskContext,
    ) -> Result<Vec<u64>, TaskError>;
}

/// The per-partition work of an action: returns the bytes sent to the driver.
pub trait ResultTask: Send + Sync + 'static {
    /// Runs the action on `partition` and returns its serialized result.
    fn run(&self, partition: usize, tc: &TaskContext) -> Result<Vec<u8>, TaskError>;
}

/// Position of a session (a run of long-lived tasks) in the plan.
pub type SessionId = usize;

/// The long-lived work of one partition of a session (a Pregel partition, a parameter
/// server shard): opened once on the worker that holds its input, stepped through the
/// supersteps or clocks the driver runs, closed with a result. Its state stays in the
/// worker's memory from open to close.
pub trait SessionPartition: Send {
    /// Runs step `step`: `inbox` holds the batches pushed to this partition during step
    /// `step - 1`, `control` is what the driver decided at the barrier (aggregates, the
    /// master's word). Pushes batches for other partitions through `outbox`; returns the
    /// report the driver's barrier reads.
    fn step(
        &mut self,
        step: u64,
        control: &[u8],
        inbox: Vec<bytes::Bytes>,
        outbox: &mut crate::session::Outbox<'_>,
    ) -> Result<Vec<u8>, TaskError>;

    /// The partition's state between steps, for a checkpoint; `restore` on the session's
    /// task rebuilds the partition from it. Sessions that cannot checkpoint say so.
    fn snapshot(&self) -> Result<Vec<u8>, TaskError> {
        Err(TaskError::failed("this session does not take checkpoints"))
    }

    /// The partition's result, as the bytes the driver gets when the session closes. It
    /// may leave data in the worker's cache through `tc` (`TaskContext::store_cached`),
    /// which the driver then places later tasks next to.
    fn finish(&mut self, tc: &TaskContext) -> Result<Vec<u8>, TaskError>;
}

/// A session's work: how each of its partitions is opened.
pub trait SessionTask: Send + Sync + 'static {
    /// The persisted node whose cached partitions the session's partitions start from
    /// (one session partition per node partition, on the worker holding it).
    fn node(&self) -> NodeId;
    /// Opens partition `partition` from the node's cached partition.
    fn open(
        &self,
        partition: usize,
        tc: &TaskContext,
    ) -> Result<Box<dyn SessionPartition>, TaskError>;
    /// Opens partition `partition` from its cached input and the state `snapshot` a
    /// checkpoint kept (what [`SessionPartition::snapshot`] returned).
    fn restore(
        &self,
        partition: usize,
        tc: &TaskContext,
        snapshot: &[u8],
    ) -> Result<Box<dyn SessionPartition>, TaskError> {
        let _ = (partition, tc, snapshot);
        Err(TaskError::failed(
            "this session cannot be restored from a checkpoint",
        ))
    }

    /// How many service shards run beside the partitions (see `session::service`): none
    /// unless the session says so.
    fn services(&self) -> u32 {
        0
    }

    /// Opens service shard `shard` of [`services`](Self::services).
    fn open_service(
        &self,
        shard: u32,
    ) -> Result<Box<dyn crate::session::service::SessionService>, TaskError> {
        Err(TaskError::failed(format!(
            "this session has no service shard {shard}"
        )))
    }

    /// Opens service shard `shard` from a snapshot it kept (`Replies::keep_snapshot`).
    fn restore_service(
        &self,
        shard: u32,
        snapshot: &[u8],
    ) -> Result<Box<dyn crate::session::service::SessionService>, TaskError> {
        let _ = snapshot;
        Err(TaskError::failed(format!(
            "service shard {shard} cannot be restored from a snapshot"
        )))
    }
}

/// A registered session.
#[derive(Clone)]
pub struct SessionEntry {
    /// How its partitions open.
    pub task: Arc<dyn SessionTask>,
    /// What it is (`pregel` …).
    pub name: String,
    /// The plan's fingerprint when the session was registered.
    pub fingerprint: u64,
}

/// A registered action.
#[derive(Clone)]
pub struct ActionEntry {
    /// The node the action runs on.
    pub node: NodeId,
    /// What each task does.
    pub task: Arc<dyn ResultTask>,
    /// The plan's fingerprint when the action was registered.
    pub fingerprint: u64,
    /// A human name (`collect`, `save` …).
    pub name: String,
}

/// A registered shuffle.
#[derive(Clone)]
pub struct ShuffleEntry {
    /// The map side.
    pub task: Arc<dyn ShuffleMapTask>,
    /// The operator that introduced the shuffle (`reduce_by_key` …).
    pub name: String,
    /// The plan's fingerprint when the shuffle was registered.
    pub fingerprint: u64,
}

#[derive(Default)]
struct PlanState {
    nodes: Vec<Arc<dyn PlanNode>>,
    shuffles: Vec<ShuffleEntry>,
    actions: Vec<ActionEntry>,
    sessions: Vec<SessionEntry>,
    fingerprint: u64,
    closed: Option<String>,
    /// How many handles the job holds on each node that has any.
    held: BTreeMap<NodeId, usize>,
    /// Persisted nodes whose cache the job gave up.
    unpersisted: HashSet<NodeId>,
}

/// The job's hold on a node (one per `Dataset` handle and its clones): while one exists,
/// the job may compute the node again, so whatever the node reads is kept.
pub struct NodeHandle {
    plan: Weak<Plan>,
    node: NodeId,
}

impl NodeHandle {
    /// The node held.
    pub fn node(&self) -> NodeId {
        self.node
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        if let Some(plan) = self.plan.upgrade() {
            let mut s = plan.state.lock();
            if let Some(n) = s.held.get_mut(&self.node) {
                *n -= 1;
                if *n == 0 {
                    s.held.remove(&self.node);
                }
            }
        }
    }
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeHandle({})", self.node)
    }
}

/// The growing DAG of one job, shared by the job thread and the task executors.
#[derive(Default)]
pub struct Plan {
    state: Mutex<PlanState>,
    grew: Condvar,
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Arc<Plan> {
        Arc::new(Plan::default())
    }

    /// Adds a node and returns its id.
    pub fn add_node(&self, node: Arc<dyn PlanNode>) -> NodeId {
        let mut s = self.state.lock();
        let mut fp = fold_fingerprint(s.fingerprint, stable_hash(node.name()));
        fp = fold_fingerprint(fp, node.num_partitions() as u64);
        for dep in node.dependencies() {
            fp = fold_fingerprint(fp, stable_hash(&format!("{dep:?}")));
        }
        s.fingerprint = fp;
        s.nodes.push(node);
        self.grew.notify_all();
        s.nodes.len() - 1
    }

    /// Adds a shuffle and returns its id.
    pub fn add_shuffle(&self, name: &str, task: Arc<dyn ShuffleMapTask>) -> ShuffleId {
        let mut s = self.state.lock();
        let mut fp = fold_fingerprint(s.fingerprint, stable_hash(name));
        fp = fold_fingerprint(fp, task.map_node() as u64);
        fp = fold_fingerprint(fp, task.num_reduce_partitions() as u64);
        s.fingerprint = fp;
        s.shuffles.push(ShuffleEntry {
            task,
            name: name.to_string(),
            fingerprint: fp,
        });
        self.grew.notify_all();
        s.shuffles.len() - 1
    }

    /// Adds an action and returns its id.
    pub fn add_action(&self, name: &str, node: NodeId, task: Arc<dyn ResultTask>) -> ActionId {
        let mut s = self.state.lock();
        let mut fp = fold_fingerprint(s.fingerprint, stable_hash(name));
        fp = fold_fingerprint(fp, node as u64);
        s.fingerprint = fp;
        s.actions.push(ActionEntry {
            node,
            task,
            fingerprint: fp,
            name: name.to_string(),
        });
        self.grew.notify_all();
        s.actions.len() - 1
    }

    /// Adds a session and returns its id.
    pub fn add_session(&self, name: &str, task: Arc<dyn SessionTask>) -> SessionId {
        let mut s = self.state.lock();
        let mut fp = fold_fingerprint(s.fingerprint, stable_hash(name));
        fp = fold_fingerprint(fp, task.node() as u64);
        s.fingerprint = fp;
        s.sessions.push(SessionEntry {
            task,
            name: name.to_string(),
            fingerprint: fp,
        });
        self.grew.notify_all();
        s.sessions.len() - 1
    }

    /// Session `id`, if it exists yet.
    pub fn session(&self, id: SessionId) -> Option<SessionEntry> {
        self.state.lock().sessions.get(id).cloned()
    }

    /// Waits until session `id` exists (the job thread may be behind the driver).
    pub fn wait_session(
        &self,
        id: SessionId,
        timeout: Duration,
    ) -> Result<SessionEntry, TaskError> {
        self.wait_for(
            timeout,
            |s| s.sessions.get(id).cloned(),
            || format!("session {id}"),
        )
    }

    /// A handle on `node`: the node counts as reachable by the job until it drops.
    pub fn hold(self: &Arc<Self>, node: NodeId) -> NodeHandle {
        *self.state.lock().held.entry(node).or_default() += 1;
        NodeHandle {
            plan: Arc::downgrade(self),
            node,
        }
    }

    /// The nodes the job holds a handle on, ascending.
    pub fn held_nodes(&self) -> Vec<NodeId> {
        self.state.lock().held.keys().copied().collect()
    }

    /// Gives up the cache of persisted node `node`: its partitions are dropped and computed
    /// again from lineage when read.
    pub fn unpersist(&self, node: NodeId) {
        self.state.lock().unpersisted.insert(node);
    }

    /// Whether `node` keeps its partitions in worker memory: persisted and not given up.
    pub fn is_cached_node(&self, node: NodeId) -> bool {
        let s = self.state.lock();
        s.nodes.get(node).is_some_and(|n| n.is_persisted()) && !s.unpersisted.contains(&node)
    }

    /// The plan's current fingerprint.
    pub fn fingerprint(&self) -> u64 {
        self.state.lock().fingerprint
    }

    /// Node `id`. Panics on an id this plan never issued (a bug, not an input error).
    pub fn node(&self, id: NodeId) -> Arc<dyn PlanNode> {
        self.state.lock().nodes[id].clone()
    }

    /// Node `id`, if the plan has it (for ids a peer sent).
    pub fn get_node(&self, id: NodeId) -> Option<Arc<dyn PlanNode>> {
        self.state.lock().nodes.get(id).cloned()
    }

    /// Number of nodes so far.
    pub fn node_count(&self) -> usize {
        self.state.lock().nodes.len()
    }

    /// Shuffle `id`, if it exists yet.
    pub fn shuffle(&self, id: ShuffleId) -> Option<ShuffleEntry> {
        self.state.lock().shuffles.get(id).cloned()
    }

    /// Action `id`, if it exists yet.
    pub fn action(&self, id: ActionId) -> Option<ActionEntry> {
        self.state.lock().actions.get(id).cloned()
    }

    /// Waits until shuffle `id` exists (the job thread may be behind the driver).
    pub fn wait_shuffle(
        &self,
        id: ShuffleId,
        timeout: Duration,
    ) -> Result<ShuffleEntry, TaskError> {
        self.wait_for(
            timeout,
            |s| s.shuffles.get(id).cloned(),
            || format!("shuffle {id}"),
        )
    }

    /// Waits until action `id` exists.
    pub fn wait_action(&self, id: ActionId, timeout: Duration) -> Result<ActionEntry, TaskError> {
        self.wait_for(
            timeout,
            |s| s.actions.get(id).cloned(),
            || format!("action {id}"),
        )
    }

    fn wait_for<T>(
        &self,
        timeout: Duration,
        get: impl Fn(&PlanState) -> Option<T>,
        what: impl Fn() -> String,
    ) -> Result<T, TaskError> {
        let deadline = Instant::now() + timeout;
        let mut s = self.state.lock();
        loop {
            if let Some(v) = get(&s) {
                return Ok(v);
            }
            if let Some(reason) = &s.closed {
                return Err(TaskError::Cancelled(reason.clone()));
            }
            if self.grew.wait_until(&mut s, deadline).timed_out() {
                return Err(TaskError::Failed(format!(
                    "this worker's plan never reached {} (is the job deterministic?)",
                    what()
                )));
            }
        }
    }

    /// Closes the plan: waiters return `Cancelled(reason)`.
    pub fn close(&self, reason: &str) {
        let mut s = self.state.lock();
        if s.closed.is_none() {
            s.closed = Some(reason.to_string());
        }
        self.grew.notify_all();
    }

    /// Why the plan was closed, if it was.
    pub fn closed(&self) -> Option<String> {
        self.state.lock().closed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct N(&'static str, usize, Vec<Dependency>);
    impl PlanNode for N {
        fn name(&self) -> &str {
            self.0
        }
        fn num_partitions(&self) -> usize {
            self.1
        }
        fn dependencies(&self) -> &[Dependency] {
            &self.2
        }
    }

    #[test]
    fn same_construction_gives_same_fingerprint() {
        let build = |name: &'static str| {
            let p = Plan::new();
            let a = p.add_node(Arc::new(N("source", 4, vec![])));
            p.add_node(Arc::new(N(
                name,
                4,
                vec![Dependency::OneToOne { parent: a }],
            )));
            p.fingerprint()
        };
        assert_eq!(build("map"), build("map"));
        assert_ne!(build("map"), build("filter"));
    }

    #[test]
    fn handles_count_until_the_last_one_drops() {
        let p = Plan::new();
        let a = p.add_node(Arc::new(N("source", 2, vec![])));
        let b = p.add_node(Arc::new(N(
            "map",
            2,
            vec![Dependency::OneToOne { parent: a }],
        )));
        let h1 = p.hold(a);
        let h2 = p.hold(a);
        let hb = p.hold(b);
        assert_eq!(p.held_nodes(), vec![a, b]);
        drop(h1);
        assert_eq!(p.held_nodes(), vec![a, b]);
        drop(h2);
        assert_eq!(p.held_nodes(), vec![b]);
        drop(hb);
        assert!(p.held_nodes().is_empty());
    }

    #[test]
    fn waiting_for_a_missing_action_ends_when_closed() {
        let p = Plan::new();
        let p2 = p.clone();
        let t = std::thread::spawn(move || p2.wait_action(0, Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        p.close("job ended");
        assert!(matches!(t.join().unwrap(), Err(TaskError::Cancelled(_))));
        assert!(matches!(
            p.wait_shuffle(3, Duration::from_millis(10)),
            Err(TaskError::Cancelled(_))
        ));
    }
}
