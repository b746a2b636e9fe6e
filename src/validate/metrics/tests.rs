//! Metrics checked against scikit-learn 1.9 and statsmodels 0.15.
//!
//! Every reference value below was printed by /work/venv/bin/python running
//! this prelude followed by the case's lines:
//!
//! ```text
//! import numpy as np
//! from sklearn.metrics import accuracy_score, precision_recall_fscore_support as prfs, roc_auc_score, confusion_matrix
//! from statsmodels.stats.proportion import proportion_confint as ci
//! def show(y, p, S, k, pos):
//!     print(repr(accuracy_score(y, p)), ci(int((np.array(y)==np.array(p)).sum()), len(y), method='wilson'))
//!     print([a.tolist() for a in prfs(y, p, labels=list(range(k)), zero_division=0)])
//!     print(prfs(y, p, labels=list(range(k)), average='macro', zero_division=0))
//!     print(confusion_matrix(y, p, labels=list(range(k))).tolist())
//!     S = np.array(S)
//!     print(roc_auc_score(np.array(y)==1, S[:,1]) if k == 2 else roc_auc_score(y, S, multi_class='ovr', average='macro'))
//!     print([roc_auc_score(np.array(y)==c, S[:,c]) for c in range(k)])
//!     tp = int(((np.array(y)==pos)&(np.array(p)==pos)).sum()); n = int((np.array(y)==pos).sum())
//!     print(ci(tp, n, method='wilson'))
//! ```

use super::*;

fn names(k: usize) -> Vec<String> {
    (0..k).map(|c| format!("c{c}")).collect()
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-12,
        "{what}: {got} vs reference {want}"
    );
}

fn close_all(got: impl IntoIterator<Item = f64>, want: &[f64], what: &str) {
    let got: Vec<f64> = got.into_iter().collect();
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        close(*g, *w, what);
    }
}

fn interval(i: Option<Interval>) -> [f64; 2] {
    let i = i.expect("interval");
    [i.lower, i.upper]
}

/// Binary scores as `[1 - p, p]` rows.
fn binary_rows(p: &[f32]) -> Vec<Vec<f32>> {
    p.iter().map(|&v| vec![1.0 - v, v]).collect()
}

#[test]
fn binary_with_tied_scores_matches_sklearn() {
    // y=[0,0,1,1,0,1,1,0,1,0]; s=[0.1,0.4,0.35,0.8,0.4,0.4,0.9,0.2,0.35,0.6]
    // p=[int(v>=0.5) for v in s]; show(y, p, [[1-v,v] for v in s], 2, pos=1)
    let labels = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0];
    let s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.2, 0.35, 0.6];
    let preds: Vec<usize> = s.iter().map(|&v| usize::from(v >= 0.5)).collect();
    let m = classification_metrics(&labels, &preds, &binary_rows(&s), &names(2), Some(1)).unwrap();
    assert_eq!(m.n, 10);
    close(m.accuracy, 0.6, "accuracy");
    close_all(
        interval(Some(m.accuracy_ci95)),
        &[0.31267376973365824, 0.8318196702937638],
        "accuracy ci",
    );
    close_all(
        m.per_class.iter().map(|c| c.precision),
        &[0.5714285714285714, 0.6666666666666666],
        "precision",
    );
    close_all(m.per_class.iter().map(|c| c.recall), &[0.8, 0.4], "recall");
    close_all(
        m.per_class.iter().map(|c| c.f1),
        &[0.6666666666666666, 0.5],
        "f1",
    );
    assert_eq!(
        m.per_class.iter().map(|c| c.support).collect::<Vec<_>>(),
        [5, 5]
    );
    close_all(
        [m.macro_precision, m.macro_recall, m.macro_f1],
        &[0.6190476190476191, 0.6000000000000001, 0.5833333333333333],
        "macro",
    );
    assert_eq!(m.confusion, vec![vec![4, 1], vec![3, 2]]);
    close(m.auroc.unwrap(), 0.68, "auroc");
    let pos = m.positive.unwrap();
    assert_eq!((pos.class, pos.name.as_str(), pos.support), (1, "c1", 5));
    close(pos.recall, 0.4, "positive recall");
    close_all(
        interval(pos.recall_ci95),
        &[0.11762077423264788, 0.7692757187239871],
        "recall ci",
    );
}

