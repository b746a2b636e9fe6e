//! A latency ratio with the session as a random effect.
//!
//! Two ONNX Runtime sessions of one model settle at their own speed (allocation layout, which
//! pool thread runs which operator) and stay there: thousands of runs of one pair of sessions
//! measure that pair precisely and the two models only loosely. So each pair of sessions, one of
//! each model timed side by side, gives one estimate of the ratio, and the interval is taken
//! across the pairs, as Kalibera & Jones take the highest level of an experiment as the unit and
//! as Chromium's Pinpoint takes each attempt: the log ratio of each pair is a draw from
//! between-session spread plus within-session noise, and Student's t over the pairs covers both
//! without having to model either. The two components are still estimated apart (the within
//! part from two halves of each session), because the planner needs them to choose how many
//! runs a session gets and how many sessions a run can afford.
//!
//! One level is above what a run can see: runs in new processes, minutes apart, still differ by
//! more than their pairs' spread allows (the variant's cost itself moves with cache and clock
//! state). That variance is no run's to estimate, so it enters as a known sd, `run_sd`, added to
//! the mean's variance (a Type B component in metrology's terms), calibrated by studies of many
//! runs in new processes.

use super::describe::percentile;
use super::dist::{in_open_unit, t_quantile, t_two_sided_p};
use super::interval::Interval;

/// Fewest session pairs for an interval: with fewer, Student's t has under 3 degrees of freedom
/// and the interval is wider than any tolerance.
pub const MIN_SESSIONS: usize = 4;

/// Power at which the minimum detectable effect is stated: the change a run like this one
/// would tell from none four times in five.
pub const MDE_POWER: f64 = 0.8;

/// One session pair's runs, in the order they were timed: (baseline, candidate).
pub type SessionPair<'a> = (&'a [f64], &'a [f64]);

/// The candidate/baseline ratio of one quantile across session pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionRatio {
    /// Geometric mean of the pairs' ratios.
    pub ratio: f64,
    /// Student's t interval of the mean log ratio, exponentiated.
    pub interval: Interval,
    /// One-sample t statistic of the log ratios against 0 (no change), and its two-sided p-value.
    pub t_statistic: f64,
    pub p_value: f64,
    /// Session pairs behind it.
    pub sessions: usize,
    /// Standard deviation of one pair's log ratio, all noise included.
    pub pair_sd: f64,
    /// The part of it that is noise within a session: the sd of one pair's log ratio were the
    /// sessions all alike, from the spread between two halves of each session.
    pub within_sd: f64,
    /// The part that is the sessions' own speed: sqrt(pair variance - within variance), 0 when
    /// the within part explains it all.
    pub between_sd: f64,
    /// The sd of the log ratio between runs that was added to the mean's (the `run_sd` given).
    pub run_sd: f64,
    /// The smallest change, in percent, that a run with this many pairs and this spread tells
    /// from none with [`MDE_POWER`] at the interval's confidence.
    pub mde_pct: f64,
}

/// The ratio at quantile `q` of every pair's candidate over its baseline, with an interval at
/// `confidence` over the pairs. `block` is the runs per A/B block: each session's halves for the
/// within-session spread are its even and its odd blocks, so both halves span the session's
/// time. `run_sd` is the sd of the log ratio between runs, added to the standard error of the
/// mean: the interval, the t statistic and the MDE all answer for it (with the pairs' degrees of
/// freedom, which errs wide). `None` with fewer than [`MIN_SESSIONS`] usable pairs or on
/// degenerate input.
pub fn session_ratio(
    pairs: &[SessionPair],
    q: f64,
    block: usize,
    confidence: f64,
    run_sd: f64,
) -> Option<SessionRatio> {
    if !(0.0..=1.0).contains(&q) || !in_open_unit(confidence) || !run_sd.is_finite() || run_sd < 0.0
    {
        return None;
    }
    let logs: Vec<f64> = pairs
        .iter()
        .map(|(a, b)| log_ratio(a, b, q, block))
        .collect::<Option<_>>()?;
    let k = logs.len();
    if k < MIN_SESSIONS {
        return None;
    }
    let mean = logs.iter().sum::<f64>() / k as f64;
    let variance = logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    let se = (variance / k as f64 + run_sd * run_sd).sqrt();
    let df = (k - 1) as f64;
    let t_crit = t_quantile(1.0 - (1.0 - confidence) / 2.0, df)?;
    let t_power = t_quantile(MDE_POWER, df)?;
    let (t_statistic, p_value) = if se > 0.0 {
        let t = mean / se;
        (t, t_two_sided_p(t, df)?)
    } else if mean == 0.0 {
        (0.0, 1.0)
    } else {
        (mean.signum() * f64::INFINITY, 0.0)
    };
    let within = within_variance(pairs, q, block);
    let within_var = within.unwrap_or(0.0);
    Some(SessionRatio {
        ratio: mean.exp(),
        interval: Interval {
            lower: (mean - t_crit * se).exp(),
            upper: (mean + t_crit * se).exp(),
            confidence,
        },
        t_statistic,
        p_value,
        sessions: k,
        pair_sd: variance.sqrt(),
        within_sd: within_var.sqrt(),
        between_sd: (variance - within_var).max(0.0).sqrt(),
        run_sd,
        mde_pct: (((t_crit + t_power) * se).exp() - 1.0) * 100.0,
    })
    .filter(|r| r.ratio.is_finite() && r.interval.upper.is_finite())
}

