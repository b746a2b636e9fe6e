//! `tradeoff.svg` and `tradeoff.png`: p95 latency against the quality the constraints guard
//! (recall with a recall floor, else accuracy; throughput without a dataset), one labeled point
//! per variant, the labelled constraint lines, the Pareto front joined, the reference ringed,
//! variants that miss a constraint drawn as crosses, and a legend. One drawing routine, generic over
//! the backend, draws with `plotters`' SVG backend and its bitmap backend (encoded as PNG); text
//! uses the embedded DejaVu Sans.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Summary, Tradeoff};

/// The plot's size: SVG user units, PNG pixels.
pub const WIDTH: u32 = 720;
pub const HEIGHT: u32 = 440;
/// The font family the plot's text asks for (see [`crate::base::fonts`]).
const FONT: &str = crate::base::fonts::SANS;
/// A variant off the Pareto front.
pub const POINT: RGBColor = RGBColor(0x8c, 0x95, 0x9f);
/// The Pareto front: its points and the line joining them.
pub const FRONT: RGBColor = RGBColor(0x09, 0x69, 0xda);
/// The constraint lines and their labels.
const LIMIT: RGBColor = RGBColor(0xcf, 0x22, 0x2e);
/// A variant that misses a constraint: a cross.
pub const MISSED: RGBColor = RGBColor(0xbc, 0x4c, 0x00);
/// The legend's border.
pub const LEGEND: RGBColor = RGBColor(0xd0, 0xd7, 0xde);

/// The plot as SVG, or None when there is nothing to draw (no variant with a finite latency).
/// Without a dataset the y axis is throughput instead of accuracy.
pub fn tradeoff_svg(summary: &Summary) -> Option<String> {
    crate::base::plot::svg(&Plot::of(summary)?, WIDTH, HEIGHT)
}

/// The same plot as a PNG image, [`WIDTH`] by [`HEIGHT`] pixels, or None as for
/// [`tradeoff_svg`].
pub fn tradeoff_png(summary: &Summary) -> Option<Vec<u8>> {
    crate::base::plot::png(&Plot::of(summary)?, WIDTH, HEIGHT)
}

/// One variant as drawn.
struct Point {
    name: String,
    /// p95 latency, and the quality (%) or throughput.
    x: f64,
    y: f64,
    front: bool,
    meets: bool,
    reference: bool,
}

/// What is drawn, in plot units: the points, the axes' ranges and the constraint lines.
struct Plot {
    caption: String,
    y_desc: &'static str,
    points: Vec<Point>,
    /// Each constraint line with its label.
    limit_x: Option<(f64, String)>,
    limit_y: Option<(f64, String)>,
    x: (f64, f64),
    y: (f64, f64),
}

impl Plot {
    fn of(summary: &Summary) -> Option<Plot> {
        let tradeoff = summary.tradeoff;
        let points: Vec<Point> = summary
            .variants
            .iter()
            .enumerate()
            .filter(|(_, v)| v.latency_p95_ms.is_finite())
            .map(|(i, v)| Point {
                name: crate::base::text::clean(&v.name, 40),
                x: v.latency_p95_ms,
                y: match tradeoff {
                    Tradeoff::Throughput => v.throughput_samples_per_s,
                    quality => quality.quality(v).unwrap_or(0.0) * 100.0,
                },
                front: summary.pareto_front.contains(&v.name),
                meets: v.meets_constraints,
                reference: i == 0,
            })
            .filter(|p| p.y.is_finite())
            .collect();
        if points.is_empty() {
            return None;
        }
        let c = &summary.constraints;
        let limit_x = c.latency_p95_ms.map(|ms| {
            (
                ms,
                format!("p95 limit {}", crate::base::format::duration(ms)),
            )
        });
        let limit_y = match tradeoff {
            Tradeoff::Accuracy => c
                .accuracy_min
                .map(|a| (a * 100.0, format!("accuracy floor {:.1} %", a * 100.0))),
            Tradeoff::Recall => c
                .recall_min
                .map(|r| (r * 100.0, format!("recall floor {:.1} %", r * 100.0))),
            Tradeoff::Throughput => c
                .throughput_min
                .map(|t| (t, format!("throughput floor {t} samples/s"))),
        };
        let x = span(
            points
                .iter()
                .map(|p| p.x)
                .chain(limit_x.as_ref().map(|l| l.0)),
        );
        let y = span(
            points
                .iter()
                .map(|p| p.y)
                .chain(limit_y.as_ref().map(|l| l.0)),
        );
        let caption = format!(
            "{}: latency against {}",
            crate::base::text::clean(&summary.model, 60),
            tradeoff.name()
        );
        Some(Plot {
            caption,
            y_desc: match tradeoff {
                Tradeoff::Accuracy => "accuracy (%)",
                Tradeoff::Recall => "recall of the positive class (%)",
                Tradeoff::Throughput => "throughput (samples/s)",
            },
            points,
            limit_x,
            limit_y,
            x,
            y,
        })
    }
}

