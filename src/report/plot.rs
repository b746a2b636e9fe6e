//! The HTML report's latency plot: the empirical distribution (ECDF) of both models' timed runs
//! as an inline SVG, drawn with `plotters`' SVG backend (no scripts; text measured with the
//! embedded font of [`crate::base::fonts`]).
//!
//! Each curve goes through the comparison's 101 quantiles of one side: at latency x, the share
//! of runs that took at most x. A candidate curve to the right of the baseline's is slower; the
//! horizontal gap at a height is the change at that percentile.

use plotters::prelude::*;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 320;
const BASELINE: RGBColor = RGBColor(0x8c, 0x95, 0x9f);
const CANDIDATE: RGBColor = RGBColor(0x09, 0x69, 0xda);

/// The ECDF plot of two sides' quantiles (in ms, evenly spaced from 0 to 100 %), or `None` when
/// either side is missing or not a usable distribution.
pub fn ecdf_svg(baseline_ms: &[f64], candidate_ms: &[f64]) -> Option<String> {
    let usable = |q: &[f64]| q.len() >= 2 && q.iter().all(|v| v.is_finite() && *v >= 0.0);
    if !usable(baseline_ms) || !usable(candidate_ms) {
        return None;
    }
    let max_ms = baseline_ms
        .iter()
        .chain(candidate_ms)
        .copied()
        .fold(0.0, f64::max);
    let min_ms = baseline_ms
        .iter()
        .chain(candidate_ms)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let (unit, scale) = if max_ms < 1.0 {
        ("µs", 1000.0)
    } else {
        ("ms", 1.0)
    };
    let (lo, hi) = (min_ms * scale, max_ms * scale);
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 1e-3).max(1e-9);
    crate::base::fonts::register();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d((lo - pad).max(0.0)..hi + pad, 0.0..100.0)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc(format!("latency per run ({unit})"))
            .y_desc("% of runs at most this fast")
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        for (name, quantiles, color) in [
            ("baseline", baseline_ms, BASELINE),
            ("candidate", candidate_ms, CANDIDATE),
        ] {
            let last = (quantiles.len() - 1) as f64;
            let points = quantiles
                .iter()
                .enumerate()
                .map(|(i, ms)| (ms * scale, i as f64 / last * 100.0));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .ok()?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_both_curves_with_a_legend_in_the_fitting_unit() {
        let base: Vec<f64> = (0..101).map(|i| 0.080 + i as f64 * 0.0004).collect();
        let cand: Vec<f64> = base.iter().map(|v| v * 1.1).collect();
        let svg = ecdf_svg(&base, &cand).expect("an SVG");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("baseline") && svg.contains("candidate"));
        assert!(svg.contains("latency per run (µs)"));
        // One polyline per curve, in each side's colour.
        assert!(svg.contains("#8C959F") || svg.contains("#8c959f"), "{svg}");
        assert!(svg.contains("#0969DA") || svg.contains("#0969da"), "{svg}");
    }

    #[test]
    fn missing_or_broken_distributions_draw_nothing() {
        let ok = [1.0, 2.0, 3.0];
        assert!(ecdf_svg(&[], &ok).is_none());
        assert!(ecdf_svg(&ok, &[1.0]).is_none());
        assert!(ecdf_svg(&ok, &[1.0, f64::NAN]).is_none());
        assert!(ecdf_svg(&ok, &ok).is_some());
    }
}
