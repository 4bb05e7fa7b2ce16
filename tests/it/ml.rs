//! Parameter-server jobs as real runs: logistic regression in three shapes against its
//! sequential reference (BSP with a fixed seed gives the same weights to 1e-6), the
//! agaricus accuracy, the SSP bound under a straggler, and malformed ML input.

use std::path::{Path, PathBuf};

use clap::Parser;
use weir::jobs::logreg::{reference, LogReg};
use weir::jobs::mf::{self, Mf};
use weir::jobs::softmax::{self, Softmax};

use super::util::*;

/// Generates classification data with `extra` arguments; returns (train, test).
fn generate(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let sparse = extra.contains(&"--nonzeros");
    let ext = if sparse { "libsvm" } else { "csv" };
    let train = dir.join(format!("{name}.{ext}"));
    let test = dir.join(format!("{name}-test.{ext}"));
    let mut args: Vec<String> = ["datasets", "gen", "classification", "--seed", "4"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend([
        "--output".into(),
        path_str(&train),
        "--test-rows".into(),
        "500".into(),
        "--test-output".into(),
        path_str(&test),
    ]);
    run_weir(&args).assert_ok();
    (train, test)
}

/// `key<TAB>[class<TAB>]weight` lines as weights by key (and class).
fn weights(lines: &[String]) -> Vec<f32> {
    let mut rows: Vec<(Vec<u64>, f64)> = lines
        .iter()
        .map(|l| {
            let (ids, w) = l.rsplit_once('\t').expect("key<TAB>weight");
            let ids = ids.split('\t').map(|i| i.parse().unwrap()).collect();
            (ids, w.parse().unwrap())
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.iter().map(|r| r.1 as f32).collect()
}

fn logreg_args(train: &Path, test: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "logreg".into(),
        "--input".into(),
        path_str(train),
        "--test".into(),
        path_str(test),
    ];
    args.extend(
        ["--epochs", "3", "--trainers", "4", "--seed", "3"]
            .iter()
            .map(|s| s.to_string()),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn bsp_matches_the_reference(train: &Path, test: &Path, extra: &[&str]) {
    let mut args = logreg_args(train, test, extra);
    args.extend(["--batch".into(), "64".into()]);
    let want = reference(&LogReg::parse_from(&args), 4).unwrap();
    same_weights_in_every_shape(&args, &want);
}

fn same_weights_in_every_shape(args: &[String], want: &[f32]) {
    let tmp = tempfile::tempdir().unwrap();
    for (i, (name, shape)) in SHAPES.iter().enumerate() {
        let got = weights(&run_shape(args, shape, &tmp.path().join(format!("out{i}"))));
        assert_eq!(got.len(), want.len(), "{name}");
        let worst = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-6,
            "{name}: a weight differs from the reference by {worst}"
        );
    }
}

#[test]
fn logreg_under_bsp_gives_the_reference_weights_in_every_shape_dense_and_sparse() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = generate(tmp.path(), "dense", &["--rows", "3000", "--features", "8"]);
    bsp_matches_the_reference(&train, &test, &["--l2", "0.001"]);
    let sparse = ["--rows", "3000", "--features", "400", "--nonzeros", "12"];
    let (train, test) = generate(tmp.path(), "sparse", &sparse);
    bsp_matches_the_reference(
        &train,
        &test,
        &["--optimizer", "adam", "--learning-rate", "0.05"],
    );
}

#[test]
fn softmax_under_bsp_gives_the_reference_weights_in_every_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = ["--rows", "3000", "--features", "6", "--classes", "4"];
    let (train, test) = generate(tmp.path(), "four", &gen);
    let mut args = logreg_args(&train, &test, &["--classes", "4", "--batch", "64"]);
    args[0] = "softmax".into();
    let want = softmax::reference(&Softmax::parse_from(&args), 4).unwrap();
    assert_eq!(want.len(), 7 * 4);
    same_weights_in_every_shape(&args, &want);
}

#[test]
fn mf_under_bsp_gives_the_reference_factors_in_every_shape_and_finds_the_planted_matrix() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = (tmp.path().join("r.tsv"), tmp.path().join("t.tsv"));
    let gen = [
        "datasets",
        "gen",
        "ratings",
        "--rows",
        "300",
        "--cols",
        "200",
        "--rank",
        "3",
        "--ratings",
        "20000",
        "--noise",
        "0.05",
        "--seed",
        "5",
        "--output",
        &path_str(&train),
        "--test-ratings",
        "2000",
        "--test-output",
        &path_str(&test),
    ];
    run_weir(&gen).assert_ok();
    let args: Vec<String> = [
        "mf",
        "--input",
        &path_str(&train),
        "--test",
        &path_str(&test),
        "--rank",
        "3",
        "--epochs",
        "8",
        "--batch",
        "128",
        "--trainers",
        "4",
        "--seed",
        "3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let want = mf::reference(&Mf::parse_from(&args), 4).unwrap();
    assert_eq!(want.len(), 500 * 3);
    same_weights_in_every_shape(&args, &want);
    let metrics = tmp.path().join("m.json");
    let mut run: Vec<String> = vec!["run".into()];
    run.extend(args.iter().cloned());
    run.extend([
        "--quiet".into(),
        "--metrics-json".into(),
        path_str(&metrics),
    ]);
    run_weir(&run).assert_ok();
    let rmse = read_metrics(&metrics)["result"]["rmse"].as_f64().unwrap();
    assert!(
        rmse < 0.15,
        "held-out RMSE {rmse} (noise 0.05, ratings of deviation about 1)"
    );
}

#[test]
fn kmeans_inertia_is_within_a_percent_of_the_best_of_ten_sequential_lloyd_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let points = tmp.path().join("blobs.csv");
    let gen = [
        "datasets",
        "gen",
        "blobs",
        "--points",
        "20000",
        "--dim",
        "3",
        "--k",
        "6",
        "--spread",
        "1.5",
        "--seed",
        "8",
        "--output",
        &path_str(&points),
    ];
    run_weir(&gen).assert_ok();
    // The reference reads the points itself.
    let text = std::fs::read_to_string(&points).unwrap();
    let coords: Vec<f32> = text
        .lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',')
                .skip(1)
                .map(|v| v.parse::<f32>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let best = (0..10)
        .map(|seed| weir::jobs::kmeans::lloyd(&coords, 6, 3, seed, 100).1)
        .fold(f64::INFINITY, f64::min);
    for shape in [&["--local", "--threads", "3"][..], &["--workers", "3"][..]] {
        let metrics = tmp.path().join("m.json");
        let assignments = tmp.path().join(format!("a{}", shape.len()));
        let mut args = vec![
            "run".to_string(),
            "kmeans".into(),
            "--input".into(),
            path_str(&points),
            "--k".into(),
            "6".into(),
            "--assignments".into(),
            path_str(&assignments),
        ];
        args.extend(shape.iter().map(|s| s.to_string()));
        args.extend([
            "--quiet".into(),
            "--metrics-json".into(),
            path_str(&metrics),
        ]);
        run_weir(&args).assert_ok();
        let inertia = read_metrics(&metrics)["result"]["inertia"]
            .as_f64()
            .unwrap();
        assert!(
            inertia <= best * 1.01,
            "{shape:?}: inertia {inertia}, the best of ten Lloyd runs {best}"
        );
        let assigned = read_parts(&assignments);
        assert_eq!(
            assigned.len(),
            20000,
            "{shape:?}: every point gets a centroid"
        );
    }
}