impl crate::base::plot::Drawing for Plot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Option<()> {
        let (x_lo, x_hi) = self.x;
        let (y_lo, y_hi) = self.y;
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .caption(&self.caption, (FONT, 16))
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("p95 latency per batch (ms)")
            .y_desc(self.y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        let small = (FONT, 12).into_font().color(&LIMIT);
        if let Some((x, label)) = &self.limit_x {
            chart
                .draw_series(LineSeries::new(
                    [(*x, y_lo), (*x, y_hi)],
                    LIMIT.stroke_width(1),
                ))
                .ok()?;
            // Right of the line, or left of it where the label would run past the plot.
            let at = chart.backend_coord(&(*x, y_hi));
            let (width, _) = root.estimate_text_size(label, &small).ok()?;
            let right_edge = chart.plotting_area().get_pixel_range().0.end;
            let left = if at.0 + 4 + width as i32 > right_edge {
                at.0 - 4 - width as i32
            } else {
                at.0 + 4
            };
            root.draw(&Text::new(label.clone(), (left, at.1 + 2), small.clone()))
                .ok()?;
        }
        if let Some((y, label)) = &self.limit_y {
            chart
                .draw_series(LineSeries::new(
                    [(x_lo, *y), (x_hi, *y)],
                    LIMIT.stroke_width(1),
                ))
                .ok()?;
            let at = chart.backend_coord(&(x_lo, *y));
            root.draw(&Text::new(label.clone(), (at.0 + 4, at.1 - 16), small))
                .ok()?;
        }
        let mut front: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.front)
            .map(|p| (p.x, p.y))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        if !front.is_empty() {
            chart
                .draw_series(LineSeries::new(front, FRONT.stroke_width(2)))
                .ok()?
                .label("Pareto front")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x - 8, y), (x + 8, y)], FRONT.stroke_width(2))
                });
        }
        // The points by kind, each kind one series with its legend entry (only kinds present).
        type OfKind = fn(&Point) -> bool;
        // (legend, which points, colour, drawn as a cross)
        let kinds: [(&str, OfKind, RGBColor, bool); 3] = [
            (
                "meets the constraints",
                |p| p.meets && !p.front,
                POINT,
                false,
            ),
            ("on the front", |p| p.front, FRONT, false),
            ("misses a constraint", |p| !p.meets, MISSED, true),
        ];
        for (label, of_kind, color, missed) in kinds {
            let at: Vec<(f64, f64)> = self
                .points
                .iter()
                .filter(|p| of_kind(p))
                .map(|p| (p.x, p.y))
                .collect();
            if at.is_empty() {
                continue;
            }
            let series = if missed {
                chart
                    .draw_series(
                        at.iter()
                            .map(|&p| Cross::new(p, RADIUS, color.stroke_width(2)).into_dyn()),
                    )
                    .ok()?
            } else {
                chart
                    .draw_series(
                        at.iter()
                            .map(|&p| Circle::new(p, RADIUS, color.filled()).into_dyn()),
                    )
                    .ok()?
            };
            series.label(label).legend(move |(x, y)| {
                if missed {
                    Cross::new((x, y), RADIUS, color.stroke_width(2)).into_dyn()
                } else {
                    Circle::new((x, y), RADIUS, color.filled()).into_dyn()
                }
            });
        }
        if let Some(reference) = self.points.iter().find(|p| p.reference) {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (reference.x, reference.y),
                    RADIUS + 4,
                    BLACK.stroke_width(1),
                )))
                .ok()?
                .label("reference")
                .legend(|(x, y)| Circle::new((x, y), RADIUS + 2, BLACK.stroke_width(1)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(LEGEND)
            .label_font((FONT, 12))
            .draw()
            .ok()?;
        let font = (FONT, 13).into_font().color(&BLACK);
        let mut anchors = Vec::new();
        let mut sizes = Vec::new();
        for p in &self.points {
            anchors.push(chart.backend_coord(&(p.x, p.y)));
            sizes.push(root.estimate_text_size(&p.name, &font).ok()?);
        }
        // Labels placed in pixels, clear of each other and of the points: close variants
        // (an fp16 export a hair from its fp32) would otherwise print over one another.
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let area = (xs.start, ys.start, xs.end, ys.end);
        let corners = place_labels(&anchors, &sizes, area);
        for ((p, &at), (&point, &(w, h))) in self
            .points
            .iter()
            .zip(&corners)
            .zip(anchors.iter().zip(&sizes))
        {
            // A label pushed away from its point is joined to it by a thin line.
            let near = (
                point.0.clamp(at.0, at.0 + w as i32),
                point.1.clamp(at.1, at.1 + h as i32),
            );
            let (dx, dy) = (near.0 - point.0, near.1 - point.1);
            if dx * dx + dy * dy > (RADIUS + GAP + 2).pow(2) {
                root.draw(&PathElement::new(vec![point, near], POINT.stroke_width(1)))
                    .ok()?;
            }
            root.draw(&Text::new(p.name.clone(), at, font.clone()))
                .ok()?;
        }
        root.present().ok()?;
        Some(())
    }
}

