//! Tests of the benchmark figures: every file is written, valid and readable, whatever
//! the input.

use super::*;

/// A point whose fastest and slowest runs are 5% and 8% off the median `t`.
fn point(p: usize, t: f64, speedup: f64) -> ScalingPoint {
    let (min, max, efficiency) = (t * 0.95, t * 1.08, speedup / p as f64);
    ScalingPoint {
        workers: p,
        median: t,
        min,
        max,
        speedup,
        efficiency,
    }
}

fn stage(name: &str, [compute, shuffle_write, shuffle_read, idle]: [f64; 4]) -> StageTime {
    StageTime {
        name: name.to_string(),
        compute,
        shuffle_write,
        shuffle_read,
        idle,
    }
}

fn figures<'a>(points: &'a [ScalingPoint], breakdown: &'a [Breakdown]) -> Figures<'a> {
    let (title, serial_fraction) = ("wordcount", Some(0.12));
    Figures {
        title,
        points,
        serial_fraction,
        weak: false,
        breakdown,
    }
}

/// Draws `figures` into a fresh directory, checks every file and returns the three SVGs.
fn draw_and_check(figures: &Figures) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let written = draw_all(dir.path(), figures).unwrap();
    let mut svgs = Vec::new();
    for (i, stem) in ["speedup", "efficiency", "breakdown"]
        .into_iter()
        .enumerate()
    {
        let (svg, png) = (
            dir.path().join(format!("{stem}.svg")),
            dir.path().join(format!("{stem}.png")),
        );
        assert_eq!(written[2 * i..2 * i + 2], [svg.clone(), png.clone()]);
        let png = fs::read(png).unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"),
            "{stem}.png is no PNG"
        );
        let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!((word(16), word(20)), SIZE);
        let svg = fs::read_to_string(svg).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        svgs.push(svg);
    }
    // Nothing else, no temporary file in particular, is left.
    assert_eq!(
        (written.len(), fs::read_dir(dir.path()).unwrap().count()),
        (6, 6)
    );
    svgs
}

fn assert_texts(svg: &str, texts: &[&str]) {
    for text in texts {
        assert!(svg.contains(text), "{text:?} missing from\n{svg}");
    }
}

#[test]
fn draws_strong_scaling_figures() {
    let times = [(1, 10.0), (2, 5.6), (4, 3.3), (8, 2.2)];
    let points = times.map(|(p, t)| point(p, t, 10.0 / t));
    let breakdown = [1, 2, 4, 8].map(|p| {
        let s = 1.0 + p as f64 / 8.0;
        let stages = ["map", "reduce_by_key", "sink"].map(|n| stage(n, [3.0 * s, 0.6, s, s * s]));
        Breakdown {
            workers: p,
            stages: stages.into(),
        }
    });
    let svgs = draw_and_check(&figures(&points, &breakdown));
    assert_texts(
        &svgs[0],
        &[
            "wordcount: speedup",
            "Amdahl",
            "law, f = 0.120",
            "ideal",
            "measured",
        ],
    );
    assert_texts(
        &svgs[1],
        &["wordcount: efficiency", "Amdahl", "ideal", "workers"],
    );
    let categories = ["compute", "shuffle write", "shuffle read / wait", "idle"];
    assert_texts(
        &svgs[2],
        &[&categories[..], &["slot-seconds", "reduce_by_key"]].concat(),
    );
    assert!(svgs
        .iter()
        .all(|svg| svg.contains("font-family=\"sans-serif\"")));
}

#[test]
fn draws_weak_scaling_with_gustafson() {
    let points = [point(1, 4.0, 1.0), point(2, 4.3, 1.86), point(4, 4.9, 3.27)];
    let svgs = draw_and_check(&Figures {
        weak: true,
        ..figures(&points, &[])
    });
    assert_texts(&svgs[0], &["Gustafson", "scaled speedup"]);
    assert!(!svgs[0].contains("Amdahl"));
    assert_texts(&svgs[2], &["no per-stage breakdown recorded"]);
}

#[test]
fn degenerate_input_draws_without_panicking() {
    let (nan, inf) = (f64::NAN, f64::INFINITY);
    let mut odd = [
        point(1, 0.0, 0.0),
        point(0, 1.0, 1.0),
        point(3, nan, nan),
        point(4, 1.0, inf),
        point(2, 1e-300, f64::MAX),
    ];
    (odd[3].min, odd[3].max, odd[3].efficiency) = (2.0, 0.5, -1.0);
    let stages = vec![
        stage(&"x".repeat(80), [nan, -1.0, 0.0, inf]),
        stage("", [0.0; 4]),
        stage("huge", [f64::MAX, 1e300, 0.0, 0.0]),
    ];
    let zero = [
        Breakdown { workers: 1, stages },
        Breakdown {
            workers: 2,
            stages: Vec::new(),
        },
    ];
    let one = [point(1, 2.0, 1.0)];
    for (points, serial_fraction, weak, breakdown) in [
        (&[][..], None, false, &[][..]),
        (&one, Some(0.0), false, &[]),
        (&one, Some(nan), true, &zero),
        (&odd, Some(-3.0), false, &zero),
        (&odd, Some(5.0), true, &zero),
        (&odd, Some(1.0), false, &[]),
    ] {
        draw_and_check(&Figures {
            title: "",
            points,
            serial_fraction,
            weak,
            breakdown,
        });
    }
    assert_texts(
        &draw_and_check(&figures(&[], &[]))[0],
        &["no measurements to plot"],
    );
}

#[test]
fn reports_an_unwritable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    assert!(draw_all(&file.join("sub"), &figures(&[], &[])).is_err());
}

#[test]
fn law_curves_and_ticks() {
    assert!((law(0.1, false, false, 4.0) - 1.0 / (0.1 + 0.9 / 4.0)).abs() < 1e-12);
    assert!((law(0.1, true, false, 4.0) - (4.0 - 0.1 * 3.0)).abs() < 1e-12);
    assert!((law(0.1, false, true, 1.0) - 1.0).abs() < 1e-12);
    assert_eq!(law_curve(0.0, false, false, 9.0).last(), Some(&(9.0, 9.0)));
    let clamped = law_curve(-2.0, false, true, 9.0);
    assert!(clamped.iter().all(|&(_, y)| (y - 1.0).abs() < 1e-12));
    let ticks = x_ticks(&[1.0, 2.0, 4.0, 8.0, 64.0], 70.0);
    assert_eq!(
        ticks.iter().map(|t| t.0).collect::<Vec<_>>(),
        [1.0, 4.0, 8.0, 64.0]
    );
}
