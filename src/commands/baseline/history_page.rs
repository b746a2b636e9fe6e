//! `modelgate history --html`: each model's approved baselines over time on one static page,
//! ready for GitHub Pages: a chart per metric (accuracy and recall with their Wilson intervals,
//! p50 and p95 latency, model size, peak memory), one point per approval, and the approvals
//! that made a metric worse marked; then a table of who approved what, at which commit.
//!
//! Worse means lower accuracy or recall (any drop: they are guarded per sample), p50 or p95
//! higher than the approval before by more than the model's tolerance for it, or size or peak
//! memory higher by more than [`GROWTH_PCT`]: latency and memory move a little between any two
//! measurements, and a page that marks every wobble marks nothing.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::history::HistoryEntry;
use super::{display_path, ms_or_dash, pct_or_dash, short_sha};
use crate::cli::HistoryArgs;
use crate::files::config::GateConfig;

/// One chart's size, SVG user units.
const WIDTH: u32 = 420;
const HEIGHT: u32 = 240;
const FONT: &str = crate::base::fonts::SANS;
/// An approval, and one that made its metric worse.
const POINT: RGBColor = RGBColor(0x09, 0x69, 0xda);
const WORSE: RGBColor = RGBColor(0xcf, 0x22, 0x2e);
const BAR: RGBColor = RGBColor(0x8c, 0x95, 0x9f);

/// Growth of model size or peak memory, in percent, that counts as worse.
pub const GROWTH_PCT: f64 = 5.0;

/// Which way is worse for a metric.
#[derive(Clone, Copy)]
enum Worse {
    /// Any drop.
    Lower,
    /// A rise by more than this many percent.
    Higher(f64),
}

impl Worse {
    fn is_worse(self, before: f64, now: f64) -> bool {
        match self {
            Worse::Lower => now < before,
            Worse::Higher(pct) => now > before * (1.0 + pct / 100.0),
        }
    }
}

/// How much worse p50 and p95 may get before an approval is marked: the model's tolerances.
#[derive(Debug, Clone, Copy)]
pub struct Tolerances {
    pub p50_pct: f64,
    pub p95_pct: f64,
}

/// One metric of the history: its name, its kind of unit, which way is worse, and how to read
/// it (and its interval) from an entry, in percent, milliseconds or bytes.
pub(super) struct Metric {
    pub(super) title: &'static str,
    unit: Unit,
    worse: Worse,
    value: fn(&HistoryEntry) -> Option<f64>,
    interval: fn(&HistoryEntry) -> Option<[f64; 2]>,
}

#[derive(Clone, Copy)]
enum Unit {
    Percent,
    Millis,
    Bytes,
}

const KIB: f64 = 1024.0;

impl Unit {
    /// The unit that suits values up to `largest`, and the factor to it.
    fn scale(self, largest: f64) -> (&'static str, f64) {
        match self {
            Unit::Percent => ("%", 1.0),
            Unit::Millis if largest < 1e-3 => ("ns", 1e6),
            Unit::Millis if largest < 1.0 => ("µs", 1e3),
            Unit::Millis if largest < 1e3 => ("ms", 1.0),
            Unit::Millis => ("s", 1e-3),
            Unit::Bytes if largest < KIB * KIB => ("KiB", 1.0 / KIB),
            Unit::Bytes if largest < KIB * KIB * KIB => ("MiB", 1.0 / (KIB * KIB)),
            Unit::Bytes => ("GiB", 1.0 / (KIB * KIB * KIB)),
        }
    }
}

