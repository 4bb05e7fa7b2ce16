//! The `weir` binary: driver, worker and tools in one.

fn main() -> std::process::ExitCode {
    weir::main_with(weir::Registry::builtin())
}
