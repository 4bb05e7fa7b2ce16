//! [`Dataset<T>`]: a typed, partitioned, lazily computed collection, the handle every
//! operator takes and returns.
//!
//! A dataset is a node of the job's plan. Its partitions are computed by a function from a
//! partition index to an iterator of records; narrow operators (map, filter, flat_map …)
//! wrap their parent's iterator, so a chain of them runs as one pass over the data with no
//! intermediate collection. Operators that need records grouped by key end the chain with
//! a shuffle ([`crate::shuffle`]).

use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::Serialize;
use weir_engine::plan::{Dependency, NodeHandle, NodeId, PlanNode};
use weir_engine::{JobContext, TaskContext, TaskError};

/// What a record must be to travel between workers: owned, clonable, serializable.
pub trait Data: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}
impl<T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static> Data for T {}

/// What a key must be: a record that hashes and compares.
pub trait Key: Data + Hash + Eq {}
impl<T: Data + Hash + Eq> Key for T {}

/// The records of one partition, as they stream through a task.
pub type Records<T> = Box<dyn Iterator<Item = T>>;

type ComputeFn<T> = dyn Fn(usize, &TaskContext) -> Result<Records<T>, TaskError> + Send + Sync;

/// A plan node with its typed compute function.
pub struct Node<T> {
    name: String,
    partitions: usize,
    dependencies: Vec<Dependency>,
    pub(crate) persisted: bool,
    compute: Box<ComputeFn<T>>,
}

impl<T: Data> Node<T> {
    /// Computes partition `partition`.
    pub fn compute(&self, partition: usize, tc: &TaskContext) -> Result<Records<T>, TaskError> {
        (self.compute)(partition, tc)
    }
}

impl<T: Data> PlanNode for Node<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn num_partitions(&self) -> usize {
        self.partitions
    }
    fn dependencies(&self) -> &[Dependency] {
        &self.dependencies
    }
    fn is_persisted(&self) -> bool {
        self.persisted
    }
}

/// How a keyed dataset's records are spread over its partitions, when known. Two datasets
/// partitioned the same way can be joined without a shuffle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    /// `weir_engine::hash::partition_of(key, n)`.
    Hash(usize),
}

/// A distributed collection of `T`.
pub struct Dataset<T> {
    pub(crate) ctx: JobContext,
    pub(crate) id: NodeId,
    pub(crate) node: Arc<Node<T>>,
    pub(crate) partitioning: Option<Partitioning>,
    /// Keeps the node reachable in the plan while the job holds this dataset (or a clone).
    pub(crate) handle: Arc<NodeHandle>,
}

impl<T> Clone for Dataset<T> {
    fn clone(&self) -> Self {
        Dataset {
            ctx: self.ctx.clone(),
            id: self.id,
            node: self.node.clone(),
            partitioning: self.partitioning,
            handle: self.handle.clone(),
        }
    }
}

/// Builds a node and adds it to the plan: how operators, and a job's own sources (a
/// reader of splits planned with `Sources::plan_text_splits`), make datasets.
pub struct NodeBuilder {
    pub name: String,
    pub partitions: usize,
    pub dependencies: Vec<Dependency>,
    pub persisted: bool,
}

impl NodeBuilder {
    /// A node named `name` of `partitions` partitions reading `dependencies`.
    pub fn new(name: impl Into<String>, partitions: usize, dependencies: Vec<Dependency>) -> Self {
        NodeBuilder {
            name: name.into(),
            partitions,
            dependencies,
            persisted: false,
        }
    }

    /// Adds the node with `compute` to `ctx`'s plan.
    pub fn build<T: Data>(
        self,
        ctx: &JobContext,
        compute: impl Fn(usize, &TaskContext) -> Result<Records<T>, TaskError> + Send + Sync + 'static,
    ) -> Dataset<T> {
        let node = Arc::new(Node {
            name: self.name,
            partitions: self.partitions,
            dependencies: self.dependencies,
            persisted: self.persisted,
            compute: Box::new(compute),
        });
        let id = ctx.plan().add_node(node.clone());
        Dataset {
            ctx: ctx.clone(),
            id,
            node,
            partitioning: None,
            handle: Arc::new(ctx.plan().hold(id)),
        }
    }

    /// Like [`build`](Self::build), for compute functions that need the node's own id.
    pub fn build_with_id<T: Data>(
        self,
        ctx: &JobContext,
        compute: impl Fn(NodeId, usize, &TaskContext) -> Result<Records<T>, TaskError>
            + Send
            + Sync
            + 'static,
    ) -> Dataset<T> {
        let id_cell = Arc::new(OnceLock::new());
        let cell = id_cell.clone();
        let ds = self.build(ctx, move |p, tc| {
            let id = *cell
                .get()
                .expect("node id is set right after the node is added");
            compute(id, p, tc)
        });
        id_cell.set(ds.id).expect("set once");
        ds
    }
}

impl<T: Data> Dataset<T> {
    /// Whether the partitions are kept in worker memory once computed (`persist`).
    pub fn is_persisted(&self) -> bool {
        self.node.persisted
    }

    /// The job context this dataset belongs to.
    pub fn context(&self) -> &JobContext {
        &self.ctx
    }

    /// The dataset's node id in the plan.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Number of partitions.
    pub fn num_partitions(&self) -> usize {
        self.node.partitions
    }

    /// How the records are partitioned by key, when known.
    pub fn partitioning(&self) -> Option<Partitioning> {
        self.partitioning
    }

    /// Computes partition `p` (for operators and custom sources).
    pub fn compute(&self, p: usize, tc: &TaskContext) -> Result<Records<T>, TaskError> {
        self.node.compute(p, tc)
    }

    /// A narrow child: partition `p` is `f(p, parent partition p)`. The parent's
    /// partitioning is kept when `keeps_partitioning` (the keys are unchanged).
    pub(crate) fn narrow<U: Data>(
        &self,
        name: &str,
        keeps_partitioning: bool,
        f: impl Fn(usize, Records<T>, &TaskContext) -> Records<U> + Send + Sync + 'static,
    ) -> Dataset<U> {
        let parent = self.node.clone();
        let mut ds = NodeBuilder::new(
            name,
            self.num_partitions(),
            vec![Dependency::OneToOne { parent: self.id }],
        )
        .build(&self.ctx, move |p, tc| Ok(f(p, parent.compute(p, tc)?, tc)));
        if keeps_partitioning {
            ds.partitioning = self.partitioning;
        }
        ds
    }
}
