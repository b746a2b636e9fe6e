//! One plain sentence per failed or inconclusive criterion, saying why in words a reviewer reads
//! at a glance: what moved, by how much, against which limit, and on what evidence.
//!
//! The sentence is built only from the criterion's own data (its rule, values, interval and the
//! adjusted p-value of its test), so it can never disagree with the verdict. A passed or skipped
//! criterion gets none, and only an inconclusive one may say how many more runs would settle it.

use super::compare::{Criterion, LatencyPair, Rule, Status, TestRecord};
use crate::base::format;

/// Why `c` failed or is inconclusive, in one sentence; `None` for a pass or a skip.
/// `test` is the test behind it (with its Holm-adjusted p-value), `significance` the model's
/// level, and `latency` the timed quantiles, used to turn more runs into minutes.
pub fn why(
    c: &Criterion,
    test: Option<&TestRecord>,
    significance: f64,
    latency: Option<&LatencyPair>,
) -> Option<String> {
    if !matches!(c.status, Status::Fail | Status::Inconclusive) {
        return None;
    }
    let adjusted = test.and_then(|t| t.adjusted_p).filter(|p| p.is_finite());
    let sentence = match &c.rule {
        Rule::RatioAtMost { tolerance_pct } => {
            ratio_sentence(c, *tolerance_pct, adjusted, significance, latency)
        }
        Rule::DropAtMost { limit_pts } => drop_sentence(c, *limit_pts, test, adjusted),
        Rule::LowerBoundAtLeast { floor } => match c.ci {
            Some(ci) => format!(
                "the {} % Wilson lower bound of {} is {}, below the floor of {} (measured {}); \
                 this is a floor on the lower bound of the interval, not a significance test, \
                 so it fails however the baseline did",
                trim(ci.confidence * 100.0),
                c.name,
                format::percent(ci.lower),
                format::percent(*floor),
                format::value(c.candidate, &c.unit),
            ),
            None => format!("{} could not be measured: {}", c.name, c.detail),
        },
        Rule::AtMost { limit } => match c.candidate {
            Some(v) => format!(
                "{} is {}, above the limit of {}",
                c.name,
                format::value(Some(v), &c.unit),
                format::value(Some(*limit), &c.unit)
            ),
            None => format!("{} could not be measured: {}", c.name, c.detail),
        },
        Rule::AtLeast { floor } | Rule::RecallAtLeast { floor } => match c.candidate {
            Some(v) => format!(
                "{} is {}, below the floor of {}",
                c.name,
                format::value(Some(v), &c.unit),
                format::value(Some(*floor), &c.unit)
            ),
            None => format!("{} could not be measured: {}", c.name, c.detail),
        },
        Rule::Identical => format!(
            "the predictions must not change, but {} ({} agree)",
            c.detail,
            format::value(c.candidate, &c.unit)
        ),
        Rule::Required => format!("{} is missing: {}", c.name, c.detail),
    };
    Some(sentence)
}

/// A latency quantile judged on the candidate/baseline ratio's interval.
fn ratio_sentence(
    c: &Criterion,
    tolerance_pct: f64,
    adjusted: Option<f64>,
    significance: f64,
    latency: Option<&LatencyPair>,
) -> String {
    let limit = format!("{} % limit", trim(tolerance_pct));
    let Some(ci) = c.ci else {
        return format!("{}: {}", c.name, c.detail);
    };
    let pct = |ratio: f64| format!("{} %", format::signed((ratio - 1.0) * 100.0, 1));
    let interval = format!("{} to {}", pct(ci.lower), pct(ci.upper));
    // 98.75 % (a sequential look's level) stays 98.75, not a rounded 99.
    let level = format!("{} % CI", trim(ci.confidence * 100.0));
    let change = c
        .change
        .unwrap_or((ci.lower + ci.upper) / 2.0 * 100.0 - 100.0);
    let moved = if change >= 0.0 { "rose" } else { "fell" };
    if c.status == Status::Fail {
        return format!(
            "{} {moved} {} % ({level} {interval}), above the {limit} ({} after Holm)",
            c.name,
            format::signed(change.abs(), 1).trim_start_matches('+'),
            p_text(adjusted),
        );
    }
    let upper_limit = 1.0 + tolerance_pct / 100.0;
    let mut out = if ci.lower > upper_limit {
        format!(
            "inconclusive: the interval ({interval}) lies above the {limit}, but the test is not \
             significant after Holm ({}, needs < {significance})",
            p_text(adjusted)
        )
    } else {
        format!("inconclusive: the interval ({interval}) straddles the {limit}")
    };
    if let Some(advice) = c.method.as_ref().and_then(|m| m.advice.as_deref()) {
        out.push_str(&format!("; {advice}"));
        return out;
    }
    let raise = "raise max_time_s under [models.bench]";
    let done = latency.map_or(0, |l| l.candidate_runs.max(l.baseline_runs)) as u64;
    match c
        .needed_runs
        .map(|n| n.saturating_sub(done))
        .filter(|&n| n > 0)
    {
        Some(more) => {
            let per_run_ms = latency
                .map(|l| l.baseline_ms[0].max(0.0) + l.candidate_ms[0].max(0.0))
                .unwrap_or(0.0);
            let minutes = more as f64 * per_run_ms / 60_000.0;
            let time = if per_run_ms <= 0.0 {
                String::new()
            } else if minutes < 1.0 {
                " (under a minute at the measured speed)".into()
            } else {
                format!(" (~{minutes:.0} minutes at the measured speed)")
            };
            out.push_str(&format!(
                "; about {more} more runs per model{time} would settle it — {raise}"
            ));
        }
        None => out.push_str(&format!("; more runs would narrow it — {raise}")),
    }
    out
}

