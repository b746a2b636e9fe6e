//! `modelgate history --markdown`: the history page's charts and table as markdown, for the job
//! summary (`>> "$GITHUB_STEP_SUMMARY"`) or any page GitHub renders. GitHub drops images and
//! inline SVG there but draws Mermaid, so each metric is a Mermaid `xychart-beta` chart over the
//! approvals (a bar each, and a line through them), and the table marks the approvals that made
//! a metric worse, as the page does.
//!
//! Only numbers and modelgate's own words go into the charts; every text from the history file
//! (approver, commit, date, model hash) and the model's name is escaped as the PR comment
//! escapes text from a pull request.

use anyhow::Result;

use super::history::HistoryEntry;
use super::history_page::{metrics, worse_than_before, Chart, Tolerances, GROWTH_PCT};
use super::{ms_or_dash, pct_or_dash, short_sha};
use crate::cli::HistoryArgs;
use crate::report::escape::escape_md;

/// Approvals drawn per chart: the latest ones; a longer history is on the HTML page.
pub const CHART_POINTS: usize = 30;

/// Approvals listed in the table: the latest ones.
pub const TABLE_ROWS: usize = 10;

/// `modelgate history [NAME] --markdown`: the named model's history, or every model's that has
/// one, printed.
pub fn run(args: &HistoryArgs) -> Result<()> {
    let models = super::history_page::gather(args)?;
    print!("{}", markdown(&models));
    Ok(())
}

/// The markdown for `models` (each name with its tolerances and entries, oldest first).
pub fn markdown(models: &[(String, Tolerances, Vec<HistoryEntry>)]) -> String {
    let mut out = String::from("## Approved baselines over time\n\n");
    for (name, tolerances, entries) in models {
        out.push_str(&section(name, *tolerances, entries));
    }
    out
}

