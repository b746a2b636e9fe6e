//! The latency half of a comparison: two samples of run times, judged at p50, p95 and p99.
//!
//! Each percentile gets a block-bootstrap 95 % confidence interval of the candidate/baseline ratio and a
//! test: Mann-Whitney U for the median (with the Hodges-Lehmann shift as its effect size), and a
//! two-sample exceedance test for the tails. Welch's t on log latencies and Cohen's d describe the
//! shift of the mean. Nothing is decided here; `finalize` decides once the p-values are corrected.

use crate::config::Criteria;
use crate::stats::{self, Blocks, Interval};

use super::{Criterion, LatencyPair, LatencySource, Rule, Status, TestRecord};

/// Bootstrap resamples per interval; 2,000 keeps the interval's own noise well under 1 %.
const RESAMPLES: usize = 2000;

/// Two samples of latencies in milliseconds, in the order they were timed, and where the
/// baseline's came from.
pub struct LatencyInput<'a> {
    pub baseline_ms: &'a [f64],
    pub candidate_ms: &'a [f64],
    pub source: LatencySource,
    pub seed: u64,
}

/// Runs per bootstrap block: the same-runner A/B's block length, so that in an A/B each drawn
/// block pair is one base block and the candidate block timed beside it.
pub const BLOCK_RUNS: usize = 25;

/// Pushes the latency tests onto `tests` and returns the latency criteria and numbers.
pub fn compare_latency(
    input: &LatencyInput,
    criteria: &Criteria,
    tests: &mut Vec<TestRecord>,
) -> (Vec<Criterion>, Option<LatencyPair>) {
    let limits = [
        ("p50 latency", 0.5, criteria.max_p50_regression_pct),
        ("p95 latency", 0.95, criteria.max_p95_regression_pct),
        ("p99 latency", 0.99, criteria.max_p99_regression_pct),
    ];
    let comparable = matches!(
        input.source,
        LatencySource::SameRunnerAb | LatencySource::CommittedBaseline
    );
    let (a, b) = (input.baseline_ms, input.candidate_ms);
    if !comparable || a.is_empty() || b.is_empty() {
        let why = match &input.source {
            LatencySource::NotComparable { reason } => {
                format!("not judged ({reason}); the baseline's figure is advisory")
            }
            LatencySource::ModelUnchanged => {
                "model unchanged (same SHA-256 as the base): not re-judged".to_string()
            }
            LatencySource::Rejected { reason } => format!("no trustworthy reference: {reason}"),
            _ => "no baseline latency to compare against".to_string(),
        };
        let skipped = limits
            .iter()
            .map(|(name, q, tolerance_pct)| Criterion {
                name: name.to_string(),
                unit: "ms".into(),
                baseline: quantile(a, *q),
                candidate: quantile(b, *q),
                change: None,
                ci: None,
                test: None,
                rule: Rule::RatioAtMost {
                    tolerance_pct: *tolerance_pct,
                },
                status: Status::Skipped,
                detail: why.clone(),
                needed_runs: None,
            })
            .collect();
        return (skipped, None);
    }
    let pair = LatencyPair {
        baseline_ms: [0.5, 0.95, 0.99].map(|q| quantile(a, q).unwrap_or(0.0)),
        candidate_ms: [0.5, 0.95, 0.99].map(|q| quantile(b, q).unwrap_or(0.0)),
        baseline_runs: a.len(),
        candidate_runs: b.len(),
    };

    let mut out = Vec::new();
    for (i, (name, q, tolerance_pct)) in limits.into_iter().enumerate() {
        // Noise comes in bursts, so runs are resampled in blocks (see stats::block_bootstrap);
        // an A/B's base and candidate blocks were timed together and are drawn together.
        let pairing = if input.source == LatencySource::SameRunnerAb {
            Blocks::Paired(BLOCK_RUNS)
        } else {
            Blocks::Independent(BLOCK_RUNS)
        };
        let seed = input.seed.wrapping_add(i as u64);
        let ci = stats::block_bootstrap_ratio_ci(a, b, pairing, q, RESAMPLES, 0.95, seed)
            .or_else(|| stats::bootstrap_ratio_ci(a, b, q, RESAMPLES, 0.95, seed));
        let ratio = stats::ratio_point(a, b, q);
        let test_index = tests.len();
        let record = if q == 0.5 {
            stats::mann_whitney_u(a, b).map(|t| TestRecord {
                name: "Mann-Whitney U (median shift)".into(),
                statistic: t.statistic,
                p_value: t.p_value,
                adjusted_p: None,
                ci,
                effect_size: stats::hodges_lehmann_shift(a, b),
                effect_name: "Hodges-Lehmann shift, ms".into(),
                decision: String::new(),
            })
        } else {
            stats::exceedance_test(a, b, q).map(|t| TestRecord {
                name: format!("exceedance test at p{}", (q * 100.0).round()),
                statistic: t.statistic,
                p_value: t.p_value,
                adjusted_p: None,
                ci,
                effect_size: ratio,
                effect_name: "candidate/baseline ratio".into(),
                decision: String::new(),
            })
        };
        let has_test = record.is_some();
        tests.extend(record);
        let limit = 1.0 + tolerance_pct / 100.0;
        let detail = match (ratio, ci) {
            (Some(r), Some(ci)) => format!(
                "ratio {r:.3} (95 % CI {:.3} .. {:.3}) against a limit of {limit:.3}",
                ci.lower, ci.upper
            ),
            _ => "too few runs for an interval".into(),
        };
        out.push(Criterion {
            name: name.to_string(),
            unit: "ms".into(),
            baseline: quantile(a, q),
            candidate: quantile(b, q),
            change: ratio.map(|r| (r - 1.0) * 100.0),
            ci,
            test: has_test.then_some(test_index),
            rule: Rule::RatioAtMost { tolerance_pct },
            status: Status::Inconclusive,
            detail,
            needed_runs: ci
                .zip(ratio)
                .and_then(|(ci, r)| runs_to_settle(ci, r, limit, a.len().max(b.len()))),
        });
    }
    tests.extend(stats::welch_t_log(a, b).map(|t| TestRecord {
        name: "Welch t on log latency (mean shift)".into(),
        statistic: t.statistic,
        p_value: t.p_value,
        adjusted_p: None,
        ci: None,
        effect_size: stats::cohens_d(a, b),
        effect_name: "Cohen's d".into(),
        decision: String::new(),
    }));
    (out, Some(pair))
}

fn quantile(samples: &[f64], q: f64) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    stats::percentile(&sorted, q)
}

/// Runs per model for the interval to clear the limit, assuming its half-width shrinks as
/// 1/sqrt(n) around the same point estimate. None when the point sits on the limit.
pub fn runs_to_settle(ci: Interval, ratio: f64, limit: f64, n: usize) -> Option<u64> {
    let gap = (ratio - limit).abs();
    let half_width = (ci.upper - ci.lower) / 2.0;
    if gap < 1e-6 || half_width <= 0.0 {
        return None;
    }
    let needed = (n as f64 * (half_width / gap).powi(2)).ceil();
    (needed.is_finite() && needed < 1e12).then_some(needed.max(n as f64) as u64)
}
