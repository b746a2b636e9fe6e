//! The accuracy half of a comparison: the same samples under two models, judged pairwise.
//!
//! Because both models saw the very same samples, the tests are paired: McNemar's exact test on
//! per-sample correctness, a paired interval for the difference in accuracy and in recall, the
//! Wilson lower bound of the candidate's recall against the floor, and the agreement rate with
//! every changed sample listed (a lossless change such as graph optimisation should change none).

use std::collections::HashMap;

use anyhow::{bail, Result};

use crate::base::text;
use crate::files::config::Criteria;
use crate::stats;
use crate::validate::eval::{EvalResult, SampleRecord};

use super::{AccuracyComparison, ChangedSample, Criterion, Effect, Rule, Status, TestRecord};

/// Pairs the two evaluations by sample id, pushes the paired tests onto `tests`, and returns the
/// comparison and its criteria.
pub fn compare_accuracy(
    baseline: &EvalResult,
    candidate: &EvalResult,
    criteria: &Criteria,
    tests: &mut Vec<TestRecord>,
) -> Result<(AccuracyComparison, Vec<Criterion>)> {
    if baseline.dataset.classes != candidate.dataset.classes {
        bail!(
            "the baseline's classes [{}] differ from the candidate's [{}]; re-approve the baseline on this dataset",
            baseline.dataset.classes.join(", "),
            candidate.dataset.classes.join(", ")
        );
    }
    let pairs = pair_by_id(baseline, candidate, &Sides::GATE)?;
    if baseline.positive_class != candidate.positive_class {
        bail!(
            "the candidate's results name another positive class than the baseline's; use the baseline's postprocessing or re-approve the baseline"
        );
    }
    if pairs.is_empty() {
        bail!("no samples to compare accuracy on; the dataset is empty");
    }
    let classes = &candidate.dataset.classes;
    let name_of = |i: usize| classes.get(i).cloned().unwrap_or_else(|| i.to_string());
    let correct: Vec<(bool, bool)> = pairs
        .iter()
        .map(|(b, c)| (b.pred == b.label, c.pred == c.label))
        .collect();
    let n = pairs.len();
    let acc = |side: fn(&(bool, bool)) -> bool, of: &[(bool, bool)]| {
        of.iter().filter(|p| side(p)).count() as f64 / of.len().max(1) as f64
    };
    let (base_acc, cand_acc) = (acc(|p| p.0, &correct), acc(|p| p.1, &correct));
    let b_only = correct.iter().filter(|p| p.0 && !p.1).count() as u64;
    let c_only = correct.iter().filter(|p| !p.0 && p.1).count() as u64;

    let acc_test = tests.len();
    let mcnemar = stats::mcnemar_exact(b_only, c_only);
    let acc_ci = stats::paired_difference_ci(&correct, 0.95).map(|ci| scale(ci, 100.0));
    tests.push(TestRecord {
        name: "McNemar exact (accuracy)".into(),
        statistic: mcnemar.statistic,
        p_value: mcnemar.p_value,
        adjusted_p: None,
        ci: acc_ci,
        effect_size: Some((cand_acc - base_acc) * 100.0),
        effect: Effect::AccuracyPoints,
        decision: crate::compare::Decision::Pending,
    });

    // Recall: the positive class's when there is one, else macro recall over the classes.
    let positive = baseline.positive_class;
    let (recall_name, base_recall, cand_recall, recall_test, recall_ci, wilson) = match positive {
        Some(p) => {
            let pos: Vec<(bool, bool)> = pairs
                .iter()
                .zip(&correct)
                .filter(|((_, c), _)| c.label == p)
                .map(|(_, k)| *k)
                .collect();
            let hits = pos.iter().filter(|k| k.1).count() as u64;
            let b = pos.iter().filter(|k| k.0 && !k.1).count() as u64;
            let c = pos.iter().filter(|k| !k.0 && k.1).count() as u64;
            let test = stats::mcnemar_exact(b, c);
            let ci = stats::paired_difference_ci(&pos, 0.95).map(|ci| scale(ci, 100.0));
            let (br, cr) = (acc(|p| p.0, &pos), acc(|p| p.1, &pos));
            tests.push(TestRecord {
                name: format!("McNemar exact (recall of {})", name_of(p)),
                statistic: test.statistic,
                p_value: test.p_value,
                adjusted_p: None,
                ci,
                effect_size: Some((cr - br) * 100.0),
                effect: Effect::RecallPoints,
                decision: crate::compare::Decision::Pending,
            });
            let wilson = stats::wilson_interval(hits, pos.len() as u64, 0.95);
            (
                format!("recall ({})", name_of(p)),
                br,
                cr,
                tests.len() - 1,
                ci,
                wilson,
            )
        }
        None => (
            "macro recall".to_string(),
            macro_recall(&pairs, classes.len(), |(b, _)| b.pred),
            macro_recall(&pairs, classes.len(), |(_, c)| c.pred),
            acc_test,
            None,
            None,
        ),
    };

    let label_score = |s: &SampleRecord| s.scores.get(s.label).map(|p| f64::from(*p));
    let mut changed: Vec<ChangedSample> = pairs
        .iter()
        .filter(|(b, c)| b.pred != c.pred)
        .map(|(b, c)| ChangedSample {
            id: c.id.clone(),
            label: name_of(c.label),
            baseline: name_of(b.pred),
            candidate: name_of(c.pred),
            baseline_label_score: label_score(b),
            candidate_label_score: label_score(c),
            slices: c.slices.clone(),
            thumbnail: None,
        })
        .collect();
    // What the candidate broke first, then what it got wrong differently, then what it fixed;
    // the dataset's order within each (a stable sort).
    changed.sort_by_key(ChangedSample::flip);
    let agreement_rate = 1.0 - changed.len() as f64 / n as f64;

    let drop = |name: &str, base: f64, cand: f64, limit: f64, test: usize, ci| {
        super::quality::drop_criterion(name, base, cand, limit, Some(test), ci)
    };
    let mut out = vec![
        drop(
            "accuracy",
            base_acc,
            cand_acc,
            criteria.max_accuracy_drop_pts,
            acc_test,
            acc_ci,
        ),
        drop(
            &recall_name,
            base_recall,
            cand_recall,
            criteria.max_recall_drop_pts,
            recall_test,
            recall_ci,
        ),
    ];
    super::quality::check_subgroup_count(candidate.samples.iter()).map_err(anyhow::Error::msg)?;
    let slices = super::quality::slice_comparisons(&pairs, classes.len(), positive, criteria);
    out.extend(super::quality::paired_criteria(
        &pairs, classes, positive, &slices, criteria, tests,
    ));
    if criteria.require_identical_predictions {
        out.push(Criterion {
            name: "identical predictions".into(),
            unit: "fraction".into(),
            baseline: Some(1.0),
            candidate: Some(agreement_rate),
            change: None,
            ci: None,
            test: None,
            rule: Rule::Identical,
            status: Status::Pass,
            detail: format!("{} of {n} predictions changed", changed.len()),
            needed_runs: None,
            method: None,
            reported_only: false,
        });
    }
    let comparison = AccuracyComparison {
        n,
        baseline_accuracy: base_acc,
        candidate_accuracy: cand_acc,
        recall_name,
        baseline_recall: base_recall,
        candidate_recall: cand_recall,
        candidate_recall_wilson: wilson,
        baseline_only_correct: b_only,
        candidate_only_correct: c_only,
        agreement_rate,
        changed,
        slices,
        classes: classes.clone(),
        baseline_confusion: confusion(&pairs, classes.len(), |(b, _)| b.pred),
        candidate_confusion: confusion(&pairs, classes.len(), |(_, c)| c.pred),
        baseline_threshold: threshold(baseline),
        candidate_threshold: threshold(candidate),
    };
    Ok((comparison, out))
}