pub(super) fn metrics(tolerances: Tolerances) -> [Metric; 6] {
    [
        Metric {
            title: "accuracy",
            unit: Unit::Percent,
            worse: Worse::Lower,
            value: |e| e.accuracy.map(|v| v * 100.0),
            interval: |e| e.accuracy_ci95.map(|[l, u]| [l * 100.0, u * 100.0]),
        },
        Metric {
            title: "recall",
            unit: Unit::Percent,
            worse: Worse::Lower,
            value: |e| e.recall.map(|v| v * 100.0),
            interval: |e| e.recall_ci95.map(|[l, u]| [l * 100.0, u * 100.0]),
        },
        Metric {
            title: "p50 latency",
            unit: Unit::Millis,
            worse: Worse::Higher(tolerances.p50_pct),
            value: |e| e.p50_ms,
            interval: |_| None,
        },
        Metric {
            title: "p95 latency",
            unit: Unit::Millis,
            worse: Worse::Higher(tolerances.p95_pct),
            value: |e| e.p95_ms,
            interval: |_| None,
        },
        Metric {
            title: "model size",
            unit: Unit::Bytes,
            worse: Worse::Higher(GROWTH_PCT),
            value: |e| e.model_bytes.map(|b| b as f64),
            interval: |_| None,
        },
        Metric {
            title: "peak memory",
            unit: Unit::Bytes,
            worse: Worse::Higher(GROWTH_PCT),
            value: |e| e.peak_rss_bytes.map(|b| b as f64),
            interval: |_| None,
        },
    ]
}

/// One metric's chart: a point per approval that has the metric, at its version.
pub(super) struct Chart {
    pub(super) caption: String,
    /// The unit of the values, as in the caption: `%`, `ms`, `MiB`...
    pub(super) unit: &'static str,
    /// Version, value, interval, and whether it made the metric worse than the approval before.
    pub(super) points: Vec<(f64, f64, Option<[f64; 2]>, bool)>,
}

impl Chart {
    pub(super) fn of(metric: &Metric, entries: &[HistoryEntry]) -> Option<Chart> {
        let mut points = Vec::new();
        let mut before: Option<f64> = None;
        for e in entries {
            let Some(v) = (metric.value)(e).filter(|v| v.is_finite()) else {
                continue;
            };
            let worse = before.is_some_and(|b| metric.worse.is_worse(b, v));
            let interval = (metric.interval)(e).filter(|[l, u]| l.is_finite() && u.is_finite());
            points.push((e.version as f64, v, interval, worse));
            before = Some(v);
        }
        let largest = points.iter().map(|p| p.1.abs()).fold(0.0, f64::max);
        let (unit, factor) = metric.unit.scale(largest);
        for p in &mut points {
            p.1 *= factor;
            p.2 = p.2.map(|[l, u]| [l * factor, u * factor]);
        }
        (!points.is_empty()).then(|| Chart {
            caption: format!("{} ({unit})", metric.title),
            unit,
            points,
        })
    }

    /// The y axis's range: every value and interval, padded.
    pub(super) fn y_range(&self) -> (f64, f64) {
        let ys = self.points.iter().flat_map(|p| {
            let [l, u] = p.2.unwrap_or([p.1, p.1]);
            [p.1, l, u]
        });
        let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let pad = ((hi - lo) * 0.15).max(hi.abs() * 0.02).max(1e-9);
        (lo - pad, hi + pad)
    }
}

impl crate::base::plot::Drawing for Chart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Option<()> {
        let (x_lo, x_hi) = self
            .points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.0), hi.max(p.0))
            });
        let (y_lo, y_hi) = self.y_range();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .caption(&self.caption, (FONT, 14))
            .x_label_area_size(30)
            .y_label_area_size(56)
            .build_cartesian_2d((x_lo - 0.5)..(x_hi + 0.5), y_lo..y_hi)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("approval")
            .x_labels(self.points.len().min(12))
            .x_label_formatter(&|v| format!("v{}", v.round()))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .ok()?;
        chart
            .draw_series(LineSeries::new(
                self.points.iter().map(|p| (p.0, p.1)),
                BAR.stroke_width(1),
            ))
            .ok()?;
        for p in &self.points {
            if let Some([l, u]) = p.2 {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(p.0, l), (p.0, u)],
                        BAR.stroke_width(2),
                    )))
                    .ok()?;
            }
        }
        chart
            .draw_series(self.points.iter().map(|p| {
                let color = if p.3 { WORSE } else { POINT };
                Circle::new((p.0, p.1), if p.3 { 5 } else { 4 }, color.filled())
            }))
            .ok()?;
        root.present().ok()?;
        Some(())
    }
}

/// One model's section of the page.
#[derive(Serialize)]
struct ModelSection {
    name: String,
    /// Each chart's SVG, drawn from numbers only (no text from the history in it).
    charts: Vec<String>,
    rows: Vec<Row>,
    /// E.g. `2 of 5 approvals made a guarded metric worse`.
    summary: String,
}

