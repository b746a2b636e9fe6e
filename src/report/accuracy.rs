//! The accuracy part of the view: paired accuracy and recall, McNemar's test, agreement, and
//! the samples whose prediction changed.
//!
//! The changed samples are the most useful thing a reviewer can act on (open the image, check the
//! label), but a large change can touch thousands; the list is capped per report kind and the
//! rest counted, so the comment stays under GitHub's size limit.

use serde::Serialize;

use super::compare::{AccuracyComparison, ChangedSample, SliceComparison, TestRecord};
use super::escape::Text;
use crate::base::format;
use crate::data::preprocess::thumbnail::is_thumbnail;

/// The longest thumbnail URI shown (a 96-pixel PNG is a few KiB).
const THUMBNAIL_MAX_LEN: usize = 64 * 1024;

/// Name of the paired test on accuracy, as the comparison records it.
const MCNEMAR_ACCURACY: &str = "McNemar exact (accuracy)";

/// Most subgroup rows shown; a slice column may have up to 100 values.
pub const MAX_SLICE_ROWS: usize = 30;

/// The accuracy and recall of both models on the same labeled samples.
#[derive(Debug, Clone, Serialize)]
pub struct AccuracyView {
    /// E.g. `1000 labeled samples`.
    pub samples: String,
    pub accuracy: String,
    pub accuracy_change: String,
    /// The recall guarded: a class's, or macro recall.
    pub recall_name: String,
    pub recall: String,
    pub recall_change: String,
    /// The candidate recall's Wilson interval, when computed.
    pub recall_interval: Option<String>,
    /// McNemar's exact test on accuracy, with its adjusted p-value and decision.
    pub mcnemar: String,
    /// The discordant pairs behind McNemar's test.
    pub discordant: String,
    /// E.g. `99.30 % (7 of 1000 predictions changed)`.
    pub agreement: String,
    /// The first changed samples, up to the cap.
    pub changed: Vec<ChangedView>,
    /// Whether any changed sample has subgroup values (the table then has their column).
    pub changed_subgroups: bool,
    /// E.g. `and 12 more`, when the list was cut.
    pub changed_more: Option<String>,
    /// Subgroups, up to [`MAX_SLICE_ROWS`].
    pub slices: Vec<SliceView>,
    /// E.g. `and 12 more subgroups`, when the table was cut.
    pub slices_more: Option<String>,
    /// Both models' confusion matrices in one table; absent when the comparison has none.
    pub confusion: Option<ConfusionView>,
    /// The decision threshold of a two-class task, e.g. `0.50` or `0.50 → 0.40`.
    pub threshold: Option<String>,
}

/// Both confusion matrices, cell by cell: true classes in rows, predicted in columns.
#[derive(Debug, Clone, Serialize)]
pub struct ConfusionView {
    /// The predicted classes, the columns.
    pub classes: Vec<String>,
    pub rows: Vec<ConfusionRow>,
}

/// One true class.
#[derive(Debug, Clone, Serialize)]
pub struct ConfusionRow {
    pub class: String,
    pub cells: Vec<ConfusionCell>,
}

/// The count of one true/predicted pair under both models.
#[derive(Debug, Clone, Serialize)]
pub struct ConfusionCell {
    /// `41 → 39`, or `41` when both models agree on the count.
    pub counts: String,
    /// Whether the count changed.
    pub changed: bool,
}

/// One subgroup under both models.
#[derive(Debug, Clone, Serialize)]
pub struct SliceView {
    /// E.g. `site=north`.
    pub name: String,
    /// Samples, and positives when a positive class is guarded: `120 (34 positive)`.
    pub samples: String,
    /// Baseline → candidate accuracy, with the candidate's Wilson interval.
    pub accuracy: String,
    /// Baseline → candidate recall (the positive class's, else macro recall), with the
    /// candidate's Wilson interval for a positive class.
    pub recall: String,
    /// `yes`, or `no: fewer than min_slice_size` (reported, not judged).
    pub judged: String,
}

/// A sample whose prediction changed.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedView {
    pub id: String,
    pub label: String,
    pub baseline: String,
    pub candidate: String,
    /// `right → wrong`, `wrong → wrong` or `wrong → right`.
    pub flip: String,
    /// The probability each model gave the label, e.g. `0.62 → 0.41`; `—` when unknown.
    pub label_score: String,
    /// Its subgroup values, e.g. `site=a`; empty without subgroups.
    pub subgroup: String,
    /// Its image as a PNG `data:` URI, in the HTML report only, and only one that is a PNG data
    /// URI of base64 and nothing else.
    pub thumbnail: Option<String>,
}

