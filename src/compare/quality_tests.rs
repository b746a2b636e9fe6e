//! Gate-level tests of the quality criteria: two evaluations built record by record, compared,
//! finalized, and the verdict read back, without running a model.

use std::collections::BTreeMap;

use super::super::*;
use crate::data::postprocess::{Activation, Postprocess};
use crate::files::config::Criteria;
use crate::validate::eval::{DatasetInfo, EvalResult, SampleRecord};

/// A binary record: `score` is the positive class's probability.
fn rec(id: usize, label: usize, pred: usize, score: f32, site: &str) -> SampleRecord {
    SampleRecord {
        id: format!("s{id}"),
        label,
        pred,
        scores: vec![1.0 - score, score],
        slices: BTreeMap::from([("site".to_string(), site.to_string())]),
    }
}

fn eval_of(samples: Vec<SampleRecord>) -> EvalResult {
    let classes = vec!["benign".to_string(), "malignant".to_string()];
    let labels: Vec<usize> = samples.iter().map(|s| s.label).collect();
    let preds: Vec<usize> = samples.iter().map(|s| s.pred).collect();
    let scores: Vec<Vec<f32>> = samples.iter().map(|s| s.scores.clone()).collect();
    let metrics = crate::validate::metrics::classification_metrics(
        &labels,
        &preds,
        &scores,
        &classes,
        Some(1),
    )
    .unwrap();
    EvalResult {
        dataset: DatasetInfo {
            path: "d.csv".into(),
            n_samples: samples.len(),
            classes,
        },
        preprocess: None,
        postprocess: Postprocess {
            activation: Activation::Sigmoid,
            threshold: 0.5,
            class_names: None,
            positive_class: None,
        },
        positive_class: Some(1),
        batch_size: 8,
        metrics,
        stages: crate::validate::eval::stage_breakdown([std::time::Duration::ZERO; 3], 1.0),
        throughput_samples_per_s: 0.0,
        wall_time_s: 0.0,
        samples,
        slices: vec![],
    }
}

/// Judges `cand` against `base` as the gate does (paired criteria, the candidate's own floors,
/// Holm across every test) and returns the finalized model.
fn judge(base: &EvalResult, cand: &EvalResult, criteria: &Criteria) -> ModelComparison {
    let mut tests = Vec::new();
    let (accuracy, mut list) = compare_accuracy(base, cand, criteria, &mut tests).unwrap();
    list.extend(recall_floor(cand, criteria));
    list.extend(candidate_criteria(cand, criteria));
    let mut m = ModelComparison::failed("m", "m.onnx", String::new());
    m.error = None;
    m.baseline_path = Some("baselines/m.json".into());
    m.latency_source = LatencySource::CommittedBaseline;
    m.accuracy = Some(accuracy);
    m.criteria = list;
    m.tests = tests;
    finalize(vec![m], 0.05, MissingBaseline::Fails, "t".into())
        .models
        .remove(0)
}

fn failing(m: &ModelComparison) -> Vec<&str> {
    m.criteria
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.name.as_str())
        .collect()
}

fn find<'a>(m: &'a ModelComparison, name: &str) -> &'a Criterion {
    m.criteria
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no criterion {name}: {:#?}", m.criteria))
}

/// Sites A and B with 40 positives and 40 negatives each, and site C with 10 of each. The
/// baseline misses 6 of A's positives; the candidate finds those but misses 6 of B's, so overall
/// recall is unchanged while B's drops 15 points. In C both miss `c_missed` positives (baseline)
/// and the candidate misses all 10.
fn shifted_sites() -> (EvalResult, EvalResult) {
    let (mut base, mut cand) = (vec![], vec![]);
    let mut id = 0;
    let mut push = |site: &str, label: usize, b: usize, c: usize| {
        let score = |p: usize| if p == 1 { 0.9 } else { 0.1 };
        base.push(rec(id, label, b, score(b), site));
        cand.push(rec(id, label, c, score(c), site));
        id += 1;
    };
    for i in 0..40 {
        push("A", 1, usize::from(i >= 6), 1);
        push("A", 0, 0, 0);
        push("B", 1, 1, usize::from(i >= 6));
        push("B", 0, 0, 0);
    }
    for _ in 0..10 {
        push("C", 1, 1, 0);
        push("C", 0, 0, 0);
    }
    (eval_of(base), eval_of(cand))
}

