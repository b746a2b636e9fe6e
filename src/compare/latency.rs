//! The latency half of a comparison: two samples of run times, judged at p50, p95 and p99.
//!
//! Each percentile gets a block-bootstrap confidence interval of the candidate/baseline ratio and
//! a test: Mann-Whitney U for the median (with the Hodges-Lehmann shift as its effect size), and a
//! two-sample exceedance test for the tails. Welch's t on log latencies and Cohen's d describe the
//! shift of the mean. The intervals' confidence comes from the criteria's significance, divided
//! among the looks the adaptive A/B plans (see [`PLANNED_LOOKS`]). Nothing is decided here;
//! `finalize` decides once the p-values are corrected, and [`adaptive_looks`] only asks, at each
//! look, whether more runs could still change anything.

use crate::files::config::Criteria;
use crate::measure::ab::{AbSamples, BLOCK_RUNS};
use crate::stats::{self, Blocks, Interval};

use super::{
    decide, Criterion, Effect, LatencyMethod, LatencyPair, LatencySource, MethodKind, Rule, Status,
    TestRecord,
};

/// Bootstrap resamples per interval; 2,000 keeps the interval's own noise well under 1 %.
const RESAMPLES: usize = 2000;

/// Looks the adaptive A/B plans at the latency criteria: at n, 2n, 4n and 8n runs per model.
///
/// Looking again after more runs, and stopping as soon as an interval clears the limit, gives a
/// criterion that sits right at its limit one more chance per look to come out as a pass (or a
/// fail). The looks therefore share the significance (Bonferroni's inequality, unevenly split, as
/// Haybittle and Peto's rule does): each look before the last takes its interval at confidence
/// `1 - significance / 50` (99.9 % at the default 0.05) and stops only on overwhelming evidence,
/// and the last look takes what the looks before it left, `1 - significance * (1 - (k - 1) /
/// 50)` for a last look `k` (95.3 % for the fourth). The last look is the fourth, or the one the
/// budget ends at: when the budget affords no more runs after an unsettled look, the same
/// samples are judged once more as the last look (see [`adaptive_looks`]), so a short budget is
/// never left judging at the early share. The chance that any look shows a false pass, or a false
/// fail, stays within what one look at `significance` allows, whichever look the gate stops at,
/// and the union bound assumes nothing about how the intervals of successive looks are
/// correlated (which the session pairs under bursty noise do not promise). An even split (98.75 %
/// at every look) left the look that decides most criteria, the last, far wider than it needs to
/// be: beside a noisy neighbour a 1.03x slowdown at a 2 % tolerance failed in 75 % of the runs
/// instead of 95 % (docs/benchmarks.md 13o).
pub const PLANNED_LOOKS: u32 = 4;

/// Two samples of latencies in milliseconds, in the order they were timed, and where the
/// baseline's came from.
pub struct LatencyInput<'a> {
    pub baseline_ms: &'a [f64],
    pub candidate_ms: &'a [f64],
    pub source: LatencySource,
    pub seed: u64,
    /// How many looks at the same comparison share its significance (see [`PLANNED_LOOKS`]): 1
    /// for a comparison made once; [`PLANNED_LOOKS`] at every look of the adaptive A/B while more
    /// may follow; the number of the last look once the budget ended the A/B there. 0 counts as
    /// 1.
    pub looks: u32,
    /// Runs per session pair, in the order the pairs were timed, the same for both samples: the
    /// A/B opens a fresh session of each model for every pair (see `ab.rs`). Empty, or not
    /// adding up to both samples' lengths, means one stretch of timing.
    pub sessions: &'a [usize],
    /// Runs per A/B block (see `measure::ab::block_runs_for`); 0 or over [`BLOCK_RUNS`] counts as
    /// [`BLOCK_RUNS`], the block of every A/B that did not record one.
    pub block_runs: usize,
    /// The look of the adaptive A/B these samples are, when known: look `looks` is the last and
    /// takes the widest share; a look not recorded answers for any of them (an even share).
    pub look: Option<u32>,
}

/// A tail whose interval is wider than this many times its tolerance is not judged: such an
/// interval can only straddle the limit, and printing it as a judged row (`0.05 .. 23`) says
/// nothing a reader can use.
const MAX_WIDTH_PER_TOLERANCE: f64 = 10.0;

/// The latency criteria's names, p50, p95 and p99, in the order a comparison lists them.
const LATENCY_CRITERIA: [&str; 3] = ["p50 latency", "p95 latency", "p99 latency"];

