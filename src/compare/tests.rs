//! Decision rules, Holm across models, verdicts and the paired accuracy comparison.

use super::*;
use crate::data::postprocess::{Activation, Postprocess};
use crate::validate::eval::{DatasetInfo, EvalResult, SampleRecord};

fn criterion(
    rule: Rule,
    ci: Option<(f64, f64)>,
    change: Option<f64>,
    candidate: Option<f64>,
) -> Criterion {
    Criterion {
        name: "x".into(),
        unit: "ms".into(),
        baseline: None,
        candidate,
        change,
        ci: ci.map(|(lower, upper)| Interval {
            lower,
            upper,
            confidence: 0.95,
        }),
        test: Some(0),
        rule,
        status: Status::Inconclusive,
        detail: String::new(),
        needed_runs: None,
        method: None,
        reported_only: false,
    }
}

#[test]
fn latency_rule_needs_significance_and_a_ci_beyond_the_tolerance() {
    let rule = Rule::RatioAtMost { tolerance_pct: 5.0 };
    let cases = [
        // (ci, adjusted p, expected)
        ((0.98, 1.04), Some(0.001), Status::Pass), // significant but within tolerance
        ((1.06, 1.09), Some(0.001), Status::Fail), // significant and wholly beyond
        ((1.06, 1.09), Some(0.2), Status::Inconclusive), // beyond, but not significant after Holm
        ((1.01, 1.08), Some(0.001), Status::Inconclusive), // straddles the limit
        ((0.80, 0.90), Some(0.001), Status::Pass), // an improvement
        ((1.00, 1.05), None, Status::Pass),        // exactly at the limit passes
    ];
    for ((lower, upper), p, expected) in cases {
        let c = criterion(rule.clone(), Some((lower, upper)), None, None);
        assert_eq!(decide(&c, p, 0.05), expected, "ci {lower}..{upper} p {p:?}");
    }
    // Too few runs for an interval is inconclusive, as documented, not skipped (which would
    // let the verdict pass as if it had been judged).
    assert_eq!(
        decide(&criterion(rule, None, None, None), Some(0.0), 0.05),
        Status::Inconclusive
    );
}

#[test]
fn accuracy_floor_and_limit_rules() {
    let drop = Rule::DropAtMost { limit_pts: 0.5 };
    assert_eq!(
        decide(&criterion(drop.clone(), None, Some(-0.5), None), None, 0.05),
        Status::Pass
    );
    assert_eq!(
        decide(
            &criterion(drop.clone(), None, Some(-0.58), None),
            None,
            0.05
        ),
        Status::Fail
    );
    assert_eq!(
        decide(&criterion(drop, None, Some(2.0), None), None, 0.05),
        Status::Pass
    );
    let floor = Rule::LowerBoundAtLeast { floor: 0.85 };
    assert_eq!(
        decide(
            &criterion(floor.clone(), Some((0.86, 0.99)), None, None),
            None,
            0.05
        ),
        Status::Pass
    );
    assert_eq!(
        decide(
            &criterion(floor, Some((0.84, 0.99)), None, None),
            None,
            0.05
        ),
        Status::Fail
    );
    let at_most = Rule::AtMost { limit: 2.0 };
    assert_eq!(
        decide(
            &criterion(at_most.clone(), None, None, Some(2.5)),
            None,
            0.05
        ),
        Status::Fail
    );
    assert_eq!(
        decide(&criterion(at_most, None, None, None), None, 0.05),
        Status::Skipped
    );
    assert_eq!(
        decide(
            &criterion(Rule::Identical, None, None, Some(0.99)),
            None,
            0.05
        ),
        Status::Fail
    );
}

fn test_record(p: f64) -> TestRecord {
    TestRecord {
        name: "t".into(),
        statistic: 0.0,
        p_value: p,
        adjusted_p: None,
        ci: None,
        effect_size: None,
        effect: Effect::None,
        decision: Decision::Pending,
    }
}