/// Accuracy or recall judged on the observed drop in points.
fn drop_sentence(
    c: &Criterion,
    limit_pts: f64,
    test: Option<&TestRecord>,
    adjusted: Option<f64>,
) -> String {
    let (Some(base), Some(cand)) = (c.baseline, c.candidate) else {
        return format!("{}: {}", c.name, c.detail);
    };
    let drop = base - cand;
    let test_name = test
        .map(|t| t.name.split(" (").next().unwrap_or(&t.name).to_string())
        .unwrap_or_default();
    let evidence = match (adjusted, test_name.as_str()) {
        (Some(p), name) if !name.is_empty() => format!(
            " ({name} {} after Holm; the drop on this test set decides, the test says \
             whether it is likely to hold beyond it)",
            p_text(Some(p))
        ),
        _ => String::new(),
    };
    format!(
        "{} fell from {} to {}; the drop ({:.2} points) is above the {} points allowed{evidence}",
        c.name,
        format::value(Some(base), "%"),
        format::value(Some(cand), "%"),
        drop,
        trim(limit_pts),
    )
}

/// `p = 0.004`, `p < 0.001`.
fn p_text(p: Option<f64>) -> String {
    match format::p_value(p) {
        text if text.starts_with('<') => format!("p {text}"),
        text => format!("p = {text}"),
    }
}

