//! Figures of a scaling benchmark for `weir bench`: speedup, parallel efficiency and the
//! per-stage breakdown of slot-seconds, each written as SVG and PNG.
//!
//! The input is plain data (one [`ScalingPoint`] per worker count, the fitted serial fraction
//! and one [`Breakdown`] per worker count); [`draw_all`] writes `speedup`, `efficiency` and
//! `breakdown` figures into a directory. Text is rendered with DejaVu Sans, bundled in
//! `fonts/` and registered with plotters' own font table, so no system font library is
//! needed; the SVGs carry plain `<text>` elements with a `sans-serif` font family.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{ensure, Context, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

mod curves;
pub use curves::{draw_curves, ModelCurve};

/// Pixel size of every figure.
const SIZE: (u32, u32) = (960, 600);

/// The font family every text is drawn in; the bundled font is registered under it.
const FONT: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE`).
static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Values at or above this (and non-finite ones) are left out, so axis ranges stay finite.
const LIMIT: f64 = 1e15;

/// Points sampled along a fitted law's curve.
const CURVE_SAMPLES: usize = 200;

const MEASURED: RGBColor = RGBColor(31, 119, 180);
const LAW: RGBColor = RGBColor(214, 39, 40);
const IDEAL: RGBColor = RGBColor(110, 110, 110);

/// The four categories of a stage's slot-seconds, bottom to top within the stage.
const CATEGORIES: [(&str, RGBColor); 4] = [
    ("compute", RGBColor(31, 119, 180)),
    ("shuffle write", RGBColor(255, 127, 14)),
    ("shuffle read / wait", RGBColor(44, 160, 44)),
    ("idle", RGBColor(180, 180, 180)),
];

/// One worker count's measured scaling figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingPoint {
    /// Worker count.
    pub workers: usize,
    /// Median wall time in seconds.
    pub median: f64,
    /// Fastest run's wall time in seconds.
    pub min: f64,
    /// Slowest run's wall time in seconds.
    pub max: f64,
    /// Speedup (scaled speedup when weak scaling) of the median run.
    pub speedup: f64,
    /// Speedup divided by the worker count.
    pub efficiency: f64,
}

/// Where one stage's slot-seconds went at one worker count.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTime {
    /// The stage's name.
    pub name: String,
    /// Slot-seconds spent running operators.
    pub compute: f64,
    /// Slot-seconds spent writing shuffle output.
    pub shuffle_write: f64,
    /// Slot-seconds spent reading or waiting for shuffle input.
    pub shuffle_read: f64,
    /// Slot-seconds the stage's slots were idle.
    pub idle: f64,
}

/// The per-stage breakdown of one worker count's median run.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// Worker count.
    pub workers: usize,
    /// Stages in execution order.
    pub stages: Vec<StageTime>,
}

/// What to draw.
#[derive(Debug, Clone, Copy)]
pub struct Figures<'a> {
    /// Shown at the top of every figure (the job's name, say).
    pub title: &'a str,
    /// Measurements, one per worker count.
    pub points: &'a [ScalingPoint],
    /// Serial fraction of the fitted law; no law curve when `None`.
    pub serial_fraction: Option<f64>,
    /// Weak scaling: scaled speedup and Gustafson's law instead of Amdahl's.
    pub weak: bool,
    /// Per-stage breakdown, one per worker count.
    pub breakdown: &'a [Breakdown],
}

/// Writes speedup.svg/.png, efficiency.svg/.png and breakdown.svg/.png into `dir` (created if
/// missing); returns the paths written.
pub fn draw_all(dir: &Path, figures: &Figures) -> Result<Vec<PathBuf>> {
    register_font()?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for stem in ["speedup", "efficiency", "breakdown"] {
        let svg = dir.join(format!("{stem}.svg"));
        write_svg(&svg, stem, figures).with_context(|| format!("cannot draw {}", svg.display()))?;
        written.push(svg);
        let png = dir.join(format!("{stem}.png"));
        write_png(&png, stem, figures).with_context(|| format!("cannot draw {}", png.display()))?;
        written.push(png);
    }
    Ok(written)
}

/// Registers the bundled font under [`FONT`], once per process.
fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    ensure!(ok, "the bundled font cannot be loaded");
    Ok(())
}

/// Renders with `render` into a hidden name beside `path` with the same extension (the PNG
/// encoder picks the format from it), then renames it over `path`.
fn write_atomically(path: &Path, render: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{}.tmp.{name}", std::process::id()));
    let done = render(&tmp).and_then(|()| Ok(fs::rename(&tmp, path)?));
    if done.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    done
}

fn write_svg(path: &Path, stem: &str, figures: &Figures) -> Result<()> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(&root, stem, figures)?;
        root.present()?;
    }
    write_atomically(path, |tmp| Ok(fs::write(tmp, text)?))
}

fn write_png(path: &Path, stem: &str, figures: &Figures) -> Result<()> {
    write_atomically(path, |tmp| {
        let root = BitMapBackend::new(tmp, SIZE).into_drawing_area();
        draw(&root, stem, figures)?;
        Ok(root.present()?)
    })
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    stem: &str,
    figures: &Figures,
) -> Drawn<DB, ()> {
    root.fill(&WHITE)?;
    match stem {
        "speedup" => draw_scaling(root, figures, false),
        "efficiency" => draw_scaling(root, figures, true),
        _ => draw_breakdown(root, figures),
    }
}

type Drawn<DB, T> = std::result::Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart in the common layout, from `x` and `0..y_max`, with the x axis labelled at `ticks`
/// only (plotters would pick fractional worker counts of its own). Without ticks it is an
/// empty frame without labels.
fn chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: &str,
    (x_desc, y_desc): (&str, &str),
    (x, y_max): (Range<f64>, f64),
    margin_right: u32,
    ticks: &[(f64, String)],
) -> Drawn<DB, Chart<'a, DB>> {
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 30))
        .margin(20)
        .margin_right(margin_right)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(x, 0f64..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(if ticks.is_empty() { 0 } else { 10 })
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FONT, 20))
        .label_style((FONT, 17))
        .y_label_formatter(&|v| tick(*v))
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.15))
        .draw()?;
    let style = TextStyle::from((FONT, 17).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (x, label) in ticks {
        let (px, py) = chart.backend_coord(&(*x, 0.0));
        root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], BLACK))?;
        root.draw(&Text::new(label.clone(), (px, py + 8), style.clone()))?;
    }
    Ok(chart)
}

fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> Drawn<DB, ()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 17))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .margin(12)
        .draw()?;
    Ok(())
}

/// An empty chart with `message` in the middle, for when there is nothing to plot.
fn note<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    descs: (&str, &str),
    message: &str,
) -> Drawn<DB, ()> {
    let chart = chart(root, caption, descs, (0.0..1.0, 1.0), 20, &[])?;
    let style = TextStyle::from((FONT, 20).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    let at = chart.backend_coord(&(0.5, 0.5));
    root.draw(&Text::new(message, at, style))
}

/// One measurement as plotted: the median's value and the range the fastest and slowest
/// runs give.
struct Measured {
    x: f64,
    y: f64,
    lo: f64,
    hi: f64,
}

fn measured(point: &ScalingPoint, efficiency: bool) -> Option<Measured> {
    if point.workers == 0 {
        return None;
    }
    let p = point.workers as f64;
    let y = match efficiency {
        true if point.efficiency.is_finite() => point.efficiency,
        true => point.speedup / p,
        false => point.speedup,
    };
    if !(0.0..LIMIT).contains(&y) {
        return None;
    }
    // Speedup is inversely proportional to the run's time, so the fastest run gives the top
    // of the range and the slowest the bottom.
    let (lo, hi) = (y * point.median / point.max, y * point.median / point.min);
    let valid = [point.median, point.min, point.max]
        .iter()
        .all(|t| t.is_finite() && *t > 0.0)
        && (0.0..LIMIT).contains(&hi)
        && lo <= hi;
    let (lo, hi) = if valid {
        (lo.min(y), hi.max(y))
    } else {
        (y, y)
    };
    Some(Measured { x: p, y, lo, hi })
}

/// The fitted law's value (speedup, or efficiency) at `p` workers.
fn law(f: f64, weak: bool, efficiency: bool, p: f64) -> f64 {
    let speedup = if weak {
        p - f * (p - 1.0)
    } else {
        1.0 / (f + (1.0 - f) / p)
    };
    if efficiency {
        speedup / p
    } else {
        speedup
    }
}

/// The law's curve over `[1, x_max]`. With `f` in `[0, 1]` (it is clamped there) it stays
/// between 0 and the ideal line, so inside the chart.
fn law_curve(f: f64, weak: bool, efficiency: bool, x_max: f64) -> Vec<(f64, f64)> {
    let f = f.clamp(0.0, 1.0);
    let p = |i: usize| 1.0 + (x_max - 1.0) * i as f64 / CURVE_SAMPLES as f64;
    (0..=CURVE_SAMPLES)
        .map(|i| (p(i), law(f, weak, efficiency, p(i))))
        .collect()
}

/// Worker counts to label on the x axis, leaving out those too close to the previous one.
fn x_ticks(workers: &[f64], x_max: f64) -> Vec<(f64, String)> {
    let mut ticks: Vec<(f64, String)> = Vec::new();
    for &p in workers {
        if ticks
            .last()
            .is_none_or(|(last, _)| p - last >= x_max * 0.035)
        {
            ticks.push((p, format!("{p:.0}")));
        }
    }
    ticks
}

fn draw_scaling<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figures: &Figures,
    efficiency: bool,
) -> Drawn<DB, ()> {
    let what = match (efficiency, figures.weak) {
        (true, _) => "efficiency",
        (false, true) => "scaled speedup",
        (false, false) => "speedup",
    };
    let caption = format!("{}: {what}", figures.title);
    let mut points: Vec<Measured> = figures
        .points
        .iter()
        .filter_map(|p| measured(p, efficiency))
        .collect();
    points.sort_by(|a, b| a.x.total_cmp(&b.x));
    let Some(last) = points.last() else {
        return note(root, &caption, ("workers", what), "no measurements to plot");
    };
    let x_max = (last.x * 1.1).max(last.x + 0.5).max(2.0);
    let data_max = points.iter().map(|m| m.hi).fold(0.0, f64::max);
    // Headroom for the legend: above the ideal line at 1.0 for efficiency, in the empty
    // upper-left triangle above the diagonal for speedup.
    let y_max = if efficiency {
        data_max.max(1.0) * 1.35
    } else {
        data_max.max(x_max) * 1.05
    };
    let workers: Vec<f64> = points.iter().map(|m| m.x).collect();
    let ticks = x_ticks(&workers, x_max);
    let mut chart = chart(
        root,
        &caption,
        ("workers", what),
        (0.0..x_max, y_max),
        30,
        &ticks,
    )?;

    let ideal_style = IDEAL.stroke_width(2);
    let ideal = [1.0, x_max].map(|p| (p, if efficiency { 1.0 } else { p }));
    chart
        .draw_series(DashedLineSeries::new(ideal, 10, 6, ideal_style))?
        .label("ideal")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], ideal_style));

    if let Some(f) = figures.serial_fraction.filter(|f| f.is_finite()) {
        let name = if figures.weak { "Gustafson" } else { "Amdahl" };
        let label = format!("{name}'s law, f = {:.3}", f.clamp(0.0, 1.0));
        let style = LAW.stroke_width(2);
        let curve = law_curve(f, figures.weak, efficiency, x_max);
        chart
            .draw_series(LineSeries::new(curve, style))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    }

    let style = MEASURED.stroke_width(2);
    let bars = points.iter().filter(|m| m.hi > m.lo);
    chart.draw_series(bars.map(|m| ErrorBar::new_vertical(m.x, m.lo, m.y, m.hi, style, 12)))?;
    chart.draw_series(LineSeries::new(points.iter().map(|m| (m.x, m.y)), style))?;
    chart
        .draw_series(
            points
                .iter()
                .map(|m| Circle::new((m.x, m.y), 5, MEASURED.filled())),
        )?
        .label("measured median (bar: fastest to slowest run)")
        .legend(move |(x, y)| {
            EmptyElement::at((x + 12, y))
                + PathElement::new(vec![(-12, 0), (12, 0)], style)
                + Circle::new((0, 0), 5, MEASURED.filled())
        });
    let position = if efficiency {
        SeriesLabelPosition::UpperRight
    } else {
        SeriesLabelPosition::UpperLeft
    };
    legend(&mut chart, position)
}

/// A stage's slot-seconds by category; anything negative, not finite or past [`LIMIT`]
/// counts as none.
fn categories(stage: &StageTime) -> [f64; 4] {
    [
        stage.compute,
        stage.shuffle_write,
        stage.shuffle_read,
        stage.idle,
    ]
    .map(|v| if (0.0..LIMIT).contains(&v) { v } else { 0.0 })
}

/// `color` lightened towards white, to tell adjacent stages apart.
fn tint(color: RGBColor) -> RGBColor {
    let light = |c: u8| c + ((255 - c) as f64 * 0.45) as u8;
    RGBColor(light(color.0), light(color.1), light(color.2))
}

/// A y-axis label: at most three decimals, without trailing zeros.
fn tick(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn format_secs(v: f64) -> String {
    match v {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

/// `name` cut to at most `max` characters.
fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    name.chars()
        .take(max.saturating_sub(1))
        .chain(['…'])
        .collect()
}

fn draw_breakdown<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figures: &Figures,
) -> Drawn<DB, ()> {
    let caption = format!("{}: slot-seconds by stage", figures.title);
    let descs = ("workers", "slot-seconds");
    let bars = figures.breakdown;
    if bars.is_empty() {
        return note(root, &caption, descs, "no per-stage breakdown recorded");
    }
    let totals: Vec<f64> = bars
        .iter()
        .map(|b| {
            b.stages
                .iter()
                .map(|s| categories(s).iter().sum::<f64>())
                .sum()
        })
        .collect();
    let max_total = totals.iter().copied().fold(0.0, f64::max);
    // Headroom above the tallest bar for the legend in the upper-left corner.
    let y_max = if max_total > 0.0 {
        max_total * 1.5
    } else {
        1.0
    };
    let (n, half) = (bars.len(), 0.3);
    let ticks: Vec<(f64, String)> = bars
        .iter()
        .enumerate()
        .map(|(i, b)| (i as f64, b.workers.to_string()))
        .collect();
    // At least three bars' room, so that a single bar is not a wide block.
    let pad = 3f64.max(n as f64) - n as f64;
    let x = -0.6 - pad / 2.0..n as f64 - 0.4 + pad / 2.0;
    let mut chart = chart(root, &caption, descs, (x, y_max), 200, &ticks)?;

    let (mut segments, mut separators, mut last_mids) = (Vec::new(), Vec::new(), Vec::new());
    for (i, bar) in bars.iter().enumerate() {
        let (x, mut y) = (i as f64, 0.0);
        for (k, stage) in bar.stages.iter().enumerate() {
            let start = y;
            for (value, (_, color)) in categories(stage).into_iter().zip(CATEGORIES) {
                let color = if k % 2 == 1 { tint(color) } else { color };
                if value > 0.0 {
                    let corners = [(x - half, y), (x + half, y + value)];
                    segments.push(Rectangle::new(corners, color.filled()));
                }
                y += value;
            }
            if k > 0 {
                let line = vec![(x - half, start), (x + half, start)];
                separators.push(PathElement::new(line, BLACK.stroke_width(1)));
            }
            if i + 1 == n {
                last_mids.push((stage.name.as_str(), (start + y) / 2.0));
            }
        }
    }
    chart.draw_series(segments)?;
    chart.draw_series(separators)?;
    let outline = |(i, &t): (usize, &f64)| {
        Rectangle::new(
            [(i as f64 - half, 0.0), (i as f64 + half, t)],
            BLACK.stroke_width(1),
        )
    };
    chart.draw_series(totals.iter().enumerate().map(outline))?;
    let on_top = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(totals.iter().enumerate().map(|(i, &t)| {
        EmptyElement::at((i as f64, t)) + Text::new(format_secs(t), (0, -4), on_top.clone())
    }))?;

    for (name, color) in CATEGORIES {
        let key =
            move |(x, y): (i32, i32)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled());
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label(name)
            .legend(key);
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;

    // Stage names beside the last bar, in the right margin, bottom to top, pushed apart where
    // stages are thin and joined to their stage by a leader line.
    let bar_right = chart.backend_coord(&((n - 1) as f64 + half, 0.0)).0;
    let label_x = chart.backend_coord(&(n as f64 - 0.4, 0.0)).0 + 16;
    let style = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut previous: Option<i32> = None;
    for (name, mid) in last_mids {
        let target = chart.backend_coord(&((n - 1) as f64, mid)).1;
        let y = previous.map_or(target, |p| target.min(p - 20));
        previous = Some(y);
        let leader = vec![(bar_right + 3, target), (label_x - 4, y)];
        root.draw(&PathElement::new(leader, BLACK.mix(0.5)))?;
        root.draw(&Text::new(shorten(name, 20), (label_x, y), style.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