fn model(
    name: &str,
    p_values: &[f64],
    criteria: Vec<Criterion>,
    with_baseline: bool,
) -> ModelComparison {
    let mut m = ModelComparison::failed(name, "m.onnx", String::new());
    m.error = None;
    m.reasons.clear();
    m.tests = p_values.iter().map(|p| test_record(*p)).collect();
    m.criteria = criteria;
    m.baseline_path = with_baseline.then(|| "baselines/m.json".into());
    m.latency_source = if with_baseline {
        LatencySource::CommittedBaseline
    } else {
        LatencySource::None
    };
    m
}

#[test]
fn holm_runs_across_every_test_of_every_model() {
    // python -c "from statsmodels.stats.multitest import multipletests
    // print(multipletests([0.01, 0.04, 0.03, 0.005], method='holm')[1])"
    // -> [0.03 0.06 0.06 0.02]   (statsmodels 0.15.0)
    let a = model("a", &[0.01, 0.04], vec![], true);
    let b = model("b", &[0.03, 0.005], vec![], true);
    let out = finalize(vec![a, b], 0.05, MissingBaseline::Fails, "t".into());
    let adjusted: Vec<f64> = out
        .models
        .iter()
        .flat_map(|m| m.tests.iter().map(|t| t.adjusted_p.unwrap()))
        .collect();
    for (got, want) in adjusted.iter().zip([0.03, 0.06, 0.06, 0.02]) {
        assert!((got - want).abs() < 1e-12, "{adjusted:?}");
    }
    assert_eq!(out.models[0].tests[1].decision, Decision::NotSignificant);
    assert_eq!(out.models[1].tests[1].decision, Decision::Significant);
}

#[test]
fn verdicts_fail_new_error_and_missing_baseline() {
    let failing = criterion(
        Rule::RatioAtMost { tolerance_pct: 5.0 },
        Some((1.2, 1.3)),
        None,
        None,
    );
    let out = finalize(
        vec![model("slow", &[1e-6], vec![failing], true)],
        0.05,
        MissingBaseline::Fails,
        "t".into(),
    );
    assert_eq!(out.verdict, Verdict::Fail);
    assert_eq!(out.models[0].criteria[0].status, Status::Fail);
    assert_eq!(out.models[0].reasons.len(), 1);

    let out = finalize(
        vec![model("fresh", &[], vec![], false)],
        0.05,
        MissingBaseline::Fails,
        "t".into(),
    );
    assert_eq!(
        out.verdict,
        Verdict::Fail,
        "a missing baseline fails without --allow-new"
    );
    assert!(out.models[0].reasons[0].contains("--allow-new"));
    let out = finalize(
        vec![model("fresh", &[], vec![], false)],
        0.05,
        MissingBaseline::IsNew,
        "t".into(),
    );
    assert_eq!(out.verdict, Verdict::New);

    let broken = ModelComparison::failed("broken", "x.onnx", "cannot read".into());
    let out = finalize(
        vec![model("ok", &[], vec![], true), broken],
        0.05,
        MissingBaseline::Fails,
        "t".into(),
    );
    assert_eq!(out.verdict, Verdict::Error);
    assert_eq!(out.models[0].verdict, Verdict::Pass);
}