#[test]
fn multiclass_with_a_class_never_predicted_matches_sklearn() {
    // y=[0,1,2,2,1,0,2,1,0,2]; p=[0,1,1,1,1,0,0,1,0,1]
    // S=[[.6,.3,.1],[.2,.5,.3],[.2,.5,.3],[.3,.4,.3],[.1,.8,.1],[.5,.3,.2],[.4,.3,.3],[.2,.5,.3],[.7,.2,.1],[.25,.45,.3]]
    // show(y, p, S, 3, pos=2)
    let labels = [0, 1, 2, 2, 1, 0, 2, 1, 0, 2];
    let preds = [0, 1, 1, 1, 1, 0, 0, 1, 0, 1];
    let scores: Vec<Vec<f32>> = [
        [0.6, 0.3, 0.1],
        [0.2, 0.5, 0.3],
        [0.2, 0.5, 0.3],
        [0.3, 0.4, 0.3],
        [0.1, 0.8, 0.1],
        [0.5, 0.3, 0.2],
        [0.4, 0.3, 0.3],
        [0.2, 0.5, 0.3],
        [0.7, 0.2, 0.1],
        [0.25, 0.45, 0.3],
    ]
    .iter()
    .map(|r| r.to_vec())
    .collect();
    let m = classification_metrics(&labels, &preds, &scores, &names(3), Some(2)).unwrap();
    close(m.accuracy, 0.6, "accuracy");
    close_all(
        m.per_class.iter().map(|c| c.precision),
        &[0.75, 0.5, 0.0],
        "precision",
    );
    close_all(
        m.per_class.iter().map(|c| c.recall),
        &[1.0, 1.0, 0.0],
        "recall",
    );
    close_all(
        m.per_class.iter().map(|c| c.f1),
        &[0.8571428571428571, 0.6666666666666666, 0.0],
        "f1",
    );
    assert_eq!(
        m.per_class.iter().map(|c| c.support).collect::<Vec<_>>(),
        [3, 3, 4]
    );
    close_all(
        [m.macro_precision, m.macro_recall, m.macro_f1],
        &[0.4166666666666667, 0.6666666666666666, 0.5079365079365079],
        "macro",
    );
    assert_eq!(
        m.confusion,
        vec![vec![3, 0, 0], vec![0, 3, 0], vec![1, 3, 0]]
    );
    close(m.auroc.unwrap(), 0.9285714285714287, "ovr macro auroc");
    close_all(
        m.per_class.iter().map(|c| c.auroc.unwrap()),
        &[1.0, 0.9523809523809524, 0.8333333333333334],
        "per-class auroc",
    );
    let pos = m.positive.unwrap();
    close(pos.recall, 0.0, "positive recall");
    close_all(
        interval(pos.recall_ci95),
        &[0.0, 0.4898908364545974],
        "recall ci",
    );
}

#[test]
fn perfect_classifier_matches_sklearn() {
    // y=[0,1,0,1,1]; s=[0.1,0.9,0.3,0.7,0.7]; show(y, y, [[1-v,v] for v in s], 2, pos=1)
    let labels = [0, 1, 0, 1, 1];
    let s = [0.1, 0.9, 0.3, 0.7, 0.7];
    let m = classification_metrics(&labels, &labels, &binary_rows(&s), &names(2), None).unwrap();
    close(m.accuracy, 1.0, "accuracy");
    close_all(
        interval(Some(m.accuracy_ci95)),
        &[0.5655175352168252, 1.0],
        "accuracy ci",
    );
    close_all(
        [m.macro_precision, m.macro_recall, m.macro_f1],
        &[1.0, 1.0, 1.0],
        "macro",
    );
    assert_eq!(m.confusion, vec![vec![2, 0], vec![0, 3]]);
    close(m.auroc.unwrap(), 1.0, "auroc");
    assert_eq!(m.positive, None);
    // The positive class's recall interval, 3 of 3: ci(3, 3, method='wilson')
    close_all(
        interval(wilson_interval(3, 3)),
        &[0.43850296824495444, 1.0],
        "recall ci",
    );
}

#[test]
fn auroc_is_none_when_a_class_is_missing() {
    let m = classification_metrics(
        &[1, 1],
        &[1, 0],
        &binary_rows(&[0.9, 0.2]),
        &names(2),
        Some(1),
    )
    .unwrap();
    assert_eq!(m.auroc, None);
    // Class 2 never occurs: recall 0 and no interval, OvR AUROC undefined.
    let rows = vec![vec![0.5, 0.3, 0.2], vec![0.2, 0.5, 0.3]];
    let m = classification_metrics(&[0, 1], &[0, 1], &rows, &names(3), Some(2)).unwrap();
    assert_eq!(m.auroc, None);
    let pos = m.positive.unwrap();
    assert_eq!((pos.recall, pos.recall_ci95, pos.support), (0.0, None, 0));
    assert_eq!(m.per_class[2].f1, 0.0);
}

#[test]
fn all_tied_scores_give_one_half() {
    // roc_auc_score([0,1,0,1], [0.5]*4) == 0.5
    assert_eq!(roc_auc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
}

#[test]
fn bad_input_is_an_error_not_a_nan() {
    let two = names(2);
    let rows = binary_rows(&[0.1, 0.9]);
    let cases = [
        (
            classification_metrics(&[], &[], &[], &two, None),
            MetricsError::Empty,
        ),
        (
            classification_metrics(&[0, 1], &[0], &rows, &two, None),
            MetricsError::LengthMismatch {
                what: "predictions",
                got: 1,
                expected: 2,
            },
        ),
        (
            classification_metrics(&[0, 2], &[0, 1], &rows, &two, None),
            MetricsError::OutOfRange {
                what: "label",
                index: 1,
                value: 2,
                classes: 2,
            },
        ),
        (
            classification_metrics(&[0, 1], &[0, 1], &rows, &two, Some(5)),
            MetricsError::OutOfRange {
                what: "positive class",
                index: 0,
                value: 5,
                classes: 2,
            },
        ),
        (
            classification_metrics(&[0, 1], &[0, 1], &[vec![0.5], vec![0.5]], &two, None),
            MetricsError::ScoreWidth {
                index: 0,
                width: 1,
                classes: 2,
            },
        ),
        (
            classification_metrics(
                &[0, 1],
                &[0, 1],
                &[vec![0.5, 0.5], vec![f32::NAN, 0.5]],
                &two,
                None,
            ),
            MetricsError::NotFinite { index: 1, class: 0 },
        ),
        (
            classification_metrics(&[0], &[0], &[vec![]], &[], None),
            MetricsError::NoClasses,
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got.unwrap_err(), want);
    }
    assert_eq!(wilson_interval(0, 0), None);
}

#[test]
fn metrics_serialize() {
    let m = classification_metrics(
        &[0, 1],
        &[0, 1],
        &binary_rows(&[0.2, 0.8]),
        &names(2),
        Some(1),
    )
    .unwrap();
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["confusion"], serde_json::json!([[1, 0], [0, 1]]));
    assert_eq!(json["positive"]["name"], "c1");
}