type Pair<'a> = (&'a SampleRecord, &'a SampleRecord);

/// `confusion[true][predicted]` counts of the predictions `pred` picks from each pair, over at
/// least `classes` classes (more if a label or prediction lies beyond them).
/// Who the two sides of a pairing are, in its error messages, and what fixes a mismatch.
pub struct Sides {
    /// The side whose order the pairs keep, as in "the baseline".
    pub base: &'static str,
    /// The other side, as in "the candidate".
    pub candidate: &'static str,
    /// What to do when a sample differs between the two.
    pub fix: &'static str,
    /// What to do when the two hold different numbers of samples.
    pub fix_count: &'static str,
}

impl Sides {
    /// The gate's: the approved baseline and the PR's candidate.
    pub const GATE: Sides = Sides {
        base: "the baseline",
        candidate: "the candidate",
        fix: "the dataset changed, so re-approve the baseline on it",
        fix_count: "re-approve the baseline on this dataset",
    };
}

/// Two evaluations of one dataset, paired sample by sample in the base's order (whatever order
/// the candidate's file lists them in: one run's, or shards merged; the paired bootstraps then
/// draw the same pairs), after checking that they are of the same data: the same samples, each
/// once, with the same labels and subgroups. Labels are the data's, not the model's: a results
/// file that disagrees about them is judging other data.
pub fn pair_by_id<'a>(
    base: &'a EvalResult,
    candidate: &'a EvalResult,
    sides: &Sides,
) -> Result<Vec<(&'a SampleRecord, &'a SampleRecord)>> {
    let Sides {
        base: b_name,
        candidate: c_name,
        fix,
        fix_count,
    } = sides;
    let id = |s: &SampleRecord| text::clean(&s.id, text::TEXT_MAX_CHARS);
    let base_by_id: HashMap<&str, &SampleRecord> =
        base.samples.iter().map(|s| (s.id.as_str(), s)).collect();
    for sample in &candidate.samples {
        let Some(b) = base_by_id.get(sample.id.as_str()) else {
            bail!(
                "sample {} is not in {b_name}'s evaluation; {fix}",
                id(sample)
            );
        };
        if b.label != sample.label {
            bail!(
                "sample {:?} is labeled {} in {c_name}'s results but {} in {b_name}'s; {fix}",
                id(sample),
                sample.label,
                b.label
            );
        }
        if !super::quality::same_slices(&b.slices, &sample.slices) {
            bail!(
                "sample {:?} has other subgroup values in {c_name}'s results than in {b_name}'s; {fix}",
                id(sample)
            );
        }
    }
    if candidate.samples.len() != base.samples.len() {
        bail!(
            "{b_name} was evaluated on {} samples and {c_name} on {}; {fix_count}",
            base.samples.len(),
            candidate.samples.len()
        );
    }
    let cand_by_id: HashMap<&str, &SampleRecord> = candidate
        .samples
        .iter()
        .map(|s| (s.id.as_str(), s))
        .collect();
    base.samples
        .iter()
        .map(|b| match cand_by_id.get(b.id.as_str()) {
            Some(c) => Ok((b, *c)),
            None => bail!(
                "sample {:?} of {b_name} is missing from {c_name}'s evaluation, which lists another sample twice; evaluate the whole dataset once",
                id(b)
            ),
        })
        .collect()
}