#[test]
fn one_subgroup_losing_recall_fails_on_that_subgroup_alone() {
    let (base, cand) = shifted_sites();
    // Site C's 10 positives are all lost too, which the overall numbers then show: let the
    // overall drops through so only the subgroups decide.
    let criteria = Criteria {
        max_recall_drop_pts: 15.0,
        max_accuracy_drop_pts: 15.0,
        slice_max_recall_drop_pts: Some(5.0),
        ..Criteria::default()
    };
    let m = judge(&base, &cand, &criteria);
    assert_eq!(
        failing(&m),
        ["recall (malignant) in site=B"],
        "{:#?}",
        m.criteria
    );
    assert_eq!(m.verdict, Verdict::Fail);
    let b = find(&m, "recall (malignant) in site=B");
    assert!((b.change.unwrap() + 15.0).abs() < 1e-9);
    // Its McNemar test is in the model's tests, adjusted by Holm with every other one.
    let test = &m.tests[b.test.unwrap()];
    assert!(test.name.contains("site=B") && test.adjusted_p.unwrap() >= test.p_value);
    // Site C (10 positives) lost everything but is below min_slice_size: reported, not judged.
    let c = find(&m, "recall (malignant) in site=C");
    assert_eq!(c.status, Status::Skipped);
    assert!(
        c.detail.contains("fewer than min_slice_size = 30"),
        "{}",
        c.detail
    );
    let slices = &m.accuracy.as_ref().unwrap().slices;
    assert_eq!(slices.len(), 3);
    assert!(slices[0].judged && slices[1].judged && !slices[2].judged);
    assert_eq!(slices[2].candidate.positive_recall, Some(0.0));

    // Without the subgroup criterion the same change passes.
    let criteria = Criteria {
        slice_max_recall_drop_pts: None,
        ..criteria
    };
    assert_eq!(judge(&base, &cand, &criteria).verdict, Verdict::Pass);
}

#[test]
fn a_subgroup_recall_floor_fails_alone() {
    let (base, cand) = shifted_sites();
    let criteria = Criteria {
        max_recall_drop_pts: 15.0,
        max_accuracy_drop_pts: 15.0,
        slice_min_recall: Some(0.8),
        ..Criteria::default()
    };
    let m = judge(&base, &cand, &criteria);
    // B: 34 of 40, Wilson lower bound 0.709 < 0.8; A: 40 of 40, lower bound 0.912.
    assert_eq!(failing(&m), ["minimum recall (malignant) in site=B"]);
    assert_eq!(
        find(&m, "minimum recall (malignant) in site=C").status,
        Status::Skipped
    );
    let a = find(&m, "minimum recall (malignant) in site=A");
    assert_eq!(a.status, Status::Pass);
}

/// 40 positives and 40 negatives; both models predict the same (4 false negatives, 4 false
/// positives), but the candidate ranks its false positives above every true positive.
fn same_predictions_worse_ranking() -> (EvalResult, EvalResult) {
    let (mut base, mut cand) = (vec![], vec![]);
    for i in 0..40 {
        let (pred, b, c) = if i < 4 {
            (0, 0.49, 0.01)
        } else {
            (1, 0.9, 0.6)
        };
        base.push(rec(i, 1, pred, b, "A"));
        cand.push(rec(i, 1, pred, c, "A"));
        let (pred, b, c) = if i < 4 {
            (1, 0.51, 0.99)
        } else {
            (0, 0.1, 0.4)
        };
        base.push(rec(100 + i, 0, pred, b, "A"));
        cand.push(rec(100 + i, 0, pred, c, "A"));
    }
    (eval_of(base), eval_of(cand))
}

