//! Classification metrics over labels, predictions and scores: the numbers a
//! model change is judged on.
//!
//! Pure functions over slices, total on degenerate input: empty or mismatched
//! input is an error, a metric that is undefined for the data (AUROC with a
//! class that has no positives, a Wilson interval over no samples) is `None`,
//! and no NaN is ever returned. Divisions by zero follow scikit-learn's
//! `zero_division=0`: a class never predicted has precision 0, a class absent
//! from the labels has recall 0, and F1 is 0 when both are. Definitions match
//! scikit-learn (`accuracy_score`, `precision_recall_fscore_support`,
//! `roc_auc_score`, `confusion_matrix`) and the Wilson interval matches
//! statsmodels' `proportion_confint(method="wilson")`; the tests hold the
//! commands that produced the reference values.

use serde::Serialize;

mod calibration;
mod slices;

pub use crate::stats::Interval;
pub use calibration::{expected_calibration_error, ECE_BINS};
pub use slices::{slice_metrics, SliceMetrics};

/// Metrics of one class, one-vs-rest.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ClassMetrics {
    /// Class name.
    pub name: String,
    /// True positives over predicted positives; 0 when never predicted.
    pub precision: f64,
    /// True positives over actual positives; 0 when the class has no samples.
    pub recall: f64,
    /// Harmonic mean of precision and recall, `2tp / (2tp + fp + fn)`; 0 when
    /// the class is neither present nor predicted.
    pub f1: f64,
    /// Samples whose label is this class.
    pub support: usize,
    /// ROC AUC of this class's score against the rest; `None` when the class
    /// has no samples or is every sample.
    pub auroc: Option<f64>,
}

/// Recall of the class the gate guards, with its uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PositiveClassMetrics {
    /// Index of the positive class.
    pub class: usize,
    /// Its name.
    pub name: String,
    /// Its recall (sensitivity); 0 when it has no samples.
    pub recall: f64,
    /// Wilson 95 % interval on the recall; `None` when it has no samples.
    pub recall_ci95: Option<Interval>,
    /// Samples whose label is the positive class.
    pub support: usize,
}

/// Everything [`classification_metrics`] computes.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Metrics {
    /// Number of samples.
    pub n: usize,
    /// Fraction of samples predicted correctly.
    pub accuracy: f64,
    /// Wilson 95 % interval on the accuracy.
    pub accuracy_ci95: Interval,
    /// Per-class metrics, in class order.
    pub per_class: Vec<ClassMetrics>,
    /// Unweighted mean of per-class precision over all classes, including
    /// classes absent from the labels (as scikit-learn with `labels=` given).
    pub macro_precision: f64,
    /// Unweighted mean of per-class recall over all classes.
    pub macro_recall: f64,
    /// Unweighted mean of per-class F1 over all classes.
    pub macro_f1: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    /// Binary: ROC AUC of the positive class score (positive class, else
    /// class 1). Multiclass: macro mean of the one-vs-rest AUROCs. `None` when
    /// any class needed has no positives or no negatives.
    pub auroc: Option<f64>,
    /// Recall of the positive class when one is given.
    pub positive: Option<PositiveClassMetrics>,
}

/// Why metrics could not be computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricsError {
    /// No samples.
    #[error("no samples to compute metrics on; check that the dataset is not empty")]
    Empty,
    /// No classes.
    #[error("no classes given; metrics need the class list")]
    NoClasses,
    /// Inputs of different lengths.
    #[error("{what} has {got} entries but there are {expected} labels; pass one per sample")]
    LengthMismatch {
        /// Which input.
        what: &'static str,
        /// Its length.
        got: usize,
        /// Number of labels.
        expected: usize,
    },
    /// A label, prediction or positive class outside the classes.
    #[error("{what} {value} of sample {index} is not a class index (there are {classes} classes)")]
    OutOfRange {
        /// "label", "prediction" or "positive class".
        what: &'static str,
        /// Sample index (0 for the positive class).
        index: usize,
        /// The value.
        value: usize,
        /// Number of classes.
        classes: usize,
    },
    /// A score row of the wrong width.
    #[error("scores of sample {index} have {width} values but there are {classes} classes")]
    ScoreWidth {
        /// Sample index.
        index: usize,
        /// Its width.
        width: usize,
        /// Number of classes.
        classes: usize,
    },
    /// A NaN or infinite score.
    #[error("score of sample {index} for class {class} is not finite")]
    NotFinite {
        /// Sample index.
        index: usize,
        /// Class index.
        class: usize,
    },
}