pub(crate) fn accuracy_view(
    a: &AccuracyComparison,
    tests: &[TestRecord],
    text: Text,
    changed_cap: usize,
) -> AccuracyView {
    let points = |b: f64, c: f64| format::change(Some((c - b) * 100.0), "%");
    let mcnemar = match tests.iter().find(|t| t.name == MCNEMAR_ACCURACY) {
        Some(t) => format!(
            "p = {}, adjusted p = {} ({})",
            format::p_value(Some(t.p_value)),
            format::p_value(t.adjusted_p),
            text.of(t.decision.as_str())
        ),
        None => "not run".into(),
    };
    let shown = a.changed.len().min(changed_cap);
    let slices_shown = a.slices.len().min(MAX_SLICE_ROWS);
    AccuracyView {
        samples: format!("{} labeled samples", a.n),
        accuracy: format!(
            "{} → {}",
            format::percent(a.baseline_accuracy),
            format::percent(a.candidate_accuracy)
        ),
        accuracy_change: points(a.baseline_accuracy, a.candidate_accuracy),
        recall_name: text.of(&a.recall_name),
        recall: format!(
            "{} → {}",
            format::percent(a.baseline_recall),
            format::percent(a.candidate_recall)
        ),
        recall_change: points(a.baseline_recall, a.candidate_recall),
        recall_interval: a.candidate_recall_wilson.as_ref().map(|w| {
            format!(
                "{:.0} % Wilson interval {}",
                w.confidence * 100.0,
                format::interval(Some(w), format::IntervalKind::Fraction)
            )
        }),
        mcnemar,
        discordant: format!(
            "{} right only by the baseline, {} right only by the candidate",
            a.baseline_only_correct, a.candidate_only_correct
        ),
        agreement: format!(
            "{} ({} of {} predictions changed)",
            format::percent(a.agreement_rate),
            a.changed.len(),
            a.n
        ),
        changed: changed_views(&a.changed, shown, text),
        changed_subgroups: a.changed.iter().any(|s| !s.slices.is_empty()),
        changed_more: (a.changed.len() > shown)
            .then(|| format!("and {} more", a.changed.len() - shown)),
        slices: a.slices[..slices_shown]
            .iter()
            .map(|s| slice_view(s, text))
            .collect(),
        slices_more: (a.slices.len() > slices_shown)
            .then(|| format!("and {} more subgroups", a.slices.len() - slices_shown)),
        confusion: confusion_view(a, text),
        threshold: match (a.baseline_threshold, a.candidate_threshold) {
            (Some(b), Some(c)) if b == c => Some(format!("{c:.2}")),
            (Some(b), Some(c)) => Some(format!("{b:.2} → {c:.2}")),
            (None, Some(c)) => Some(format!("{c:.2}")),
            (Some(b), None) => Some(format!("{b:.2} → {}", format::NONE)),
            (None, None) => None,
        },
    }
}

fn confusion_view(a: &AccuracyComparison, text: Text) -> Option<ConfusionView> {
    let (b, c) = (&a.baseline_confusion, &a.candidate_confusion);
    let k = c.len();
    if k == 0 || b.len() != k || b.iter().chain(c).any(|row| row.len() != k) {
        return None;
    }
    let name = |i: usize| text.of(a.classes.get(i).map_or(&i.to_string(), |s| s));
    Some(ConfusionView {
        classes: (0..k).map(name).collect(),
        rows: (0..k)
            .map(|t| ConfusionRow {
                class: name(t),
                cells: (0..k)
                    .map(|p| {
                        let (before, after) = (b[t][p], c[t][p]);
                        ConfusionCell {
                            counts: if before == after {
                                after.to_string()
                            } else {
                                format!("{before} → {after}")
                            },
                            changed: before != after,
                        }
                    })
                    .collect(),
            })
            .collect(),
    })
}

fn slice_view(s: &SliceComparison, text: Text) -> SliceView {
    let (b, c) = (&s.baseline, &s.candidate);
    let wilson = |ci: Option<&crate::stats::Interval>| match ci {
        Some(ci) => format!(
            " (95 % Wilson {} .. {})",
            format::percent(ci.lower),
            format::percent(ci.upper)
        ),
        None => String::new(),
    };
    let pair = |b: Option<f64>, c: Option<f64>| {
        let show = |v: Option<f64>| v.map_or_else(|| format::NONE.to_string(), format::percent);
        format!("{} → {}", show(b), show(c))
    };
    let recall = match c.positive_support {
        Some(_) => format!(
            "{}{}",
            pair(b.positive_recall, c.positive_recall),
            wilson(c.positive_recall_ci95.as_ref())
        ),
        None => pair(Some(b.macro_recall), Some(c.macro_recall)),
    };
    SliceView {
        name: text.of(&crate::compare::slice_label(&c.column, &c.value)),
        samples: match c.positive_support {
            Some(pos) => format!("{} ({pos} positive)", c.n),
            None => c.n.to_string(),
        },
        accuracy: format!(
            "{}{}",
            pair(Some(b.accuracy), Some(c.accuracy)),
            wilson(c.accuracy_ci95.as_ref())
        ),
        recall,
        judged: if s.judged {
            "yes".into()
        } else {
            "no: fewer than min_slice_size, reported only".into()
        },
    }
}

