//! `tradeoff.svg` and `tradeoff.png`: p95 latency against accuracy, one labeled point per
//! variant, the constraint lines, and the Pareto front joined. One drawing routine, generic over
//! the backend, draws with `plotters`' SVG backend and its bitmap backend (encoded as PNG); text
//! uses the embedded DejaVu Sans.

use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Summary;

/// The plot's size: SVG user units, PNG pixels.
pub const WIDTH: u32 = 720;
pub const HEIGHT: u32 = 440;
/// The font family the plot's text asks for (see [`crate::fonts`]).
const FONT: &str = crate::fonts::SANS;
/// A variant off the Pareto front.
pub const POINT: RGBColor = RGBColor(0x8c, 0x95, 0x9f);
/// The Pareto front: its points and the line joining them.
pub const FRONT: RGBColor = RGBColor(0x09, 0x69, 0xda);
/// The constraint lines.
const LIMIT: RGBColor = RGBColor(0xcf, 0x22, 0x2e);

/// The plot as SVG, or None when there is nothing to draw (no variant with a finite latency).
/// Without a dataset the y axis is throughput instead of accuracy.
pub fn tradeoff_svg(summary: &Summary) -> Option<String> {
    let plot = Plot::of(summary)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        plot.draw(&root)?;
    }
    Some(svg)
}

/// The same plot as a PNG image, [`WIDTH`] by [`HEIGHT`] pixels, or None as for
/// [`tradeoff_svg`].
pub fn tradeoff_png(summary: &Summary) -> Option<Vec<u8>> {
    let plot = Plot::of(summary)?;
    let mut rgb = vec![0u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        plot.draw(&root)?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, WIDTH, HEIGHT, image::ExtendedColorType::Rgb8)
        .ok()?;
    Some(png)
}

/// What is drawn, in plot units: the points, the axes' ranges and the constraint lines.
struct Plot {
    caption: String,
    with_accuracy: bool,
    /// Name, p95 latency, accuracy (%) or throughput, on the Pareto front.
    points: Vec<(String, f64, f64, bool)>,
    limit_x: Option<f64>,
    limit_y: Option<f64>,
    x: (f64, f64),
    y: (f64, f64),
}

impl Plot {
    fn of(summary: &Summary) -> Option<Plot> {
        let with_accuracy = summary.variants.iter().all(|v| v.accuracy.is_some());
        let points: Vec<(String, f64, f64, bool)> = summary
            .variants
            .iter()
            .filter(|v| v.latency_p95_ms.is_finite())
            .map(|v| {
                let y = if with_accuracy {
                    v.accuracy.unwrap_or(0.0) * 100.0
                } else {
                    v.throughput_samples_per_s
                };
                (
                    crate::text::clean(&v.name, 40),
                    v.latency_p95_ms,
                    y,
                    summary.pareto_front.contains(&v.name),
                )
            })
            .filter(|p| p.2.is_finite())
            .collect();
        if points.is_empty() {
            return None;
        }
        let limit_x = summary.constraints.latency_p95_ms;
        let limit_y = if with_accuracy {
            summary.constraints.accuracy_min.map(|a| a * 100.0)
        } else {
            summary.constraints.throughput_min
        };
        let x = span(points.iter().map(|p| p.1).chain(limit_x));
        let y = span(points.iter().map(|p| p.2).chain(limit_y));
        let caption = format!(
            "{}: latency against {}",
            crate::text::clean(&summary.model, 60),
            if with_accuracy {
                "accuracy"
            } else {
                "throughput"
            }
        );
        Some(Plot {
            caption,
            with_accuracy,
            points,
            limit_x,
            limit_y,
            x,
            y,
        })
    }

    /// Draws onto either backend; None when the backend fails.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Option<()> {
        crate::fonts::register();
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
            .y_desc(if self.with_accuracy {
                "accuracy (%)"
            } else {
                "throughput (samples/s)"
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        if let Some(x) = self.limit_x {
            chart
                .draw_series(LineSeries::new(
                    [(x, y_lo), (x, y_hi)],
                    LIMIT.stroke_width(1),
                ))
                .ok()?;
        }
        if let Some(y) = self.limit_y {
            chart
                .draw_series(LineSeries::new(
                    [(x_lo, y), (x_hi, y)],
                    LIMIT.stroke_width(1),
                ))
                .ok()?;
        }
        let mut front: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.3)
            .map(|p| (p.1, p.2))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(front, FRONT.stroke_width(2)))
            .ok()?;
        let font = (FONT, 13).into_font().color(&BLACK);
        let mut anchors = Vec::new();
        let mut sizes = Vec::new();
        for (name, x, y, on_front) in &self.points {
            let color = if *on_front { FRONT } else { POINT };
            chart
                .draw_series(std::iter::once(Circle::new((*x, *y), 5, color.filled())))
                .ok()?;
            anchors.push(chart.backend_coord(&(*x, *y)));
            sizes.push(root.estimate_text_size(name, &font).ok()?);
        }
        // Labels placed in pixels, clear of each other and of the points: close variants
        // (an fp16 export a hair from its fp32) would otherwise print over one another.
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let area = (xs.start, ys.start, xs.end, ys.end);
        let corners = place_labels(&anchors, &sizes, area);
        for (((name, ..), &at), (&point, &(w, h))) in self
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
            root.draw(&Text::new(name.clone(), at, font.clone())).ok()?;
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
