//! `weir bench speedup`: a small strong-scaling run writes `bench.json` with every worker
//! count's runs and the fitted serial fraction; bad options fail cleanly.

use serde_json::Value;

use super::util::*;

#[test]
fn speedup_writes_bench_json() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bench");
    let input = samples().join("text");
    let run = run_weir(&[
        "bench".to_string(),
        "speedup".into(),
        "wordcount".into(),
        "--input".into(),
        path_str(&input),
        "--workers".into(),
        "1,2".into(),
        "--repeat".into(),
        "1".into(),
        "--output".into(),
        path_str(&out),
    ]);
    run.assert_ok();
    assert!(run.stdout.contains("workers"), "stdout:\n{}", run.stdout);
    assert!(run.stdout.contains("Amdahl"), "stdout:\n{}", run.stdout);

    let text = std::fs::read_to_string(out.join("bench.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["job"], "wordcount");
    assert_eq!(doc["workers"], serde_json::json!([1, 2]));
    let runs = doc["runs"].as_array().expect("runs is an array");
    let workers: Vec<u64> = runs
        .iter()
        .map(|r| r["workers"].as_u64().unwrap())
        .collect();
    assert_eq!(workers, vec![1, 2]);
    for r in runs {
        let seconds = r["seconds"].as_array().expect("seconds is an array");
        assert_eq!(seconds.len(), 1, "{r}");
        for s in seconds {
            let s = s.as_f64().expect("seconds are numbers");
            assert!(s.is_finite() && s > 0.0, "{s}");
        }
        let metrics = r["metrics"].as_array().expect("metrics is an array");
        assert_eq!(metrics.len(), 1);
        assert_eq!(metrics[0]["workers"], r["workers"]);
    }
    assert_eq!(doc["table"].as_array().map(Vec::len), Some(2));
    let f = doc["amdahl"]["serial_fraction"]
        .as_f64()
        .expect("a serial fraction");
    assert!((0.0..=1.0).contains(&f), "{f}");
    for p in ["8", "64", "1024"] {
        assert!(doc["amdahl"]["predicted"][p].as_f64().is_some(), "{doc}");
    }
}

#[test]
fn bad_bench_options_fail_cleanly() {
    let input = path_str(&samples().join("text"));
    for extra in [
        &["--workers", "0,x"][..],
        &["--workers", "2,4"],
        &["--workers", "1", "--repeat", "none"],
        &["--workers", "1,2", "--weak"],
    ] {
        let mut args = vec!["bench", "speedup", "wordcount", "--input", &input];
        args.extend_from_slice(extra);
        run_weir(&args).assert_clean_error();
    }
    run_weir(&["bench", "speedup", "nosuchjob", "--workers", "1"]).assert_clean_error();
}
