//! Quality criteria beyond overall accuracy and recall: subgroups, ranking, precision,
//! specificity, every class's recall, and calibration.
//!
//! Each is off unless its key is set. The paired ones compare the candidate with the approved
//! baseline on the very same samples and push their test onto the model's tests, so Holm's
//! correction in [`super::finalize`] covers them with every other test; like the overall drops
//! they are judged on the observed drop against the margin (the test set is the same for both,
//! so the observed drop is exact for it), the test and interval saying whether it is likely to
//! generalise. The floors judged on the candidate alone are in [`super::floors`]. Subgroups
//! smaller than `min_slice_size` (counting positives where a positive class is guarded) are
//! listed with their numbers but not judged.

use std::collections::BTreeMap;

use crate::base::text::clean;
use crate::files::config::Criteria;
use crate::stats;
use crate::validate::eval::SampleRecord;
use crate::validate::metrics::{self, SliceMetrics};

use super::{Criterion, Effect, Rule, SliceComparison, Status, TestRecord};

type Pair<'a> = (&'a SampleRecord, &'a SampleRecord);

/// Resamples of the paired precision bootstrap.
const PRECISION_RESAMPLES: usize = 2000;
/// Its seed: fixed, so a report can be regenerated exactly.
const PRECISION_SEED: u64 = 0x5eed_0001;

/// Longest slice column name and value shown, in characters.
pub(super) const MAX_SLICE_TEXT: usize = 60;

/// Most slice columns a results file may carry; a config names a handful.
const MAX_SLICE_COLUMNS: usize = 16;

/// Refuses records whose subgroups are too many to judge: a results file is data, and one
/// measured elsewhere must not be able to flood the verdict with criteria.
pub(super) fn check_subgroup_count<'a>(
    records: impl Iterator<Item = &'a SampleRecord>,
) -> Result<(), String> {
    let mut values: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for r in records {
        for (column, value) in &r.slices {
            values.entry(column).or_default().insert(value);
        }
    }
    if values.len() > MAX_SLICE_COLUMNS {
        return Err(format!(
            "the results carry {} slice columns, more than the {MAX_SLICE_COLUMNS} allowed; slice by fewer columns",
            values.len()
        ));
    }
    for (column, distinct) in values {
        if distinct.len() > crate::data::dataset::MAX_SLICE_VALUES {
            return Err(format!(
                "slice column \"{}\" has {} distinct values in the results, more than the {} allowed; slice by a coarser column",
                clean(column, MAX_SLICE_TEXT),
                distinct.len(),
                crate::data::dataset::MAX_SLICE_VALUES
            ));
        }
    }
    Ok(())
}

/// `site=north`, made safe to print.
pub fn slice_label(column: &str, value: &str) -> String {
    format!(
        "{}={}",
        clean(column, MAX_SLICE_TEXT),
        clean(value, MAX_SLICE_TEXT)
    )
}

/// How the detail of a subgroup too small to judge begins.
const SMALL_SUBGROUP: &str = "reported only, not judged:";

/// Whether a subgroup is large enough to judge, and the reason when it is not.
pub(super) fn judged(m: &SliceMetrics, criteria: &Criteria) -> Result<(), String> {
    let min = criteria.min_slice_size;
    match m.positive_support {
        Some(pos) if pos < min => Err(format!(
            "{SMALL_SUBGROUP} {pos} positive samples, fewer than min_slice_size = {min}"
        )),
        _ if m.n < min => Err(format!(
            "{SMALL_SUBGROUP} {} samples, fewer than min_slice_size = {min}",
            m.n
        )),
        _ => Ok(()),
    }
}

/// Per-subgroup metrics of a set of records (the candidate's or the baseline's predictions).
pub(super) fn slices_of<'a>(
    records: impl Iterator<Item = (&'a SampleRecord, usize)>,
    classes: usize,
    positive: Option<usize>,
) -> Vec<SliceMetrics> {
    let mut labels = Vec::new();
    let mut preds = Vec::new();
    let mut slices = Vec::new();
    for (record, pred) in records {
        labels.push(record.label);
        preds.push(pred);
        slices.push(&record.slices);
    }
    metrics::slice_metrics(&labels, &preds, &slices, classes, positive)
}

