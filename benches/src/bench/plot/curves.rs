//! Figures of `weir bench consistency`: the training loss of each consistency model
//! against wall time and against the clock, with the target loss as a dashed line (the
//! Parameter Server paper's figure), each written as SVG and PNG.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{chart, legend, note, register_font, write_atomically, Drawn, SIZE};

/// One line per model, in the order given.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One consistency model's loss curves.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCurve {
    /// The model, as given to `--consistency`.
    pub name: String,
    /// `(seconds, loss)`.
    pub by_time: Vec<(f64, f64)>,
    /// `(clock, loss)`.
    pub by_clock: Vec<(f64, f64)>,
}

/// Writes loss-time.svg/.png and loss-clock.svg/.png into `dir` (created if missing);
/// returns the paths written.
pub fn draw_curves(
    dir: &Path,
    title: &str,
    models: &[ModelCurve],
    target: Option<f64>,
) -> Result<Vec<PathBuf>> {
    register_font()?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for (stem, by_time) in [("loss-time", true), ("loss-clock", false)] {
        let figure = Figure {
            title,
            models,
            target,
            by_time,
        };
        let svg = dir.join(format!("{stem}.svg"));
        write_atomically(&svg, |tmp| {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
                figure.draw(&root)?;
                root.present()?;
            }
            Ok(fs::write(tmp, text)?)
        })
        .with_context(|| format!("cannot draw {}", svg.display()))?;
        written.push(svg);
        let png = dir.join(format!("{stem}.png"));
        write_atomically(&png, |tmp| {
            let root = BitMapBackend::new(tmp, SIZE).into_drawing_area();
            figure.draw(&root)?;
            Ok(root.present()?)
        })
        .with_context(|| format!("cannot draw {}", png.display()))?;
        written.push(png);
    }
    Ok(written)
}

struct Figure<'a> {
    title: &'a str,
    models: &'a [ModelCurve],
    target: Option<f64>,
    by_time: bool,
}

impl Figure<'_> {
    fn line<'m>(&self, model: &'m ModelCurve) -> &'m [(f64, f64)] {
        if self.by_time {
            &model.by_time
        } else {
            &model.by_clock
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB, ()> {
        root.fill(&WHITE)?;
        let x_desc = if self.by_time { "seconds" } else { "clock" };
        let descs = (x_desc, "training loss");
        let caption = format!("{}: loss against {x_desc}", self.title);
        let finite = |&&(x, y): &&(f64, f64)| x.is_finite() && y.is_finite() && y >= 0.0;
        let all = || {
            self.models
                .iter()
                .flat_map(|m| self.line(m).iter().filter(finite))
        };
        let x_max = all().map(|p| p.0).fold(0.0, f64::max);
        let y_max = all().map(|p| p.1).chain(self.target).fold(0.0, f64::max);
        if x_max <= 0.0 || y_max <= 0.0 {
            return note(root, &caption, descs, "no loss was reported");
        }
        let ticks = nice_ticks(x_max);
        let mut chart = chart(
            root,
            &caption,
            descs,
            (0.0..x_max * 1.02, y_max * 1.05),
            30,
            &ticks,
        )?;
        for (i, model) in self.models.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let points: Vec<(f64, f64)> = self.line(model).iter().filter(finite).copied().collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(model.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                });
        }
        if let Some(target) = self.target.filter(|t| t.is_finite()) {
            let dashes = dashed(0.0, x_max * 1.02, target);
            chart
                .draw_series(
                    dashes
                        .into_iter()
                        .map(|d| PathElement::new(d, BLACK.mix(0.6))),
                )?
                .label(format!("target {target:.4}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.6)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// A horizontal dashed line at `y` from `x0` to `x1`: 60 dashes.
fn dashed(x0: f64, x1: f64, y: f64) -> Vec<Vec<(f64, f64)>> {
    let step = (x1 - x0) / 120.0;
    (0..60)
        .map(|i| {
            let a = x0 + step * (2 * i) as f64;
            vec![(a, y), (a + step, y)]
        })
        .collect()
}

/// Round ticks from 0 to `max`: a step of 1, 2 or 5 times a power of ten, 4 to 10 of them.
fn nice_ticks(max: f64) -> Vec<(f64, String)> {
    let raw = max / 8.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|x| *x <= max * 1.0001)
        .map(|x| (x, format!("{x:.decimals$}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let labels = |m: f64| -> Vec<String> { nice_ticks(m).into_iter().map(|t| t.1).collect() };
        assert_eq!(labels(10.0), ["0", "2", "4", "6", "8", "10"]);
        assert_eq!(
            labels(0.35),
            ["0.00", "0.05", "0.10", "0.15", "0.20", "0.25", "0.30", "0.35"]
        );
        assert_eq!(labels(700.0).len(), 8);
    }

    #[test]
    fn both_figures_are_written_as_svg_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let model = |name: &str, k: f64| ModelCurve {
            name: name.into(),
            by_time: (1..20).map(|i| (i as f64 * 0.1, k / i as f64)).collect(),
            by_clock: (1..20).map(|i| (i as f64, k / i as f64)).collect(),
        };
        let models = [model("bsp", 1.0), model("ssp:4", 0.8)];
        let written = draw_curves(dir.path(), "logreg", &models, Some(0.1)).unwrap();
        assert_eq!(written.len(), 4);
        let svg = fs::read_to_string(dir.path().join("loss-time.svg")).unwrap();
        assert!(
            svg.contains("ssp:4") && svg.contains("target 0.1000"),
            "{svg}"
        );
        let png = fs::read(dir.path().join("loss-clock.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // Nothing to draw still makes a figure.
        draw_curves(dir.path(), "empty", &[], None).unwrap();
    }
}