/// `5`, `2.5`: a limit from the config as written, without trailing zeros.
fn trim(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Interval;

    fn ci(lower: f64, upper: f64) -> Option<Interval> {
        Some(Interval {
            lower,
            upper,
            confidence: 0.95,
        })
    }

    fn criterion(name: &str, unit: &str, rule: Rule, status: Status) -> Criterion {
        Criterion {
            name: name.into(),
            unit: unit.into(),
            baseline: None,
            candidate: None,
            change: None,
            ci: None,
            test: Some(0),
            rule,
            status,
            detail: "detail from compare".into(),
            needed_runs: None,
            method: None,
            reported_only: false,
        }
    }

    fn test_with(name: &str, adjusted: f64) -> TestRecord {
        TestRecord {
            name: name.into(),
            statistic: 0.0,
            p_value: adjusted,
            adjusted_p: Some(adjusted),
            ci: None,
            effect_size: None,
            effect: crate::compare::Effect::None,
            decision: crate::compare::Decision::Pending,
        }
    }

    fn pair(runs: usize) -> LatencyPair {
        LatencyPair {
            baseline_ms: [2.0, 3.0, 4.0],
            candidate_ms: [4.0, 5.0, 6.0],
            baseline_runs: runs,
            candidate_runs: runs,
            baseline_ecdf_ms: vec![],
            candidate_ecdf_ms: vec![],
        }
    }

    #[test]
    fn pass_and_skip_have_no_sentence() {
        for status in [Status::Pass, Status::Skipped] {
            let c = criterion("p95 latency", "ms", Rule::Identical, status);
            assert_eq!(why(&c, None, 0.05, None), None);
        }
    }

    #[test]
    fn latency_failure_says_how_much_it_rose_against_the_limit() {
        let mut c = criterion(
            "p95 latency",
            "ms",
            Rule::RatioAtMost { tolerance_pct: 5.0 },
            Status::Fail,
        );
        (c.change, c.ci, c.needed_runs) = (Some(7.3), ci(1.051, 1.096), Some(99));
        let got = why(&c, Some(&test_with("exceedance", 0.0004)), 0.05, None).unwrap();
        assert_eq!(
            got,
            "p95 latency rose 7.3 % (95 % CI +5.1 % to +9.6 %), above the 5 % limit \
             (p < 0.001 after Holm)"
        );
        assert!(!got.contains("settle"), "{got}");
    }

    #[test]
    fn inconclusive_latency_says_how_many_more_runs_and_minutes() {
        let mut c = criterion(
            "p99 latency",
            "ms",
            Rule::RatioAtMost { tolerance_pct: 5.0 },
            Status::Inconclusive,
        );
        (c.change, c.ci, c.needed_runs) = (Some(3.8), ci(0.988, 1.089), Some(5000));
        let got = why(
            &c,
            Some(&test_with("exceedance", 0.2)),
            0.05,
            Some(&pair(2000)),
        )
        .unwrap();
        // 3000 more runs of 2 ms + 4 ms each: 18 s... of 6 ms per pair = 18 000 ms = 0.3 min.
        assert_eq!(
            got,
            "inconclusive: the interval (-1.2 % to +8.9 %) straddles the 5 % limit; about 3000 \
             more runs per model (under a minute at the measured speed) would settle it — raise \
             max_time_s under [models.bench]"
        );
        c.needed_runs = Some(32_000);
        let got = why(&c, None, 0.05, Some(&pair(2000))).unwrap();
        // 30 000 × 6 ms = 180 s = 3 minutes.
        assert!(
            got.contains("about 30000 more runs per model (~3 minutes"),
            "{got}"
        );
    }

    #[test]
    fn inconclusive_above_the_limit_names_the_test_that_was_not_significant() {
        let mut c = criterion(
            "p99 latency",
            "ms",
            Rule::RatioAtMost {
                tolerance_pct: 10.0,
            },
            Status::Inconclusive,
        );
        (c.change, c.ci) = (Some(14.0), ci(1.11, 1.17));
        let got = why(&c, Some(&test_with("exceedance", 0.093)), 0.05, None).unwrap();
        assert!(
            got.starts_with("inconclusive: the interval (+11.0 % to +17.0 %) lies above the 10 % limit, but the test is not significant after Holm (p = 0.093"),
            "{got}"
        );
        assert!(got.contains("more runs would narrow it"), "{got}");
    }

    #[test]
    fn drop_failure_gives_both_values_the_drop_and_the_test() {
        let mut c = criterion(
            "recall",
            "%",
            Rule::DropAtMost { limit_pts: 2.0 },
            Status::Fail,
        );
        (c.baseline, c.candidate, c.change) = (Some(92.66), Some(88.07), Some(-4.59));
        let test = test_with("McNemar exact (recall of malignant)", 0.004);
        let got = why(&c, Some(&test), 0.05, None).unwrap();
        assert!(
            got.starts_with(
                "recall fell from 92.66 % to 88.07 %; the drop (4.59 points) is above the 2 \
                 points allowed (McNemar exact p = 0.004 after Holm"
            ),
            "{got}"
        );
    }

    #[test]
    fn wilson_floor_failure_with_p_one_says_it_is_a_floor_not_a_test() {
        let mut c = criterion(
            "minimum recall (malignant)",
            "fraction",
            Rule::LowerBoundAtLeast { floor: 0.9 },
            Status::Fail,
        );
        (c.candidate, c.ci, c.test) = (Some(0.9302), ci(0.8139, 0.976), None);
        let got = why(&c, Some(&test_with("unrelated", 1.0)), 0.05, None).unwrap();
        assert!(
            got.starts_with(
                "the 95 % Wilson lower bound of minimum recall (malignant) is 81.39 %, below the \
                 floor of 90.00 % (measured 93.02 %); this is a floor on the lower bound"
            ),
            "{got}"
        );
        assert!(!got.contains("1.000"), "{got}");
    }

    #[test]
    fn absolute_limits_and_floors_name_value_and_limit() {
        let mut c = criterion(
            "p95 latency limit",
            "ms",
            Rule::AtMost { limit: 1.0 },
            Status::Fail,
        );
        c.candidate = Some(1.482);
        assert_eq!(
            why(&c, None, 0.05, None).unwrap(),
            "p95 latency limit is 1.482 ms, above the limit of 1.000 ms"
        );
        let mut c = criterion(
            "minimum macro recall",
            "fraction",
            Rule::RecallAtLeast { floor: 0.95 },
            Status::Fail,
        );
        c.candidate = Some(0.9375);
        assert_eq!(
            why(&c, None, 0.05, None).unwrap(),
            "minimum macro recall is 93.75 %, below the floor of 95.00 %"
        );
    }

    #[test]
    fn identical_and_required_failures_repeat_what_compare_found() {
        let mut c = criterion(
            "identical predictions",
            "fraction",
            Rule::Identical,
            Status::Fail,
        );
        (c.candidate, c.detail) = (Some(0.993), "7 of 1000 predictions changed".into());
        assert_eq!(
            why(&c, None, 0.05, None).unwrap(),
            "the predictions must not change, but 7 of 1000 predictions changed (99.30 % agree)"
        );
        let c = criterion("evaluation", "", Rule::Required, Status::Fail);
        assert_eq!(
            why(&c, None, 0.05, None).unwrap(),
            "evaluation is missing: detail from compare"
        );
    }
}