/// The first `shown` changed samples, what the candidate broke first (whatever order the file
/// lists them in), each string made safe by `text`.
fn changed_views(changed: &[ChangedSample], shown: usize, text: Text) -> Vec<ChangedView> {
    let mut ordered: Vec<&ChangedSample> = changed.iter().collect();
    ordered.sort_by_key(|s| s.flip());
    let score = |p: Option<f64>| p.map_or_else(|| "—".to_string(), |p| format!("{p:.2}"));
    ordered
        .into_iter()
        .take(shown)
        .map(|s| ChangedView {
            id: text.of(&s.id),
            label: text.of(&s.label),
            baseline: text.of(&s.baseline),
            candidate: text.of(&s.candidate),
            flip: s.flip().label().to_string(),
            label_score: match (s.baseline_label_score, s.candidate_label_score) {
                (None, None) => "—".to_string(),
                (b, c) => format!("{} → {}", score(b), score(c)),
            },
            subgroup: text.of(&s
                .slices
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")),
            thumbnail: s.thumbnail.clone().filter(|uri| {
                text.0 == super::Format::Html && is_thumbnail(uri, THUMBNAIL_MAX_LEN)
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Format;

    fn with_changed(n: usize) -> AccuracyComparison {
        AccuracyComparison {
            n: 1000,
            baseline_accuracy: 0.9,
            candidate_accuracy: 0.9,
            recall_name: "macro recall".into(),
            baseline_recall: 0.9,
            candidate_recall: 0.9,
            candidate_recall_wilson: None,
            baseline_only_correct: 0,
            candidate_only_correct: 0,
            agreement_rate: 1.0 - n as f64 / 1000.0,
            classes: vec![],
            baseline_confusion: vec![],
            candidate_confusion: vec![],
            baseline_threshold: None,
            candidate_threshold: None,
            changed: (0..n)
                .map(|i| ChangedSample {
                    id: format!("s{i}"),
                    label: "a".into(),
                    baseline: "a".into(),
                    candidate: "b".into(),
                    baseline_label_score: None,
                    candidate_label_score: None,
                    slices: Default::default(),
                    thumbnail: None,
                })
                .collect(),
            slices: vec![],
        }
    }

    #[test]
    fn changed_samples_show_broken_ones_first_with_scores_and_subgroups() {
        let sample = |id: &str, baseline: &str, candidate: &str| ChangedSample {
            id: id.into(),
            label: "pneumonia".into(),
            baseline: baseline.into(),
            candidate: candidate.into(),
            baseline_label_score: Some(0.62),
            candidate_label_score: None,
            slices: [("site".to_string(), "a|b".to_string())].into(),
            thumbnail: None,
        };
        // A file listing a fixed sample first, as an untrusted one may.
        let changed = [
            sample("fixed", "normal", "pneumonia"),
            sample("broken", "pneumonia", "normal"),
        ];
        let views = changed_views(&changed, 1, Text(Format::Markdown));
        assert_eq!(views.len(), 1);
        let v = &views[0];
        assert_eq!(
            (v.id.as_str(), v.flip.as_str()),
            ("broken", "right → wrong")
        );
        assert_eq!(v.label_score, "0.62 → —");
        assert_eq!(v.subgroup, "site\\=a\\|b");
    }

    #[test]
    fn changed_samples_are_capped_and_the_rest_counted() {
        let view = accuracy_view(&with_changed(53), &[], Text(Format::Markdown), 50);
        assert_eq!(view.changed.len(), 50);
        assert_eq!(view.changed_more.as_deref(), Some("and 3 more"));
        assert_eq!(view.mcnemar, "not run");
        let view = accuracy_view(&with_changed(50), &[], Text(Format::Markdown), 50);
        assert_eq!((view.changed.len(), view.changed_more), (50, None));
    }

    #[test]
    fn subgroup_rows_are_capped_and_small_ones_marked_as_reported_only() {
        let metrics = |value: String| crate::validate::metrics::SliceMetrics {
            column: "site".into(),
            value,
            n: 40,
            accuracy: 0.9,
            accuracy_ci95: crate::validate::metrics::wilson_interval(36, 40),
            positive_support: Some(20),
            positive_recall: Some(0.5),
            positive_recall_ci95: crate::validate::metrics::wilson_interval(10, 20),
            macro_recall: 0.7,
        };
        let mut a = with_changed(0);
        a.slices = (0..33)
            .map(|i| SliceComparison {
                baseline: metrics(format!("s{i:02}\u{1b}[31m")),
                candidate: metrics(format!("s{i:02}\u{1b}[31m")),
                judged: i > 0,
            })
            .collect();
        let view = accuracy_view(&a, &[], Text(Format::Markdown), 50);
        assert_eq!(view.slices.len(), MAX_SLICE_ROWS);
        assert_eq!(view.slices_more.as_deref(), Some("and 3 more subgroups"));
        let first = &view.slices[0];
        assert!(!first.name.contains('\u{1b}'), "{}", first.name);
        assert_eq!(first.samples, "40 (20 positive)");
        assert!(first.judged.contains("reported only"));
        assert_eq!(view.slices[1].judged, "yes");
        assert!(
            first.recall.starts_with("50.00 % → 50.00 %"),
            "{}",
            first.recall
        );
    }
}