/// One approval in the table.
#[derive(Serialize)]
struct Row {
    version: String,
    date: String,
    approver: String,
    commit: String,
    model: String,
    accuracy: String,
    recall: String,
    p50: String,
    p95: String,
    /// The metrics this approval made worse than the one before, e.g. `recall, p50 latency`.
    worse: String,
}

const PAGE: &str = include_str!("../../../templates/history.html.j2");

/// The page for `models` (each name with its entries, oldest first). Text from the history
/// files is HTML-escaped by the template; the charts hold numbers only.
pub fn page(models: &[(String, Tolerances, Vec<HistoryEntry>)]) -> Result<String> {
    let sections: Vec<ModelSection> = models
        .iter()
        .map(|(name, tolerances, entries)| section(name, *tolerances, entries))
        .collect();
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("history.html.j2", PAGE)?;
    let page = env
        .get_template("history.html.j2")?
        .render(minijinja::context! { models => sections })?;
    Ok(page)
}

/// The metrics that approval `e` made worse than the approval `before` it.
pub(super) fn worse_than_before(
    metrics: &[Metric],
    before: Option<&HistoryEntry>,
    e: &HistoryEntry,
) -> Vec<&'static str> {
    metrics
        .iter()
        .filter(|m| {
            let (Some(b), Some(v)) = (before.and_then(m.value), (m.value)(e)) else {
                return false;
            };
            m.worse.is_worse(b, v)
        })
        .map(|m| m.title)
        .collect()
}

fn section(name: &str, tolerances: Tolerances, entries: &[HistoryEntry]) -> ModelSection {
    let metrics = metrics(tolerances);
    let charts: Vec<String> = metrics
        .iter()
        .filter_map(|m| Chart::of(m, entries))
        .filter_map(|c| crate::base::plot::svg(&c, WIDTH, HEIGHT))
        .collect();
    let mut rows = Vec::new();
    let mut worse_count = 0;
    for (i, e) in entries.iter().enumerate() {
        let worse = worse_than_before(&metrics, i.checked_sub(1).map(|j| &entries[j]), e);
        worse_count += usize::from(!worse.is_empty());
        rows.push(Row {
            version: format!("v{}", e.version),
            date: e
                .approved_at
                .get(..10)
                .unwrap_or(&e.approved_at)
                .to_string(),
            approver: crate::base::text::clean(&e.approved_by, 100),
            commit: e
                .commit
                .as_deref()
                .map(|c| crate::base::text::clean(c.get(..12).unwrap_or(c), 12))
                .unwrap_or_else(|| "-".into()),
            model: short_sha(&e.model_sha256).to_string(),
            accuracy: pct_or_dash(e.accuracy),
            recall: pct_or_dash(e.recall),
            p50: ms_or_dash(e.p50_ms),
            p95: ms_or_dash(e.p95_ms),
            worse: worse.join(", "),
        });
    }
    ModelSection {
        name: crate::base::text::clean(name, 100),
        charts,
        summary: format!(
            "{} of {} approvals made a metric worse than the approval before (marked red: accuracy or recall lower, latency higher by more than the model's tolerance, size or peak memory by more than {GROWTH_PCT} %)",
            worse_count,
            entries.len()
        ),
        rows,
    }
}

/// Each model's name, tolerances and history (oldest first): the named model's, which must have
/// one, or every model's that has one (and at least one must).
pub(super) fn gather(args: &HistoryArgs) -> Result<Vec<(String, Tolerances, Vec<HistoryEntry>)>> {
    let config = &GateConfig::load(&args.config)?;
    let root = super::config_root(&args.config);
    let models = match &args.name {
        Some(name) => vec![super::find_model(config, name, &args.config)?],
        None => config.models.iter().collect(),
    };
    let mut sections = Vec::new();
    for model in models {
        let path = super::history_path(&model.baseline_path(&root));
        let entries = super::history::read_if_exists(&path)?;
        if entries.is_empty() && args.name.is_some() {
            bail!(
                "no history for model `{}`: {} has no entries; approve a baseline with `modelgate baseline approve --model {}`",
                model.name,
                display_path(&path),
                model.name
            );
        }
        if !entries.is_empty() {
            let criteria = config.criteria_for(model);
            let tolerances = Tolerances {
                p50_pct: criteria.max_p50_regression_pct,
                p95_pct: criteria.max_p95_regression_pct,
            };
            sections.push((model.name.clone(), tolerances, entries));
        }
    }
    if sections.is_empty() {
        bail!(
            "no model in {} has a history; approve a baseline with `modelgate baseline approve --model NAME`",
            display_path(&args.config)
        );
    }
    Ok(sections)
}