/// Both models' metrics for every subgroup, from the paired records (the slice values are the
/// data's, read from the candidate's records).
pub(super) fn slice_comparisons(
    pairs: &[Pair],
    classes: usize,
    positive: Option<usize>,
    criteria: &Criteria,
) -> Vec<SliceComparison> {
    let base = slices_of(pairs.iter().map(|(b, c)| (*c, b.pred)), classes, positive);
    let cand = slices_of(pairs.iter().map(|(_, c)| (*c, c.pred)), classes, positive);
    base.into_iter()
        .zip(cand)
        .map(|(baseline, candidate)| SliceComparison {
            judged: judged(&candidate, criteria).is_ok(),
            baseline,
            candidate,
        })
        .collect()
}

/// The paired criteria: each subgroup's recall drop, and the AUROC, precision and specificity
/// drops. Their tests are pushed onto `tests`.
pub(super) fn paired_criteria(
    pairs: &[Pair],
    classes: &[String],
    positive: Option<usize>,
    slices: &[SliceComparison],
    criteria: &Criteria,
    tests: &mut Vec<TestRecord>,
) -> Vec<Criterion> {
    let mut out = Vec::new();
    if let Some(limit) = criteria.slice_max_recall_drop_pts {
        for s in slices {
            out.push(slice_recall_drop(
                pairs, positive, classes, s, limit, criteria, tests,
            ));
        }
    }
    // Binary criteria score the positive class: the guarded one, else class 1 (as metrics do).
    let binary_positive = (classes.len() == 2).then(|| positive.unwrap_or(1));
    type BinaryDrop = fn(&[Pair], &[String], usize, f64, &mut Vec<TestRecord>) -> Criterion;
    let binary: [(Option<f64>, &str, BinaryDrop, &str); 3] = [
        (
            criteria.max_auroc_drop_pts,
            "AUROC",
            auroc_drop,
            "not judged: the AUROC drop is judged for two classes only (with more, a one-vs-rest macro AUROC has no paired test here)",
        ),
        (
            criteria.max_precision_drop_pts,
            "precision",
            precision_drop,
            "not judged: precision is judged for two classes only",
        ),
        (
            criteria.max_specificity_drop_pts,
            "specificity",
            specificity_drop,
            "not judged: specificity is judged for two classes only",
        ),
    ];
    for (limit, name, judge, two_classes_only) in binary {
        let Some(limit) = limit else { continue };
        out.push(match binary_positive {
            Some(p) => judge(pairs, classes, p, limit, tests),
            None => skipped(
                name,
                Rule::DropAtMost { limit_pts: limit },
                two_classes_only,
            ),
        });
    }
    out
}

fn slice_recall_drop(
    pairs: &[Pair],
    positive: Option<usize>,
    classes: &[String],
    s: &SliceComparison,
    limit: f64,
    criteria: &Criteria,
    tests: &mut Vec<TestRecord>,
) -> Criterion {
    let label = slice_label(&s.candidate.column, &s.candidate.value);
    let what = match positive {
        Some(p) => format!("recall ({})", class_name(classes, p)),
        None => "macro recall".to_string(),
    };
    let name = format!("{what} in {label}");
    let (base, cand) = match positive {
        Some(_) => (s.baseline.positive_recall, s.candidate.positive_recall),
        None => (
            Some(s.baseline.macro_recall),
            Some(s.candidate.macro_recall),
        ),
    };
    if let Err(reason) = judged(&s.candidate, criteria) {
        let mut c = skipped(&name, Rule::DropAtMost { limit_pts: limit }, &reason);
        c.baseline = base.map(|v| v * 100.0);
        c.candidate = cand.map(|v| v * 100.0);
        c.reported_only = true;
        return c;
    }
    let (Some(base), Some(cand)) = (base, cand) else {
        return skipped(
            &name,
            Rule::DropAtMost { limit_pts: limit },
            "not judged: no positive samples in this subgroup",
        );
    };
    // The samples of this subgroup; for a positive class, only its positives (recall's
    // denominator, the same samples for both models).
    let outcomes: Vec<(bool, bool)> = pairs
        .iter()
        .filter(|(_, c)| c.slices.get(&s.candidate.column) == Some(&s.candidate.value))
        .filter(|(_, c)| positive.is_none_or(|p| c.label == p))
        .map(|(b, c)| (b.pred == b.label, c.pred == c.label))
        .collect();
    let b_only = outcomes.iter().filter(|k| k.0 && !k.1).count() as u64;
    let c_only = outcomes.iter().filter(|k| !k.0 && k.1).count() as u64;
    let test = stats::mcnemar_exact(b_only, c_only);
    let ci = match positive {
        Some(_) => stats::paired_difference_ci(&outcomes, 0.95).map(|ci| scale(ci, 100.0)),
        None => None,
    };
    let test = DropTest {
        kind: "McNemar exact",
        statistic: test.statistic,
        p_value: test.p_value,
        ci,
        effect: Effect::RecallPoints,
    };
    drop_with_test(&name, (base, cand), limit, Ok(test), tests)
}

