//! `tradeoff.svg` and `tradeoff.png`: p95 latency against accuracy, one labeled point per
//! variant, the constraint lines, and the Pareto front joined. One drawing routine, generic over
//! the backend, draws with `plotters`' SVG backend and its bitmap backend (encoded as PNG); text
//! uses the embedded DejaVu Sans.

use std::sync::Once;

use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Summary;

/// The plot's size: SVG user units, PNG pixels.
pub const WIDTH: u32 = 720;
pub const HEIGHT: u32 = 440;
/// The font family the plot's text asks for, the name the embedded font is registered under.
const FONT: &str = "sans-serif";
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

/// Registers the embedded DejaVu Sans as plotters' "sans-serif", once: text is measured (both
/// backends) and rasterised (PNG) from it, so no system font is needed.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font, so this cannot fail; were it to, text would be
        // missing from the plot rather than the command failing.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
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
        register_font();
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
        for (name, x, y, on_front) in &self.points {
            let color = if *on_front { FRONT } else { POINT };
            chart
                .draw_series(std::iter::once(Circle::new((*x, *y), 5, color.filled())))
                .ok()?;
            chart
                .draw_series(std::iter::once(Text::new(
                    name.clone(),
                    (*x, *y),
                    (FONT, 13).into_font().color(&BLACK),
                )))
                .ok()?;
        }
        root.present().ok()?;
        Some(())
    }
}

/// An axis range around the values, padded by 8 % each side.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-6);
    (lo - pad, hi + pad)
}
