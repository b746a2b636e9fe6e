//! The latency half of a comparison: two samples of run times, judged at p50, p95 and p99.
//!
//! Each percentile gets a block-bootstrap confidence interval of the candidate/baseline ratio and
//! a test: Mann-Whitney U for the median (with the Hodges-Lehmann shift as its effect size), and a
//! two-sample exceedance test for the tails. Welch's t on log latencies and Cohen's d describe the
//! shift of the mean. The intervals' confidence comes from the criteria's significance, divided
//! among the looks the adaptive A/B plans (see [`PLANNED_LOOKS`]). Nothing is decided here;
//! `finalize` decides once the p-values are corrected, and [`adaptive_looks`] only asks, at each
//! look, whether more runs could still change anything.

use crate::config::Criteria;
use crate::stats::{self, Blocks, Interval};

use super::{decide, Criterion, LatencyPair, LatencySource, Rule, Status, TestRecord};

/// Bootstrap resamples per interval; 2,000 keeps the interval's own noise well under 1 %.
const RESAMPLES: usize = 2000;

/// Looks the adaptive A/B plans at the latency criteria: at n, 2n, 4n and 8n runs per model.
///
/// Looking again after more runs, and stopping as soon as an interval clears the limit, gives a
/// criterion that sits right at its limit one more chance per look to come out as a pass (or a
/// fail). Every look's intervals are therefore taken at confidence `1 - significance / looks`
/// with `looks` = `PLANNED_LOOKS` (Bonferroni): the chance that any of the looks shows a false
/// pass, or a false fail, stays within what one look at `significance` allows, whichever look
/// the gate stops at. Bonferroni rather than an alpha-spending boundary because it assumes
/// nothing about how the intervals of successive looks are correlated, which the block bootstrap
/// under bursty noise does not promise; its price is a wider interval (98.75 % instead of 95 % at
/// the default significance), so a few more runs to settle a criterion.
pub const PLANNED_LOOKS: u32 = 4;

/// Two samples of latencies in milliseconds, in the order they were timed, and where the
/// baseline's came from.
pub struct LatencyInput<'a> {
    pub baseline_ms: &'a [f64],
    pub candidate_ms: &'a [f64],
    pub source: LatencySource,
    pub seed: u64,
    /// How many looks at the same comparison its intervals must answer for: each interval is
    /// taken at confidence `1 - significance / looks`. 1 for a comparison made once;
    /// [`PLANNED_LOOKS`] at every look of the adaptive A/B, the first included, since which
    /// look will be the last is not known in advance. 0 counts as 1.
    pub looks: u32,
}

/// Runs per bootstrap block: the same-runner A/B's block length, so that in an A/B each drawn
/// block pair is one base block and the candidate block timed beside it.
pub const BLOCK_RUNS: usize = 25;

/// Runs per bootstrap block for samples of `runs` runs: the longest divisor of [`BLOCK_RUNS`]
/// (25, 5, 1) that still cuts them into [`stats::MIN_BLOCKS`] blocks. Fewer blocks than that
/// give too narrow an interval. A divisor keeps every block inside one A/B block: base block k
/// and candidate block k then hold runs timed back to back, and still pair.
fn block_runs(runs: usize) -> usize {
    (1..=BLOCK_RUNS)
        .rev()
        .filter(|len| BLOCK_RUNS.is_multiple_of(*len))
        .find(|len| runs / len >= stats::MIN_BLOCKS)
        .unwrap_or(1)
}

/// Confidence of every interval of a comparison that is one of `looks` looks.
fn interval_confidence(significance: f64, looks: u32) -> f64 {
    1.0 - significance / f64::from(looks.max(1))
}

/// Pushes the latency tests onto `tests` and returns the latency criteria and numbers.
pub fn compare_latency(
    input: &LatencyInput,
    criteria: &Criteria,
    tests: &mut Vec<TestRecord>,
) -> (Vec<Criterion>, Option<LatencyPair>) {
    compare_with(input, criteria, tests, RESAMPLES)
}