/// The p50 latency criterion among a model's criteria, as [`compare_latency`] names it.
pub fn p50_criterion(criteria: &[Criterion]) -> Option<&Criterion> {
    criteria.iter().find(|c| c.name == LATENCY_CRITERIA[0])
}

/// The samples cut into their session pairs, when `sessions` adds up to both samples' lengths
/// and there are at least [`stats::MIN_SESSIONS`] of them.
fn session_pairs<'a>(
    a: &'a [f64],
    b: &'a [f64],
    sessions: &[usize],
) -> Option<Vec<stats::SessionPair<'a>>> {
    let total: usize = sessions.iter().sum();
    if total != a.len() || total != b.len() || sessions.len() < stats::MIN_SESSIONS {
        return None;
    }
    let mut at = 0;
    let mut pairs = Vec::with_capacity(sessions.len());
    for &n in sessions {
        pairs.push((&a[at..at + n], &b[at..at + n]));
        at += n;
    }
    Some(pairs)
}

/// Runs per bootstrap block for samples of `runs` runs timed in A/B blocks of `ab_block` runs:
/// the longest divisor of `ab_block` (of 25: 25, 5, 1) that still cuts them into
/// [`stats::MIN_BLOCKS`] blocks. Fewer blocks than that give too narrow an interval. A divisor
/// keeps every block inside one A/B block: base block k and candidate block k then hold runs
/// timed back to back, and still pair.
fn block_runs(runs: usize, ab_block: usize) -> usize {
    (1..=ab_block)
        .rev()
        .filter(|len| ab_block.is_multiple_of(*len))
        .find(|len| runs / len >= stats::MIN_BLOCKS)
        .unwrap_or(1)
}

/// The A/B's runs per block as `input` records it, within 1 ..= [`BLOCK_RUNS`].
fn ab_block(input: &LatencyInput) -> usize {
    if (1..=BLOCK_RUNS).contains(&input.block_runs) {
        input.block_runs
    } else {
        BLOCK_RUNS
    }
}

/// Standard deviation of the log latency ratio between gate runs in new processes, beyond what
/// the session pairs of one run show (`latency_run_sd_pct`, as a fraction): added to every
/// session-pair interval, so that it covers the ratio a long series of runs settles on, not only
/// this run's. Its default, 0.18 %, is what `scripts/study.py calibrate` answers over 680 gate
/// runs of `resnet_small` and its 1.01-1.05x variants on a 2-core runner, the quiet 1.03x in five
/// sittings (docs/benchmarks.md 13i, 13r, 13s): the smallest spread with which every scenario's
/// p50 interval covers its across-run median in 90 % of runs. The 1.03x variant's own cost moves
/// between sittings (its extra elementwise operators depend on cache and clock state more than
/// the convolutions do), so a spread calibrated within one sitting (0.15 % was) falls short.
fn run_sd(criteria: &Criteria) -> f64 {
    criteria.latency_run_sd_pct / 100.0
}

/// Share of the significance that each look before the last spends (see [`PLANNED_LOOKS`]).
const EARLY_LOOK_SHARE: f64 = 1.0 / 50.0;

