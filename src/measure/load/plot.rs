//! `load --plot`: p50, p95 and p99 latency against the offered rate, on a log scale (latency
//! past capacity grows by orders of magnitude), with the p99 objective and the rate a capacity
//! plan gives each instance (or, without a plan, 70 % of the measured service rate; either only
//! within twice the highest rate measured) drawn as labelled lines, and a legend. Drawn once for
//! SVG and PNG alike (see [`crate::base::plot`]).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::LoadFile;

/// The plot's size: SVG user units, PNG pixels.
pub const WIDTH: u32 = 720;
pub const HEIGHT: u32 = 440;
const FONT: &str = crate::base::fonts::SANS;
/// The three percentiles' colours.
pub const P50: RGBColor = RGBColor(0x8c, 0x95, 0x9f);
pub const P95: RGBColor = RGBColor(0x09, 0x69, 0xda);
pub const P99: RGBColor = RGBColor(0xbc, 0x4c, 0x00);
/// The objective and the knee.
pub const LIMIT: RGBColor = RGBColor(0xcf, 0x22, 0x2e);
const LEGEND: RGBColor = RGBColor(0xd0, 0xd7, 0xde);

/// The curve as SVG, or None with no rate to draw.
pub fn curve_svg(file: &LoadFile) -> Option<String> {
    crate::base::plot::svg(&Curve::of(file)?, WIDTH, HEIGHT)
}

/// The curve as PNG, or None with no rate to draw.
pub fn curve_png(file: &LoadFile) -> Option<Vec<u8>> {
    crate::base::plot::png(&Curve::of(file)?, WIDTH, HEIGHT)
}

struct Curve {
    caption: String,
    /// Offered rate, then p50, p95 and p99 in ms.
    points: Vec<(f64, [f64; 3])>,
    slo_ms: Option<f64>,
    /// The rate each instance is planned to take, with its label.
    knee: Option<(f64, String)>,
}

impl Curve {
    fn of(file: &LoadFile) -> Option<Curve> {
        let points: Vec<(f64, [f64; 3])> = file
            .rates
            .iter()
            .map(|r| {
                let l = &r.latency;
                (r.offered_qps, [l.p50_ms, l.p95_ms, l.p99_ms])
            })
            .filter(|(x, y)| x.is_finite() && y.iter().all(|v| v.is_finite() && *v > 0.0))
            .collect();
        if points.is_empty() {
            return None;
        }
        let knee = match &file.capacity {
            Some(plan) => Some((
                plan.per_instance_qps,
                format!("planned per instance {:.0} qps", plan.per_instance_qps),
            )),
            None => file.rates.first().map(|r| {
                let rate = r.service_rate_qps * super::TARGET_UTILIZATION;
                (rate, format!("70 % utilization {rate:.0} qps"))
            }),
        }
        // A planned rate far past the measured ones would squeeze the curves into one corner;
        // it is drawn only within twice the highest rate measured (the plan is in the output).
        .filter(|k| {
            let highest = points.iter().map(|p| p.0).fold(0.0, f64::max);
            k.0.is_finite() && k.0 > 0.0 && k.0 <= 2.0 * highest
        });
        Some(Curve {
            caption: format!(
                "{}: latency against offered rate",
                crate::base::text::clean(&file.model.path, 60)
            ),
            points,
            slo_ms: file.slo.as_ref().map(|s| s.p99_ms),
            knee,
        })
    }
}

impl crate::base::plot::Drawing for Curve {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Option<()> {
        let xs = self
            .points
            .iter()
            .map(|p| p.0)
            .chain(self.knee.as_ref().map(|k| k.0));
        let (x_lo, x_hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let pad = ((x_hi - x_lo) * 0.08).max(x_hi * 0.05).max(1e-6);
        let (x_lo, x_hi) = ((x_lo - pad).max(0.0), x_hi + pad);
        let ys = self.points.iter().flat_map(|p| p.1).chain(self.slo_ms);
        let (y_lo, y_hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (y_lo, y_hi) = (y_lo / 1.5, y_hi * 1.5);
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .caption(&self.caption, (FONT, 16))
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x_lo..x_hi, (y_lo..y_hi).log_scale())
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("offered rate (requests/s)")
            .y_desc("latency (ms, log scale)")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        let small = (FONT, 12).into_font().color(&LIMIT);
        if let Some(slo) = self.slo_ms {
            chart
                .draw_series(LineSeries::new(
                    [(x_lo, slo), (x_hi, slo)],
                    LIMIT.stroke_width(1),
                ))
                .ok()?;
            let at = chart.backend_coord(&(x_lo, slo));
            root.draw(&Text::new(
                format!("p99 objective {slo} ms"),
                (at.0 + 4, at.1 - 16),
                small.clone(),
            ))
            .ok()?;
        }
        if let Some((rate, label)) = &self.knee {
            chart
                .draw_series(LineSeries::new(
                    [(*rate, y_lo), (*rate, y_hi)],
                    LIMIT.stroke_width(1),
                ))
                .ok()?;
            let at = chart.backend_coord(&(*rate, y_hi));
            root.draw(&Text::new(label.clone(), (at.0 + 4, at.1 + 2), small))
                .ok()?;
        }
        for (k, (name, color)) in [("p50", P50), ("p95", P95), ("p99", P99)]
            .into_iter()
            .enumerate()
        {
            let line: Vec<(f64, f64)> = self.points.iter().map(|p| (p.0, p.1[k])).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .ok()?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x - 8, y), (x + 8, y)], color.stroke_width(2))
                });
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .ok()?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(LEGEND)
            .label_font((FONT, 12))
            .draw()
            .ok()?;
        root.present().ok()?;
        Some(())
    }
}