fn eval(preds: &[usize], labels: &[usize]) -> EvalResult {
    let classes = vec!["benign".to_string(), "malignant".to_string()];
    let samples: Vec<SampleRecord> = preds
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (p, l))| SampleRecord {
            id: format!("s{i}"),
            label: *l,
            pred: *p,
            scores: vec![0.5, 0.5],
            slices: Default::default(),
        })
        .collect();
    let scores: Vec<Vec<f32>> = samples.iter().map(|s| s.scores.clone()).collect();
    let metrics =
        crate::validate::metrics::classification_metrics(labels, preds, &scores, &classes, Some(1))
            .unwrap();
    EvalResult {
        dataset: DatasetInfo {
            path: "d.csv".into(),
            n_samples: preds.len(),
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

#[test]
fn changed_samples_list_what_the_candidate_broke_first_with_label_scores_and_subgroups() {
    // s0 fixed (wrong -> right), s1 broken (right -> wrong), s2 unchanged, s3 broken.
    let labels = [0, 1, 1, 1];
    let mut base = eval(&[1, 1, 1, 1], &labels);
    let mut cand = eval(&[0, 0, 1, 0], &labels);
    for (i, s) in cand.samples.iter_mut().enumerate() {
        s.scores = if s.pred == 1 {
            vec![0.2, 0.8]
        } else {
            vec![0.7, 0.3]
        };
        s.slices = [("site".to_string(), format!("s{}", i % 2))].into();
    }
    for s in &mut base.samples {
        s.scores = vec![0.4, 0.6];
        s.slices = cand.samples[s.id[1..].parse::<usize>().unwrap()]
            .slices
            .clone();
    }
    let mut tests = Vec::new();
    let (acc, _) = compare_accuracy(&base, &cand, &Criteria::default(), &mut tests).unwrap();
    let order: Vec<(&str, super::Flip)> = acc
        .changed
        .iter()
        .map(|c| (c.id.as_str(), c.flip()))
        .collect();
    assert_eq!(
        order,
        [
            ("s1", super::Flip::RightToWrong),
            ("s3", super::Flip::RightToWrong),
            ("s0", super::Flip::WrongToRight)
        ]
    );
    let s1 = &acc.changed[0];
    // The label (malignant, 1) had 0.6 from the baseline and 0.3 from the candidate.
    assert_eq!(s1.baseline_label_score, Some(f64::from(0.6f32)));
    assert_eq!(s1.candidate_label_score, Some(f64::from(0.3f32)));
    assert_eq!(s1.slices["site"], "s1");
    // s0's label is benign (0): the candidate gave it 0.7.
    assert_eq!(
        acc.changed[2].candidate_label_score,
        Some(f64::from(0.7f32))
    );
}

#[test]
fn paired_accuracy_counts_discordant_samples_and_lists_changes() {
    let labels = [1, 1, 1, 1, 0, 0, 0, 0];
    let base = eval(&[1, 1, 1, 1, 0, 0, 0, 1], &labels);
    let cand = eval(&[1, 1, 0, 0, 0, 0, 0, 0], &labels);
    let mut tests = Vec::new();
    let (acc, criteria) = compare_accuracy(&base, &cand, &Criteria::default(), &mut tests).unwrap();
    assert_eq!(
        (acc.baseline_only_correct, acc.candidate_only_correct),
        (2, 1)
    );
    assert_eq!(acc.changed.len(), 3);
    assert_eq!(acc.changed[0].id, "s2");
    assert_eq!(acc.changed[0].baseline, "malignant");
    assert!((acc.agreement_rate - 5.0 / 8.0).abs() < 1e-12);
    assert!(
        (acc.baseline_recall - 1.0).abs() < 1e-12 && (acc.candidate_recall - 0.5).abs() < 1e-12
    );
    // McNemar exact on (b=2, c=1): binomial two-sided p = 1.0; on positives (b=2, c=0): p = 0.5.
    // python -c "from statsmodels.stats.contingency_tables import mcnemar
    // print(mcnemar([[0,2],[1,0]],exact=True).pvalue, mcnemar([[0,2],[0,0]],exact=True).pvalue)" -> 1.0 0.5
    assert!((tests[0].p_value - 1.0).abs() < 1e-12);
    assert!((tests[1].p_value - 0.5).abs() < 1e-12);
    let recall = criteria
        .iter()
        .find(|c| c.name.starts_with("recall"))
        .unwrap();
    assert!((recall.change.unwrap() + 50.0).abs() < 1e-9);
}

#[test]
fn paired_accuracy_refuses_a_different_dataset() {
    let base = eval(&[1, 0], &[1, 0]);
    let mut cand = eval(&[1, 0], &[1, 0]);
    cand.samples[1].id = "other".into();
    let err = compare_accuracy(&base, &cand, &Criteria::default(), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("sample other is not in the baseline"), "{err}");
}

#[test]
fn latency_comparison_detects_a_clear_slowdown_and_skips_other_hardware() {
    let base: Vec<f64> = (0..400).map(|i| 1.0 + (i % 17) as f64 * 0.001).collect();
    let slow: Vec<f64> = base.iter().map(|v| v * 1.2).collect();
    let input = LatencyInput {
        baseline_ms: &base,
        candidate_ms: &slow,
        source: LatencySource::SameRunnerAb,
        seed: 3,
        looks: 1,
        sessions: &[],
        block_runs: 0,
        look: None,
    };
    let mut tests = Vec::new();
    let (criteria, pair) = compare_latency(&input, &Criteria::default(), &mut tests);
    assert_eq!(criteria.len(), 3);
    assert_eq!(tests.len(), 4, "MWU, two exceedance tests, Welch");
    let p50 = &criteria[0];
    assert!(p50.ci.unwrap().lower > 1.15, "{:?}", p50.ci);
    let model = model(
        "m",
        &tests.iter().map(|t| t.p_value).collect::<Vec<_>>(),
        criteria,
        true,
    );
    let out = finalize(
        vec![ModelComparison {
            latency: pair,
            tests,
            ..model
        }],
        0.05,
        MissingBaseline::Fails,
        "t".into(),
    );
    assert_eq!(out.models[0].criteria[0].status, Status::Fail);

    let reason = "different CPU".to_string();
    let input = LatencyInput {
        baseline_ms: &base,
        candidate_ms: &slow,
        source: LatencySource::NotComparable { reason },
        seed: 3,
        looks: 1,
        sessions: &[],
        block_runs: 0,
        look: None,
    };
    let (criteria, pair) = compare_latency(&input, &Criteria::default(), &mut Vec::new());
    assert!(pair.is_none());
    assert!(criteria
        .iter()
        .all(|c| c.status == Status::Skipped && c.detail.contains("different CPU")));
}

#[test]
fn committed_comparison_schema_matches_the_types() {
    let committed = include_str!("../../schemas/comparison.schema.json");
    assert!(
        committed == json_schema(),
        "schemas/comparison.schema.json is stale: run `cargo run -- schema comparison > schemas/comparison.schema.json`"
    );
}

#[test]
fn an_unsettled_latency_passes_by_default_and_fails_where_the_model_asks() {
    let straddling = || {
        let mut c = criterion(
            Rule::RatioAtMost { tolerance_pct: 2.0 },
            Some((1.00, 1.04)),
            Some(2.0),
            None,
        );
        c.name = "p50 latency".into();
        c
    };
    let verdict = |policy: Inconclusive| {
        let mut m = model("m", &[0.01], vec![straddling()], true);
        m.inconclusive = policy;
        let out = finalize(vec![m], 0.05, MissingBaseline::Fails, "t".into());
        let m = &out.models[0];
        assert_eq!(m.criteria[0].status, Status::Inconclusive);
        (m.verdict, m.reasons.join("; "))
    };
    assert_eq!(verdict(Inconclusive::Pass).0, Verdict::Pass);
    let (fail, why) = verdict(Inconclusive::Fail);
    assert_eq!(fail, Verdict::Fail);
    assert!(why.contains("inconclusive = \"fail\""), "{why}");
    // An unresolved tail never blocks, whatever the policy: it was never judged.
    let mut tail = straddling();
    tail.status = Status::Unresolved;
    let mut m = model("m", &[0.01], vec![tail], true);
    m.inconclusive = Inconclusive::Fail;
    let out = finalize(vec![m], 0.05, MissingBaseline::Fails, "t".into());
    assert_eq!(out.models[0].verdict, Verdict::Pass);
    assert_eq!(out.models[0].criteria[0].status, Status::Unresolved);
}