/// `modelgate history [NAME] --html OUT`: the named model's page, or every model's that has a
/// history.
pub fn run(args: &HistoryArgs, out: &Path) -> Result<()> {
    let sections = gather(args)?;
    let page = page(&sections).context("cannot render the history page")?;
    // A page goes where a site is built: its folder is made if need be.
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create the folder {} for the history page; choose another --html path",
                display_path(dir)
            )
        })?;
    }
    crate::files::results::write_atomic(out, page.as_bytes())?;
    eprintln!(
        "wrote {} ({})",
        display_path(out),
        crate::base::format::plural(sections.len(), "model")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: u64, accuracy: f64, p50: f64) -> HistoryEntry {
        HistoryEntry {
            version,
            model_sha256: format!("{version:064}"),
            approved_at: "2026-12-01T10:00:00Z".into(),
            approved_by: "<b>maintainer</b>".into(),
            commit: Some("0123456789abcdef".into()),
            p50_ms: Some(p50),
            p95_ms: Some(p50 * 1.2),
            p99_ms: None,
            accuracy: Some(accuracy),
            recall: Some(accuracy - 0.05),
            accuracy_ci95: Some([accuracy - 0.02, accuracy + 0.02]),
            recall_ci95: None,
            model_bytes: Some(4 << 20),
            peak_rss_bytes: None,
        }
    }

    const TOLERANCES: Tolerances = Tolerances {
        p50_pct: 5.0,
        p95_pct: 5.0,
    };

    #[test]
    fn every_chart_has_a_point_per_approval_and_worse_ones_are_red() {
        // v2: p50 and p95 up 10 % (over the 5 % tolerance); v3: accuracy down, p50 back.
        let entries = [
            entry(1, 0.90, 1.0),
            entry(2, 0.92, 1.1),
            entry(3, 0.91, 1.0),
        ];
        let s = section("scan", TOLERANCES, &entries);
        // accuracy, recall, p50, p95, size: peak memory is in no entry.
        assert_eq!(s.charts.len(), 5);
        for svg in &s.charts {
            assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        }
        // Accuracy fell at v3 and p50 rose at v2: one red point each.
        let red = |svg: &str| svg.matches("#CF222E").count();
        assert_eq!(red(&s.charts[0]), 1, "{}", s.charts[0]);
        assert_eq!(red(&s.charts[2]), 1, "{}", s.charts[2]);
        // The size never changed: no red point.
        assert_eq!(red(&s.charts[4]), 0);
        assert_eq!(s.rows[1].worse, "p50 latency, p95 latency");
        assert_eq!(s.rows[2].worse, "accuracy, recall");
        assert!(s.summary.starts_with("2 of 3 approvals"));
        // A rise within the tolerance is not marked.
        let small = [entry(1, 0.90, 1.0), entry(2, 0.90, 1.04)];
        assert_eq!(section("scan", TOLERANCES, &small).rows[1].worse, "");
    }

    #[test]
    fn each_chart_is_in_a_unit_that_suits_its_values() {
        let s = section("digits", TOLERANCES, &[entry(1, 0.9, 0.0025)]);
        assert!(s.charts[2].contains("p50 latency (µs)"), "{}", s.charts[2]);
        // 4 MiB of model.
        assert!(s.charts[4].contains("model size (MiB)"), "{}", s.charts[4]);
        let s = section("big", TOLERANCES, &[entry(1, 0.9, 40.0)]);
        assert!(s.charts[2].contains("p50 latency (ms)"));
    }

    #[test]
    fn text_from_the_history_is_escaped_on_the_page() {
        let page = page(&[("<script>".into(), TOLERANCES, vec![entry(1, 0.9, 1.0)])]).unwrap();
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<b>maintainer"), "{page}");
        assert!(page.contains("&lt;b&gt;maintainer"), "{page}");
        assert_eq!(page.matches("<svg").count(), 5);
    }
}