/// Radius of a point's disc, in pixels, and the gap kept between a label and anything else.
const RADIUS: i32 = 5;
const GAP: i32 = 4;

/// Top-left corners for labels of `sizes` (width, height) beside the points at `anchors`, in
/// pixels: each takes the first of right, left, above, below, then right or left shifted up or
/// down by whole label heights, whose box stays inside `area` (x0, y0, x1, y1) and overlaps no
/// label placed before it and no point; with none free, right of its point.
pub fn place_labels(
    anchors: &[(i32, i32)],
    sizes: &[(u32, u32)],
    area: (i32, i32, i32, i32),
) -> Vec<(i32, i32)> {
    type Box = (i32, i32, i32, i32);
    let overlaps = |a: Box, b: Box| a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3;
    let discs: Vec<Box> = anchors
        .iter()
        .map(|&(x, y)| (x - RADIUS, y - RADIUS, x + RADIUS + 1, y + RADIUS + 1))
        .collect();
    let mut placed: Vec<Box> = Vec::new();
    let mut corners = Vec::with_capacity(anchors.len());
    for (&(x, y), &(w, h)) in anchors.iter().zip(sizes) {
        let (w, h) = (w as i32, h as i32);
        let right = x + RADIUS + GAP;
        let left = x - RADIUS - GAP - w;
        let middle = y - h / 2;
        let mut candidates = vec![
            (right, middle),
            (left, middle),
            (x - w / 2, y - RADIUS - GAP - h),
            (x - w / 2, y + RADIUS + GAP),
        ];
        for step in 1..=4 {
            for sign in [-1, 1] {
                let shifted = middle + sign * step * (h + GAP);
                candidates.extend([(right, shifted), (left, shifted)]);
            }
        }
        let free = |&(cx, cy): &(i32, i32)| {
            let b = (
                cx - GAP / 2,
                cy - GAP / 2,
                cx + w + GAP / 2,
                cy + h + GAP / 2,
            );
            b.0 >= area.0
                && b.1 >= area.1
                && b.2 <= area.2
                && b.3 <= area.3
                && !placed.iter().chain(&discs).any(|&o| overlaps(b, o))
        };
        let corner = candidates
            .iter()
            .copied()
            .find(free)
            .unwrap_or((right, middle));
        placed.push((corner.0, corner.1, corner.0 + w, corner.1 + h));
        corners.push(corner);
    }
    corners
}

/// An axis range around the values, padded by 8 % each side.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-6);
    (lo - pad, hi + pad)
}