fn auroc_drop(
    pairs: &[Pair],
    classes: &[String],
    positive: usize,
    limit: f64,
    tests: &mut Vec<TestRecord>,
) -> Criterion {
    let name = format!("AUROC ({})", class_name(classes, positive));
    let width = classes.len();
    if pairs.iter().any(|(b, _)| b.scores.len() != width) {
        return skipped(
            &name,
            Rule::DropAtMost { limit_pts: limit },
            "not judged: the approved baseline lacks per-class scores for some samples; re-approve it with `modelgate baseline approve`",
        );
    }
    if pairs.iter().any(|(_, c)| c.scores.len() != width) {
        return skipped(
            &name,
            Rule::DropAtMost { limit_pts: limit },
            "not judged: the candidate's results lack per-class scores",
        );
    }
    let is_pos: Vec<bool> = pairs.iter().map(|(_, c)| c.label == positive).collect();
    let score = |r: &SampleRecord| r.scores[positive];
    let base: Vec<f32> = pairs.iter().map(|(b, _)| score(b)).collect();
    let cand: Vec<f32> = pairs.iter().map(|(_, c)| score(c)).collect();
    let (Some(base_auc), Some(cand_auc)) = (
        metrics::roc_auc(&base, &is_pos),
        metrics::roc_auc(&cand, &is_pos),
    ) else {
        return skipped(
            &name,
            Rule::DropAtMost { limit_pts: limit },
            "not judged: AUROC needs both positive and negative samples with finite scores",
        );
    };
    let wide = |v: &[f32]| v.iter().map(|s| f64::from(*s)).collect::<Vec<_>>();
    let test = stats::delong_paired(&wide(&base), &wide(&cand), &is_pos).map(|d| DropTest {
        kind: "DeLong paired",
        statistic: d.z,
        p_value: d.p_value,
        ci: d.difference_interval(0.95).map(|ci| scale(ci, 100.0)),
        effect: Effect::AurocPoints,
    });
    let test =
        test.ok_or("no DeLong test (identical rankings, or under two positives or negatives)");
    drop_with_test(&name, (base_auc, cand_auc), limit, test, tests)
}

fn precision_drop(
    pairs: &[Pair],
    classes: &[String],
    positive: usize,
    limit: f64,
    tests: &mut Vec<TestRecord>,
) -> Criterion {
    let name = format!("precision ({})", class_name(classes, positive));
    let items: Vec<stats::RatioPair> = pairs
        .iter()
        .map(|(b, c)| stats::RatioPair {
            a_num: b.label == positive,
            a_den: b.pred == positive,
            b_num: c.label == positive,
            b_den: c.pred == positive,
        })
        .collect();
    // Observed precision with scikit-learn's zero_division=0, as eval reports it.
    let precision = |num: fn(&stats::RatioPair) -> bool, den: fn(&stats::RatioPair) -> bool| {
        let d = items.iter().filter(|p| den(p)).count();
        let n = items.iter().filter(|p| den(p) && num(p)).count();
        if d == 0 {
            0.0
        } else {
            n as f64 / d as f64
        }
    };
    let base = precision(|p| p.a_num, |p| p.a_den);
    let cand = precision(|p| p.b_num, |p| p.b_den);
    let test =
        stats::paired_bootstrap_ratio_difference(&items, 0.95, PRECISION_RESAMPLES, PRECISION_SEED)
            .map(|r| DropTest {
                kind: "paired bootstrap",
                statistic: (r.ratio_b - r.ratio_a) * 100.0,
                p_value: r.p_value,
                ci: Some(scale(r.ci, 100.0)),
                effect: Effect::PrecisionPoints,
            })
            .ok_or("no bootstrap (a model predicts no positives)");
    drop_with_test(&name, (base, cand), limit, test, tests)
}