fn confusion(pairs: &[Pair], classes: usize, pred: fn(&Pair) -> usize) -> Vec<Vec<usize>> {
    let k = pairs
        .iter()
        .map(|p| p.1.label.max(pred(p)) + 1)
        .fold(classes, usize::max);
    let mut m = vec![vec![0usize; k]; k];
    for p in pairs {
        m[p.1.label][pred(p)] += 1;
    }
    m
}

/// The decision threshold of a two-class task; more classes are decided by argmax.
fn threshold(eval: &EvalResult) -> Option<f64> {
    (eval.dataset.classes.len() == 2).then_some(f64::from(eval.postprocess.threshold))
}

/// Macro recall over `classes` classes of the predictions `pred` picks from each pair, from the
/// per-sample records (never from a results file's own summary), as eval computes it: a class
/// with no samples counts as recall 0.
fn macro_recall(pairs: &[Pair], classes: usize, pred: impl Fn(&Pair) -> usize) -> f64 {
    let mut hits = vec![0u64; classes];
    let mut support = vec![0u64; classes];
    for pair in pairs {
        let label = pair.1.label;
        if label < classes {
            support[label] += 1;
            hits[label] += u64::from(pred(pair) == label);
        }
    }
    let sum: f64 = hits
        .iter()
        .zip(&support)
        .map(|(h, n)| if *n == 0 { 0.0 } else { *h as f64 / *n as f64 })
        .sum();
    sum / classes.max(1) as f64
}

/// The recall floor, judged on the candidate alone (so it applies to new models too): the Wilson
/// 95 % lower bound of the positive class's recall, or macro recall when there is no positive class.
pub fn recall_floor(candidate: &EvalResult, criteria: &Criteria) -> Option<Criterion> {
    let floor = criteria.min_recall?;
    let metrics = &candidate.metrics;
    let (name, recall, rule, ci, detail) = match &metrics.positive {
        Some(p) => match p.recall_ci95 {
            Some(w) => (
                format!("minimum recall ({})", p.name),
                p.recall,
                Rule::LowerBoundAtLeast { floor },
                Some(w),
                format!(
                    "Wilson 95 % lower bound {} against a floor of {}{}",
                    crate::base::format::percent(w.lower),
                    crate::base::format::percent(floor),
                    super::floors::unreachable_floor(floor, p.support as u64).unwrap_or_default()
                ),
            ),
            None => (
                format!("minimum recall ({})", p.name),
                p.recall,
                Rule::RecallAtLeast { floor },
                None,
                "no positive samples".into(),
            ),
        },
        None => (
            "minimum macro recall".to_string(),
            metrics.macro_recall,
            Rule::RecallAtLeast { floor },
            None,
            format!("{:.3} against a floor of {floor}", metrics.macro_recall),
        ),
    };
    Some(Criterion {
        name,
        unit: "fraction".into(),
        baseline: None,
        candidate: Some(recall),
        change: None,
        ci,
        test: None,
        rule,
        status: Status::Pass,
        detail,
        needed_runs: None,
        method: None,
        reported_only: false,
    })
}

fn scale(ci: stats::Interval, by: f64) -> stats::Interval {
    stats::Interval {
        lower: ci.lower * by,
        upper: ci.upper * by,
        confidence: ci.confidence,
    }
}
