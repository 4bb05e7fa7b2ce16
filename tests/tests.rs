//! Multi-process integration tests of the `weir` binary.
//!
//! Every test runs the real binary (`weir run …`, `weir worker …`) as child processes with
//! a bounded run time, and checks what it wrote against the jobs' sequential references or
//! the Graphalytics expected outputs. The shared helpers live in `it/util.rs`.

mod it {
    pub mod util;

    mod bad_input;
    mod bench;
    mod cli;
    mod components;
    mod faults;
    mod formats;
    mod frames;
    mod graphalytics;
    mod history;
    mod metrics;
    mod ml;
    mod multihost;
    mod observe;
    mod pregel_faults;
    mod ps_faults;
    mod rogue;
    mod shapes;
    mod text_jobs;
}
