//! Observability end to end: the event log of real runs, the live web UI in headless
//! Chromium, the JSON API and `/metrics` against the event log of the same run, the UI's
//! token, and the Pregel and parameter-server views. Runs read back from their logs are
//! in `history`.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::util::browser::{screenshot_dir, Browser};
use super::util::http::{get, get_json, request};
use super::util::*;

/// The events of a log, one JSON value a line.
pub(super) fn events(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("{}: {e}", log.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

pub(super) fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// Waits until the log at `log` ends with `job_end` (the writer flushes it last).
fn wait_for_job_end(log: &Path, timeout: Duration) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(text) = std::fs::read_to_string(log) {
            if text
                .lines()
                .last()
                .is_some_and(|l| l.contains("\"job_end\""))
            {
                return events(log);
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} has no job_end",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The UI's address as `weir run` printed it (`web UI: http://ADDR/…`).
fn ui_address(driver: &mut Proc) -> (String, Option<String>) {
    driver.wait_for_stderr("web UI: http://", Duration::from_secs(60));
    // The line may arrive in pieces: wait for its end.
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let err = driver.stderr_so_far();
        let whole = err
            .split_inclusive('\n')
            .find(|l| l.starts_with("web UI: ") && l.ends_with('\n'))
            .map(|l| l.trim_end().to_string());
        match whole {
            Some(line) => break line,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => panic!("the web UI's line never ended:\n{err}"),
        }
    };
    let url = line.trim_start_matches("web UI: http://");
    let (address, rest) = url.split_once('/').unwrap();
    let token = rest.strip_prefix("?token=").map(str::to_string);
    (address.to_string(), token)
}

pub(super) fn slow_wordcount(tmp: &Path, extra: &[&str], delay_ms: u64) -> Proc {
    let text = gen_text(tmp, "2MB", 11);
    let mut args = vec![
        "run".to_string(),
        "wordcount".into(),
        "--input".into(),
        path_str(&text),
        "--workers".into(),
        "2".into(),
        "--partitions".into(),
        "12".into(),
        "--output".into(),
        path_str(&tmp.join("out")),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut cmd = weir(&args);
    cmd.env("WEIR_INJECT_TASK_DELAY_MS", delay_ms.to_string());
    Proc::spawn(cmd)
}

/// The sum of a Prometheus sample's values whose line starts with `prefix`.
fn sample(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}
#[test]
fn the_live_ui_shows_stages_and_task_bars_growing_while_the_job_runs() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let extra = ["--ui", "127.0.0.1:0", "--ui-linger", "60"];
    // Slow enough (about 10 s) that the job still runs when a browser started on a busy
    // machine first reads the page, and 1.5 s later.
    let mut driver = slow_wordcount(tmp.path(), &extra, 800);
    let (address, _) = ui_address(&mut driver);
    let base = format!("http://{address}/");
    browser.open(&base);
    browser.wait_for("tr.stage", 1, Duration::from_secs(30));
    let first = browser.wait_for("g.task-bar", 1, Duration::from_secs(30));
    let shots = screenshot_dir();
    browser.screenshot(&shots.join("live-running.png"));
    assert!(driver.is_running(), "the job ended before the UI was read");
    let state = browser.eval("return document.getElementById('job-state').textContent;");
    assert_eq!(state, "running");
    // Bars are added as tasks start, and the clock they are drawn against runs on.
    let elapsed = "return parseFloat(document.getElementById('job-elapsed').dataset.seconds);";
    let e1 = browser.eval(elapsed).as_f64().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let later = browser.count("g.task-bar");
    let e2 = browser.eval(elapsed).as_f64().unwrap();
    assert!(
        later > first,
        "task bars did not grow in number: {first} -> {later}"
    );
    assert!(
        e2 > e1 + 0.5,
        "the elapsed time did not run on: {e1} -> {e2}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while browser.eval("return document.getElementById('job-state').textContent;") != "finished" {
        assert!(
            Instant::now() < deadline,
            "the page never showed the job finished"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    browser.screenshot(&shots.join("live-finished.png"));
    let tasks = browser.count("g.task-bar");
    let attempts = get_json(&address, "/api/v1/applications/current/tasks");
    assert_eq!(
        tasks as usize,
        attempts.as_array().unwrap().len(),
        "one bar per attempt"
    );
    assert_eq!(browser.count("tr.worker"), 2);
    assert!(browser.count("g.dag-node") >= 2);
    let outside: Vec<String> = browser
        .requests()
        .into_iter()
        .filter(|u| !u.starts_with(&base) && !u.starts_with("data:"))
        .collect();
    assert!(outside.is_empty(), "the page requested {outside:?}");
    driver.kill();
}

#[test]
fn the_json_api_and_metrics_agree_with_the_event_log() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("run.jsonl");
    let metrics_json = tmp.path().join("metrics.json");
    let extra = [
        "--ui",
        "127.0.0.1:0",
        "--ui-linger",
        "60",
        "--event-log",
        &path_str(&log),
        "--metrics-json",
        &path_str(&metrics_json),
    ];
    let mut driver = slow_wordcount(tmp.path(), &extra, 20);
    let (address, _) = ui_address(&mut driver);
    let log_events = wait_for_job_end(&log, TIMEOUT);
    let apps = get_json(&address, "/api/v1/applications");
    let id = apps[0]["id"].as_str().unwrap().to_string();
    assert_eq!(apps[0]["state"], "finished");
    let api = |what: &str| get_json(&address, &format!("/api/v1/applications/{id}/{what}"));
    let (tasks, stages, workers) = (api("tasks"), api("stages"), api("workers"));
    let metrics = get(&address, "/metrics");

    let starts = of_kind(&log_events, "task_start");
    let ends = of_kind(&log_events, "task_end");
    assert_eq!(tasks.as_array().unwrap().len(), starts.len());
    for end in &ends {
        let task = tasks
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task"] == end["task"])
            .unwrap_or_else(|| panic!("task {} is not in the API", end["task"]));
        for field in ["stage", "partition", "worker", "slot", "attempt", "ok"] {
            assert_eq!(task[field], end[field], "task {} {field}", end["task"]);
        }
        assert_eq!(task["figures"]["records_in"], end["records_in"]);
        assert_eq!(
            task["figures"]["shuffle_read_bytes"],
            end["shuffle_read_bytes"]
        );
    }
    let ok = ends.iter().filter(|e| e["ok"] == true).count();
    assert_eq!(
        sample(&metrics, "weir_tasks{state=\"succeeded\"}"),
        ok as f64
    );
    assert_eq!(sample(&metrics, "weir_job_succeeded"), 1.0);
    // Each stage's records against the log's attempts and the run's own metrics JSON
    // (written after the log's last event, before the UI lingers).
    let deadline = Instant::now() + TIMEOUT;
    while !metrics_json.exists() {
        assert!(Instant::now() < deadline, "no metrics JSON");
        std::thread::sleep(Duration::from_millis(50));
    }
    let engine_metrics = read_metrics(&metrics_json);
    for stage in stages.as_array().unwrap() {
        let id = stage["id"].as_u64().unwrap();
        let from_log: u64 = ends
            .iter()
            .filter(|e| e["stage"] == id && e["ok"] == true)
            .map(|e| e["records_in"].as_u64().unwrap())
            .sum();
        assert_eq!(stage["records_in"], from_log, "stage {id}");
        assert_eq!(
            engine_metrics["stages"][id as usize]["records_in"], from_log,
            "stage {id} in the metrics JSON"
        );
        let line = format!("weir_stage_records_in_total{{stage=\"{id}\"}}");
        assert_eq!(sample(&metrics, &line), from_log as f64);
    }
    let joined = of_kind(&log_events, "worker_joined");
    assert_eq!(workers.as_array().unwrap().len(), joined.len());
    for w in workers.as_array().unwrap() {
        let j = joined.iter().find(|j| j["worker"] == w["id"]).unwrap();
        assert_eq!(w["pid"], j["pid"]);
        let done = ends
            .iter()
            .filter(|e| e["worker"] == w["id"] && e["ok"] == true)
            .count();
        assert_eq!(w["tasks"], done);
        let line = format!("weir_worker_tasks_total{{worker=\"{}\"}}", w["id"]);
        assert_eq!(sample(&metrics, &line), done as f64);
    }
    // Shuffle bytes by source add up to each worker's shuffle reads.
    for w in workers.as_array().unwrap() {
        let by_source: u64 = w["read_from"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(w["shuffle_read_bytes"], by_source);
    }
    driver.kill();
}

#[test]
fn a_ui_off_loopback_asks_for_the_token_derived_from_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let mut driver = slow_wordcount(tmp.path(), &["--ui", "0.0.0.0:0", "--ui-linger", "60"], 10);
    let (address, token) = ui_address(&mut driver);
    let token = token.expect("a token in the printed URL");
    assert_eq!(token.len(), 32);
    let denied = request(&address, "GET", "/api/v1/applications", None);
    assert_eq!(denied.status, 401);
    let wrong = request(
        &address,
        "GET",
        "/metrics?token=00000000000000000000000000000000",
        None,
    );
    assert_eq!(wrong.status, 401);
    let page = request(&address, "GET", &format!("/?token={token}"), None);
    assert_eq!(page.status, 200);
    assert!(page
        .headers
        .to_lowercase()
        .contains("set-cookie: weir_token="));
    get_json(&address, &format!("/api/v1/applications?token={token}"));
    driver.kill();
}

#[test]
fn the_pregel_and_parameter_server_views_show_supersteps_and_clocks() {
    let tmp = tempfile::tempdir().unwrap();
    let (pregel_log, ps_log) = (tmp.path().join("pr.jsonl"), tmp.path().join("lr.jsonl"));
    let graph = samples().join("graphalytics/test-pr-directed.properties");
    let watched = |log: &Path| {
        ["--workers", "2", "--quiet", "--no-ui", "--event-log"]
            .map(str::to_string)
            .into_iter()
            .chain([path_str(log)])
    };
    let mut pagerank = vec![
        "run".to_string(),
        "pagerank".into(),
        "--dataset".into(),
        path_str(&graph),
    ];
    pagerank.extend(watched(&pregel_log));
    run_weir(&pagerank).assert_ok();
    let mushrooms = samples().join("ml/agaricus.train.libsvm");
    let mut logreg = vec![
        "run".to_string(),
        "logreg".into(),
        "--input".into(),
        path_str(&mushrooms),
    ];
    logreg.extend(["--epochs", "3", "--consistency", "ssp:2"].map(str::to_string));
    logreg.extend(watched(&ps_log));
    run_weir(&logreg).assert_ok();

    let supersteps = of_kind(&events(&pregel_log), "superstep").len();
    assert!(supersteps > 1, "pagerank ran {supersteps} supersteps");
    let ps_events = events(&ps_log);
    let clocks = of_kind(&ps_events, "clock");
    let trainers: std::collections::BTreeSet<u64> = clocks
        .iter()
        .map(|c| c["trainer"].as_u64().unwrap())
        .collect();
    assert!(trainers.len() >= 2, "clocks of {trainers:?}");
    for t in &trainers {
        let seen: Vec<u64> = clocks
            .iter()
            .filter(|c| c["trainer"] == *t)
            .map(|c| c["clock"].as_u64().unwrap())
            .collect();
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "trainer {t}: {seen:?}"
        );
    }
    let joined: Vec<&Value> = of_kind(&ps_events, "worker_joined")
        .into_iter()
        .map(|w| &w["worker"])
        .collect();
    for c in &clocks {
        assert!(
            joined.contains(&&c["worker"]),
            "a clock from no worker: {c}"
        );
    }
    let staleness = clocks
        .iter()
        .map(|c| c["staleness"].as_u64().unwrap())
        .max();
    assert!(
        staleness <= Some(2),
        "SSP(2) pulls ran {staleness:?} clocks stale"
    );
    // Reported as the trainers go, not at a barrier: under SSP one step trains every
    // epoch, and the clocks come before its barrier.
    let first_clock = ps_events
        .iter()
        .position(|e| e["event"] == "clock")
        .unwrap();
    let first_step = ps_events
        .iter()
        .position(|e| e["event"] == "session_step")
        .unwrap();
    assert!(
        first_clock < first_step,
        "clocks arrived only at the barrier"
    );

    let Some(browser) = Browser::start() else {
        return;
    };
    for (log, name) in [(&pregel_log, "pregel"), (&ps_log, "ps")] {
        let report = tmp.path().join(format!("{name}.html"));
        run_weir(&["history", &path_str(log), "--html", &path_str(&report)]).assert_ok();
        browser.open(&format!("file://{}", report.display()));
        browser.wait_for("tr.stage", 1, Duration::from_secs(20));
        browser.screenshot(&screenshot_dir().join(format!("history-{name}.png")));
    }
    browser.open(&format!(
        "file://{}",
        tmp.path().join("pregel.html").display()
    ));
    browser.wait_for("tr.superstep", supersteps as u64, Duration::from_secs(20));
    assert_eq!(browser.count("tr.superstep"), supersteps as u64);
    browser.open(&format!("file://{}", tmp.path().join("ps.html").display()));
    browser.wait_for("tr.trainer", trainers.len() as u64, Duration::from_secs(20));
    assert_eq!(browser.count("tr.trainer"), trainers.len() as u64);
    let rows = browser.eval(
        "return Array.from(document.querySelectorAll('tr.trainer')).map(r => r.textContent);",
    );
    for row in rows.as_array().unwrap() {
        assert!(row.as_str().unwrap().contains('w'), "no worker in {row}");
    }
    assert_eq!(
        browser.count("#loss-chart polyline.series"),
        trainers.len() as u64
    );
}