fn specificity_drop(
    pairs: &[Pair],
    classes: &[String],
    positive: usize,
    limit: f64,
    tests: &mut Vec<TestRecord>,
) -> Criterion {
    let name = format!("specificity (not {})", class_name(classes, positive));
    // Specificity is recall of "not positive": its denominator, the actual negatives, is the
    // same samples for both models, so McNemar's test applies as for recall.
    let negatives: Vec<(bool, bool)> = pairs
        .iter()
        .filter(|(_, c)| c.label != positive)
        .map(|(b, c)| (b.pred != positive, c.pred != positive))
        .collect();
    if negatives.is_empty() {
        return skipped(
            &name,
            Rule::DropAtMost { limit_pts: limit },
            "not judged: no negative samples",
        );
    }
    let rate = |side: fn(&(bool, bool)) -> bool| {
        negatives.iter().filter(|k| side(k)).count() as f64 / negatives.len() as f64
    };
    let (base, cand) = (rate(|k| k.0), rate(|k| k.1));
    let b_only = negatives.iter().filter(|k| k.0 && !k.1).count() as u64;
    let c_only = negatives.iter().filter(|k| !k.0 && k.1).count() as u64;
    let test = stats::mcnemar_exact(b_only, c_only);
    let ci = stats::paired_difference_ci(&negatives, 0.95).map(|ci| scale(ci, 100.0));
    let test = DropTest {
        kind: "McNemar exact",
        statistic: test.statistic,
        p_value: test.p_value,
        ci,
        effect: Effect::SpecificityPoints,
    };
    drop_with_test(&name, (base, cand), limit, Ok(test), tests)
}

/// A drop criterion's paired test, before it joins the Holm family.
struct DropTest {
    kind: &'static str,
    statistic: f64,
    p_value: f64,
    ci: Option<stats::Interval>,
    effect: Effect,
}

/// The drop criterion `name` from `(baseline, candidate)` fractions, its paired test recorded in
/// `tests` (the Holm family), or, without one, the reason in its detail.
fn drop_with_test(
    name: &str,
    (base, cand): (f64, f64),
    limit: f64,
    test: Result<DropTest, &str>,
    tests: &mut Vec<TestRecord>,
) -> Criterion {
    match test {
        Ok(t) => {
            tests.push(TestRecord {
                name: format!("{} ({name})", t.kind),
                statistic: t.statistic,
                p_value: t.p_value,
                adjusted_p: None,
                ci: t.ci,
                effect_size: Some((cand - base) * 100.0),
                effect: t.effect,
                decision: crate::compare::Decision::Pending,
            });
            drop_criterion(name, base, cand, limit, Some(tests.len() - 1), t.ci)
        }
        Err(reason) => {
            let mut c = drop_criterion(name, base, cand, limit, None, None);
            c.detail.push_str(&format!("; {reason}"));
            c
        }
    }
}

pub(super) fn drop_criterion(
    name: &str,
    base: f64,
    cand: f64,
    limit: f64,
    test: Option<usize>,
    ci: Option<stats::Interval>,
) -> Criterion {
    Criterion {
        name: name.to_string(),
        unit: "%".into(),
        baseline: Some(base * 100.0),
        candidate: Some(cand * 100.0),
        change: Some((cand - base) * 100.0),
        ci,
        test,
        rule: Rule::DropAtMost { limit_pts: limit },
        status: Status::Pass,
        detail: format!(
            "{:+.2} points against a limit of -{limit} points",
            (cand - base) * 100.0
        ),
        needed_runs: None,
        method: None,
        reported_only: false,
    }
}

pub(super) fn skipped(name: &str, rule: Rule, reason: &str) -> Criterion {
    let unit = match rule {
        Rule::DropAtMost { .. } => "%",
        _ => "fraction",
    };
    Criterion {
        name: name.to_string(),
        unit: unit.into(),
        baseline: None,
        candidate: None,
        change: None,
        ci: None,
        test: None,
        rule,
        status: Status::Skipped,
        detail: reason.to_string(),
        needed_runs: None,
        method: None,
        reported_only: false,
    }
}

pub(super) fn class_name(classes: &[String], i: usize) -> String {
    clean(
        &classes.get(i).cloned().unwrap_or_else(|| i.to_string()),
        MAX_SLICE_TEXT,
    )
}

fn scale(ci: stats::Interval, by: f64) -> stats::Interval {
    stats::Interval {
        lower: ci.lower * by,
        upper: ci.upper * by,
        confidence: ci.confidence,
    }
}

/// Subgroup values of a record, for the consistency check against the baseline.
pub(super) fn same_slices(
    baseline: &BTreeMap<String, String>,
    candidate: &BTreeMap<String, String>,
) -> bool {
    baseline.is_empty() || baseline == candidate
}

#[cfg(test)]
#[path = "quality_tests.rs"]
mod tests;
