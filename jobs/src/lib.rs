//! Weir's built-in jobs, one file each, and the [`Registry`] that names them.
//!
//! Every job is a short function over the public Dataset API with a sequential reference
//! it is tested against.

pub mod bfs;
pub mod cdlp;
pub mod components;
pub mod graph_blocks;
pub mod graph_input;
pub mod graphalytics;
pub mod grep;
pub mod invertedindex;
pub mod kmeans;
pub mod lcc;
pub mod logreg;
pub mod mf;
pub mod ml_input;
pub mod output;
pub mod pagerank;
pub mod pagerank_program;
pub mod ps_args;
pub mod registry;
pub mod softmax;
pub mod sort;
pub mod spanning_forest;
pub mod sssp;
#[cfg(test)]
mod test_graphs;
pub mod vertex_graph;
pub mod wcc_program;
pub mod wordcount;

pub use registry::{clap_error_line, Job, Registry};

/// Adds the built-in jobs to `registry`.
pub fn register_builtin(registry: &mut Registry) {
    registry.register::<wordcount::WordCount>();
    registry.register::<pagerank::PageRank>();
    registry.register::<grep::Grep>();
    registry.register::<invertedindex::InvertedIndex>();
    registry.register::<sort::Sort>();
    registry.register::<components::Components>();
    registry.register::<bfs::Bfs>();
    registry.register::<sssp::Sssp>();
    registry.register::<cdlp::Cdlp>();
    registry.register::<lcc::Lcc>();
    registry.register::<logreg::LogReg>();
    registry.register::<softmax::Softmax>();
    registry.register::<mf::Mf>();
    registry.register::<kmeans::KMeans>();
}
