//! Each variant against the reference, paired sample by sample and run by run: the latency ratio
//! with the gate's interval and tolerance, and the quality changes (accuracy, recall, macro F1,
//! AUROC) with their tests.

use super::*;

/// A variant's row against the reference, as the gate decides: a quality change counts when
/// its test is significant after Holm and its interval leaves out 0 points; a latency ratio when
/// its test is significant and its interval lies wholly beyond the model's tolerance (above
/// `1 + tolerance`, where the gate would fail it, or below `1 / (1 + tolerance)`): two sessions
/// of one model can differ by a few percent, which is not a difference between variants.
/// "distinguishable" when one counts, else "not distinguishable".
pub(super) fn versus(row: &VariantRow, significance: f64, tolerance_pct: [f64; 2]) -> &'static str {
    let found = row
        .differences()
        .iter()
        .any(|d| d.counts(significance, tolerance_pct));
    if found {
        "distinguishable"
    } else {
        "not distinguishable"
    }
}

/// One change of a row against the reference, with its interval and adjusted p-value.
pub(super) struct Difference {
    pub(super) name: &'static str,
    pub(super) value: Option<f64>,
    pub(super) low: Option<f64>,
    pub(super) high: Option<f64>,
    pub(super) p_adj: Option<f64>,
    /// For a latency ratio (no change is 1), which tolerance applies: 0 for p50, 1 for p95;
    /// None for a difference in points (no change is 0).
    pub(super) ratio: Option<usize>,
}

impl Difference {
    /// Whether this change tells the variant apart from the reference: its adjusted p under
    /// the significance level, and its interval clear of no change (0 points; for a latency
    /// ratio, every ratio within the tolerance).
    pub(super) fn counts(&self, significance: f64, tolerance_pct: [f64; 2]) -> bool {
        let (below, above) = match self.ratio {
            Some(k) => {
                let limit = 1.0 + tolerance_pct[k] / 100.0;
                (1.0 / limit, limit)
            }
            None => (0.0, 0.0),
        };
        self.p_adj.is_some_and(|p| p < significance)
            && self
                .low
                .zip(self.high)
                .is_some_and(|(lo, hi)| lo > above || hi < below)
    }
}

/// Where p50 and p95 latency, accuracy and recall sit in [`VariantRow::differences`].
pub(super) const P50: usize = 0;
pub(super) const P95: usize = 1;
pub(super) const ACCURACY: usize = 2;
pub(super) const RECALL: usize = 3;

impl VariantRow {
    /// p50 and p95 latency, accuracy, recall, F1 and AUROC against the reference, in that
    /// order.
    pub(super) fn differences(&self) -> [Difference; 6] {
        let r = self;
        [
            Difference {
                name: "p50",
                value: r.latency_p50_ratio,
                low: r.latency_p50_ci_low,
                high: r.latency_p50_ci_high,
                p_adj: r.latency_p50_p_adj,
                ratio: Some(0),
            },
            Difference {
                name: "p95",
                value: r.latency_p95_ratio,
                low: r.latency_p95_ci_low,
                high: r.latency_p95_ci_high,
                p_adj: r.latency_p95_p_adj,
                ratio: Some(1),
            },
            Difference {
                name: "accuracy",
                value: r.accuracy_change_pts,
                low: r.accuracy_change_ci_low,
                high: r.accuracy_change_ci_high,
                p_adj: r.accuracy_p_adj,
                ratio: None,
            },
            Difference {
                name: "recall",
                value: r.recall_change_pts,
                low: r.recall_change_ci_low,
                high: r.recall_change_ci_high,
                p_adj: r.recall_p_adj,
                ratio: None,
            },
            Difference {
                name: "F1",
                value: r.f1_change_pts,
                low: r.f1_change_ci_low,
                high: r.f1_change_ci_high,
                p_adj: r.f1_p_adj,
                ratio: None,
            },
            Difference {
                name: "AUROC",
                value: r.auroc_change_pts,
                low: r.auroc_change_ci_low,
                high: r.auroc_change_ci_high,
                p_adj: r.auroc_p_adj,
                ratio: None,
            },
        ]
    }
}

/// A quality metric's change against the reference: points, its interval, McNemar's p-value.
pub(super) struct Change {
    pub(super) change_pts: f64,
    pub(super) ci_low: Option<f64>,
    pub(super) ci_high: Option<f64>,
    pub(super) p: f64,
}

