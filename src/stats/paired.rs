//! Accuracy comparisons where both models score the same labelled samples.
//!
//! An accuracy gate runs baseline and candidate on one evaluation set, so
//! each sample yields a pair of outcomes. Treating the two accuracies as
//! independent would waste that pairing: only the discordant samples (one
//! model right, the other wrong) carry information about the difference.
//! McNemar's exact test and Newcombe's paired interval use exactly those;
//! the Wilson interval describes a single model's accuracy.

use super::dist::{binomial_half_cdf, in_open_unit, normal_quantile};
use super::interval::Interval;
use super::two_sample::TestResult;

/// McNemar's exact test, two-sided, from the two discordant counts: samples
/// only the baseline got right and samples only the candidate got right.
/// Matches `statsmodels.stats.contingency_tables.mcnemar(table, exact=True)`:
/// `statistic = min(b, c)` and `p = min(1, 2 * P(X <= min(b, c)))` for
/// X ~ Binomial(b + c, 1/2). With no discordant samples p = 1.
pub fn mcnemar_exact(baseline_only_correct: u64, candidate_only_correct: u64) -> TestResult {
    let smaller = baseline_only_correct.min(candidate_only_correct);
    let discordant = baseline_only_correct.saturating_add(candidate_only_correct);
    TestResult {
        statistic: smaller as f64,
        p_value: (2.0 * binomial_half_cdf(smaller, discordant)).min(1.0),
    }
}

/// Wilson score interval for a proportion `successes / n`, as
/// `statsmodels.stats.proportion.proportion_confint(successes, n,
/// alpha=1 - confidence, method='wilson')`, with bounds clamped to [0, 1].
/// `None` when `n == 0`, `successes > n`, or `confidence` is outside (0, 1).
pub fn wilson_interval(successes: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 || successes > n || !in_open_unit(confidence) {
        return None;
    }
    let z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)?;
    let (z2, n_f) = (z * z, n as f64);
    let p = successes as f64 / n_f;
    let denominator = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denominator;
    let half_width = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denominator;
    Some(Interval {
        lower: (centre - half_width).max(0.0),
        upper: (centre + half_width).min(1.0),
        confidence,
    })
}

/// The fewest trials at which even all successes have a Wilson lower bound of at least
/// `floor`: at `n` of `n` the bound is `n / (n + z^2)`, so a floor on the bound needs
/// `n >= floor * z^2 / (1 - floor)`. `None` for a floor outside (0, 1) or a bad confidence.
pub fn wilson_min_trials(floor: f64, confidence: f64) -> Option<u64> {
    if !in_open_unit(floor) || !in_open_unit(confidence) {
        return None;
    }
    let z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)?;
    let mut n = (floor * z * z / (1.0 - floor)).ceil().max(1.0) as u64;
    // The closed form can land one off in floating point; the interval itself decides.
    while n > 1 && wilson_interval(n - 1, n - 1, confidence).is_some_and(|w| w.lower >= floor) {
        n -= 1;
    }
    while wilson_interval(n, n, confidence).is_some_and(|w| w.lower < floor) {
        n += 1;
    }
    Some(n)
}

