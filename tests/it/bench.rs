//! `weir bench`: a small strong-scaling run writes `bench.json` with every worker count's
//! runs and the fitted serial fraction, and the figures as SVG and PNG; a small comparison
//! runs Weir, the baseline and the peer and checks that they agree; a small consistency
//! bench writes its JSON and its loss figures; bad options fail cleanly.

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
    // The shuffle timers and the peak memory of each worker are in the metrics.
    let m = &runs[1]["metrics"][0];
    assert!(
        m["stages"][0]["shuffle_write_seconds"].as_f64().is_some(),
        "{m}"
    );
    assert!(
        m["stages"][0]["shuffle_read_seconds"].as_f64().is_some(),
        "{m}"
    );
    for w in m["workers_detail"].as_array().unwrap() {
        assert!(w["peak_rss_bytes"].as_u64().unwrap() > 1 << 20, "{w}");
    }
    assert!(run.stdout.contains("where the time went"), "{}", run.stdout);

    for figure in ["speedup", "efficiency", "breakdown"] {
        let svg = std::fs::read_to_string(out.join(format!("{figure}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{figure}"
        );
        assert!(svg.contains("wordcount"), "{figure}.svg has no title");
        let png = std::fs::read(out.join(format!("{figure}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{figure}.png");
        // IHDR: width and height, big-endian, right after the chunk header.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert!(
            width >= 400 && height >= 300,
            "{figure}.png is {width}x{height}"
        );
        assert!(png.len() > 4096, "{figure}.png is nearly empty");
    }
    let speedup = std::fs::read_to_string(out.join("speedup.svg")).unwrap();
    assert!(speedup.contains("Amdahl"), "no Amdahl curve in speedup.svg");
}

#[test]
fn compare_runs_every_system_and_checks_they_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("compare");
    let input = path_str(&samples().join("text"));
    let run = run_weir(&[
        "bench",
        "compare",
        "wordcount",
        "--input",
        &input,
        "--workers",
        "1,2",
        "--repeat",
        "1",
        "--output",
        &path_str(&out),
    ]);
    run.assert_ok();
    for needle in ["weir w2", "baseline (1 thread)", "timely w2", "COST"] {
        assert!(run.stdout.contains(needle), "{needle}:\n{}", run.stdout);
    }
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let labels: Vec<&str> = doc["contenders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "weir w1",
            "weir w2",
            "baseline (1 thread)",
            "timely w1",
            "timely w2"
        ]
    );
    for c in doc["contenders"].as_array().unwrap() {
        let runs = c["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{c}");
        // Every system counted the same words.
        assert_eq!(
            runs[0]["summary"]["words"],
            doc["contenders"][0]["runs"][0]["summary"]["words"]
        );
        assert!(runs[0]["seconds"].as_f64().unwrap() > 0.0);
        assert!(runs[0]["peak_rss_bytes"].as_u64().unwrap() > 1 << 20);
    }
    assert_eq!(doc["ratios"].as_array().map(Vec::len), Some(4));

    // A graph job, with the differential-dataflow peer, on the bundled sample.
    let dataset = path_str(&samples().join("graphalytics/example-directed.properties"));
    run_weir(&[
        "bench",
        "compare",
        "components",
        "--dataset",
        &dataset,
        "--workers",
        "2",
        "--peer-workers",
        "2",
        "--repeat",
        "1",
    ])
    .assert_ok();
    run_weir(&["bench", "compare", "grep", "--input", &input]).assert_clean_error();
    run_weir(&[
        "bench",
        "compare",
        "sort",
        "--input",
        &input,
        "--systems",
        "peer",
    ])
    .assert_clean_error();
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
    let train = path_str(&samples().join("ml").join("agaricus.train.libsvm"));
    for extra in [
        &["--models", "bsp,ssp:x"][..],
        &["--straggler", "5:3"],
        &["--consistency", "asp"],
        &["--target-loss", "-1"],
    ] {
        let mut args = vec!["bench", "consistency", "logreg", "--input", &train];
        args.extend_from_slice(extra);
        run_weir(&args).assert_clean_error();
    }
    // A job that is not a parameter-server job takes no --consistency.
    run_weir(&["bench", "consistency", "wordcount", "--input", &input]).assert_clean_error();
}

#[test]
fn consistency_writes_its_json_and_the_loss_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("consistency");
    let train = samples().join("ml").join("agaricus.train.libsvm");
    let args = format!(
        "bench consistency logreg --input {} --epochs 2 --batch 100 --models bsp,ssp:2,asp \
         --straggler 1:3 --repeat 1 --output {}",
        path_str(&train),
        path_str(&out)
    );
    let run = run_weir(&args.split_whitespace().collect::<Vec<_>>());
    run.assert_ok();
    assert!(run.stdout.contains("clocks to target"), "{}", run.stdout);
    let text = std::fs::read_to_string(out.join("consistency.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["straggler"], "1:3");
    let target = doc["target_loss"].as_f64().unwrap();
    assert!(target > 0.0 && target < 0.7, "{target}");
    let models = doc["models"].as_array().unwrap();
    let names: Vec<&str> = models
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bsp", "ssp:2", "asp"]);
    for m in models {
        let run = &m["runs"][0];
        // The default target is one every run reaches.
        let seconds = run["seconds_to_target"].as_f64().expect("reached");
        assert!(seconds > 0.0, "{m}");
        let curve = run["loss_by_clock"].as_array().unwrap();
        assert!(curve.len() >= 4, "{m}");
        let first = curve[0][1].as_f64().unwrap();
        let last = curve[curve.len() - 1][1].as_f64().unwrap();
        assert!(last < first, "the loss falls: {first} to {last}");
    }
    // SSP(2) never let a pull see a model more than 2 clocks behind its own.
    assert!(models[1]["runs"][0]["max_staleness"].as_f64().unwrap() <= 2.0);
    for figure in ["loss-time", "loss-clock"] {
        let svg = std::fs::read_to_string(out.join(format!("{figure}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("ssp:2"), "{figure}");
        let png = std::fs::read(out.join(format!("{figure}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{figure}");
    }
}
