//! Hypothesis tests and effect sizes for two independent latency samples.
//!
//! The gate asks whether a candidate model's latencies differ from the
//! baseline's. Latencies are skewed and heavy-tailed, so two tests answer
//! that from different angles: Mann-Whitney U (rank-based, no shape
//! assumption) and Welch's t on log-latencies (a test of the ratio of
//! geometric means, the quantity a "5 % slower" threshold is about).
//! Cohen's d gives a scale-free effect size. Throughout, `a` is the baseline
//! and `b` the candidate, both in milliseconds.

use serde::Serialize;

use super::dist::{normal_sf, t_two_sided_p};

/// Outcome of a two-sided hypothesis test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct TestResult {
    /// The test statistic; each test documents which.
    pub statistic: f64,
    /// Two-sided p-value in [0, 1].
    pub p_value: f64,
}

fn all_finite(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite())
}

/// Mann-Whitney U test, two-sided, by the normal approximation with tie
/// correction and continuity correction: the same numbers as
/// `scipy.stats.mannwhitneyu(a, b, alternative='two-sided',
/// method='asymptotic', use_continuity=True)`.
///
/// `statistic` is U of `a`: the number of pairs with `a_i > b_j`, ties
/// counting one half. Larger than `n_a * n_b / 2` means the baseline tends to
/// be slower. O((n_a + n_b) log(n_a + n_b)).
///
/// When every value in both samples is equal the rank variance is zero and
/// the samples carry no evidence of a difference: the p-value is 1, as scipy
/// also reports. `None` when either sample is empty or holds a
/// non-finite value.
pub fn mann_whitney_u(a: &[f64], b: &[f64]) -> Option<TestResult> {
    if a.is_empty() || b.is_empty() || !all_finite(a) || !all_finite(b) {
        return None;
    }
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    pooled.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));

    let n = pooled.len();
    let (n_a, n_b) = (a.len() as f64, b.len() as f64);
    let (mut rank_sum_a, mut tie_sum) = (0.0, 0.0);
    let mut start = 0;
    while start < n {
        let value = pooled[start].0;
        let end = start + pooled[start..].partition_point(|&(x, _)| x == value);
        // Ranks start+1 ..= end share their mean.
        let mid_rank = (start + end + 1) as f64 / 2.0;
        let from_a = pooled[start..end].iter().filter(|p| p.1).count();
        rank_sum_a += mid_rank * from_a as f64;
        let t = (end - start) as f64;
        tie_sum += t * t * t - t;
        start = end;
    }
    let u_a = rank_sum_a - n_a * (n_a + 1.0) / 2.0;

    let n_f = n as f64;
    let variance = n_a * n_b / 12.0 * ((n_f + 1.0) - tie_sum / (n_f * (n_f - 1.0)));
    if variance.is_nan() || variance <= 0.0 {
        return Some(TestResult {
            statistic: u_a,
            p_value: 1.0,
        });
    }
    let u_max = u_a.max(n_a * n_b - u_a);
    let z = (u_max - n_a * n_b / 2.0 - 0.5) / variance.sqrt();
    Some(TestResult {
        statistic: u_a,
        p_value: (2.0 * normal_sf(z)?).min(1.0),
    })
}

/// Mean and sample variance (divisor n - 1); `None` for fewer than 2 values.
fn mean_var(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let ss: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
    Some((mean, ss / (n - 1.0)))
}

/// Welch's unequal-variance t-test on natural-log latencies, two-sided:
/// `scipy.stats.ttest_ind(np.log(a), np.log(b), equal_var=False)`.
///
/// `statistic` is t of `mean(ln a) - mean(ln b)`, so a positive value means
/// the baseline is slower. `exp(mean(ln b) - mean(ln a))` is the ratio the
/// test is about.
///
/// Zero variance in both samples: equal means give t = 0 and p = 1 (nothing
/// to tell apart; scipy returns NaN); different means give `None`, because
/// the t statistic is infinite and the caller should report the difference
/// directly. Also `None` when a sample has fewer than 2 values or holds a
/// value that is not finite and positive.
pub fn welch_t_log(a: &[f64], b: &[f64]) -> Option<TestResult> {
    let positive = |xs: &[f64]| xs.iter().all(|x| x.is_finite() && *x > 0.0);
    if !positive(a) || !positive(b) {
        return None;
    }
    let ln_a: Vec<f64> = a.iter().map(|x| x.ln()).collect();
    let ln_b: Vec<f64> = b.iter().map(|x| x.ln()).collect();
    let (mean_a, var_a) = mean_var(&ln_a)?;
    let (mean_b, var_b) = mean_var(&ln_b)?;
    let (se2_a, se2_b) = (var_a / a.len() as f64, var_b / b.len() as f64);
    let se2 = se2_a + se2_b;
    if se2 == 0.0 {
        return (mean_a == mean_b).then_some(TestResult {
            statistic: 0.0,
            p_value: 1.0,
        });
    }
    let t = (mean_a - mean_b) / se2.sqrt();
    // Welch-Satterthwaite degrees of freedom.
    let df =
        se2 * se2 / (se2_a * se2_a / (a.len() - 1) as f64 + se2_b * se2_b / (b.len() - 1) as f64);
    Some(TestResult {
        statistic: t,
        p_value: t_two_sided_p(t, df)?,
    })
}