/// Confidence interval for the difference of two paired proportions,
/// candidate accuracy minus baseline accuracy. Each pair is
/// `(baseline_correct, candidate_correct)` for one sample.
///
/// Method: Newcombe's square-and-add ("hybrid score") interval for paired
/// data (Newcombe 1998, Statistics in Medicine 17:2635, method 10), in the
/// form given by Fagerland, Lydersen and Laake, *Statistical Analysis of
/// Contingency Tables* (2017), ch. 8. With Wilson limits `[l_b, u_b]` and
/// `[l_c, u_c]` for the two accuracies `p_b`, `p_c` and `d = p_c - p_b`:
///
/// ```text
/// lower = d - sqrt((p_c - l_c)^2 + (u_b - p_b)^2 - 2 psi (p_c - l_c)(u_b - p_b))
/// upper = d + sqrt((p_b - l_b)^2 + (u_c - p_c)^2 - 2 psi (p_b - l_b)(u_c - p_c))
/// ```
///
/// where `psi` estimates the correlation of the two outcomes from the 2x2
/// table, with Newcombe's continuity adjustment: `A = both * neither -
/// baseline_only * candidate_only`; `psi = (A - n/2) / sqrt(product of the
/// four margins)` when `A > n/2`, 0 when `0 <= A <= n/2` or a margin is
/// zero, and `A / sqrt(...)` when `A < 0`. Bounds are clamped to [-1, 1].
///
/// `None` when `pairs` is empty or `confidence` is outside (0, 1).
pub fn paired_difference_ci(pairs: &[(bool, bool)], confidence: f64) -> Option<Interval> {
    let mut counts = [[0u64; 2]; 2]; // [baseline correct][candidate correct]
    for &(baseline, candidate) in pairs {
        counts[usize::from(baseline)][usize::from(candidate)] += 1;
    }
    let (both, neither) = (counts[1][1], counts[0][0]);
    let (baseline_only, candidate_only) = (counts[1][0], counts[0][1]);
    let n = pairs.len() as u64;

    let baseline_correct = both + baseline_only;
    let candidate_correct = both + candidate_only;
    let ci_b = wilson_interval(baseline_correct, n, confidence)?;
    let ci_c = wilson_interval(candidate_correct, n, confidence)?;
    let n_f = n as f64;
    let (p_b, p_c) = (
        baseline_correct as f64 / n_f,
        candidate_correct as f64 / n_f,
    );

    let margins = [
        baseline_correct,
        n - baseline_correct,
        candidate_correct,
        n - candidate_correct,
    ];
    let psi = if margins.contains(&0) {
        0.0
    } else {
        let a = both as f64 * neither as f64 - baseline_only as f64 * candidate_only as f64;
        let scale = margins.iter().map(|&m| (m as f64).sqrt()).product::<f64>();
        if a > n_f / 2.0 {
            (a - n_f / 2.0) / scale
        } else if a >= 0.0 {
            0.0
        } else {
            a / scale
        }
    };
    // x^2 + y^2 - 2 psi x y >= 0 for |psi| <= 1; max guards rounding.
    let combine = |x: f64, y: f64| (x * x + y * y - 2.0 * psi * x * y).max(0.0).sqrt();
    let d = p_c - p_b;
    Some(Interval {
        lower: (d - combine(p_c - ci_c.lower, ci_b.upper - p_b)).max(-1.0),
        upper: (d + combine(p_b - ci_b.lower, ci_c.upper - p_c)).min(1.0),
        confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0)
    }

    #[test]
    fn mcnemar_matches_statsmodels() {
        // python -c "from statsmodels.stats.contingency_tables import mcnemar; \
        //   r = mcnemar([[0, B], [C, 0]], exact=True); print(r.statistic, r.pvalue)"
        let cases = [
            (0, 0, 0.0, 1.0),
            (1, 0, 0.0, 1.0),
            (0, 5, 0.0, 0.0625),
            (3, 12, 3.0, 0.03515625),
            (10, 10, 10.0, 1.0),
            (100, 130, 100.0, 0.05561357778139238),
            (5000, 5300, 5000.0, 0.003215819673645259),
        ];
        for (b, c, statistic, p_value) in cases {
            let r = mcnemar_exact(b, c);
            assert_eq!(r.statistic, statistic, "b={b} c={c}");
            assert!(
                (r.p_value - p_value).abs() <= 1e-10 * p_value,
                "b={b} c={c}: {} vs {p_value}",
                r.p_value
            );
            // The test is symmetric in which model won the discordant samples.
            assert_eq!(mcnemar_exact(c, b), r);
        }
        assert_eq!(mcnemar_exact(u64::MAX, u64::MAX).p_value, 1.0);
    }

    #[test]
    fn wilson_min_trials_is_where_all_successes_first_reach_the_floor() {
        // python3 -c "from statsmodels.stats.proportion import proportion_confint as c;
        //   print([next(n for n in range(1, 10**5) if c(n, n, method='wilson')[0] >= f)
        //          for f in (0.5, 0.8, 0.85, 0.9, 0.95, 0.99)])"
        // [4, 16, 22, 35, 73, 381]
        let floors = [0.5, 0.8, 0.85, 0.9, 0.95, 0.99];
        let got: Vec<u64> = floors
            .iter()
            .map(|f| wilson_min_trials(*f, 0.95).unwrap())
            .collect();
        assert_eq!(got, vec![4, 16, 22, 35, 73, 381]);
        // With 20 positives a 0.85 floor cannot be met: 20/20 has a lower bound of 0.839.
        assert!(wilson_interval(20, 20, 0.95).unwrap().lower < 0.85);
        assert_eq!(wilson_min_trials(1.0, 0.95), None);
        assert_eq!(wilson_min_trials(0.0, 0.95), None);
    }

    #[test]
    fn wilson_matches_statsmodels() {
        // python -c "from statsmodels.stats.proportion import proportion_confint; \
        //   print(proportion_confint(K, N, alpha=1 - C, method='wilson'))"
        let cases = [
            (0, 10, 0.95, 0.0, 0.2775327998628892),
            (10, 10, 0.95, 0.7224672001371107, 0.9999999999999999),
            (7, 20, 0.95, 0.18119182410108206, 0.5671457233147638),
            (1, 1, 0.95, 0.20654931437723745, 1.0),
            (0, 1, 0.95, 0.0, 0.7934506856227626),
            (500, 1000, 0.95, 0.4690696003681042, 0.5309303996318958),
            (93, 100, 0.99, 0.8342060485588548, 0.9722841600055375),
            (3, 7, 0.5, 0.3106034777497514, 0.5552572159915451),
        ];
        for (k, n, c, lower, upper) in cases {
            let ci = wilson_interval(k, n, c).unwrap();
            assert!(close(ci.lower, lower), "{k}/{n}: lower {}", ci.lower);
            assert!(close(ci.upper, upper), "{k}/{n}: upper {}", ci.upper);
            assert!((0.0..=1.0).contains(&ci.lower) && (0.0..=1.0).contains(&ci.upper));
        }
        for (k, n, c) in [(0, 0, 0.95), (5, 4, 0.95), (1, 2, 1.0), (1, 2, f64::NAN)] {
            assert_eq!(wilson_interval(k, n, c), None, "{k}/{n} c={c}");
        }
    }

    fn pairs(
        both: usize,
        baseline_only: usize,
        candidate_only: usize,
        neither: usize,
    ) -> Vec<(bool, bool)> {
        let mut out = vec![(true, true); both];
        out.extend(vec![(true, false); baseline_only]);
        out.extend(vec![(false, true); candidate_only]);
        out.extend(vec![(false, false); neither]);
        out
    }

    #[test]
    fn paired_difference_matches_independent_formula() {
        // Reference: the same formula written separately in numpy on top of
        // statsmodels' Wilson interval (Python 3, statsmodels 0.15):
        //   from statsmodels.stats.proportion import proportion_confint as pc; import numpy as np
        //   def newcombe(both, bo, co, ne, conf=0.95):
        //       n = both + bo + co + ne; pb, pc_ = (both + bo) / n, (both + co) / n
        //       lb, ub = pc(both + bo, n, alpha=1-conf, method='wilson')
        //       lc, uc = pc(both + co, n, alpha=1-conf, method='wilson')
        //       m = [both + co, bo + ne, both + bo, co + ne]; A = both * ne - bo * co
        //       psi = 0.0 if min(m) == 0 else ((A - n/2) if A > n/2 else (0 if A >= 0 else A)) / np.sqrt(np.prod(m, dtype=float))
        //       d = pc_ - pb
        //       return (d - np.sqrt((pc_-lc)**2 + (ub-pb)**2 - 2*psi*(pc_-lc)*(ub-pb)),
        //               d + np.sqrt((pb-lb)**2 + (uc-pc_)**2 - 2*psi*(pb-lb)*(uc-pc_)))
        //   print(newcombe(BOTH, BASELINE_ONLY, CANDIDATE_ONLY, NEITHER))
        let cases = [
            (
                (59, 6, 16, 80),
                0.95,
                0.004625113933050047,
                0.11862119563870992,
            ),
            (
                (59, 6, 16, 80),
                0.99,
                -0.01307655118449988,
                0.13563850636498034,
            ),
            ((1, 1, 7, 12), 0.95, 0.02555912416485978, 0.506920226686141),
            (
                (50, 0, 0, 50),
                0.95,
                -0.019233693926800913,
                0.019233693926800913,
            ),
            ((1, 0, 0, 0), 0.95, -0.7934506856227626, 0.7934506856227626),
            ((0, 1, 0, 0), 0.95, -1.0, 0.12210872068194178),
            ((0, 0, 0, 10), 0.95, -0.2775327998628892, 0.2775327998628892),
            (
                (9000, 150, 210, 640),
                0.95,
                0.002277599224367846,
                0.00974790602071838,
            ),
            (
                (5, 10, 12, 3),
                0.95,
                -0.22762979460392485,
                0.3480033979278015,
            ),
            (
                (30, 2, 1, 4),
                0.95,
                -0.14932510449465736,
                0.09114993865357282,
            ),
        ];
        for ((both, bo, co, ne), c, lower, upper) in cases {
            let ci = paired_difference_ci(&pairs(both, bo, co, ne), c).unwrap();
            let table = (both, bo, co, ne);
            assert!(close(ci.lower, lower), "{table:?}: lower {}", ci.lower);
            assert!(close(ci.upper, upper), "{table:?}: upper {}", ci.upper);
            assert_eq!(ci.confidence, c);
        }
    }

    #[test]
    fn paired_difference_degenerate_input() {
        assert_eq!(paired_difference_ci(&[], 0.95), None);
        assert_eq!(paired_difference_ci(&pairs(3, 1, 1, 3), 0.0), None);
        assert_eq!(paired_difference_ci(&pairs(3, 1, 1, 3), f64::NAN), None);
        // Swapping the models mirrors the interval.
        let forward = paired_difference_ci(&pairs(20, 3, 9, 8), 0.95).unwrap();
        let mirrored = paired_difference_ci(&pairs(20, 9, 3, 8), 0.95).unwrap();
        assert!(close(forward.lower, -mirrored.upper) && close(forward.upper, -mirrored.lower));
    }
}