fn section(name: &str, tolerances: Tolerances, entries: &[HistoryEntry]) -> String {
    let metrics = metrics(tolerances);
    let shown = &entries[entries.len().saturating_sub(CHART_POINTS)..];
    let mut out = format!(
        "### {}\n\n",
        escape_md(&crate::base::text::clean(name, 100))
    );
    let worse: Vec<(usize, Vec<&str>)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let before = i.checked_sub(1).map(|j| &entries[j]);
            (i, worse_than_before(&metrics, before, e))
        })
        .collect();
    let worse_count = worse.iter().filter(|(_, w)| !w.is_empty()).count();
    out.push_str(&format!(
        "{} of {} approvals made a metric worse than the approval before (accuracy or recall lower, latency higher by more than the model's tolerance, size or peak memory by more than {GROWTH_PCT} %){}.\n\n",
        worse_count,
        entries.len(),
        if entries.len() > shown.len() {
            format!("; the charts show the latest {}", shown.len())
        } else {
            String::new()
        }
    ));
    for chart in metrics.iter().filter_map(|m| Chart::of(m, shown)) {
        out.push_str(&mermaid(&chart));
    }
    out.push_str("| version | date | approver | commit | model | accuracy | recall | p50 | p95 | made worse |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    let first_row = entries.len().saturating_sub(TABLE_ROWS);
    for (i, made_worse) in &worse[first_row..] {
        let e = &entries[*i];
        let text = |s: &str, n: usize| escape_md(&crate::base::text::clean(s, n));
        let cells = [
            format!("v{}", e.version),
            text(e.approved_at.get(..10).unwrap_or(&e.approved_at), 10),
            text(&e.approved_by, 100),
            e.commit
                .as_deref()
                .map(|c| text(c.get(..12).unwrap_or(c), 12))
                .unwrap_or_else(|| "-".into()),
            text(short_sha(&e.model_sha256), 12),
            pct_or_dash(e.accuracy),
            pct_or_dash(e.recall),
            ms_or_dash(e.p50_ms),
            ms_or_dash(e.p95_ms),
            if made_worse.is_empty() {
                String::new()
            } else {
                format!("**{}**", made_worse.join(", "))
            },
        ];
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if first_row > 0 {
        out.push_str(&format!(
            "\n{} earlier approvals: modelgate history {} lists them all.\n",
            first_row,
            escape_md(&crate::base::text::shell_word(&crate::base::text::clean(
                name, 100
            )))
        ));
    }
    out.push('\n');
    out
}

/// One chart as a Mermaid block: the approvals on the x axis, the metric's values on a y axis
/// padded around them and their intervals as the page's is, as bars and a line.
fn mermaid(chart: &Chart) -> String {
    let labels: Vec<String> = chart
        .points
        .iter()
        .map(|p| format!("v{}", p.0.round() as u64))
        .collect();
    // A bar for each approval, so a single one shows (a line needs two points), and a line
    // through them for the trend.
    let values = chart
        .points
        .iter()
        .map(|p| number(p.1))
        .collect::<Vec<_>>()
        .join(", ");
    let (lo, hi) = chart.y_range();
    format!(
        "```mermaid\nxychart-beta\n    title \"{}\"\n    x-axis [{}]\n    y-axis \"{}\" {} --> {}\n    bar [{values}]\n    line [{values}]\n```\n\n",
        chart.caption,
        labels.join(", "),
        chart.unit,
        number(lo),
        number(hi),
    )
}

/// A number for Mermaid: four significant digits at most, no exponent, no trailing zeros.
fn number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return "0".into();
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: u64, recall: f64, p50: f64, approver: &str) -> HistoryEntry {
        HistoryEntry {
            version,
            model_sha256: format!("{version:064}"),
            approved_at: "2026-12-01T10:00:00Z".into(),
            approved_by: approver.into(),
            commit: Some("0123456789abcdef".into()),
            p50_ms: Some(p50),
            p95_ms: None,
            p99_ms: None,
            accuracy: Some(0.9),
            recall: Some(recall),
            accuracy_ci95: Some([0.88, 0.92]),
            recall_ci95: None,
            model_bytes: None,
            peak_rss_bytes: None,
        }
    }

    const TOLERANCES: Tolerances = Tolerances {
        p50_pct: 5.0,
        p95_pct: 5.0,
    };

    /// The values of a chart's `line [..]`, by its title.
    fn line(md: &str, title: &str) -> Vec<f64> {
        let block = md
            .split("```mermaid")
            .find(|b| b.contains(&format!("title \"{title}\"")))
            .unwrap_or_else(|| panic!("no chart {title} in {md}"));
        let line = block
            .lines()
            .find(|l| l.trim().starts_with("line ["))
            .unwrap();
        let inner = line
            .trim()
            .trim_start_matches("line [")
            .trim_end_matches(']');
        inner.split(", ").map(|v| v.parse().unwrap()).collect()
    }

    #[test]
    fn each_metric_is_a_mermaid_line_with_a_point_per_approval() {
        // v2 loses recall; v3 is 10 % slower than v2 (over the 5 % tolerance).
        let entries = [
            entry(1, 0.95, 1.0, "ana"),
            entry(2, 0.93, 1.0, "ana"),
            entry(3, 0.93, 1.1, "bo"),
        ];
        let md = markdown(&[("scan".into(), TOLERANCES, entries.to_vec())]);
        // accuracy, recall, p50: p95, size and memory are in no entry.
        assert_eq!(md.matches("```mermaid\nxychart-beta").count(), 3, "{md}");
        assert_eq!(line(&md, "recall (%)"), vec![95.0, 93.0, 93.0]);
        assert_eq!(line(&md, "p50 latency (ms)"), vec![1.0, 1.0, 1.1]);
        assert!(md.contains("x-axis [v1, v2, v3]"), "{md}");
        // A bar per approval too, so a single approval shows.
        assert!(
            md.contains("    bar [95, 93, 93]\n    line [95, 93, 93]\n"),
            "{md}"
        );
        assert!(md.contains("2 of 3 approvals made a metric worse"), "{md}");
        assert!(md.contains("| **recall** |"), "{md}");
        assert!(md.contains("| **p50 latency** |"), "{md}");
        // The y axis holds every value and the accuracy interval.
        // The first chart is accuracy's.
        let axis = md.lines().find(|l| l.contains("y-axis")).unwrap();
        let bounds: Vec<f64> = axis
            .trim()
            .trim_start_matches("y-axis \"%\" ")
            .split(" --> ")
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(bounds[0] < 88.0 && bounds[1] > 92.0, "{axis}");
    }

    #[test]
    fn a_long_history_keeps_the_latest_approvals() {
        let entries: Vec<HistoryEntry> = (1..=45)
            .map(|v| entry(v, 0.9, 1.0 + v as f64 / 1000.0, "ana"))
            .collect();
        let md = markdown(&[("scan".into(), TOLERANCES, entries)]);
        assert_eq!(line(&md, "p50 latency (ms)").len(), CHART_POINTS);
        assert!(md.contains("x-axis [v16, "), "{md}");
        let rows = md
            .lines()
            .filter(|l| l.starts_with("| v") && l[3..].starts_with(|c: char| c.is_ascii_digit()))
            .count();
        assert_eq!(rows, TABLE_ROWS, "{md}");
        assert!(md.contains("| v45 |") && !md.contains("| v35 |"), "{md}");
        assert!(
            md.contains("35 earlier approvals: modelgate history scan lists"),
            "{md}"
        );
        assert!(md.contains("the charts show the latest 30"), "{md}");
    }

    #[test]
    fn text_from_the_history_file_cannot_write_markdown_or_mermaid() {
        let mut hostile = entry(1, 0.9, 1.0, "@org/team <img src=x> | ``` ");
        hostile.commit = Some("\"]\n```\n# x".into());
        hostile.approved_at = "<script>|".into();
        let md = markdown(&[("a|b\n```".into(), TOLERANCES, vec![hostile])]);
        // Three fences open and close the charts; nothing else makes one.
        assert_eq!(md.matches("```").count(), 2 * 3, "{md}");
        assert!(!md.contains("<img") && !md.contains("<script"), "{md}");
        assert!(!md.contains("@org"), "{md}");
        // Every table row keeps its 10 cells.
        for row in md.lines().filter(|l| l.starts_with("| v")) {
            assert_eq!(row.matches(" | ").count(), 9, "{row}");
        }
    }

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(number(92.456), "92.46");
        assert_eq!(number(0.0012346), "0.001235");
        assert_eq!(number(1234.6), "1235");
        assert_eq!(number(1.1), "1.1");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(-0.5), "-0.5");
    }
}