impl Change {
    /// From (reference correct, variant correct) pairs.
    pub(super) fn of(pairs: &[(bool, bool)], confidence: f64) -> Change {
        let diff: i64 = pairs
            .iter()
            .map(|&(b, c)| i64::from(c) - i64::from(b))
            .sum();
        let only = |want: (bool, bool)| pairs.iter().filter(|p| **p == want).count() as u64;
        let ci = crate::stats::paired_difference_ci(pairs, confidence);
        Change {
            change_pts: diff as f64 / pairs.len().max(1) as f64 * 100.0,
            ci_low: ci.map(|c| c.lower * 100.0),
            ci_high: ci.map(|c| c.upper * 100.0),
            p: crate::stats::mcnemar_exact(only((true, false)), only((false, true)))
                .p_value
                .clamp(0.0, 1.0),
        }
    }
}

/// Accuracy, recall, macro F1 and AUROC of two evaluations of the same samples, paired by id.
pub(super) struct Paired {
    pub(super) accuracy: Change,
    pub(super) recall: Change,
    pub(super) f1: Option<Change>,
    /// Binary models only.
    pub(super) auroc: Option<Change>,
}

/// Resamples of the paired bootstrap of macro F1, and its seed (fixed, so a run's table can be
/// made again from its evaluations).
pub(super) const F1_RESAMPLES: usize = 2000;
pub(super) const F1_SEED: u64 = 0x00f1_f1f1;

/// Macro F1 as eval computes it (per class `2 tp / (support + predicted)`, 0 where that is
/// 0/0, averaged over all `classes`) over the samples at `indices`, of `(label, pred)` pairs.
pub(super) fn macro_f1(outcomes: &[(usize, usize)], indices: &[usize], classes: usize) -> f64 {
    let mut tp = vec![0usize; classes];
    let mut support = vec![0usize; classes];
    let mut predicted = vec![0usize; classes];
    for &i in indices {
        let (label, pred) = outcomes[i];
        if label < classes && pred < classes {
            support[label] += 1;
            predicted[pred] += 1;
            tp[label] += usize::from(label == pred);
        }
    }
    let f1 = (0..classes).map(|c| {
        let den = support[c] + predicted[c];
        if den == 0 {
            0.0
        } else {
            2.0 * tp[c] as f64 / den as f64
        }
    });
    f1.sum::<f64>() / classes.max(1) as f64
}

/// Macro F1's change, with the paired bootstrap's interval and p-value.
pub(super) fn f1_change(
    base: &[(usize, usize)],
    cand: &[(usize, usize)],
    classes: usize,
    confidence: f64,
) -> Option<Change> {
    let d = crate::stats::paired_bootstrap_difference(
        base.len(),
        |at| Some((macro_f1(base, at, classes), macro_f1(cand, at, classes))),
        confidence,
        F1_RESAMPLES,
        F1_SEED,
    )?;
    Some(Change {
        change_pts: (d.b - d.a) * 100.0,
        ci_low: Some(d.ci.lower * 100.0),
        ci_high: Some(d.ci.upper * 100.0),
        p: d.p_value.clamp(0.0, 1.0),
    })
}

/// AUROC's change for a binary model (the positive class's scores), with DeLong's paired test
/// and its normal interval at `confidence`, as the gate's AUROC criterion computes it.
pub(super) fn auroc_change(
    base: &[&crate::validate::eval::SampleRecord],
    cand: &[&crate::validate::eval::SampleRecord],
    positive: usize,
    confidence: f64,
) -> Option<Change> {
    let score =
        |r: &crate::validate::eval::SampleRecord| r.scores.get(positive).map(|s| f64::from(*s));
    let a: Vec<f64> = base.iter().map(|r| score(r)).collect::<Option<_>>()?;
    let b: Vec<f64> = cand.iter().map(|r| score(r)).collect::<Option<_>>()?;
    let is_pos: Vec<bool> = base.iter().map(|r| r.label == positive).collect();
    let Some(d) = crate::stats::delong_paired(&a, &b, &is_pos) else {
        // No variance: the two rank every positive-negative pair alike, so the AUROCs are
        // equal and nothing can differ; otherwise (too few of a class) there is no change.
        let auc = |s: &[f64]| {
            let s: Vec<f32> = s.iter().map(|x| *x as f32).collect();
            crate::validate::metrics::roc_auc(&s, &is_pos)
        };
        let (x, y) = (auc(&a)?, auc(&b)?);
        return (x == y).then_some(Change {
            change_pts: 0.0,
            ci_low: Some(0.0),
            ci_high: Some(0.0),
            p: 1.0,
        });
    };
    let ci = d.difference_interval(confidence)?;
    Some(Change {
        change_pts: (d.auc_b - d.auc_a) * 100.0,
        ci_low: Some(ci.lower * 100.0),
        ci_high: Some(ci.upper * 100.0),
        p: d.p_value.clamp(0.0, 1.0),
    })
}