#[test]
fn logreg_reaches_99_percent_on_agaricus_with_three_workers() {
    let Some(data) = shared_data("agaricus") else {
        return;
    };
    let ml = data.join("ml");
    let tmp = tempfile::tempdir().unwrap();
    let metrics = tmp.path().join("m.json");
    let args = [
        "run",
        "logreg",
        "--input",
        &path_str(&ml.join("agaricus.train.libsvm")),
        "--test",
        &path_str(&ml.join("agaricus.test.libsvm")),
        "--epochs",
        "5",
        "--batch",
        "64",
        "--workers",
        "3",
        "--quiet",
        "--metrics-json",
        &path_str(&metrics),
    ];
    run_weir(&args).assert_ok();
    let result = &read_metrics(&metrics)["result"];
    let accuracy = result["test_accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.99, "test accuracy {accuracy}");
    assert_eq!(result["history"].as_array().unwrap().len(), 6);
    assert_eq!(
        result["max_staleness"].as_u64(),
        Some(0),
        "BSP pulls are never stale"
    );
}

/// Runs logreg with 2 workers, worker 1 slowed 20 times, under `consistency`; returns
/// the most clocks a pull's answer lagged behind its trainer.
fn staleness_under_a_straggler(train: &Path, test: &Path, consistency: &str) -> u64 {
    let tmp = tempfile::tempdir().unwrap();
    let metrics = tmp.path().join("m.json");
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(logreg_args(train, test, &["--batch", "32"]));
    args.extend(
        [
            "--consistency",
            consistency,
            "--straggler",
            "1:20",
            "--workers",
            "2",
            "--quiet",
            "--metrics-json",
            &path_str(&metrics),
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    run_weir(&args).assert_ok();
    read_metrics(&metrics)["result"]["max_staleness"]
        .as_u64()
        .unwrap()
}

#[test]
fn ssp_pulls_stay_within_their_bound_while_asp_pulls_run_further_ahead() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = generate(
        tmp.path(),
        "dense",
        &["--rows", "20000", "--features", "64"],
    );
    let ssp = staleness_under_a_straggler(&train, &test, "ssp:2");
    assert!(ssp <= 2, "an SSP(2) pull saw a clock {ssp} behind");
    assert!(ssp >= 1, "the fast worker never ran ahead of the straggler");
    let asp = staleness_under_a_straggler(&train, &test, "asp");
    assert!(asp > 2, "ASP pulls lagged at most {asp} clocks behind");
}

/// Runs a failing logreg in both failure shapes: exit 2, one line naming `needle`, no
/// output left.
fn fails_naming(dir: &Path, train: &Path, test: Option<&Path>, needle: &str) {
    for shape in [&["--local"][..], &["--workers", "2"][..]] {
        let out = dir.join("out");
        let mut args = vec![
            "run".to_string(),
            "logreg".into(),
            "--input".into(),
            path_str(train),
        ];
        if let Some(test) = test {
            args.extend(["--test".into(), path_str(test)]);
        }
        args.extend(shape.iter().map(|s| s.to_string()));
        args.extend(["--quiet".into(), "--output".into(), path_str(&out)]);
        let run = run_weir(&args);
        let line = run.assert_clean_error();
        assert!(
            line.contains(needle),
            "{shape:?}: {line:?} does not name {needle:?}"
        );
        assert!(!out.exists(), "{shape:?}: a failed run left its output");
    }
}

#[test]
fn malformed_examples_fail_naming_file_and_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = "1 1:1 3:0.5\n0 2:1\n";
    let cases = [
        ("label.libsvm", "1 1:1\n2 1:1\n", "label.libsvm:2:"),
        (
            "order.libsvm",
            "1 1:1\n0 1:1\n1 5:1 3:1\n",
            "order.libsvm:3:",
        ),
        ("number.libsvm", "1 1:x\n", "number.libsvm:1:"),
        ("nan.libsvm", "1 1:1\n1 2:NaN\n", "nan.libsvm:2:"),
        ("columns.csv", "label,a,b\n1,0.5,2\n0,1\n", "columns.csv:3:"),
        ("nan.csv", "label,a\n1,0.5\n0,nan\n", "nan.csv:3:"),
    ];
    for (name, text, needle) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        fails_naming(dir, &path, None, needle);
    }
    // A held-out row with a feature the model does not have.
    let train = dir.join("train.libsvm");
    std::fs::write(&train, good).unwrap();
    let test = dir.join("wide.libsvm");
    std::fs::write(&test, "1 1:1\n0 2:1 9:1\n").unwrap();
    fails_naming(dir, &train, Some(&test), "wide.libsvm:2:");
}
