//! Quality floors judged on the candidate alone, so they apply to new models too: each judged
//! subgroup's recall and every class's recall, on the Wilson 95 % lower bound as `min_recall`
//! is, and the expected calibration error against its ceiling. Computed from the per-sample
//! records, never from a results file's own summary.

use crate::base::text::clean;
use crate::files::config::Criteria;
use crate::stats;
use crate::validate::eval::EvalResult;
use crate::validate::metrics::{self, SliceMetrics};

use super::quality::{
    check_subgroup_count, class_name, judged, skipped, slice_label, slices_of, MAX_SLICE_TEXT,
};
use super::{Criterion, Rule, Status};

/// Every criterion judged on one results file alone, whatever it is compared against: the
/// positive class's recall floor, the floors of [`candidate_criteria`], and the absolute limits
/// on the primary run's p95, throughput and the peak memory. The gate judges a candidate by
/// these, and `baseline approve` a baseline, so the two can never disagree.
pub fn own_criteria(
    results: &crate::files::results::ResultsFile,
    criteria: &Criteria,
) -> Vec<Criterion> {
    let mut out = Vec::new();
    if let Some(eval) = &results.eval {
        out.extend(super::recall_floor(eval, criteria));
        out.extend(candidate_criteria(eval, criteria));
    }
    let bench = results.bench.as_ref();
    let run = bench.and_then(crate::measure::bench::BenchResult::primary);
    out.extend(super::absolute_criteria(
        criteria,
        run.map(|r| r.summary.p95_ms),
        bench.map(|b| b.memory.peak_rss_bytes as f64 / (1024.0 * 1024.0)),
        run.map(|r| r.throughput_samples_per_s),
    ));
    out
}

/// The floors judged on the candidate alone: each judged subgroup's recall, every class's
/// recall, and the calibration error. Computed from the per-sample records, never from a
/// results file's own summary.
pub fn candidate_criteria(candidate: &EvalResult, criteria: &Criteria) -> Vec<Criterion> {
    let classes = &candidate.dataset.classes;
    let positive = candidate.positive_class;
    let mut out = Vec::new();
    if let Some(floor) = criteria.slice_min_recall {
        if let Err(why) = check_subgroup_count(candidate.samples.iter()) {
            out.push(super::required("subgroups", false, why));
            return out;
        }
        let slices = slices_of(
            candidate.samples.iter().map(|r| (r, r.pred)),
            classes.len(),
            positive,
        );
        for s in &slices {
            out.push(slice_floor(s, classes, positive, floor, criteria));
        }
    }
    if let Some(floor) = criteria.min_class_recall {
        let mut hits = vec![0u64; classes.len()];
        let mut support = vec![0u64; classes.len()];
        for r in &candidate.samples {
            if r.label < classes.len() {
                support[r.label] += 1;
                hits[r.label] += u64::from(r.pred == r.label);
            }
        }
        for (c, name) in classes.iter().enumerate() {
            let name = format!("minimum recall of class {}", clean(name, MAX_SLICE_TEXT));
            let recall = (support[c] > 0).then(|| hits[c] as f64 / support[c] as f64);
            out.push(wilson_floor(
                &name,
                recall,
                stats::wilson_interval(hits[c], support[c], 0.95),
                support[c],
                floor,
                "not judged: no samples of this class",
            ));
        }
    }
    if let Some(limit) = criteria.max_ece {
        let scores: Vec<Vec<f32>> = candidate.samples.iter().map(|r| r.scores.clone()).collect();
        let labels: Vec<usize> = candidate.samples.iter().map(|r| r.label).collect();
        let ece = metrics::expected_calibration_error(&scores, &labels);
        let mut c = Criterion {
            name: "expected calibration error".into(),
            unit: "fraction".into(),
            baseline: None,
            candidate: ece,
            change: None,
            ci: None,
            test: None,
            rule: Rule::AtMost { limit },
            status: Status::Pass,
            detail: match ece {
                Some(e) => format!(
                    "{e:.4} against a limit of {limit} ({} equal-width bins on the top-class confidence)",
                    metrics::ECE_BINS
                ),
                None => "not judged: the results lack finite per-class scores".into(),
            },
            needed_runs: None,
            method: None,
            reported_only: false,
        };
        if ece.is_none() {
            c.status = Status::Skipped;
        }
        out.push(c);
    }
    out
}

fn slice_floor(
    s: &SliceMetrics,
    classes: &[String],
    positive: Option<usize>,
    floor: f64,
    criteria: &Criteria,
) -> Criterion {
    let label = slice_label(&s.column, &s.value);
    let name = match positive {
        Some(p) => format!("minimum recall ({}) in {label}", class_name(classes, p)),
        None => format!("minimum macro recall in {label}"),
    };
    let value = match positive {
        Some(_) => s.positive_recall,
        None => Some(s.macro_recall),
    };
    if let Err(reason) = judged(s, criteria) {
        let mut c = skipped(&name, Rule::LowerBoundAtLeast { floor }, &reason);
        c.candidate = value;
        c.reported_only = true;
        return c;
    }
    match positive {
        Some(_) => wilson_floor(
            &name,
            value,
            s.positive_recall_ci95,
            s.positive_support.unwrap_or(0) as u64,
            floor,
            "not judged: no positive samples",
        ),
        // Macro recall is no binomial proportion, so it is judged on its value (as min_recall).
        None => Criterion {
            name,
            unit: "fraction".into(),
            baseline: None,
            candidate: value,
            change: None,
            ci: None,
            test: None,
            rule: Rule::RecallAtLeast { floor },
            status: Status::Pass,
            detail: format!("{:.3} against a floor of {floor}", s.macro_recall),
            needed_runs: None,
            method: None,
            reported_only: false,
        },
    }
}

/// A floor judged on the Wilson 95 % lower bound, as `min_recall` is.
fn wilson_floor(
    name: &str,
    value: Option<f64>,
    wilson: Option<stats::Interval>,
    trials: u64,
    floor: f64,
    missing: &str,
) -> Criterion {
    let Some(w) = wilson else {
        return skipped(name, Rule::LowerBoundAtLeast { floor }, missing);
    };
    Criterion {
        name: name.to_string(),
        unit: "fraction".into(),
        baseline: None,
        candidate: value,
        change: None,
        ci: Some(w),
        test: None,
        rule: Rule::LowerBoundAtLeast { floor },
        status: Status::Pass,
        detail: format!(
            "Wilson 95 % lower bound {} against a floor of {}{}",
            crate::base::format::percent(w.lower),
            crate::base::format::percent(floor),
            unreachable_floor(floor, trials).unwrap_or_default()
        ),
        needed_runs: None,
        method: None,
        reported_only: false,
    }
}

/// When a floor on a Wilson 95 % lower bound cannot be met with `trials` samples, even if every
/// one is right: the sentence that says so, with the samples it would need.
pub(super) fn unreachable_floor(floor: f64, trials: u64) -> Option<String> {
    let needed = stats::wilson_min_trials(floor, 0.95)?;
    if trials >= needed {
        return None;
    }
    // Rounded down, so the floor it suggests can be met.
    let best = stats::wilson_interval(trials, trials, 0.95)
        .map_or(0.0, |w| (w.lower * 1000.0).floor() / 1000.0);
    Some(format!(
        "; cannot be met with {trials} samples: even {trials} of {trials} right has a lower bound of {best:.3}; the floor needs at least {needed}, or lower it to {best:.3}"
    ))
}
