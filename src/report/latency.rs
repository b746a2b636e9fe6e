//! The latency part of the view: the p50/p95/p99 table and the chart data.
//!
//! The markdown reports draw the chart with a mermaid `xychart-beta` block, which GitHub renders
//! in comments and job summaries; the standalone HTML report has no scripts, so it gets the same
//! numbers as widths of plain CSS bars, and the whole distributions of both models as an inline
//! SVG plot (see [`super::plot`]). Mermaid's xychart draws several `bar` series on top of each
//! other rather than side by side (mermaid-js/mermaid#7392), so the chart shows the baseline as
//! grey bars and the candidate as a blue line over them, one point per percentile, in the unit
//! that fits the values.

use serde::Serialize;

use super::compare::LatencyPair;
use super::Format;
use crate::base::format;

const QUANTILES: [&str; 3] = ["p50", "p95", "p99"];

/// Latency numbers side by side.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyView {
    /// E.g. `200 baseline runs, 200 candidate runs`.
    pub runs: String,
    pub rows: Vec<LatencyRow>,
    pub chart: ChartView,
    /// The same bars for the HTML report.
    pub bars: Vec<BarView>,
    /// Both latency distributions as an inline SVG plot, for the HTML report only; absent
    /// when the comparison carries no distribution.
    pub distribution_svg: Option<String>,
}

/// One percentile.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyRow {
    pub quantile: String,
    pub baseline: String,
    pub candidate: String,
    pub change: String,
}

/// What goes between the brackets of the mermaid chart's lines: two series over the same
/// percentiles, the baseline as bars and the candidate as a line.
#[derive(Debug, Clone, Serialize)]
pub struct ChartView {
    /// `"p50", "p95", "p99"`
    pub x_axis: String,
    /// The baseline's values in `unit`: `81.000, 97.000, 118.000`.
    pub baseline: String,
    /// The candidate's values in `unit`.
    pub candidate: String,
    /// `ms` or `µs`, whichever fits the largest value.
    pub unit: String,
    /// Top of the y axis: the largest value plus a margin, rounded up to 1, 2, 2.5 or 5 × 10^k.
    pub y_max: String,
}

/// One bar of the HTML chart.
#[derive(Debug, Clone, Serialize)]
pub struct BarView {
    pub label: String,
    pub value: String,
    /// Width in percent of the longest bar.
    pub width: String,
    /// `baseline` or `candidate`; also the HTML class.
    pub series: String,
}

pub(crate) fn latency_view(pair: &LatencyPair, format: Format) -> LatencyView {
    let rows = (0..3)
        .map(|i| {
            let (b, c) = (pair.baseline_ms[i], pair.candidate_ms[i]);
            let change = (b > 0.0).then(|| (c / b - 1.0) * 100.0);
            LatencyRow {
                quantile: QUANTILES[i].into(),
                baseline: format::value(Some(b), "ms"),
                candidate: format::value(Some(c), "ms"),
                change: format::change(change, "ms"),
            }
        })
        .collect();
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for (i, quantile) in QUANTILES.iter().enumerate() {
        for (series, ms) in [
            ("baseline", pair.baseline_ms[i]),
            ("candidate", pair.candidate_ms[i]),
        ] {
            labels.push((format!("{quantile} {series}"), series));
            values.push(if ms.is_finite() { ms.max(0.0) } else { 0.0 });
        }
    }
    let max = values.iter().copied().fold(0.0, f64::max);
    // Sub-millisecond latencies read better in microseconds than as 0.081 ms.
    let (unit, scale) = if max < 1.0 {
        ("µs", 1000.0)
    } else {
        ("ms", 1.0)
    };
    let series = |side: &[f64; 3]| {
        side.iter()
            .map(|ms| {
                let v = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
                format!("{:.3}", v * scale)
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bars = labels
        .iter()
        .zip(&values)
        .map(|((label, series), ms)| BarView {
            label: label.clone(),
            value: format::value(Some(*ms), "ms"),
            width: format!("{:.1}", if max > 0.0 { ms / max * 100.0 } else { 0.0 }),
            series: series.to_string(),
        })
        .collect();
    LatencyView {
        runs: format!(
            "{} baseline runs, {} candidate runs",
            pair.baseline_runs, pair.candidate_runs
        ),
        rows,
        chart: ChartView {
            x_axis: QUANTILES
                .iter()
                .map(|q| format!("\"{q}\""))
                .collect::<Vec<_>>()
                .join(", "),
            baseline: series(&pair.baseline_ms),
            candidate: series(&pair.candidate_ms),
            unit: unit.into(),
            y_max: axis_top(max * scale * 1.1),
        },
        bars,
        distribution_svg: match format {
            Format::Html => super::plot::ecdf_svg(&pair.baseline_ecdf_ms, &pair.candidate_ecdf_ms),
            Format::Markdown => None,
        },
    }
}

/// The smallest 1, 2, 2.5 or 5 × 10^k at or above `v`, so the axis ends on a round number.
fn axis_top(v: f64) -> String {
    if !(v.is_finite() && v > 0.0) {
        return "1".into();
    }
    let scale = 10f64.powf(v.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|s| s * scale >= v * (1.0 - 1e-12))
        .unwrap_or(10.0);
    let top = step * scale;
    // Enough decimals for sub-millisecond axes, none for whole numbers.
    let decimals = if top >= 10.0 {
        0
    } else {
        (1.0 - top.log10().floor()).max(1.0) as usize
    };
    format!("{top:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_top_rounds_up_to_a_round_number() {
        let cases = [
            (0.0, "1"),
            (1.3, "2.0"),
            (2.2, "2.5"),
            (3.0, "5.0"),
            (9.9, "10"),
            (12.0, "20"),
            (0.031, "0.050"),
        ];
        for (v, want) in cases {
            assert_eq!(axis_top(v), want, "axis top for {v}");
        }
    }

    #[test]
    fn bars_alternate_baseline_and_candidate_scaled_to_the_longest() {
        let pair = LatencyPair {
            baseline_ms: [1.0, 2.0, 4.0],
            candidate_ms: [1.0, 2.0, 5.0],
            baseline_runs: 10,
            candidate_runs: 12,
            baseline_ecdf_ms: vec![],
            candidate_ecdf_ms: vec![],
        };
        let view = latency_view(&pair, Format::Markdown);
        assert_eq!(view.bars.len(), 6);
        assert_eq!(view.bars[4].label, "p99 baseline");
        assert_eq!(view.bars[4].width, "80.0");
        assert_eq!(view.bars[5].width, "100.0");
        assert_eq!(view.rows[2].change, "+25.0 %");
        assert_eq!(view.chart.baseline, "1.000, 2.000, 4.000");
        assert_eq!(view.chart.candidate, "1.000, 2.000, 5.000");
        assert_eq!(
            (view.chart.unit.as_str(), view.chart.y_max.as_str()),
            ("ms", "10")
        );
        assert!(view.distribution_svg.is_none());
    }

    #[test]
    fn sub_millisecond_chart_is_in_microseconds() {
        let pair = LatencyPair {
            baseline_ms: [0.081, 0.097, 0.118],
            candidate_ms: [0.083, 0.109, 0.127],
            baseline_runs: 10,
            candidate_runs: 10,
            baseline_ecdf_ms: vec![],
            candidate_ecdf_ms: vec![],
        };
        let chart = latency_view(&pair, Format::Markdown).chart;
        assert_eq!(chart.unit, "µs");
        assert_eq!(chart.baseline, "81.000, 97.000, 118.000");
        assert_eq!(chart.y_max, "200");
    }
}