/// Cohen's d of `b` minus `a` with the pooled standard deviation
/// `sqrt(((n_a - 1) s_a^2 + (n_b - 1) s_b^2) / (n_a + n_b - 2))`. Positive
/// means the candidate is slower.
///
/// `None` when either sample is empty, `n_a + n_b < 3`, a value is not
/// finite, or the pooled standard deviation is zero (d is undefined when
/// both samples are constant).
pub fn cohens_d(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() || a.len() + b.len() < 3 {
        return None;
    }
    if !all_finite(a) || !all_finite(b) {
        return None;
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let (mean_a, mean_b) = (mean(a), mean(b));
    let ss = |xs: &[f64], m: f64| xs.iter().map(|x| (x - m).powi(2)).sum::<f64>();
    let pooled_var = (ss(a, mean_a) + ss(b, mean_b)) / (a.len() + b.len() - 2) as f64;
    let d = (mean_b - mean_a) / pooled_var.sqrt();
    (pooled_var > 0.0 && d.is_finite()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(1e-300)
    }

    /// (name, a, b, expected statistic, expected p-value)
    type Case<'a> = (&'a str, &'a [f64], &'a [f64], f64, f64);

    // Reference samples, each written out again in the Python commands below.
    const SMALL_A: &[f64] = &[10.2, 11.5, 9.8, 12.0, 10.9];
    const SMALL_B: &[f64] = &[11.1, 12.4, 13.0, 11.9, 12.2, 12.8];
    const TIES_A: &[f64] = &[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0];
    const TIES_B: &[f64] = &[2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0, 6.0];

    /// a = [10 + ((i*37) % 101)/10 for i in range(2000)],
    /// b = [10.3 + ((j*53) % 103)/10 for j in range(2500)]: many ties.
    fn big() -> (Vec<f64>, Vec<f64>) {
        let a = (0..2000).map(|i| 10.0 + ((i * 37) % 101) as f64 / 10.0);
        let b = (0..2500).map(|j| 10.3 + ((j * 53) % 103) as f64 / 10.0);
        (a.collect(), b.collect())
    }

    #[test]
    fn mann_whitney_matches_scipy_asymptotic() {
        // python -c "from scipy import stats; r = stats.mannwhitneyu(A, B, alternative='two-sided', \
        //   method='asymptotic', use_continuity=True); print(r.statistic, r.pvalue)"
        let (big_a, big_b) = big();
        let cases: &[Case] = &[
            ("small", SMALL_A, SMALL_B, 3.0, 0.03576376659097789),
            ("ties", TIES_A, TIES_B, 11.0, 0.04988443697992588),
            ("n=1 each", &[1.0], &[2.0], 0.0, 1.0),
            (
                "n=1 vs 3",
                &[5.0],
                &[1.0, 2.0, 3.0],
                3.0,
                0.37109336952269756,
            ),
            (
                "n=2 each",
                &[1.0, 2.0],
                &[3.0, 4.0],
                0.0,
                0.2452781168067728,
            ),
            ("all equal", &[3.0; 3], &[3.0; 3], 4.5, 1.0),
            (
                "same sample",
                &[1.0, 2.0, 3.0, 4.0],
                &[1.0, 2.0, 3.0, 4.0],
                8.0,
                1.0,
            ),
            ("big", &big_a, &big_b, 2303063.5, 5.42351718487626e-06),
        ];
        for &(name, a, b, statistic, p_value) in cases {
            let r = mann_whitney_u(a, b).unwrap();
            assert_eq!(r.statistic, statistic, "{name}");
            assert!(
                close(r.p_value, p_value, 1e-9),
                "{name}: {} vs {p_value}",
                r.p_value
            );
        }
    }

    #[test]
    fn mann_whitney_is_fast_on_large_samples() {
        // python -c "import numpy as np; from scipy import stats; \
        //   a = np.array([(i*7919) % 100003 for i in range(100000)], float); \
        //   b = np.array([(i*104729) % 100019 for i in range(100000)], float); \
        //   r = stats.mannwhitneyu(a, b, alternative='two-sided', method='asymptotic', use_continuity=True); \
        //   print(r.statistic, r.pvalue)"
        let a: Vec<f64> = (0..100_000u64)
            .map(|i| ((i * 7919) % 100_003) as f64)
            .collect();
        let b: Vec<f64> = (0..100_000u64)
            .map(|i| ((i * 104_729) % 100_019) as f64)
            .collect();
        let start = std::time::Instant::now();
        let r = mann_whitney_u(&a, &b).unwrap();
        // O(n log n) takes milliseconds; a quadratic version would take minutes.
        assert!(start.elapsed().as_secs_f64() < 5.0);
        assert_eq!(r.statistic, 4999152969.5);
        assert!(close(r.p_value, 0.9476879312070747, 1e-9), "{}", r.p_value);
    }

    #[test]
    fn welch_t_log_matches_scipy() {
        // python -c "import numpy as np; from scipy import stats; \
        //   r = stats.ttest_ind(np.log(A), np.log(B), equal_var=False); print(r.statistic, r.pvalue)"
        let (big_a, big_b) = big();
        let cases: &[Case] = &[
            (
                "small",
                SMALL_A,
                SMALL_B,
                -2.705225061045416,
                0.0309229700162949,
            ),
            (
                "ties",
                TIES_A,
                TIES_B,
                -2.1918387851614645,
                0.050060617453056316,
            ),
            (
                "n=2 each",
                &[1.0, 2.0],
                &[3.0, 4.0],
                -2.387497864770908,
                0.19915765145119604,
            ),
            (
                "big",
                &big_a,
                &big_b,
                -4.396007085010868,
                1.1293995863495646e-05,
            ),
        ];
        for &(name, a, b, statistic, p_value) in cases {
            let r = welch_t_log(a, b).unwrap();
            assert!(
                close(r.statistic, statistic, 1e-10),
                "{name}: t {}",
                r.statistic
            );
            assert!(
                close(r.p_value, p_value, 1e-8),
                "{name}: p {} vs {p_value}",
                r.p_value
            );
        }
    }

    #[test]
    fn welch_t_log_degenerate_inputs() {
        // scipy gives t = 0, p = 1 for identical varied samples and NaN for the rest.
        let same = [1.0, 2.0, 3.0, 4.0];
        let r = welch_t_log(&same, &same).unwrap();
        assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
        let r = welch_t_log(&[3.0; 3], &[3.0; 4]).unwrap();
        assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
        let cases: &[(&str, &[f64], &[f64])] = &[
            ("different constants", &[3.0; 3], &[4.0; 3]),
            ("n=1", &[1.0], &[2.0, 3.0]),
            ("empty", &[], &[2.0, 3.0]),
            ("zero latency", &[0.0, 1.0], &[2.0, 3.0]),
            ("negative", &[-1.0, 1.0], &[2.0, 3.0]),
            ("NaN", &[1.0, 2.0], &[f64::NAN, 3.0]),
            ("infinite", &[1.0, f64::INFINITY], &[2.0, 3.0]),
        ];
        for &(name, a, b) in cases {
            assert_eq!(welch_t_log(a, b), None, "{name}");
        }
    }

    #[test]
    fn cohens_d_matches_numpy_formula() {
        // python -c "import numpy as np; ss = lambda x: ((x - x.mean())**2).sum(); \
        //   a, b = np.array(A), np.array(B); print((b.mean() - a.mean()) / np.sqrt((ss(a) + ss(b)) / (len(a) + len(b) - 2)))"
        let (big_a, big_b) = big();
        let cases: &[(&str, &[f64], &[f64], f64)] = &[
            ("small", SMALL_A, SMALL_B, 1.7154589279525247),
            ("ties", TIES_A, TIES_B, 1.2238038456119356),
            ("n=1 vs 3", &[5.0], &[1.0, 2.0, 3.0], -3.0),
            ("n=2 each", &[1.0, 2.0], &[3.0, 4.0], 2.82842712474619),
            ("big", &big_a, &big_b, 0.1340496315976405),
        ];
        for &(name, a, b, expected) in cases {
            let d = cohens_d(a, b).unwrap();
            assert!(close(d, expected, 1e-10), "{name}: {d} vs {expected}");
        }
        let same = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(cohens_d(&same, &same), Some(0.0));
    }

    #[test]
    fn cohens_d_and_mann_whitney_reject_degenerate_inputs() {
        let cases: &[(&str, &[f64], &[f64])] = &[
            ("empty", &[], &[1.0, 2.0]),
            ("NaN", &[1.0, f64::NAN], &[1.0, 2.0]),
            ("infinite", &[1.0, 2.0], &[f64::NEG_INFINITY]),
        ];
        for &(name, a, b) in cases {
            assert_eq!(mann_whitney_u(a, b), None, "{name}");
            assert_eq!(cohens_d(a, b), None, "{name}");
        }
        assert_eq!(cohens_d(&[1.0], &[2.0]), None);
        assert_eq!(cohens_d(&[3.0; 3], &[3.0; 3]), None);
        assert_eq!(cohens_d(&[3.0; 3], &[4.0; 3]), None);
    }
}
