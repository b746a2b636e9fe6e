//! The lines of the release checklist: compare's criteria as checklist lines, and the two lines
//! only a release asks for (a required latency improvement, and every baseline sample evaluated).

use std::collections::HashSet;

use super::{CheckLine, Mark};
use crate::compare::{self, Criterion, ModelComparison, Rule, Status};
use crate::validate::eval::EvalResult;

/// A line with no numbers, only a reason.
pub fn plain(name: &str, mark: Mark, detail: String) -> CheckLine {
    CheckLine {
        name: name.into(),
        mark,
        unit: String::new(),
        baseline: None,
        candidate: None,
        detail,
    }
}

/// A compare criterion as a checklist line; inconclusive is not good enough for a release.
pub fn line_of(c: &Criterion) -> CheckLine {
    let (mark, detail) = match c.status {
        Status::Pass => (Mark::Pass, c.detail.clone()),
        Status::Fail => (Mark::Fail, c.detail.clone()),
        Status::Inconclusive => (
            Mark::Fail,
            format!("inconclusive: {}; measure more runs", c.detail),
        ),
        Status::Skipped | Status::Unresolved => (Mark::Skip, c.detail.clone()),
    };
    CheckLine {
        name: c.name.clone(),
        mark,
        unit: c.unit.clone(),
        baseline: c.baseline,
        candidate: c.candidate,
        detail,
    }
}

/// p50 must be at least `pct` % faster: the whole 95 % interval of the candidate/baseline ratio at
/// or below `1 - pct/100`, decided by compare's own ratio rule with a negative tolerance.
pub fn improvement_line(
    judged: &ModelComparison,
    p50: Option<&Criterion>,
    pct: f64,
    significance: f64,
) -> CheckLine {
    let name = format!("p50 latency {pct} % faster");
    let Some(p50) = p50 else {
        return plain(
            &name,
            Mark::Fail,
            "the candidate has no bench results".into(),
        );
    };
    let Some(ci) = p50.ci.filter(|_| p50.status != Status::Skipped) else {
        return CheckLine {
            name,
            ..line_of(p50)
        };
    };
    let required = Criterion {
        rule: Rule::RatioAtMost {
            tolerance_pct: -pct,
        },
        ..p50.clone()
    };
    let adjusted = p50
        .test
        .and_then(|i| judged.tests.get(i))
        .and_then(|t| t.adjusted_p);
    let mark = if compare::decide(&required, adjusted, significance) == Status::Pass {
        Mark::Pass
    } else {
        Mark::Fail
    };
    let ratio = p50
        .change
        .map(|c| format!("ratio {:.3} ", 1.0 + c / 100.0))
        .unwrap_or_default();
    let detail = format!(
        "{ratio}(95 % CI {:.3} .. {:.3}); the upper bound must be at most {:.3}",
        ci.lower,
        ci.upper,
        1.0 - pct / 100.0
    );
    CheckLine {
        name,
        mark,
        unit: p50.unit.clone(),
        baseline: p50.baseline,
        candidate: p50.candidate,
        detail,
    }
}

/// Every baseline sample must have been evaluated for the candidate too: a sample that failed to
/// load or run would otherwise leave the accuracy of the rest looking fine.
pub fn samples_line(baseline: Option<&EvalResult>, candidate: Option<&EvalResult>) -> CheckLine {
    let name = "no new errors or failed samples";
    let (base, cand) = match (baseline, candidate) {
        (Some(b), Some(c)) => (b, c),
        (None, _) => {
            return plain(
                name,
                Mark::Skip,
                "the baseline has no eval results to compare with".into(),
            )
        }
        (Some(b), None) => {
            return plain(
                name,
                Mark::Fail,
                format!(
                    "the candidate has no eval results; the baseline has {} samples",
                    b.samples.len()
                ),
            )
        }
    };
    let ids: HashSet<&str> = cand.samples.iter().map(|s| s.id.as_str()).collect();
    let missing: Vec<&str> = base
        .samples
        .iter()
        .map(|s| s.id.as_str())
        .filter(|id| !ids.contains(id))
        .collect();
    let (n_base, n_cand) = (base.samples.len() as f64, cand.samples.len() as f64);
    let (mark, detail) = if missing.is_empty() && n_base == n_cand {
        (
            Mark::Pass,
            format!("all {n_base} baseline samples evaluated"),
        )
    } else if missing.is_empty() {
        (
            Mark::Fail,
            format!("{n_cand} samples evaluated, but the baseline has {n_base}"),
        )
    } else {
        let first: Vec<&str> = missing.iter().take(3).copied().collect();
        (
            Mark::Fail,
            format!(
                "{} of {n_base} baseline samples missing from the candidate (first: {})",
                missing.len(),
                first.join(", ")
            ),
        )
    };
    CheckLine {
        name: name.into(),
        mark,
        unit: "samples".into(),
        baseline: Some(n_base),
        candidate: Some(n_cand),
        detail,
    }
}