/// [`compare_latency`] with `resamples` bootstrap replicates per interval.
fn compare_with(
    input: &LatencyInput,
    criteria: &Criteria,
    tests: &mut Vec<TestRecord>,
    resamples: usize,
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
        baseline_ecdf_ms: ecdf(a),
        candidate_ecdf_ms: ecdf(b),
    };
    let bootstrap = Bootstrap {
        blocks: blocks_for(input),
        resamples,
        confidence: interval_confidence(criteria.significance, input.looks),
    };
    let out = limits
        .into_iter()
        .enumerate()
        .map(|(i, (name, q, tolerance_pct))| {
            let seed = input.seed.wrapping_add(i as u64);
            let ci = bootstrap.interval(a, b, q, seed);
            let test = push_test(a, b, q, ci, tests);
            quantile_criterion(name, a, b, q, tolerance_pct, ci, test)
        })
        .collect();
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

/// How a comparison's intervals are bootstrapped.
struct Bootstrap {
    blocks: Blocks,
    resamples: usize,
    confidence: f64,
}

impl Bootstrap {
    /// The interval of the candidate/baseline ratio at quantile `q`; `None` with too few runs for
    /// [`stats::MIN_BLOCKS`] blocks, since a narrower-than-true interval would decide by chance.
    fn interval(&self, a: &[f64], b: &[f64], q: f64, seed: u64) -> Option<Interval> {
        stats::block_bootstrap_ratio_ci(a, b, self.blocks, q, self.resamples, self.confidence, seed)
    }
}

/// Noise comes in bursts, so runs are resampled in blocks (see stats::block_bootstrap); an A/B's
/// base and candidate blocks were timed together and are drawn together. Both samples are cut
/// at the same length, from the shorter one, so both give enough blocks (and, in an A/B, as many).
fn blocks_for(input: &LatencyInput) -> Blocks {
    let len = block_runs(input.baseline_ms.len().min(input.candidate_ms.len()));
    if input.source == LatencySource::SameRunnerAb {
        Blocks::Paired(len)
    } else {
        Blocks::Independent(len)
    }
}

/// Pushes the test of quantile `q` (Mann-Whitney U at the median, the exceedance test in the
/// tails) onto `tests` and returns its index, if it could be computed.
fn push_test(
    a: &[f64],
    b: &[f64],
    q: f64,
    ci: Option<Interval>,
    tests: &mut Vec<TestRecord>,
) -> Option<usize> {
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
            effect_size: stats::ratio_point(a, b, q),
            effect_name: "candidate/baseline ratio".into(),
            decision: String::new(),
        })
    };
    let index = tests.len();
    tests.extend(record);
    (tests.len() > index).then_some(index)
}

/// The criterion of quantile `q`, still undecided.
fn quantile_criterion(
    name: &str,
    a: &[f64],
    b: &[f64],
    q: f64,
    tolerance_pct: f64,
    ci: Option<Interval>,
    test: Option<usize>,
) -> Criterion {
    let ratio = stats::ratio_point(a, b, q);
    let limit = 1.0 + tolerance_pct / 100.0;
    let detail = match (ratio, ci) {
        (Some(r), Some(ci)) => format!(
            "ratio {r:.3} ({} % CI {:.3} .. {:.3}) against a limit of {limit:.3}",
            (ci.confidence * 1e4).round() / 1e2,
            ci.lower,
            ci.upper
        ),
        _ => format!(
            "too few runs for an interval (at least {} per model)",
            stats::MIN_BLOCKS
        ),
    };
    Criterion {
        name: name.to_string(),
        unit: "ms".into(),
        baseline: quantile(a, q),
        candidate: quantile(b, q),
        change: ratio.map(|r| (r - 1.0) * 100.0),
        ci,
        test,
        rule: Rule::RatioAtMost { tolerance_pct },
        status: Status::Inconclusive,
        detail,
        needed_runs: ci
            .zip(ratio)
            .and_then(|(ci, r)| runs_to_settle(ci, r, limit, a.len().max(b.len()))),
    }
}