/// log(candidate / baseline) at quantile `q` of one pair, whose runs alternated in blocks of
/// `block`; `None` when either side is empty or a quantile is not a positive finite time.
///
/// The median is taken block by block: the median over the pair's blocks of log(median of the
/// candidate's block / median of the base's block timed beside it). A neighbour that slows the
/// machine for a second at a time splits a session's runs into a fast and a slow group, and the
/// whole session's median lands in one group or the other as the two models' shares of slow runs
/// differ by chance: beside the noisy neighbour that alone doubled the spread of a pair's log
/// ratio (docs/benchmarks.md 13o). Blocks timed side by side share the neighbour's state, and
/// their median ignores the few that straddle a change. Tails are taken over the whole session:
/// a block holds too few runs beyond a p95 or p99.
fn log_ratio(a: &[f64], b: &[f64], q: f64, block: usize) -> Option<f64> {
    if q != 0.5 {
        return quantile_log_ratio(a, b, q);
    }
    let mut logs: Vec<f64> = a
        .chunks(block.max(1))
        .zip(b.chunks(block.max(1)))
        .map(|(a, b)| quantile_log_ratio(a, b, q))
        .collect::<Option<_>>()?;
    logs.sort_by(f64::total_cmp);
    percentile(&logs, 0.5)
}

/// log(quantile `q` of `b` / quantile `q` of `a`), when both are positive finite times.
fn quantile_log_ratio(a: &[f64], b: &[f64], q: f64) -> Option<f64> {
    let (qa, qb) = (quantile(a, q)?, quantile(b, q)?);
    (qa > 0.0 && qb > 0.0 && qa.is_finite() && qb.is_finite()).then(|| (qb / qa).ln())
}

fn quantile(samples: &[f64], q: f64) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile(&sorted, q)
}

