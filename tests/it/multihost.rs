//! Multi-host mode on loopback: a driver started with `--listen --secret-file
//! --join-workers`, workers started by hand with `weir worker --join`, and the refusals of
//! a wrong secret, a missing secret file, an absent driver and missing workers.

use std::path::Path;
use std::time::Duration;

use super::util::*;

/// Starts `weir run wordcount` on the bundled text in listen mode and waits until it says
/// it is listening.
fn start_driver(tmp: &Path, port: u16, secret: &Path, join_workers: usize, extra: &[&str]) -> Proc {
    let mut args: Vec<String> = [
        "run",
        "wordcount",
        "--input",
        &path_str(&samples().join("text")),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--secret-file",
        &path_str(secret),
        "--join-workers",
        &join_workers.to_string(),
        "--quiet",
        "--output",
        &path_str(&tmp.join("out")),
        "--metrics-json",
        &path_str(&tmp.join("metrics.json")),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut driver = Proc::spawn(weir(&args));
    driver.wait_for_stderr("listening on", Duration::from_secs(60));
    driver
}

fn worker(port: u16, secret: &Path) -> Proc {
    Proc::spawn(weir(&[
        "worker",
        "--join",
        &format!("127.0.0.1:{port}"),
        "--secret-file",
        &path_str(secret),
        "--connect-timeout",
        "20",
    ]))
}

fn check_wordcount(out: &Path) {
    let want = weir::jobs::wordcount::reference(&expand(&samples().join("text")), false).unwrap();
    let got = word_counts(&read_parts(out));
    assert!(got == want, "word counts differ from the reference");
}

#[test]
fn hand_started_workers_run_the_job_and_a_wrong_secret_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // The trailing newline must not matter: the workers' file has none.
    let driver_secret = tmp.path().join("driver.secret");
    std::fs::write(&driver_secret, "correct horse battery staple\n").unwrap();
    let good = tmp.path().join("good.secret");
    std::fs::write(&good, "correct horse battery staple").unwrap();
    let bad = tmp.path().join("bad.secret");
    std::fs::write(&bad, "incorrect horse battery staple\n").unwrap();

    let port = free_port();
    let mut driver = start_driver(tmp.path(), port, &driver_secret, 2, &[]);

    let refused = worker(port, &bad).wait(Duration::from_secs(60));
    assert_ne!(
        refused.code(),
        Some(0),
        "a worker with a wrong secret exited 0"
    );
    let lines: Vec<&str> = refused
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line from the refused worker:\n{}",
        refused.stderr
    );
    assert!(lines[0].starts_with("error:"), "{}", lines[0]);
    assert!(
        lines[0].contains("secret"),
        "the refusal should mention the secret: {}",
        lines[0]
    );
    assert!(!refused.stderr.contains("panicked"));

    driver.wait_for_stderr("refused", Duration::from_secs(20));
    let log = driver.stderr_so_far();
    let refusal = log.lines().find(|l| l.contains("refused")).unwrap();
    assert!(
        refusal.contains("secret"),
        "the driver's refusal should say why: {refusal}"
    );
    assert!(
        driver.is_running(),
        "the driver ended after refusing a worker"
    );

    let w1 = worker(port, &good);
    let w2 = worker(port, &good);
    let done = driver.wait(TIMEOUT);
    done.assert_ok();
    for w in [w1, w2] {
        let out = w.wait(Duration::from_secs(30));
        out.assert_ok();
    }
    check_wordcount(&tmp.path().join("out"));
    let m = read_metrics(&tmp.path().join("metrics.json"));
    assert_eq!(m["workers"], 2);
    let detail = m["workers_detail"].as_array().unwrap();
    assert_eq!(
        detail.len(),
        2,
        "only the two good workers may have joined: {detail:?}"
    );
    assert!(
        detail.iter().all(|w| w["tasks"].as_u64().unwrap() > 0),
        "{detail:?}"
    );
}

#[test]
fn missing_or_empty_secret_file_is_a_clean_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such.secret");
    let out = run_weir(&[
        "worker",
        "--join",
        "127.0.0.1:9",
        "--secret-file",
        &path_str(&missing),
    ]);
    let last = out.assert_clean_error();
    assert!(last.contains("no-such.secret"), "{last}");

    let empty = tmp.path().join("empty.secret");
    std::fs::write(&empty, "\n\n").unwrap();
    let out = run_weir(&[
        "worker",
        "--join",
        "127.0.0.1:9",
        "--secret-file",
        &path_str(&empty),
    ]);
    let last = out.assert_clean_error();
    assert!(
        last.contains("empty.secret") && last.contains("empty"),
        "{last}"
    );

    let out = run_weir(&[
        "run",
        "wordcount",
        "--input",
        &path_str(&samples().join("text")),
        "--listen",
        "127.0.0.1:0",
        "--secret-file",
        &path_str(&missing),
        "--join-workers",
        "1",
    ]);
    let last = out.assert_clean_error();
    assert!(last.contains("no-such.secret"), "{last}");
}

#[test]
fn a_worker_without_a_driver_gives_up_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("s");
    std::fs::write(&secret, "s3cret").unwrap();
    let port = free_port();
    let out = run(
        weir(&[
            "worker",
            "--join",
            &format!("127.0.0.1:{port}"),
            "--secret-file",
            &path_str(&secret),
            "--connect-timeout",
            "1",
        ]),
        Duration::from_secs(30),
    );
    let last = out.assert_clean_error();
    assert!(
        last.contains(&port.to_string()),
        "the error should name the driver: {last}"
    );
}

#[test]
fn too_few_workers_within_the_join_timeout_is_a_clean_error() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("s");
    std::fs::write(&secret, "s3cret").unwrap();
    let port = free_port();
    let driver = start_driver(tmp.path(), port, &secret, 2, &["--join-timeout", "2"]);
    let w = worker(port, &secret);
    let out = driver.wait(Duration::from_secs(60));
    let last = out.assert_clean_error();
    assert!(
        last.contains("of 2 workers"),
        "the error should count the workers: {last}"
    );
    assert!(!tmp.path().join("out").exists());
    assert_eq!(staging_leftovers(tmp.path()), Vec::<String>::new());
    // The worker that did join is told to leave rather than left waiting.
    let w = w.wait(Duration::from_secs(30));
    assert!(!w.stderr.contains("panicked"), "{}", w.stderr);
}
