//! Child processes of a Weir process (local workers, benchmark contenders): they never
//! outlive the process that started them.

use std::process::Command;

/// Makes the child `cmd` starts get SIGKILL when this process dies, however it dies.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches nothing of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}
