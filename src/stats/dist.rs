//! Distribution functions shared by the tests and intervals in this module.
//!
//! statrs provides the special functions, but its `beta_reg` stops after a fixed
//! number of continued-fraction steps and its distribution types panic outside
//! their domain. These wrappers validate their arguments, return `None` instead
//! of panicking, and compute binomial tails by direct summation in log space so
//! they stay exact for the sample sizes a benchmark produces (up to ~10^6).

use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::beta::checked_beta_reg;
use statrs::function::erf::{erfc, erfc_inv};
use statrs::function::factorial::ln_binomial;
use statrs::function::gamma::ln_gamma;
use std::f64::consts::{PI, SQRT_2};

/// True for x strictly between 0 and 1 (false for NaN): the domain of
/// probabilities, quantile levels and confidence levels.
pub(crate) fn in_open_unit(x: f64) -> bool {
    x > 0.0 && x < 1.0
}

/// True for finite x above 0 (false for NaN).
pub(crate) fn positive_finite(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Upper tail of the standard normal distribution, `P(Z > z)`.
pub(crate) fn normal_sf(z: f64) -> Option<f64> {
    if z.is_nan() {
        return None;
    }
    // erfc keeps relative precision deep in the upper tail, unlike 1 - cdf.
    Some(0.5 * erfc(z / SQRT_2))
}

/// Quantile of the standard normal distribution for `p` in (0, 1).
pub(crate) fn normal_quantile(p: f64) -> Option<f64> {
    if !in_open_unit(p) {
        return None;
    }
    Some(-SQRT_2 * erfc_inv(2.0 * p))
}

/// Two-sided p-value of a Student t statistic with `df` degrees of freedom,
/// `2 * P(T > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2)`.
pub(crate) fn t_two_sided_p(t: f64, df: f64) -> Option<f64> {
    if t.is_nan() || !positive_finite(df) {
        return None;
    }
    if t.is_infinite() {
        return Some(0.0);
    }
    let x = df / (df + t * t);
    checked_beta_reg(df / 2.0, 0.5, x)
        .ok()
        .filter(|p| p.is_finite())
        .map(|p| p.clamp(0.0, 1.0))
}

/// Quantile of the Student t distribution for `p` in (0, 1).
pub(crate) fn t_quantile(p: f64, df: f64) -> Option<f64> {
    if !in_open_unit(p) || !positive_finite(df) {
        return None;
    }
    let upper_tail = if p >= 0.5 { 1.0 - p } else { p };
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    // statrs inverts the incomplete beta function only to ~1e-6 for large df;
    // a few Newton steps on the accurate tail probability polish it.
    let mut q = dist.inverse_cdf(1.0 - upper_tail).abs();
    let ln_norm = ln_gamma((df + 1.0) / 2.0) - ln_gamma(df / 2.0) - 0.5 * (df * PI).ln();
    for _ in 0..4 {
        let tail = t_two_sided_p(q, df)? / 2.0;
        let density = (ln_norm - (df + 1.0) / 2.0 * (q * q / df).ln_1p()).exp();
        if !positive_finite(density) {
            break;
        }
        q += (tail - upper_tail) / density;
    }
    let q = if p >= 0.5 { q } else { -q };
    Some(q).filter(|q| q.is_finite())
}

/// Probability mass of Binomial(n, p) at every k in 0..=n, for p in (0, 1).
///
/// Each term is computed in log space, so terms far in a tail underflow to
/// zero instead of poisoning the sum. O(n) time and memory.
pub(crate) fn binomial_pmf(n: u64, p: f64) -> Option<Vec<f64>> {
    if !in_open_unit(p) {
        return None;
    }
    let (ln_p, ln_q) = (p.ln(), (-p).ln_1p());
    Some(
        (0..=n)
            .map(|k| (ln_binomial(n, k) + k as f64 * ln_p + (n - k) as f64 * ln_q).exp())
            .collect(),
    )
}

/// `P(X <= k)` for X ~ Binomial(n, 1/2), exact for any n.
///
/// Sums from k downwards using the ratio pmf(j-1)/pmf(j) = j/(n-j+1), so the
/// result keeps full relative precision even when it is astronomically small.
pub(crate) fn binomial_half_cdf(k: u64, n: u64) -> f64 {
    if k >= n {
        return 1.0;
    }
    let ln_pmf_k = ln_binomial(n, k) - n as f64 * std::f64::consts::LN_2;
    let (mut term, mut sum) = (1.0_f64, 1.0_f64);
    for j in (1..=k).rev() {
        term *= j as f64 / (n - j + 1) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    (ln_pmf_k + sum.ln()).exp().min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(1e-300)
    }

    #[test]
    fn normal_sf_matches_scipy() {
        // python -c "from scipy.stats import norm; [print(repr(float(norm.sf(z)))) for z in (-2, 0, 1.959963984540054, 3, 8.5)]"
        let cases = [
            (-2.0, 0.9772498680518208),
            (0.0, 0.5),
            (1.959963984540054, 0.025),
            (3.0, 0.0013498980316300933),
            (8.5, 9.47953482220325e-18),
        ];
        for (z, expected) in cases {
            let p = normal_sf(z).unwrap();
            assert!(close(p, expected, 1e-9), "z={z}: {p} vs {expected}");
        }
        assert_eq!(normal_sf(f64::NAN), None);
    }

    #[test]
    fn quantiles_match_scipy() {
        // python -c "from scipy.stats import norm; print(repr(norm.ppf(0.975)), repr(norm.ppf(0.005)))"
        assert!(close(
            normal_quantile(0.975).unwrap(),
            1.959963984540054,
            1e-13
        ));
        assert!(close(
            normal_quantile(0.005).unwrap(),
            -2.575829303548901,
            1e-13
        ));
        // python -c "from scipy.stats import t; [print(repr(t.ppf(0.975, d))) for d in (1, 2, 9, 999, 1e5)]"
        let cases = [
            (1e5, 1.9599877075346095),
            (1.0, 12.706204736174694),
            (2.0, 4.302652729749462),
            (9.0, 2.262157162798205),
            (999.0, 1.9623414611334493),
        ];
        for (df, expected) in cases {
            let q = t_quantile(0.975, df).unwrap();
            assert!(close(q, expected, 1e-10), "df={df}: {q} vs {expected}");
        }
        // python -c "from scipy.stats import t; print(repr(t.ppf(0.005, 3)), repr(t.ppf(0.975, 1.5)))"
        assert!(close(
            t_quantile(0.005, 3.0).unwrap(),
            -5.840909309733357,
            1e-10
        ));
        assert!(close(
            t_quantile(0.975, 1.5).unwrap(),
            6.016663104427929,
            1e-10
        ));
        assert_eq!(normal_quantile(1.0), None);
        assert_eq!(t_quantile(0.5, 0.0), None);
    }

    #[test]
    fn t_two_sided_p_matches_scipy() {
        // python -c "from scipy.stats import t; [print(repr(2*t.sf(abs(x), d))) for x, d in ((2.0, 3.0), (-0.5, 10.5), (6.0, 150000.0), (40.0, 7.0))]"
        let cases = [
            (2.0, 3.0, 0.13932596855884305),
            (-0.5, 10.5, 0.6273873045888351),
            (6.0, 150000.0, 1.9776758579893807e-09),
            (40.0, 7.0, 1.5902179984850364e-09),
        ];
        for (t, df, expected) in cases {
            let p = t_two_sided_p(t, df).unwrap();
            assert!(close(p, expected, 1e-9), "t={t} df={df}: {p} vs {expected}");
        }
        assert_eq!(t_two_sided_p(0.0, 5.0), Some(1.0));
        assert_eq!(t_two_sided_p(f64::NAN, 5.0), None);
    }

    #[test]
    fn binomial_tails_match_scipy() {
        // python -c "from scipy.stats import binom; [print(repr(binom.cdf(k, n, 0.5))) for k, n in ((0, 1), (3, 10), (10, 100), (499, 1000))]"
        let cases = [
            (0, 1, 0.5),
            (3, 10, 0.171875),
            (10, 100, 1.5316450877189923e-17),
            (499, 1000, 0.48738749091081973),
        ];
        for (k, n, expected) in cases {
            let p = binomial_half_cdf(k, n);
            assert!(close(p, expected, 1e-11), "k={k} n={n}: {p} vs {expected}");
        }
        // python -c "from scipy.stats import binom; print(repr(binom.pmf(3, 20, 0.1)))"
        let pmf = binomial_pmf(20, 0.1).unwrap();
        assert!(close(pmf[3], 0.19011987137619904, 1e-12));
        assert!(close(pmf.iter().sum::<f64>(), 1.0, 1e-12));
        assert_eq!(binomial_pmf(5, 1.0), None);
    }
}
