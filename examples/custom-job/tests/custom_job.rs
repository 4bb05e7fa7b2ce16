//! The custom job runs distributed through Weir's command line, in this example's own
//! binary, and agrees with a sequential count.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_custom_job_runs_on_two_worker_processes() {
    let text = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/samples/text");
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir-example-custom-job"))
        .args([
            "run",
            "charclasses",
            "--input",
            text,
            "--workers",
            "2",
            "--quiet",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the example binary");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the custom job did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);

    let mut expected = std::collections::BTreeMap::<&str, u64>::new();
    for entry in std::fs::read_dir(text).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for line in String::from_utf8_lossy(&bytes).lines() {
            for c in line.chars() {
                let class = if c.is_alphabetic() {
                    "letter"
                } else if c.is_numeric() {
                    "digit"
                } else if c.is_whitespace() {
                    "space"
                } else {
                    "other"
                };
                *expected.entry(class).or_default() += 1;
            }
        }
    }
    let want: String = expected
        .iter()
        .map(|(k, v)| format!("{k}\t{v}\n"))
        .collect();
    assert_eq!(stdout, want);
}