/// Confidence of the intervals of look `look` of a comparison whose significance `looks` looks
/// share (see [`PLANNED_LOOKS`]).
fn interval_confidence(significance: f64, looks: u32, look: Option<u32>) -> f64 {
    let looks = looks.max(1);
    let early = significance * EARLY_LOOK_SHARE;
    let alpha = match look {
        _ if looks == 1 => significance,
        Some(k) if k < looks => early,
        Some(_) => significance - early * f64::from(looks - 1),
        None => significance / f64::from(looks),
    };
    1.0 - alpha
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
    let [p50, p95, p99] = LATENCY_CRITERIA;
    let limits = [
        (p50, 0.5, criteria.max_p50_regression_pct),
        (p95, 0.95, criteria.max_p95_regression_pct),
        (p99, 0.99, criteria.max_p99_regression_pct),
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
                method: None,
                reported_only: false,
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
    let confidence = interval_confidence(criteria.significance, input.looks, input.look);
    let by_session = if input.source == LatencySource::SameRunnerAb {
        session_pairs(a, b, input.sessions)
    } else {
        None
    };
    if let Some(pairs) = by_session {
        let out = limits
            .into_iter()
            .map(|(name, q, tolerance_pct)| {
                let judged = Judged {
                    name,
                    q,
                    tolerance_pct,
                    a,
                    b,
                };
                judged.by_sessions(&pairs, confidence, run_sd(criteria), input, tests)
            })
            .collect();
        return (out, Some(pair));
    }
    let bootstrap = Bootstrap {
        blocks: blocks_for(input),
        resamples,
        confidence,
    };
    let out = limits
        .into_iter()
        .enumerate()
        .map(|(i, (name, q, tolerance_pct))| {
            let seed = input.seed.wrapping_add(i as u64);
            let ci = bootstrap.interval(a, b, q, seed);
            let test = push_test(a, b, q, ci, tests);
            let mut c = quantile_criterion(name, a, b, q, tolerance_pct, ci, test);
            c.method = Some(LatencyMethod {
                kind: MethodKind::BlockBootstrap,
                sessions: 1,
                runs_per_session_min: a.len().min(b.len()),
                block_runs: match bootstrap.blocks {
                    Blocks::Paired(n) | Blocks::Independent(n) => n,
                },
                paired: matches!(bootstrap.blocks, Blocks::Paired(_)),
                resamples: Some(resamples),
                seed: Some(seed),
                looks_planned: input.looks.max(1),
                look: input.look,
                within_session_sd_pct: None,
                between_session_sd_pct: None,
                run_level_sd_pct: None,
                mde_pct: None,
                runs_beyond_quantile: None,
                advice: None,
            });
            c
        })
        .collect();
    // Candidate against baseline, the sign every effect here takes (Cohen's d included): a
    // positive t means the candidate is slower.
    tests.extend(stats::welch_t_log(b, a).map(|t| TestRecord {
        name: "Welch t on log latency (mean shift, candidate - baseline)".into(),
        statistic: t.statistic,
        p_value: t.p_value,
        adjusted_p: None,
        ci: None,
        effect_size: stats::cohens_d(a, b),
        effect: Effect::CohensD,
        decision: crate::compare::Decision::Pending,
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
    let len = block_runs(
        input.baseline_ms.len().min(input.candidate_ms.len()),
        ab_block(input),
    );
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
            effect: Effect::HodgesLehmannShift,
            decision: crate::compare::Decision::Pending,
        })
    } else {
        stats::exceedance_test(a, b, q).map(|t| TestRecord {
            name: format!("exceedance test at {}", percentile_name(q)),
            statistic: t.statistic,
            p_value: t.p_value,
            adjusted_p: None,
            ci,
            effect_size: stats::ratio_point(a, b, q),
            effect: Effect::Ratio,
            decision: crate::compare::Decision::Pending,
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
        method: None,
        needed_runs: ci
            .zip(ratio)
            .and_then(|(ci, r)| runs_to_settle(ci, r, limit, a.len().max(b.len()))),
        reported_only: false,
    }
}

/// One quantile of a comparison, about to be judged.
struct Judged<'a> {
    name: &'a str,
    q: f64,
    tolerance_pct: f64,
    a: &'a [f64],
    b: &'a [f64],
}

impl Judged<'_> {
    /// The criterion judged across session pairs: Student's t of the pairs' log ratios, its test
    /// pushed onto `tests`. A tail this run cannot resolve (too few runs beyond the quantile in a
    /// session, or an interval over [`MAX_WIDTH_PER_TOLERANCE`] times the tolerance) is
    /// [`Status::Unresolved`], with no test in the family.
    fn by_sessions(
        &self,
        pairs: &[stats::SessionPair],
        confidence: f64,
        run_sd: f64,
        input: &LatencyInput,
        tests: &mut Vec<TestRecord>,
    ) -> Criterion {
        let (q, tolerance_pct) = (self.q, self.tolerance_pct);
        let limit = 1.0 + tolerance_pct / 100.0;
        // A tail is judged over the pairs long enough to hold MIN_TAIL_RUNS runs beyond it (the
        // planner makes sessions that long where the budget allows), when there are enough of
        // them; a session's length is planned before it is timed, so choosing by it picks
        // nothing by outcome.
        let long_enough: Vec<stats::SessionPair> = pairs
            .iter()
            .copied()
            .filter(|(a, _)| a.len() as f64 * (1.0 - q) >= MIN_TAIL_RUNS)
            .collect();
        let pairs = if q > 0.5 && long_enough.len() >= stats::MIN_SESSIONS {
            &long_enough[..]
        } else {
            pairs
        };
        let shortest = pairs.iter().map(|(a, _)| a.len()).min().unwrap_or(0);
        let beyond = shortest as f64 * (1.0 - q);
        let block = ab_block(input);
        let r = stats::session_ratio(pairs, q, block, confidence, run_sd);
        let mut method = LatencyMethod {
            kind: MethodKind::Sessions,
            sessions: pairs.len(),
            runs_per_session_min: shortest,
            block_runs: block,
            paired: true,
            resamples: None,
            seed: None,
            looks_planned: input.looks.max(1),
            look: input.look,
            within_session_sd_pct: r.map(|r| r.within_sd * 100.0),
            between_session_sd_pct: r.map(|r| r.between_sd * 100.0),
            run_level_sd_pct: r.map(|r| r.run_sd * 100.0),
            mde_pct: r.map(|r| r.mde_pct),
            runs_beyond_quantile: (q > 0.5).then_some(beyond),
            advice: None,
        };
        let mut c = Criterion {
            name: self.name.to_string(),
            unit: "ms".into(),
            baseline: quantile(self.a, q),
            candidate: quantile(self.b, q),
            change: r.map(|r| (r.ratio - 1.0) * 100.0),
            ci: None,
            test: None,
            rule: Rule::RatioAtMost { tolerance_pct },
            status: Status::Inconclusive,
            detail: String::new(),
            needed_runs: None,
            method: None,
            reported_only: false,
        };
        let Some(r) = r else {
            c.detail = format!(
                "no interval: a session pair's {} is not a positive time",
                percentile_name(q)
            );
            c.method = Some(method);
            return c;
        };
        let could_tell = format!("this run could tell a {:.1} % change", r.mde_pct);
        let unresolved = if q > 0.5 && beyond < MIN_TAIL_RUNS {
            Some(format!(
                "{:.1} runs beyond the {} in the shortest session, fewer than {MIN_TAIL_RUNS}",
                beyond,
                percentile_name(q)
            ))
        } else if q > 0.5
            && r.interval.upper - r.interval.lower > MAX_WIDTH_PER_TOLERANCE * tolerance_pct / 100.0
        {
            Some(format!(
                "its interval, {:.3} .. {:.3}, is over {MAX_WIDTH_PER_TOLERANCE} times as wide as the {tolerance_pct} % tolerance",
                r.interval.lower, r.interval.upper
            ))
        } else {
            None
        };
        if let Some(why) = unresolved {
            c.status = Status::Unresolved;
            c.detail = format!(
                "not resolvable in this run ({why}); {could_tell} (ratio {:.3} over {} session pairs)",
                r.ratio, r.sessions
            );
            c.method = Some(method);
            return c;
        }
        tests.push(TestRecord {
            name: format!(
                "Student t across {} session pairs (latency log ratio at {})",
                r.sessions,
                percentile_name(q)
            ),
            statistic: r.t_statistic,
            p_value: r.p_value,
            adjusted_p: None,
            ci: Some(r.interval),
            effect_size: Some(r.ratio),
            effect: Effect::Ratio,
            decision: crate::compare::Decision::Pending,
        });
        c.test = Some(tests.len() - 1);
        c.ci = Some(r.interval);
        c.detail = format!(
            "ratio {:.3} ({} % CI {:.3} .. {:.3} over {} session pairs) against a limit of {limit:.3}; {could_tell}",
            r.ratio,
            (r.interval.confidence * 1e4).round() / 1e2,
            r.interval.lower,
            r.interval.upper,
            r.sessions
        );
        method.advice = sessions_advice(&r, limit);
        c.method = Some(method);
        c
    }
}

/// `p50`, `p95`, `p99`.
fn percentile_name(q: f64) -> String {
    format!("p{}", (q * 100.0).round())
}

/// What would settle a result whose interval straddles `limit`: how many more session pairs, at
/// this run's spread, bring the interval's half-width under the distance from the ratio to the
/// limit (the half-width shrinks as one over the square root of the pairs), and which lever
/// gives them. None when the interval already clears the limit.
pub fn sessions_advice(r: &stats::SessionRatio, limit: f64) -> Option<String> {
    let (lower, upper) = (r.interval.lower, r.interval.upper);
    if upper <= limit || lower > limit {
        return None;
    }
    let half_width = (upper.ln() - lower.ln()) / 2.0;
    let gap = (r.ratio.ln() - limit.ln()).abs();
    let k = r.sessions as f64;
    let lever = if r.between_sd >= r.within_sd {
        "the sessions' own speeds dominate the spread, so more session pairs narrow it and longer \
         sessions barely do: raise max_time_s under [models.bench]"
    } else {
        "the noise within sessions dominates the spread: raise max_time_s under [models.bench], or \
         time on a quieter runner"
    };
    // The half-width is t * sqrt(pair_sd^2 / k + run_sd^2): more pairs shrink only the first
    // part, so a gap inside t * run_sd is out of reach of any number of them.
    let se = ((r.pair_sd * r.pair_sd) / k + r.run_sd * r.run_sd).sqrt();
    let t = if se > 0.0 { half_width / se } else { 0.0 };
    let reach = (gap / t.max(1e-12)).powi(2) - r.run_sd * r.run_sd;
    let needed = if reach > 0.0 {
        (r.pair_sd * r.pair_sd / reach).ceil()
    } else {
        f64::INFINITY
    };
    if gap < 1e-4 || !needed.is_finite() || needed > 1e5 {
        return Some(format!(
            "the ratio sits within {:.2} % of the limit, closer than runs of this gate differ \
             from one another; no number of session pairs settles it, only a limit further from it",
            gap * 100.0
        ));
    }
    let more = (needed - k).max(1.0);
    Some(format!(
        "about {more:.0} more session pairs ({needed:.0} in all) would settle it; {lever}"
    ))
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
    for c in list.iter_mut().filter(|c| c.status != Status::Unresolved) {
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
    /// Looks its significance was shared over: [`PLANNED_LOOKS`], or `look` when the budget
    /// ended the A/B there and its samples were judged as the last look.
    pub looks: u32,
    /// Runs per model at that look.
    pub runs: usize,
    /// Session pairs at that look.
    pub sessions: usize,
    pub criteria: Vec<Criterion>,
}

/// The adaptive A/B's sequence of looks at the latency criteria, at most [`PLANNED_LOOKS`],
/// sharing the significance as [`PLANNED_LOOKS`] says. `samples_at(look, previous)` times what
/// look `look` (1-based) needs (the caller plans how many session pairs, from the previous look's
/// spread) and returns every sample so far, or `None` when the budget affords no more. It stops
/// at the first look where no criterion is inconclusive, at the fourth, or when `samples_at` has
/// no more: then the samples of the look before are judged again as the last look (a look
/// without new runs, at the last look's share), so the budget's end never leaves a verdict at an
/// early look's share. `None` when not even the first look's samples came.
pub fn adaptive_looks<E>(
    criteria: &Criteria,
    seed: u64,
    samples_at: impl FnMut(u32, Option<&LastLook>) -> Result<Option<AbSamples>, E>,
) -> Result<Option<LastLook>, E> {
    looks_with(criteria, seed, samples_at, RESAMPLES)
}

fn looks_with<E>(
    criteria: &Criteria,
    seed: u64,
    mut samples_at: impl FnMut(u32, Option<&LastLook>) -> Result<Option<AbSamples>, E>,
    resamples: usize,
) -> Result<Option<LastLook>, E> {
    let judge = |samples: &AbSamples, look: u32, looks: u32| {
        let input = LatencyInput {
            baseline_ms: &samples.base_ms,
            candidate_ms: &samples.candidate_ms,
            source: LatencySource::SameRunnerAb,
            seed,
            looks,
            sessions: &samples.sessions,
            block_runs: samples.block_runs,
            look: Some(look),
        };
        LastLook {
            look,
            looks,
            runs: samples.base_ms.len().min(samples.candidate_ms.len()),
            sessions: samples.sessions.len(),
            criteria: judge_with(&input, criteria, resamples),
        }
    };
    let mut last: Option<(LastLook, AbSamples)> = None;
    for look in 1..=PLANNED_LOOKS {
        let Some(samples) = samples_at(look, last.as_ref().map(|(l, _)| l))? else {
            // The budget ended after an unsettled look judged at an early share: its samples
            // again, as the last look.
            return Ok(last.map(|(_, samples)| judge(&samples, look, look)));
        };
        let judged = judge(&samples, look, PLANNED_LOOKS);
        let settled = judged
            .criteria
            .iter()
            .all(|c| c.status != Status::Inconclusive);
        if settled {
            return Ok(Some(judged));
        }
        last = Some((judged, samples));
    }
    // The fourth look, unsettled: judged at the last look's share already.
    Ok(last.map(|(l, _)| l))
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

pub mod plan;

pub use plan::MIN_TAIL_RUNS;

#[cfg(test)]
mod tests;