/// The latency criteria of one look, each decided as the verdict will decide it: with Holm's
/// correction across the latency tests. The verdict's family also holds the accuracy tests, so
/// it can only be stricter; deciding on raw p-values instead would stop the adaptive A/B on
/// criteria the verdict then finds inconclusive, with budget unspent. `resamples` bootstrap
/// replicates per interval.
fn judge_with(input: &LatencyInput, criteria: &Criteria, resamples: usize) -> Vec<Criterion> {
    let mut tests = Vec::new();
    let (mut list, _) = compare_with(input, criteria, &mut tests, resamples);
    let raw: Vec<f64> = tests.iter().map(|t| t.p_value).collect();
    // Our tests only produce p-values in [0, 1]; should one not be, count nothing significant.
    let adjusted = stats::holm(&raw).unwrap_or_else(|| vec![1.0; raw.len()]);
    for c in &mut list {
        let p = c.test.and_then(|i| adjusted.get(i)).copied();
        c.status = decide(c, p, criteria.significance);
    }
    list
}

/// Where the adaptive A/B stopped: the latency criteria as judged at its last look.
#[derive(Debug, Clone, PartialEq)]
pub struct LastLook {
    /// Which look it was, from 1 to [`PLANNED_LOOKS`].
    pub look: u32,
    /// Runs per model at that look.
    pub runs: usize,
    pub criteria: Vec<Criterion>,
}

/// The adaptive A/B's sequence of looks at the latency criteria: the first at `first_runs` runs
/// per model, each next one at twice the runs, at most [`PLANNED_LOOKS`] looks, every one with
/// intervals corrected for all of them. It stops at the first look where no criterion is
/// inconclusive, or when `samples_at` has no more. `samples_at(n)` gives (base, candidate) with
/// `n` runs each in the order they were timed (timing more runs first where needed), or `None`
/// when the budget cannot afford them. `None` when not even the first look's samples came.
pub fn adaptive_looks<E>(
    first_runs: usize,
    criteria: &Criteria,
    seed: u64,
    samples_at: impl FnMut(usize) -> Result<Option<(Vec<f64>, Vec<f64>)>, E>,
) -> Result<Option<LastLook>, E> {
    looks_with(first_runs, criteria, seed, samples_at, RESAMPLES)
}

fn looks_with<E>(
    first_runs: usize,
    criteria: &Criteria,
    seed: u64,
    mut samples_at: impl FnMut(usize) -> Result<Option<(Vec<f64>, Vec<f64>)>, E>,
    resamples: usize,
) -> Result<Option<LastLook>, E> {
    let mut last = None;
    for look in 1..=PLANNED_LOOKS {
        let runs = first_runs << (look - 1);
        let Some((base, candidate)) = samples_at(runs)? else {
            break;
        };
        let input = LatencyInput {
            baseline_ms: &base,
            candidate_ms: &candidate,
            source: LatencySource::SameRunnerAb,
            seed,
            looks: PLANNED_LOOKS,
        };
        let criteria = judge_with(&input, criteria, resamples);
        let settled = criteria.iter().all(|c| c.status != Status::Inconclusive);
        last = Some(LastLook {
            look,
            runs,
            criteria,
        });
        if settled {
            break;
        }
    }
    Ok(last)
}

fn quantile(samples: &[f64], q: f64) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    stats::percentile(&sorted, q)
}

/// Points of the compact latency distribution a comparison carries: quantiles 0, 1, ..., 100 %.
pub const ECDF_POINTS: usize = 101;

/// The quantiles at 0, 1, ..., 100 % of `samples`, in their unit; empty when there are none.
pub fn ecdf(samples: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return vec![];
    }
    sorted.sort_by(f64::total_cmp);
    (0..ECDF_POINTS)
        .filter_map(|i| stats::percentile(&sorted, i as f64 / (ECDF_POINTS - 1) as f64))
        .collect()
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

#[cfg(test)]
mod tests;
