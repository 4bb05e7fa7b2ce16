//! Shared helpers: running `weir` with a time limit, children that are killed on drop,
//! and process inspection through `/proc`; `data` reads outputs, references and datasets.

#![allow(dead_code)]

pub mod browser;
mod data;
pub mod http;
pub use data::*;

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub const WEIR: &str = env!("CARGO_BIN_EXE_weir");

/// Time limit of one `weir` run (a debug build on a busy machine).
pub const TIMEOUT: Duration = Duration::from_secs(180);

/// The three ways every job is run: in-process with one and three threads, and on three
/// worker processes over loopback.
pub const SHAPES: [(&str, &[&str]); 3] = [
    ("local, 1 thread", &["--local", "--threads", "1"]),
    ("local, 3 threads", &["--local", "--threads", "3"]),
    ("3 workers", &["--workers", "3"]),
];

/// A `weir` command with `args`, its environment cleared of Weir's own variables.
pub fn weir<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(WEIR);
    cmd.args(args)
        .env_remove("WEIR_INJECT_TASK_DELAY_MS")
        .env_remove("WEIR_LOG");
    cmd
}

/// A finished process.
#[derive(Debug)]
pub struct Output {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with everything the process printed unless it exited with 0.
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.status.success(),
            "{} failed with {}\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The last non-empty line of stderr.
    pub fn last_stderr_line(&self) -> &str {
        self.stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
    }

    /// Checks a clean failure: exit code 2, a last stderr line `error: …`, no panic.
    /// Returns that line.
    pub fn assert_clean_error(&self) -> &str {
        let last = self.last_stderr_line();
        assert_eq!(
            self.code(),
            Some(2),
            "{}: expected exit code 2\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.stdout,
            self.stderr
        );
        assert!(
            last.starts_with("error:"),
            "{}: the last stderr line should start with `error:`\nstderr:\n{}",
            self.what,
            self.stderr
        );
        for bad in ["panicked", "internal error", "RUST_BACKTRACE"] {
            assert!(
                !self.stderr.contains(bad),
                "{}: stderr mentions {bad:?}\nstderr:\n{}",
                self.what,
                self.stderr
            );
        }
        last
    }
}

/// A child process with captured output, killed (with its output kept) when dropped.
pub struct Proc {
    what: String,
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    eof: mpsc::Receiver<()>,
}

fn pump(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>, eof: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
        let _ = eof.send(());
    });
}

impl Proc {
    /// Starts `cmd` with stdin closed and stdout/stderr captured.
    pub fn spawn(mut cmd: Command) -> Proc {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let (tx, eof) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        pump(child.stdout.take().unwrap(), stdout.clone(), tx.clone());
        pump(child.stderr.take().unwrap(), stderr.clone(), tx);
        Proc {
            what,
            child: Some(child),
            stdout,
            stderr,
            eof,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("process already reaped").id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// What it wrote to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits until stderr contains `needle`; panics (killing the process) after `timeout`.
    pub fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stderr_so_far().contains(needle) {
            if Instant::now() >= deadline || !self.is_running() {
                let out = self.finish(None);
                panic!(
                    "{} did not print {needle:?} within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    out.what, out.stdout, out.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit; kills it and fails the test after `timeout`.
    pub fn wait(self, timeout: Duration) -> Output {
        self.wait_explained(timeout, "")
    }

    /// [`Proc::wait`], with `why` the limit matters in the failure message.
    pub fn wait_explained(mut self, timeout: Duration, why: &str) -> Output {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                return self.finish(None);
            }
            if Instant::now() >= deadline {
                let out = self.finish(Some("timed out"));
                panic!(
                    "{} did not finish within {timeout:?} and was killed; {why}\nstdout:\n{}\nstderr:\n{}",
                    out.what, out.stdout, out.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process (if running) and returns what it printed.
    pub fn kill(mut self) -> Output {
        self.finish(Some("killed"))
    }

    fn finish(&mut self, kill: Option<&str>) -> Output {
        let mut child = self.child.take().expect("process already reaped");
        if kill.is_some() {
            let _ = child.kill();
        }
        let status = child.wait().expect("wait");
        // Both pipes reach EOF once every holder (workers included) has exited.
        let deadline = Instant::now() + Duration::from_secs(10);
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = self.eof.recv_timeout(left);
        }
        Output {
            what: self.what.clone(),
            status,
            stdout: String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `cmd` to completion within `timeout`.
pub fn run(cmd: Command, timeout: Duration) -> Output {
    Proc::spawn(cmd).wait(timeout)
}

/// Runs `weir ARGS` within [`TIMEOUT`].
pub fn run_weir<S: AsRef<OsStr>>(args: &[S]) -> Output {
    run(weir(args), TIMEOUT)
}

/// Runs `weir run JOB_ARGS SHAPE --quiet --output OUT` and returns the part files' lines.
pub fn run_shape(job_args: &[String], shape: &[&str], out: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(job_args.iter().cloned());
    args.extend(shape.iter().map(|s| s.to_string()));
    args.extend(["--quiet".into(), "--output".into(), path_str(out)]);
    run_weir(&args).assert_ok();
    read_parts(out)
}

/// The pids of the processes whose parent is `parent` (from `/proc/*/stat`).
pub fn children_of(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) && state != "Z" {
            pids.push(pid);
        }
    }
    pids.sort();
    pids
}

/// Waits until `driver` has `n` live `weir worker` children and returns their pids.
pub fn wait_for_workers(driver: &mut Proc, n: usize, timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let workers: Vec<u32> = children_of(driver.pid())
            .into_iter()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| c.split(|b| *b == 0).any(|a| a == b"worker"))
                    .unwrap_or(false)
            })
            .collect();
        if workers.len() >= n {
            return workers;
        }
        assert!(
            driver.is_running(),
            "the driver ended before its workers started"
        );
        assert!(
            Instant::now() < deadline,
            "the driver did not start {n} workers within {timeout:?} (found {workers:?})"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Generates seeded text of `size` (like `5MB`) with `weir datasets gen text`.
pub fn gen_text(dir: &Path, size: &str, seed: u64) -> PathBuf {
    let out = dir.join(format!("text-{size}-{seed}.txt"));
    run_weir(&[
        "datasets",
        "gen",
        "text",
        "--size",
        size,
        "--seed",
        &seed.to_string(),
        "--output",
        &path_str(&out),
    ])
    .assert_ok();
    out
}