/// Compute all metrics. `labels[i]` and `preds[i]` index into `classes`;
/// `scores[i]` holds one probability per class. `positive` names the class
/// whose recall the gate guards (any class count); for two classes it is also
/// the class whose score the binary AUROC ranks (class 1 when `None`).
pub fn classification_metrics(
    labels: &[usize],
    preds: &[usize],
    scores: &[Vec<f32>],
    classes: &[String],
    positive: Option<usize>,
) -> Result<Metrics, MetricsError> {
    validate(labels, preds, scores, classes, positive)?;
    let k = classes.len();
    let n = labels.len();

    let mut confusion = vec![vec![0usize; k]; k];
    for (&t, &p) in labels.iter().zip(preds) {
        confusion[t][p] += 1;
    }
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();

    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = confusion.iter().map(|row| row[c]).sum();
            let is_c: Vec<bool> = labels.iter().map(|&l| l == c).collect();
            let class_scores: Vec<f32> = scores.iter().map(|row| row[c]).collect();
            ClassMetrics {
                name: classes[c].clone(),
                precision: ratio(tp, predicted),
                recall: ratio(tp, support),
                f1: ratio(2 * tp, support + predicted),
                support,
                auroc: roc_auc(&class_scores, &is_c),
            }
        })
        .collect();
    let mean = |f: fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / k as f64;

    let auroc = if k == 2 {
        per_class[positive.unwrap_or(1)].auroc
    } else {
        // One-vs-rest macro average; undefined if any class's AUROC is.
        per_class
            .iter()
            .map(|c| c.auroc)
            .sum::<Option<f64>>()
            .map(|s| s / k as f64)
    };

    let positive = positive.map(|c| PositiveClassMetrics {
        class: c,
        name: classes[c].clone(),
        recall: per_class[c].recall,
        recall_ci95: wilson_interval(confusion[c][c], per_class[c].support),
        support: per_class[c].support,
    });

    Ok(Metrics {
        n,
        accuracy: ratio(correct, n),
        // n > 0 after validation, so the interval exists; the fallback is
        // never taken but keeps this total without a panic.
        accuracy_ci95: wilson_interval(correct, n).unwrap_or(Interval {
            lower: 0.0,
            upper: 1.0,
            confidence: 0.95,
        }),
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        per_class,
        confusion,
        auroc,
        positive,
    })
}

fn validate(
    labels: &[usize],
    preds: &[usize],
    scores: &[Vec<f32>],
    classes: &[String],
    positive: Option<usize>,
) -> Result<(), MetricsError> {
    let k = classes.len();
    if k == 0 {
        return Err(MetricsError::NoClasses);
    }
    if labels.is_empty() {
        return Err(MetricsError::Empty);
    }
    for (what, got) in [("predictions", preds.len()), ("scores", scores.len())] {
        if got != labels.len() {
            return Err(MetricsError::LengthMismatch {
                what,
                got,
                expected: labels.len(),
            });
        }
    }
    let out_of_range = |what, index, value| MetricsError::OutOfRange {
        what,
        index,
        value,
        classes: k,
    };
    if let Some(c) = positive.filter(|&c| c >= k) {
        return Err(out_of_range("positive class", 0, c));
    }
    for (i, ((&l, &p), row)) in labels.iter().zip(preds).zip(scores).enumerate() {
        if l >= k {
            return Err(out_of_range("label", i, l));
        }
        if p >= k {
            return Err(out_of_range("prediction", i, p));
        }
        if row.len() != k {
            return Err(MetricsError::ScoreWidth {
                index: i,
                width: row.len(),
                classes: k,
            });
        }
        if let Some(class) = row.iter().position(|s| !s.is_finite()) {
            return Err(MetricsError::NotFinite { index: i, class });
        }
    }
    Ok(())
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's `zero_division=0`).
fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Wilson score 95 % interval for `successes` out of `trials` (the stats module's, at 95 %).
pub fn wilson_interval(successes: usize, trials: usize) -> Option<Interval> {
    crate::stats::wilson_interval(successes as u64, trials as u64, 0.95)
}

/// ROC AUC of `scores` for the samples marked in `positives`, as
/// scikit-learn's `roc_auc_score`: the probability that a random positive
/// outranks a random negative, ties counting one half (the Mann-Whitney U
/// form, equal to the trapezoidal area under the ROC curve). `None` when there
/// are no positives or no negatives, or a score is not finite.
pub fn roc_auc(scores: &[f32], positives: &[bool]) -> Option<f64> {
    if scores.len() != positives.len() || scores.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let n_pos = positives.iter().filter(|&&p| p).count();
    let n_neg = positives.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the 1-based ranks of the positives, tied scores sharing the
    // mean rank of their group.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let pos_in_group = order[start..end].iter().filter(|&&i| positives[i]).count();
        rank_sum += mean_rank * pos_in_group as f64;
        start = end;
    }
    let (p, q) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * q))
}

#[cfg(test)]
mod tests;