#[test]
fn an_auroc_drop_fails_alone_and_needs_the_baselines_scores() {
    let (base, cand) = same_predictions_worse_ranking();
    let criteria = Criteria {
        max_auroc_drop_pts: Some(2.0),
        ..Criteria::default()
    };
    let m = judge(&base, &cand, &criteria);
    assert_eq!(failing(&m), ["AUROC (malignant)"], "{:#?}", m.criteria);
    let c = find(&m, "AUROC (malignant)");
    // Baseline AUC (36*40 + 4*36)/1600 = 0.99, candidate 36*36/1600 = 0.81.
    assert!(
        (c.baseline.unwrap() - 99.0).abs() < 1e-9 && (c.candidate.unwrap() - 81.0).abs() < 1e-9
    );
    let test = &m.tests[c.test.unwrap()];
    assert!(
        test.name.starts_with("DeLong") && test.p_value < 0.001,
        "{test:?}"
    );

    let mut stripped = base.clone();
    for s in &mut stripped.samples {
        s.scores.clear();
    }
    let m = judge(&stripped, &cand, &criteria);
    let c = find(&m, "AUROC (malignant)");
    assert_eq!(c.status, Status::Skipped);
    assert!(
        c.detail.contains("baseline lacks per-class scores"),
        "{}",
        c.detail
    );
    assert_eq!(m.verdict, Verdict::Pass);
}

/// 40 positives, 160 negatives; the candidate raises 20 extra false alarms and keeps every
/// positive, so recall holds while precision and specificity fall.
fn more_false_alarms() -> (EvalResult, EvalResult) {
    let (mut base, mut cand) = (vec![], vec![]);
    for i in 0..40 {
        base.push(rec(i, 1, 1, 0.9, "A"));
        cand.push(rec(i, 1, 1, 0.9, "A"));
    }
    for i in 0..160 {
        base.push(rec(100 + i, 0, 0, 0.1, "A"));
        let p = usize::from(i < 20);
        cand.push(rec(100 + i, 0, p, if p == 1 { 0.6 } else { 0.1 }, "A"));
    }
    (eval_of(base), eval_of(cand))
}

#[test]
fn precision_and_specificity_drops_each_fail_alone() {
    let (base, cand) = more_false_alarms();
    let lenient = Criteria {
        max_accuracy_drop_pts: 20.0,
        ..Criteria::default()
    };
    assert_eq!(judge(&base, &cand, &lenient).verdict, Verdict::Pass);

    let m = judge(
        &base,
        &cand,
        &Criteria {
            max_precision_drop_pts: Some(5.0),
            ..lenient.clone()
        },
    );
    assert_eq!(failing(&m), ["precision (malignant)"]);
    let c = find(&m, "precision (malignant)");
    // 40/40 -> 40/60.
    assert!((c.change.unwrap() - (40.0 / 60.0 - 1.0) * 100.0).abs() < 1e-9);
    let test = &m.tests[c.test.unwrap()];
    assert!(
        test.name.starts_with("paired bootstrap") && test.p_value < 0.01,
        "{test:?}"
    );

    let m = judge(
        &base,
        &cand,
        &Criteria {
            max_specificity_drop_pts: Some(5.0),
            ..lenient
        },
    );
    assert_eq!(failing(&m), ["specificity (not malignant)"]);
    let c = find(&m, "specificity (not malignant)");
    assert!((c.change.unwrap() + 12.5).abs() < 1e-9, "160 -> 140 of 160");
    // McNemar exact on the negatives: b = 20, c = 0.
    // python -c "from statsmodels.stats.contingency_tables import mcnemar
    // print(mcnemar([[140,20],[0,0]],exact=True).pvalue)" -> 1.9073486328125e-06 (statsmodels 0.15)
    let test = &m.tests[c.test.unwrap()];
    assert!(
        (test.p_value - 1.9073486328125e-06).abs() < 1e-15,
        "{test:?}"
    );
}

