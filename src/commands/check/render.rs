//! The release checklist as text: one `[pass]`, `[FAIL]` or `[skip]` line per criterion with
//! its numbers, then the result.
//!
//! Kept apart from the checking so the checklist is computed once and only displayed here, the
//! way the terminal module displays a comparison.

use std::fmt::Write;

use super::{CheckReport, Mark};
use crate::commands::baseline::short_sha;
use crate::compare::LatencySource;
use crate::report::terminal::fmt_ms;

fn value(v: Option<f64>, unit: &str) -> String {
    match (v, unit) {
        (None, _) => "-".into(),
        (Some(v), "ms") => fmt_ms(v),
        (Some(v), "%") => format!("{v:.2} %"),
        (Some(v), "fraction") => format!("{v:.3}"),
        (Some(v), "samples") => format!("{v:.0}"),
        (Some(v), unit) => format!("{v:.1} {unit}"),
    }
}

/// The checklist as text.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "release check of {}: {} (model {}) against {} (model {})",
        report.model,
        report.candidate_path,
        short_sha(&report.candidate_sha256),
        report.baseline_path,
        short_sha(&report.baseline_sha256)
    );
    if let LatencySource::NotComparable { reason } = &report.latency_source {
        let _ = writeln!(out, "  latency not comparable: {reason}");
    }
    for line in &report.lines {
        let mark = match line.mark {
            Mark::Pass => "[pass]",
            Mark::Fail => "[FAIL]",
            Mark::Skip => "[skip]",
        };
        let numbers = match (line.baseline, line.candidate) {
            (None, None) => String::new(),
            (b, c) => format!("{} -> {}  ", value(b, &line.unit), value(c, &line.unit)),
        };
        let _ = writeln!(out, "  {mark} {:<32} {numbers}{}", line.name, line.detail);
    }
    let count = |m: Mark| report.lines.iter().filter(|l| l.mark == m).count();
    let (pass, fail, skip) = (count(Mark::Pass), count(Mark::Fail), count(Mark::Skip));
    let verdict = if report.passed { "pass" } else { "FAIL" };
    let _ = write!(
        out,
        "result: {verdict} ({pass} passed, {fail} failed, {skip} skipped)"
    );
    if skip > 0 && !report.allow_skipped {
        let _ = write!(
            out,
            "; skipped lines do not pass a release unless --allow-skipped"
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_in_their_unit() {
        assert_eq!(value(Some(2.5), "ms"), "2.500 ms");
        assert_eq!(value(Some(95.321), "%"), "95.32 %");
        assert_eq!(value(Some(0.91234), "fraction"), "0.912");
        assert_eq!(value(Some(171.0), "samples"), "171");
        assert_eq!(value(None, "ms"), "-");
    }
}
