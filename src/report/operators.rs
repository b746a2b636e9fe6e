//! The operator diff as the reports show it: which op types took more or less time a run, and
//! which nodes one model has and the other has not.

use serde::Serialize;

use super::compare::operators::{NodeChange, OperatorDiff};
use super::escape::Text;
use crate::base::format;

/// The base model's operators against the candidate's, formatted.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorsView {
    /// E.g. `Conv +80.00 µs a run (+8.0 % of the base run); added: Conv dead/conv`.
    pub headline: String,
    /// E.g. `25 profiled runs of each, after the timed runs: 1.000 ms → 1.100 ms a run in
    /// kernels (+10.0 %)`.
    pub caption: String,
    pub rows: Vec<OperatorRow>,
    /// E.g. `Conv dead/conv: 80.00 µs a run, 7.3 % of the candidate's`.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// What is left unlisted, or why nodes are not listed at all.
    pub more: Option<String>,
}

/// One op type's row.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorRow {
    pub op_type: String,
    /// E.g. `53 → 54`.
    pub nodes: String,
    pub baseline: String,
    pub candidate: String,
    /// E.g. `+80.00 µs`.
    pub change: String,
    /// The change as a share of the base model's run, e.g. `+8.0 %`.
    pub of_run: String,
}

fn us(v: f64) -> String {
    format::duration(v / 1000.0)
}

fn signed_us(v: f64) -> String {
    let sign = if v > 0.0 {
        "+"
    } else if v < 0.0 {
        "-"
    } else {
        ""
    };
    format!("{sign}{}", us(v.abs()))
}

/// A relative change, `+8.0 %`.
fn pct(v: f64) -> String {
    format::change(Some(v), "")
}

fn node_line(n: &NodeChange, whose: &str, text: Text) -> String {
    text.of(&format!(
        "{} {}: {} a run, {:.1} % of {whose}",
        n.op_type,
        crate::base::text::clean(&n.name, 60),
        us(n.us_per_run),
        n.share_pct
    ))
}

/// The view of `d`, every string from the models made safe by `text`.
pub(crate) fn operators_view(d: &OperatorDiff, text: Text) -> OperatorsView {
    let mut headline: Vec<String> = d
        .op_types
        .iter()
        .take(2)
        .filter(|t| t.change_us_per_run != 0.0)
        .map(|t| {
            format!(
                "{} {} a run ({} of the base run)",
                t.op_type,
                signed_us(t.change_us_per_run),
                pct(t.change_pct_of_run)
            )
        })
        .collect();
    if let Some(n) = d.added.first() {
        headline.push(format!(
            "added: {} {}",
            n.op_type,
            crate::base::text::clean(&n.name, 60)
        ));
    }
    if let Some(n) = d.removed.first() {
        headline.push(format!(
            "removed: {} {}",
            n.op_type,
            crate::base::text::clean(&n.name, 60)
        ));
    }
    let runs = if d.baseline_runs == d.candidate_runs {
        format!("{} profiled runs of each", d.baseline_runs)
    } else {
        format!("{} and {} profiled runs", d.baseline_runs, d.candidate_runs)
    };
    let total = if d.baseline_us_per_run > 0.0 {
        format!(
            " ({})",
            pct((d.candidate_us_per_run / d.baseline_us_per_run - 1.0) * 100.0)
        )
    } else {
        String::new()
    };
    let more = if !d.nodes_complete {
        Some("nodes are not listed: a profile kept only its slowest nodes".to_string())
    } else {
        let cut = |count: usize, shown: usize, what: &str| {
            (count > shown).then(|| format!("{} more {what}", count - shown))
        };
        let parts: Vec<String> = [
            cut(d.added_count, d.added.len(), "added"),
            cut(d.removed_count, d.removed.len(), "removed"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let more = (!parts.is_empty()).then(|| format!("and {}", parts.join(", ")));
        let renamed = (d.renamed > 0).then(|| {
            format!(
                "{} renamed by ONNX Runtime's numbering, paired by op type and time",
                format::plural(d.renamed, "node")
            )
        });
        match (more, renamed) {
            (Some(m), Some(r)) => Some(format!("{m}; {r}")),
            (m, r) => m.or(r),
        }
    };
    OperatorsView {
        headline: text.of(&if headline.is_empty() {
            "no op type changed".to_string()
        } else {
            headline.join("; ")
        }),
        caption: format!(
            "{runs}, after the timed runs: {} → {} a run in kernels{total}",
            us(d.baseline_us_per_run),
            us(d.candidate_us_per_run)
        ),
        rows: d
            .op_types
            .iter()
            .map(|t| OperatorRow {
                op_type: text.of(&t.op_type),
                nodes: format!("{} → {}", t.baseline_nodes, t.candidate_nodes),
                baseline: if t.baseline_nodes == 0 {
                    "—".into()
                } else {
                    us(t.baseline_us_per_run)
                },
                candidate: if t.candidate_nodes == 0 {
                    "—".into()
                } else {
                    us(t.candidate_us_per_run)
                },
                change: signed_us(t.change_us_per_run),
                of_run: pct(t.change_pct_of_run),
            })
            .collect(),
        added: d
            .added
            .iter()
            .map(|n| node_line(n, "the candidate's", text))
            .collect(),
        removed: d
            .removed
            .iter()
            .map(|n| node_line(n, "the base model's", text))
            .collect(),
        more,
    }
}
