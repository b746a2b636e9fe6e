//! `tradeoff.svg`: p95 latency against accuracy, one labeled point per variant, the constraint
//! lines, and the Pareto front joined, drawn with `plotters`' SVG backend.

use plotters::prelude::*;

use super::Summary;

const WIDTH: u32 = 720;
const HEIGHT: u32 = 440;
const POINT: RGBColor = RGBColor(0x8c, 0x95, 0x9f);
const FRONT: RGBColor = RGBColor(0x09, 0x69, 0xda);
const LIMIT: RGBColor = RGBColor(0xcf, 0x22, 0x2e);

/// The plot, or None when there is nothing to draw (no variant with a finite latency). Without
/// a dataset the y axis is throughput instead of accuracy.
pub fn tradeoff_svg(summary: &Summary) -> Option<String> {
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
    let xs = points.iter().map(|p| p.1).chain(limit_x);
    let ys = points.iter().map(|p| p.2).chain(limit_y);
    let (x_lo, x_hi) = span(xs);
    let (y_lo, y_hi) = span(ys);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .caption(
                format!(
                    "{}: latency against {}",
                    crate::text::clean(&summary.model, 60),
                    if with_accuracy {
                        "accuracy"
                    } else {
                        "throughput"
                    }
                ),
                ("sans-serif", 16),
            )
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("p95 latency per batch (ms)")
            .y_desc(if with_accuracy {
                "accuracy (%)"
            } else {
                "throughput (samples/s)"
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        if let Some(x) = limit_x {
            chart
                .draw_series(LineSeries::new(
                    [(x, y_lo), (x, y_hi)],
                    LIMIT.stroke_width(1),
                ))
                .ok()?;
        }
        if let Some(y) = limit_y {
            chart
                .draw_series(LineSeries::new(
                    [(x_lo, y), (x_hi, y)],
                    LIMIT.stroke_width(1),
                ))
                .ok()?;
        }
        let mut front: Vec<(f64, f64)> =
            points.iter().filter(|p| p.3).map(|p| (p.1, p.2)).collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(front, FRONT.stroke_width(2)))
            .ok()?;
        for (name, x, y, on_front) in &points {
            let color = if *on_front { FRONT } else { POINT };
            chart
                .draw_series(std::iter::once(Circle::new((*x, *y), 5, color.filled())))
                .ok()?;
            chart
                .draw_series(std::iter::once(Text::new(
                    name.clone(),
                    (*x, *y),
                    ("sans-serif", 13).into_font().color(&BLACK),
                )))
                .ok()?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

/// An axis range around the values, padded by 8 % each side.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-6);
    (lo - pad, hi + pad)
}