pub(super) fn paired_tests(
    base: &EvalResult,
    cand: &EvalResult,
    confidence: f64,
) -> Result<Paired> {
    let sides = crate::compare::Sides {
        base: "the reference",
        candidate: "this variant",
        fix: "every variant must be evaluated on the same dataset",
        fix_count: "every variant must be evaluated on the same dataset",
    };
    let positive = base.positive_class;
    let (mut all, mut positives) = (Vec::new(), Vec::new());
    let (mut base_records, mut cand_records) = (Vec::new(), Vec::new());
    for (b, c) in crate::compare::pair_by_id(base, cand, &sides)? {
        let pair = (b.pred == b.label, c.pred == c.label);
        all.push(pair);
        if positive.is_none_or(|p| b.label == p) {
            positives.push(pair);
        }
        base_records.push(b);
        cand_records.push(c);
    }
    let classes = base.metrics.per_class.len();
    let outcomes = |records: &[&crate::validate::eval::SampleRecord]| -> Vec<(usize, usize)> {
        records.iter().map(|r| (r.label, r.pred)).collect()
    };
    let f1 = f1_change(
        &outcomes(&base_records),
        &outcomes(&cand_records),
        classes,
        confidence,
    );
    let auroc = if classes == 2 {
        auroc_change(
            &base_records,
            &cand_records,
            positive.unwrap_or(1),
            confidence,
        )
    } else {
        None
    };
    Ok(Paired {
        accuracy: Change::of(&all, confidence),
        recall: Change::of(&positives, confidence),
        f1,
        auroc,
    })
}

/// A latency quantile's ratio against the reference, its interval and its test's p-value.
pub(super) struct Versus {
    pub(super) ratio: f64,
    pub(super) ci: Option<crate::stats::Interval>,
    pub(super) p: Option<f64>,
}

/// p50 and p95 of `variant_ms` against `reference_ms` (per-sample latencies timed in the same
/// interleaved blocks of `block_runs` runs, in rounds of fresh sessions with the runs of each in
/// `sessions`), with
/// the gate's own latency comparison at `1 - significance`: across four or more rounds, Student's
/// t over the rounds' log ratios, so a steady gap between two sessions of one model widens the
/// interval instead of reading as a difference; with fewer, the paired block bootstrap (seeded
/// with `seed`, as the gate seeds it from the candidate's digest) with Mann-Whitney U at p50 and
/// the exceedance test at p95. `criteria` gives the significance and the run-level spread.
pub(super) fn latency_versus(
    reference_ms: &[f64],
    variant_ms: &[f64],
    (sessions, block_runs): (&[usize], usize),
    criteria: &crate::files::config::Criteria,
    seed: u64,
) -> [Option<Versus>; 2] {
    let input = crate::compare::LatencyInput {
        baseline_ms: reference_ms,
        candidate_ms: variant_ms,
        source: crate::compare::LatencySource::SameRunnerAb,
        seed,
        looks: 1,
        sessions,
        block_runs,
        look: None,
    };
    let mut tests = Vec::new();
    let (list, _) = crate::compare::compare_latency(&input, criteria, &mut tests);
    let at = |k: usize| {
        let c = list.get(k)?;
        Some(Versus {
            ratio: c.change? / 100.0 + 1.0,
            ci: c.ci,
            p: c.test
                .and_then(|i| tests.get(i))
                .map(|t| t.p_value.clamp(0.0, 1.0)),
        })
    };
    [at(0), at(1)]
}
