//! A two-sample test for a tail percentile: do the two samples exceed the same threshold equally
//! often?
//!
//! Mann-Whitney looks at the whole distribution and is dominated by its middle, so a regression
//! that only lengthens the tail (a p99 that doubles while the median stays put) can slip past it.
//! This is Mood's median test generalised to any percentile q: take the pooled sample's q-th
//! percentile as the threshold, count how many runs of each sample exceed it, and compare the two
//! proportions with Pearson's chi-square on the 2x2 table (no continuity correction).

use super::describe::percentile;
use super::two_sample::TestResult;

/// Tests whether `a` and `b` exceed their pooled `q`-quantile equally often. `statistic` is the
/// chi-square value (1 degree of freedom). Equals
/// `scipy.stats.chi2_contingency([[a>t, a<=t], [b>t, b<=t]], correction=False)` with
/// `t = numpy.quantile(concat(a, b), q)`. A table with an empty margin (no run, or every run,
/// above the threshold) shows no difference: statistic 0, p-value 1. None for empty samples,
/// non-finite values or `q` outside (0, 1).
pub fn exceedance_test(a: &[f64], b: &[f64], q: f64) -> Option<TestResult> {
    if a.is_empty() || b.is_empty() || !(q > 0.0 && q < 1.0) {
        return None;
    }
    if a.iter().chain(b).any(|v| !v.is_finite()) {
        return None;
    }
    let mut pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    pooled.sort_by(f64::total_cmp);
    let threshold = percentile(&pooled, q)?;
    let above = |s: &[f64]| s.iter().filter(|v| **v > threshold).count() as f64;
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (xa, xb) = (above(a), above(b));
    let n = na + nb;
    let total_above = xa + xb;
    let total_below = n - total_above;
    if total_above == 0.0 || total_below == 0.0 {
        return Some(TestResult {
            statistic: 0.0,
            p_value: 1.0,
        });
    }
    let observed = [xa, na - xa, xb, nb - xb];
    let expected = [
        na * total_above / n,
        na * total_below / n,
        nb * total_above / n,
        nb * total_below / n,
    ];
    let statistic: f64 = observed
        .iter()
        .zip(&expected)
        .map(|(o, e)| (o - e).powi(2) / e)
        .sum();
    // Chi-square with one degree of freedom: P(X > s) = P(|Z| > sqrt(s)) = erfc(sqrt(s / 2)).
    let p_value = statrs::function::erf::erfc((statistic / 2.0).sqrt()).clamp(0.0, 1.0);
    Some(TestResult { statistic, p_value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
    }

    #[test]
    fn matches_scipy_chi2_contingency() {
        // python -c "import numpy as np; from scipy.stats import chi2_contingency
        // a=np.arange(1,11.); b=np.array([3,4,5,6,7,8,9,10,11,12.]); t=np.quantile(np.r_[a,b],.5)
        // r=chi2_contingency([[(a>t).sum(),(a<=t).sum()],[(b>t).sum(),(b<=t).sum()]],correction=False)
        // print(r.statistic, r.pvalue)"   -> 0.8 0.37109336952269756  (scipy 1.17.1)
        // Same with b[-1] = 30 and q = 0.9 -> 2.2222222222222223 0.13603712811414423
        let a: Vec<f64> = (1..=10).map(f64::from).collect();
        let b: Vec<f64> = (3..=12).map(f64::from).collect();
        let mut b_tail = b.clone();
        b_tail[9] = 30.0;
        let cases = [
            (&b, 0.5, 0.8, 0.37109336952269756),
            (&b_tail, 0.9, 2.2222222222222223, 0.13603712811414423),
        ];
        for (b, q, stat, p) in cases {
            let t = exceedance_test(&a, b, q).unwrap();
            assert!(
                close(t.statistic, stat),
                "statistic {} vs {stat}",
                t.statistic
            );
            assert!(close(t.p_value, p), "p {} vs {p}", t.p_value);
        }
    }

    #[test]
    fn degenerate_inputs() {
        let same = [2.0; 5];
        assert_eq!(
            exceedance_test(&same, &same, 0.95),
            Some(TestResult {
                statistic: 0.0,
                p_value: 1.0
            })
        );
        assert_eq!(exceedance_test(&[], &same, 0.5), None);
        assert_eq!(exceedance_test(&same, &[f64::NAN], 0.5), None);
        assert_eq!(exceedance_test(&same, &same, 1.0), None);
    }
}
