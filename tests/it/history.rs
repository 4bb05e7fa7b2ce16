//! Runs read back from their event logs end to end: `weir history`'s summary and
//! self-contained HTML report of a run with a killed worker and of one whose driver was
//! killed mid-run, the history server over a directory of logs, and bad logs.

use std::time::{Duration, Instant};

use super::faults::strike;
use super::observe::{events, of_kind, slow_wordcount};
use super::util::browser::{screenshot_dir, Browser};
use super::util::http::{get, get_json, request};
use super::util::*;

#[test]
fn history_shows_the_killed_worker_and_the_tasks_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let text = gen_text(tmp.path(), "3MB", 5);
    let log = tmp.path().join("killed.jsonl");
    let job = vec!["wordcount".into(), "--input".into(), path_str(&text)];
    let log_arg = path_str(&log);
    let extra = ["--partitions", "18", "--no-ui", "--event-log", &log_arg];
    let run = strike(
        tmp.path(),
        &job,
        3,
        &extra,
        150,
        Duration::from_secs(1),
        1,
        libc::SIGKILL,
    );
    run.driver.wait(TIMEOUT).assert_ok();
    let log_events = events(&log);
    let lost = of_kind(&log_events, "worker_lost");
    assert_eq!(lost.len(), 1, "one worker lost");
    let victim = &lost[0]["worker"];
    let rerun = of_kind(&log_events, "task_start")
        .into_iter()
        .filter(|t| t["attempt"].as_u64() > Some(0))
        .count();
    assert!(rerun > 0, "no task ran again after the loss");

    let report = tmp.path().join("report.html");
    let out = run_weir(&["history", &log_arg, "--html", &path_str(&report)]);
    out.assert_ok();
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("id=\"weir-events\"") && html.contains("\"worker_lost\""));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    let summary = run_weir(&["history", &log_arg]);
    summary.assert_ok();
    assert!(summary.stdout.contains("lost"), "{}", summary.stdout);

    let Some(browser) = Browser::start() else {
        return;
    };
    browser.open(&format!("file://{}", report.display()));
    browser.wait_for("g.task-bar", 1, Duration::from_secs(20));
    assert_eq!(browser.count("line.worker-lost"), 1);
    assert!(
        browser.count("g.task-bar.retry") > 0,
        "no re-run attempt on the timeline"
    );
    let lost_rows = format!("tr.worker[data-worker=\"{victim}\"]");
    assert_eq!(browser.count(&lost_rows), 1);
    let state = browser.eval(&format!(
        "return document.querySelector('{}').textContent;",
        lost_rows.replace('\'', "\\'")
    ));
    assert!(state.as_str().unwrap().contains("lost"), "{state}");
    assert_eq!(
        browser.eval("return document.getElementById('job-state').textContent;"),
        "finished"
    );
    browser.screenshot(&screenshot_dir().join("history-killed-worker.png"));
    let requests = browser.requests();
    let outside: Vec<&String> = requests
        .iter()
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .collect();
    assert!(outside.is_empty(), "the report requested {outside:?}");
}

#[test]
fn the_history_server_lists_and_serves_the_runs_of_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    let mut cmd = weir(&wordcount_on_samples(&["--threads", "2"]));
    cmd.env("WEIR_EVENT_LOG_DIR", &dir);
    run(cmd, TIMEOUT).assert_ok();
    let logs: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(logs.len(), 1, "one log per run");
    let id = logs[0]
        .path()
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("wordcount-"), "{id}");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Proc::spawn(weir(&[
        "history",
        "serve",
        &path_str(&dir),
        "--listen",
        &listen,
    ]));
    server.wait_for_stderr("weir history: http://", Duration::from_secs(30));
    assert!(get(&listen, "/").contains(&format!("runs/{id}/")));
    let page = get(&listen, &format!("/runs/{id}/"));
    assert!(page.contains("\"job_start\""));
    let apps = get_json(&listen, "/api/v1/applications");
    assert_eq!(apps[0]["id"], id.as_str());
    assert_eq!(apps[0]["state"], "finished");
    let stages = get_json(&listen, &format!("/api/v1/applications/{id}/stages"));
    assert_eq!(stages.as_array().unwrap().len(), 2);
    assert_eq!(request(&listen, "GET", "/runs/nope/", None).status, 404);
    server.kill();
}

#[test]
fn bad_event_logs_fail_cleanly_or_render_what_they_can() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("good.jsonl");
    run_weir(&wordcount_on_samples(&["--event-log", &path_str(&log)])).assert_ok();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = text.lines().count();
    // Cut in the middle of the last line: a driver killed mid-write.
    let cut = tmp.path().join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() - 10]).unwrap();
    let report = tmp.path().join("cut.html");
    let out = run_weir(&["history", &path_str(&cut), "--html", &path_str(&report)]);
    out.assert_ok();
    assert!(
        out.stderr.contains(&format!("{}:{lines}:", cut.display())),
        "{}",
        out.stderr
    );
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("id=\"log-note\""));

    let garbage = tmp.path().join("garbage.jsonl");
    std::fs::write(&garbage, b"\x00\x01 not json\n{\"t\":1}\n").unwrap();
    let err = run_weir(&["history", &path_str(&garbage)]);
    let line = err.assert_clean_error();
    assert!(
        line.contains(&format!("{}:1:", garbage.display())),
        "{line}"
    );

    let versioned = tmp.path().join("future.jsonl");
    std::fs::write(
        &versioned,
        text.replacen("\"version\":1", "\"version\":2", 1),
    )
    .unwrap();
    let line = run_weir(&["history", &path_str(&versioned)])
        .assert_clean_error()
        .to_string();
    assert!(line.contains("version 2"), "{line}");
    let missing = tmp.path().join("missing.jsonl");
    let out = run_weir(&["history", &path_str(&missing), "--html", &path_str(&report)]);
    assert!(out.assert_clean_error().contains("missing.jsonl"));
}

#[test]
fn a_run_whose_driver_was_killed_renders_from_what_was_written() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("killed.jsonl");
    let mut driver = slow_wordcount(
        tmp.path(),
        &["--quiet", "--no-ui", "--event-log", &path_str(&log)],
        300,
    );
    let deadline = Instant::now() + TIMEOUT;
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains("\"task_end\"")) {
        assert!(Instant::now() < deadline, "no task ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        driver.is_running(),
        "the job ended before its driver was killed"
    );
    driver.kill();
    let summary = run_weir(&["history", &path_str(&log)]);
    summary.assert_ok();
    assert!(summary.stdout.contains("incomplete"), "{}", summary.stdout);
    let report = tmp.path().join("killed.html");
    run_weir(&["history", &path_str(&log), "--html", &path_str(&report)]).assert_ok();
    let Some(browser) = Browser::start() else {
        return;
    };
    browser.open(&format!("file://{}", report.display()));
    browser.wait_for("g.task-bar", 1, Duration::from_secs(20));
    assert_eq!(
        browser.eval("return document.getElementById('job-state').textContent;"),
        "incomplete"
    );
    browser.screenshot(&screenshot_dir().join("history-driver-killed.png"));
}

/// `weir run wordcount` on the bundled text in one process, quiet and without the UI,
/// with `extra` flags.
fn wordcount_on_samples(extra: &[&str]) -> Vec<String> {
    let input = path_str(&samples().join("text"));
    [
        "run",
        "wordcount",
        "--input",
        &input,
        "--workers",
        "0",
        "--quiet",
        "--no-ui",
    ]
    .iter()
    .chain(extra)
    .map(|arg| arg.to_string())
    .collect()
}
