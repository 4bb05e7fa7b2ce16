//! `--format parquet`: the part files read back through the datasets reader
//! (`plan_parquet_splits` + `read_parquet_rows`) hold the same rows as the TSV output.

use std::path::Path;

use weir::datasets::CsvValue;

use super::util::*;

/// Every row of every Parquet part file in `dir`, rendered as a TSV line.
fn parquet_lines(dir: &Path, types: &[&str]) -> Vec<String> {
    let parts = part_files(dir);
    for p in &parts {
        assert_eq!(
            p.extension().and_then(|e| e.to_str()),
            Some("parquet"),
            "{} is not a Parquet part",
            p.display()
        );
    }
    let splits = weir::datasets::plan_parquet_splits(&parts).expect("plan Parquet splits");
    let mut lines = Vec::new();
    for split in &splits {
        for row in weir::datasets::read_parquet_rows(split).expect("read Parquet rows") {
            assert_eq!(
                row.len(),
                types.len(),
                "{}: row {row:?}",
                split.path.display()
            );
            let fields: Vec<String> = row
                .iter()
                .zip(types)
                .map(|(v, t)| match (v, *t) {
                    (CsvValue::Str(s), "str") => s.clone(),
                    (CsvValue::Int(i), "int") => i.to_string(),
                    (CsvValue::Float(x), "float") => x.to_string(),
                    _ => panic!("{}: {v:?} is not a {t}", split.path.display()),
                })
                .collect();
            lines.push(fields.join("\t"));
        }
    }
    lines
}

fn same_rows_as_tsv(job: &[String], shape: &[&str], types: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let tsv_dir = tmp.path().join("tsv");
    let mut tsv = run_shape(job, shape, &tsv_dir);
    let pq_dir = tmp.path().join("parquet");
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(job.iter().cloned());
    args.extend(shape.iter().map(|s| s.to_string()));
    args.extend(
        [
            "--format",
            "parquet",
            "--quiet",
            "--output",
            &path_str(&pq_dir),
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    run_weir(&args).assert_ok();
    let mut pq = parquet_lines(&pq_dir, types);
    assert!(!tsv.is_empty());
    tsv.sort();
    pq.sort();
    assert_eq!(pq.len(), tsv.len(), "{job:?} {shape:?}: row counts differ");
    // Keys are unique, so both sorts order the rows by key. Ranks come from separate runs
    // whose floating-point sums may associate differently: compare them within 1e-12.
    for (a, b) in pq.iter().zip(&tsv) {
        let (fa, fb): (Vec<&str>, Vec<&str>) = (a.split('\t').collect(), b.split('\t').collect());
        assert_eq!(fa.len(), fb.len(), "{job:?} {shape:?}: {a:?} vs {b:?}");
        for ((x, y), t) in fa.iter().zip(&fb).zip(types) {
            if *t == "float" {
                let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                assert!(
                    ((x - y) / y).abs() <= 1e-12,
                    "{job:?} {shape:?}: {a:?} vs {b:?}"
                );
            } else {
                assert_eq!(x, y, "{job:?} {shape:?}: Parquet and TSV rows differ");
            }
        }
    }
}

#[test]
fn wordcount_parquet_matches_tsv() {
    let job: Vec<String> = ["wordcount", "--input", &path_str(&samples().join("text"))]
        .iter()
        .map(|s| s.to_string())
        .collect();
    same_rows_as_tsv(&job, &["--workers", "3"], &["str", "int"]);
    same_rows_as_tsv(&job, &["--local", "--threads", "3"], &["str", "int"]);
}

#[test]
fn pagerank_parquet_matches_tsv() {
    let props = samples().join("graphalytics/test-pr-directed.properties");
    let job: Vec<String> = ["pagerank", "--dataset", &path_str(&props)]
        .iter()
        .map(|s| s.to_string())
        .collect();
    same_rows_as_tsv(&job, &["--workers", "3"], &["int", "float"]);
}

#[test]
fn invertedindex_parquet_matches_tsv() {
    let job: Vec<String> = [
        "invertedindex",
        "--input",
        &path_str(&samples().join("text")),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    same_rows_as_tsv(&job, &["--workers", "2"], &["str", "int", "str"]);
}