/// The variance of one pair's log ratio that is noise within its sessions: each session is cut
/// into its even and odd blocks of `block` runs, the two halves' log ratios differ by twice a
/// half's variance, and a whole pair, with twice the runs of a half, has half a half's variance.
/// `None` when no session has two blocks.
pub fn within_variance(pairs: &[SessionPair], q: f64, block: usize) -> Option<f64> {
    let block = block.max(1);
    let halves = |s: &[f64]| -> (Vec<f64>, Vec<f64>) {
        let (mut even, mut odd) = (Vec::new(), Vec::new());
        for (i, chunk) in s.chunks(block).enumerate() {
            if i % 2 == 0 { &mut even } else { &mut odd }.extend_from_slice(chunk);
        }
        (even, odd)
    };
    let squares: Vec<f64> = pairs
        .iter()
        .filter_map(|(a, b)| {
            let ((a0, a1), (b0, b1)) = (halves(a), halves(b));
            Some(log_ratio(&a0, &b0, q, block)? - log_ratio(&a1, &b1, q, block)?)
        })
        .map(|d| d * d)
        .collect();
    if squares.is_empty() {
        return None;
    }
    let half_variance = squares.iter().sum::<f64>() / squares.len() as f64 / 2.0;
    Some(half_variance / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tol: f64) -> bool {
        (actual - expected).abs() <= tol * expected.abs().max(1e-12)
    }

    /// Five session pairs of six runs each (blocks of 2), the candidate about 3 % slower with a
    /// session effect. Reference from scipy 1.17.1 / numpy 2 (default linear percentiles):
    ///
    /// ```python
    /// import numpy as np, scipy.stats as st
    /// A=[[1.00,1.02,0.99,1.01,1.03,1.00],[1.05,1.04,1.06,1.05,1.07,1.03],[0.98,0.97,0.99,1.00,0.98,0.96],
    ///    [1.01,1.00,1.02,1.03,0.99,1.01],[1.02,1.04,1.03,1.01,1.02,1.05]]
    /// B=[[1.04,1.05,1.03,1.06,1.04,1.02],[1.06,1.08,1.07,1.09,1.05,1.08],[1.03,1.01,1.02,1.00,1.04,1.03],
    ///    [1.02,1.05,1.04,1.03,1.06,1.04],[1.07,1.05,1.06,1.08,1.04,1.06]]
    /// # p50 block by block (blocks of 2 runs), p95 over the whole session:
    /// def med_blocks(a,b,k=2):
    ///     return np.median([np.log(np.median(b[i:i+k])/np.median(a[i:i+k])) for i in range(0,len(a),k)])
    /// for q in (50, 95):
    ///     l=[med_blocks(a,b) if q==50 else np.log(np.percentile(b,q)/np.percentile(a,q)) for a,b in zip(A,B)]
    ///     m,s=np.mean(l),st.sem(l); t=st.ttest_1samp(l,0)
    ///     lo,hi=st.t.interval(0.9875,len(l)-1,loc=m,scale=s)
    ///     mde=st.t.ppf(1-0.0125/2,4)+st.t.ppf(0.8,4)
    ///     print(np.exp(m),np.exp(lo),np.exp(hi),t.statistic,t.pvalue,np.std(l,ddof=1),(np.exp(mde*s)-1)*100)
    /// ```
    const A: [[f64; 6]; 5] = [
        [1.00, 1.02, 0.99, 1.01, 1.03, 1.00],
        [1.05, 1.04, 1.06, 1.05, 1.07, 1.03],
        [0.98, 0.97, 0.99, 1.00, 0.98, 0.96],
        [1.01, 1.00, 1.02, 1.03, 0.99, 1.01],
        [1.02, 1.04, 1.03, 1.01, 1.02, 1.05],
    ];
    const B: [[f64; 6]; 5] = [
        [1.04, 1.05, 1.03, 1.06, 1.04, 1.02],
        [1.06, 1.08, 1.07, 1.09, 1.05, 1.08],
        [1.03, 1.01, 1.02, 1.00, 1.04, 1.03],
        [1.02, 1.05, 1.04, 1.03, 1.06, 1.04],
        [1.07, 1.05, 1.06, 1.08, 1.04, 1.06],
    ];

    fn pairs() -> Vec<SessionPair<'static>> {
        A.iter().zip(&B).map(|(a, b)| (&a[..], &b[..])).collect()
    }

    #[test]
    fn the_ratio_interval_and_test_across_sessions_match_scipy() {
        // (q, ratio, lower, upper, t, p, pair sd, mde %), from the script above.
        let expected = [
            (
                0.5,
                1.032668523,
                1.016503446,
                1.049090667,
                8.790997,
                9.2349e-4,
                8.176683e-3,
                1.940422,
            ),
            (
                0.95,
                1.029151673,
                1.014671139,
                1.043838860,
                8.749363,
                9.4046e-4,
                7.343742e-3,
                1.741045,
            ),
        ];
        for (q, ratio, lower, upper, t, p, sd, mde) in expected {
            let r = session_ratio(&pairs(), q, 2, 0.9875, 0.0).unwrap();
            assert!(close(r.ratio, ratio, 1e-6), "q {q}: ratio {}", r.ratio);
            assert!(
                close(r.interval.lower, lower, 1e-6),
                "q {q}: {:?}",
                r.interval
            );
            assert!(
                close(r.interval.upper, upper, 1e-6),
                "q {q}: {:?}",
                r.interval
            );
            assert!(close(r.t_statistic, t, 1e-5), "q {q}: t {}", r.t_statistic);
            assert!(close(r.p_value, p, 1e-4), "q {q}: p {}", r.p_value);
            assert!(close(r.pair_sd, sd, 1e-5), "q {q}: sd {}", r.pair_sd);
            assert!(close(r.mde_pct, mde, 1e-4), "q {q}: mde {}", r.mde_pct);
            assert_eq!(r.sessions, 5);
        }
    }

    #[test]
    fn a_spread_between_runs_widens_the_interval_as_scipy_does() {
        // The same pairs with a run-level sd of 0.5 % added to the standard error:
        // f=0.005; l as above at q=50; m=np.mean(l); s=np.hypot(st.sem(l), f)
        // lo,hi=st.t.interval(0.9875,4,loc=m,scale=s); t=m/s; p=2*st.t.sf(abs(t),4)
        // mde=(st.t.ppf(1-0.0125/2,4)+st.t.ppf(0.8,4))*s
        // print(np.exp(m),np.exp(lo),np.exp(hi),t,p,(np.exp(mde)-1)*100)
        let r = session_ratio(&pairs(), 0.5, 2, 0.9875, 0.005).unwrap();
        assert!(close(r.ratio, 1.032668523, 1e-6), "{r:?}");
        assert!(close(r.interval.lower, 1.005433894, 1e-6), "{r:?}");
        assert!(close(r.interval.upper, 1.060640869, 1e-6), "{r:?}");
        assert!(close(r.t_statistic, 5.189496, 1e-5), "{r:?}");
        assert!(close(r.p_value, 6.563316e-3, 1e-4), "{r:?}");
        assert!(close(r.mde_pct, 3.309160, 1e-5), "{r:?}");
        assert_eq!(r.run_sd, 0.005);
        // The pairs' own spread is reported as measured, without the run-level part.
        assert!(close(r.pair_sd, 8.176683e-3, 1e-5), "{r:?}");
        assert!(session_ratio(&pairs(), 0.5, 2, 0.9875, f64::NAN).is_none());
        assert!(session_ratio(&pairs(), 0.5, 2, 0.9875, -0.01).is_none());
    }

    #[test]
    fn the_within_session_variance_matches_numpy() {
        // Even blocks (runs 0-1, 4-5) against odd blocks (runs 2-3), as above:
        // h=lambda s:(s[0:2]+s[4:6], s[2:4])
        // d=[med_blocks(h(a)[0],h(b)[0])-med_blocks(h(a)[1],h(b)[1]) for a,b in zip(A,B)]
        // print(np.mean(np.square(d))/4)
        let v = within_variance(&pairs(), 0.5, 2).unwrap();
        assert!(close(v, 1.782295e-4, 1e-5), "{v}");
    }

    #[test]
    fn a_neighbour_starting_midway_moves_the_whole_sessions_median_but_not_the_blocks() {
        // Ten blocks of 5 runs a side, the candidate 3 % slower throughout; a neighbour doubles
        // every run from the candidate's sixth block on (between the base's and the
        // candidate's block 5 in the ABBA order), so the base has 25 slow runs and the
        // candidate 20.
        let base: Vec<f64> = (0..50).map(|i| if i < 25 { 1.0 } else { 2.0 }).collect();
        let cand: Vec<f64> = (0..50)
            .map(|i| 1.03 * if i < 30 { 1.0 } else { 2.0 })
            .collect();
        // The whole session's medians: 1.5 against 1.03, a ratio of 0.69.
        let whole = quantile_log_ratio(&base, &cand, 0.5).unwrap().exp();
        assert!((whole - 1.03 / 1.5).abs() < 1e-9, "{whole}");
        // Block by block, only block 5 straddles the change: 1.03 as timed.
        let blocks = log_ratio(&base, &cand, 0.5, 5).unwrap().exp();
        assert!((blocks - 1.03).abs() < 1e-9, "{blocks}");
        // Tails stay whole-session quantiles.
        let p95 = log_ratio(&base, &cand, 0.95, 5).unwrap();
        assert_eq!(p95, quantile_log_ratio(&base, &cand, 0.95).unwrap());
    }

    #[test]
    fn a_steady_gap_between_sessions_widens_the_interval_instead_of_reading_as_a_change() {
        // Identical models; each session pair has its own steady offset of up to 3 %, and no
        // noise within: one pair alone would claim a change with certainty.
        let offsets = [1.03, 0.98, 1.01, 0.97, 1.02, 0.99];
        let base: Vec<Vec<f64>> = offsets.iter().map(|_| vec![1.0; 50]).collect();
        let cand: Vec<Vec<f64>> = offsets.iter().map(|o| vec![*o; 50]).collect();
        let pairs: Vec<SessionPair> = base
            .iter()
            .zip(&cand)
            .map(|(a, b)| (&a[..], &b[..]))
            .collect();
        let r = session_ratio(&pairs, 0.5, 25, 0.95, 0.0).unwrap();
        assert!(r.interval.lower < 1.0 && r.interval.upper > 1.0, "{r:?}");
        assert!(r.p_value > 0.05);
        assert_eq!(r.within_sd, 0.0);
        assert!(r.between_sd > 0.015, "{r:?}");
    }

    #[test]
    fn degenerate_input_gives_none_not_a_panic() {
        let one = [1.0; 10];
        let three: Vec<SessionPair> = (0..3).map(|_| (&one[..], &one[..])).collect();
        assert!(session_ratio(&three, 0.5, 5, 0.95, 0.0).is_none());
        let empty: [f64; 0] = [];
        let four: Vec<SessionPair> = (0..4).map(|_| (&one[..], &empty[..])).collect();
        assert!(session_ratio(&four, 0.5, 5, 0.95, 0.0).is_none());
        let nan = [f64::NAN; 10];
        let bad: Vec<SessionPair> = (0..4).map(|_| (&nan[..], &one[..])).collect();
        assert!(session_ratio(&bad, 0.5, 5, 0.95, 0.0).is_none());
        let same: Vec<SessionPair> = (0..4).map(|_| (&one[..], &one[..])).collect();
        let r = session_ratio(&same, 0.5, 5, 0.95, 0.0).unwrap();
        assert_eq!((r.ratio, r.p_value), (1.0, 1.0));
        assert!(session_ratio(&same, 0.5, 5, 1.0, 0.0).is_none());
    }
}
