//! The accuracy part of the view: paired accuracy and recall, McNemar's test, agreement, and
//! the samples whose prediction changed.
//!
//! The changed samples are the most useful thing a reviewer can act on (open the image, check the
//! label), but a large change can touch thousands; the list is capped per report kind and the
//! rest counted, so the comment stays under GitHub's size limit.

use serde::Serialize;

use super::compare::{AccuracyComparison, TestRecord};
use super::format;
use super::view::Text;

/// Name of the paired test on accuracy, as the comparison records it.
const MCNEMAR_ACCURACY: &str = "McNemar exact (accuracy)";

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
    /// E.g. `and 12 more`, when the list was cut.
    pub changed_more: Option<String>,
}

/// A sample whose prediction changed.
#[derive(Debug, Clone, Serialize)]
pub struct ChangedView {
    pub id: String,
    pub label: String,
    pub baseline: String,
    pub candidate: String,
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
            text.of(&t.decision)
        ),
        None => "not run".into(),
    };
    let shown = a.changed.len().min(changed_cap);
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
                format::interval(Some(w), format::IntervalKind::Plain)
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
        changed: a.changed[..shown]
            .iter()
            .map(|s| ChangedView {
                id: text.of(&s.id),
                label: text.of(&s.label),
                baseline: text.of(&s.baseline),
                candidate: text.of(&s.candidate),
            })
            .collect(),
        changed_more: (a.changed.len() > shown)
            .then(|| format!("and {} more", a.changed.len() - shown)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::ChangedSample;
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
            changed: (0..n)
                .map(|i| ChangedSample {
                    id: format!("s{i}"),
                    label: "a".into(),
                    baseline: "a".into(),
                    candidate: "b".into(),
                })
                .collect(),
        }
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
}