#[test]
fn a_class_recall_floor_and_a_calibration_limit_each_fail_alone() {
    let (base, cand) = more_false_alarms();
    let lenient = Criteria {
        max_accuracy_drop_pts: 20.0,
        ..Criteria::default()
    };
    // benign: 140 of 160 (Wilson lower bound 0.815); malignant: 40 of 40 (0.912).
    let m = judge(
        &base,
        &cand,
        &Criteria {
            min_class_recall: Some(0.85),
            ..lenient.clone()
        },
    );
    assert_eq!(failing(&m), ["minimum recall of class benign"]);
    assert_eq!(
        find(&m, "minimum recall of class malignant").status,
        Status::Pass
    );

    // The candidate's 20 false alarms at confidence 0.6 are all wrong: ECE = 20/200 * 0.6 plus
    // the 180 right ones at 0.9, 10 points under-confident: 0.06 + 0.09 = 0.15.
    let m = judge(
        &base,
        &cand,
        &Criteria {
            max_ece: Some(0.1),
            ..lenient
        },
    );
    assert_eq!(failing(&m), ["expected calibration error"]);
    let ece = find(&m, "expected calibration error").candidate.unwrap();
    assert!((ece - 0.15).abs() < 1e-6, "{ece}");
}

#[test]
fn multiclass_results_skip_the_binary_criteria_with_the_reason() {
    let (base, cand) = more_false_alarms();
    let widen = |mut e: EvalResult| {
        e.dataset.classes.push("other".into());
        for s in &mut e.samples {
            s.scores.push(0.0);
        }
        e.positive_class = None;
        e
    };
    let (base, cand) = (widen(base), widen(cand));
    let criteria = Criteria {
        max_accuracy_drop_pts: 20.0,
        max_recall_drop_pts: 20.0,
        max_auroc_drop_pts: Some(1.0),
        max_precision_drop_pts: Some(1.0),
        max_specificity_drop_pts: Some(1.0),
        ..Criteria::default()
    };
    let m = judge(&base, &cand, &criteria);
    for name in ["AUROC", "precision", "specificity"] {
        let c = find(&m, name);
        assert_eq!(c.status, Status::Skipped);
        assert!(c.detail.contains("two classes only"), "{}", c.detail);
    }
}

#[test]
fn results_with_too_many_subgroups_are_refused() {
    let (mut base, mut cand) = shifted_sites();
    for e in [&mut base, &mut cand] {
        for (i, s) in e.samples.iter_mut().enumerate() {
            s.slices.insert("id".into(), format!("v{i}"));
        }
    }
    let err = compare_accuracy(&base, &cand, &Criteria::default(), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"id\" has 180 distinct values"), "{err}");
    let criteria = Criteria {
        slice_min_recall: Some(0.5),
        ..Criteria::default()
    };
    let floors = candidate_criteria(&cand, &criteria);
    assert_eq!(floors.len(), 1);
    assert_eq!(floors[0].status, Status::Fail);
}

#[test]
fn a_recall_floor_no_sample_size_can_meet_says_how_many_it_needs() {
    // 20 positives, every one found: the Wilson lower bound is 0.839, under a 0.85 floor.
    let samples: Vec<SampleRecord> = (0..40)
        .map(|i| {
            let label = usize::from(i < 20);
            rec(i, label, label, if label == 1 { 0.9 } else { 0.1 }, "A")
        })
        .collect();
    let eval = eval_of(samples);
    let criteria = Criteria {
        min_recall: Some(0.85),
        min_class_recall: Some(0.85),
        ..Criteria::default()
    };
    let m = judge(&eval, &eval, &criteria);
    for name in [
        "minimum recall (malignant)",
        "minimum recall of class malignant",
    ] {
        let c = find(&m, name);
        assert_eq!(c.status, Status::Fail, "{name}");
        assert!(
            c.detail.contains("cannot be met with 20 samples")
                && c.detail.contains("needs at least 22, or lower it to 0.838"),
            "{name}: {}",
            c.detail
        );
    }
    // 22 positives are enough, and the sentence goes away once the floor can be met.
    let met = Criteria {
        min_recall: Some(0.83),
        ..Criteria::default()
    };
    let m = judge(&eval, &eval, &met);
    let c = find(&m, "minimum recall (malignant)");
    assert_eq!(c.status, Status::Pass);
    assert!(!c.detail.contains("cannot be met"), "{}", c.detail);
}
