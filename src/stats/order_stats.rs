//! How far a tail percentile can be trusted, from order statistics alone.
//!
//! Latency distributions are skewed and multi-modal, so intervals for p50 or
//! p99 must not assume a shape. Two distribution-free tools live here: the
//! binomial order-statistic confidence interval for a quantile, and the
//! minimum sample count MLPerf LoadGen's early-stopping rule demands before a
//! tail percentile is reported at all. Both rest on one fact: each sample
//! falls below the true q-quantile independently with probability q, so the
//! number below it is Binomial(n, q).

use super::dist::{binomial_pmf, in_open_unit};
use super::interval::{is_sorted_finite, Interval};

/// The confidence LoadGen's early stopping uses (`confidence = 0.99` in
/// mlcommons/inference `loadgen/results.cc`, `EarlyStopping`).
pub const LOADGEN_CONFIDENCE: f64 = 0.99;

/// Distribution-free two-sided confidence interval for the `q`-quantile
/// (`q` in (0, 1)) of an ascending slice, from its order statistics.
///
/// With `alpha = (1 - confidence) / 2` and `B ~ Binomial(n, q)`:
/// `k_lo` is the smallest k with `P(B <= k) >= alpha` and `k_hi` the smallest
/// k with `P(B > k) <= alpha`. The interval is `[sorted[k_lo - 1],
/// sorted[k_hi]]` (0-based), which covers the true quantile with probability
/// at least `confidence` for continuous data. This is exactly the rule of
/// scipy's `quantile_test(x, p=q).confidence_interval(confidence)` (its
/// `binom.ppf(alpha) - 1` and `binom.isf(alpha)` indices).
///
/// Returns `None` when the slice is empty, unsorted or holds a non-finite
/// value, when an argument is outside (0, 1), or when n is too small for
/// both bounds to exist (`k_lo = 0` or `k_hi = n`; at 95 %
/// the median needs n >= 6, p95 needs n >= 72 and p99 needs n >= 368). scipy
/// returns a half-open interval (one bound NaN) in that case; this returns
/// `None` rather than a one-sided interval posing as a two-sided one.
pub fn quantile_ci(sorted: &[f64], q: f64, confidence: f64) -> Option<Interval> {
    let n = sorted.len();
    if !is_sorted_finite(sorted) || !in_open_unit(q) || !in_open_unit(confidence) {
        return None;
    }
    let alpha = (1.0 - confidence) / 2.0;
    let pmf = binomial_pmf(n as u64, q)?;

    // Smallest k with P(B <= k) >= alpha, summing up from k = 0.
    let mut cdf = 0.0;
    let k_lo = pmf.iter().position(|&p| {
        cdf += p;
        cdf >= alpha
    })?;
    // Smallest k with P(B > k) <= alpha, summing down from k = n, so the
    // upper tail is never computed as 1 - (something close to 1).
    let mut sf = 0.0;
    let mut k_hi = n;
    while k_hi > 0 {
        sf += pmf[k_hi];
        if sf > alpha {
            break;
        }
        k_hi -= 1;
    }
    if k_lo == 0 || k_hi >= n {
        return None;
    }
    let (lower, upper) = (sorted[k_lo - 1], sorted[k_hi]);
    (lower.is_finite() && upper.is_finite() && lower <= upper).then_some(Interval {
        lower,
        upper,
        confidence,
    })
}

/// Fewest samples before LoadGen's early-stopping rule will estimate the
/// `q`-quantile (`q` in (0, 1), e.g. 0.99) at `confidence` (LoadGen uses
/// [`LOADGEN_CONFIDENCE`]). Returns `None` for arguments outside (0, 1).
///
/// The rule, from first principles: if `x_q` is the true q-quantile, the
/// number of samples above it is `T ~ Binomial(n, 1 - q)`. LoadGen's
/// SingleStream and MultiStream early stopping always allow for one
/// over-quantile sample (it starts at `t = 1`) and asks for the smallest n
/// with `P(T <= 1) = q^n + n (1 - q) q^(n - 1) < 1 - confidence`: seeing at
/// most one sample above a threshold in fewer runs would be too likely even
/// if the threshold were below the true quantile. (In LoadGen this is
/// `find_min_passing(1, q, 0, c) + 1`, with `odds(h, 1, q, 0) =
/// I_q(h, 2) = P(T <= 1)` for `n = h + 1`.) At 99 % this gives 64 for p90,
/// 130 for p95 and 662 for p99.
///
/// The shortcut `ln(1 - c) / ln(1 - (1 - q) ln 2)` lands within one sample
/// (64.1, 130.6, 662.1) but is not the rule: rounded up it gives 65, 131, 663.
pub fn min_samples_for_percentile(q: f64, confidence: f64) -> Option<u64> {
    if !in_open_unit(q) || !in_open_unit(confidence) {
        return None;
    }
    let ln_target = (1.0 - confidence).ln();
    // ln P(T <= 1) = (n - 1) ln q + ln(q + n (1 - q)); strictly decreasing for n >= 1.
    let passes = |n: u64| {
        let n = n as f64;
        (n - 1.0) * q.ln() + (q + n * (1.0 - q)).ln() < ln_target
    };
    let mut hi: u64 = 2;
    while !passes(hi) {
        hi = hi.checked_mul(2).filter(|&h| h < 1 << 62)?;
    }
    // Invariant: passes(hi) and !passes(lo).
    let mut lo = hi / 2;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if passes(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Whether `n` samples are enough for LoadGen's early stopping to report the
/// `q`-quantile at [`LOADGEN_CONFIDENCE`]; false for `q` outside (0, 1).
pub fn percentile_trusted(n: usize, q: f64) -> bool {
    min_samples_for_percentile(q, LOADGEN_CONFIDENCE).is_some_and(|min| n as u64 >= min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranks(n: usize) -> Vec<f64> {
        (1..=n).map(|i| i as f64).collect()
    }

    #[test]
    fn quantile_ci_matches_scipy_quantile_test() {
        // Data 1..=n, so each bound is the 1-based rank of the order statistic.
        // python -c "import numpy as np; from scipy.stats import quantile_test as t; \
        //   ci = t(np.arange(1, N + 1.0), p=Q).confidence_interval(C); print(ci.low, ci.high)"
        // (n, q, confidence, (lower, upper))
        type Case = (usize, f64, f64, Option<(f64, f64)>);
        let cases: &[Case] = &[
            (1, 0.5, 0.95, None), // nan nan
            (5, 0.5, 0.95, None), // nan nan
            (6, 0.5, 0.95, Some((1.0, 6.0))),
            (10, 0.5, 0.95, Some((2.0, 9.0))),
            (100, 0.5, 0.95, Some((40.0, 61.0))),
            (71, 0.95, 0.95, None), // 63.0 nan
            (72, 0.95, 0.95, Some((64.0, 72.0))),
            (100, 0.95, 0.95, Some((90.0, 100.0))),
            (367, 0.99, 0.95, None), // 359.0 nan
            (368, 0.99, 0.95, Some((360.0, 368.0))),
            (1000, 0.99, 0.95, Some((983.0, 997.0))),
            (1000, 0.9, 0.99, Some((875.0, 925.0))),
            (20, 0.1, 0.9, None), // nan 5.0
            (100_000, 0.99, 0.95, Some((98938.0, 99062.0))),
        ];
        for &(n, q, c, expected) in cases {
            let got = quantile_ci(&ranks(n), q, c).map(|i| (i.lower, i.upper));
            assert_eq!(got, expected, "n={n} q={q} c={c}");
        }
    }

    #[test]
    fn quantile_ci_handles_ties_and_rejects_bad_input() {
        // With every sample equal the interval collapses onto that value.
        let tied = [7.0; 50];
        let ci = quantile_ci(&tied, 0.5, 0.95).unwrap();
        assert_eq!((ci.lower, ci.upper, ci.confidence), (7.0, 7.0, 0.95));
        // python: quantile_test(np.array([1,2,2,2,2,3,3,3,4,5.]), p=0.5).confidence_interval(0.95) -> (2.0, 4.0)
        let ties = [1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0];
        let ci = quantile_ci(&ties, 0.5, 0.95).unwrap();
        assert_eq!((ci.lower, ci.upper), (2.0, 4.0));
        for (q, c) in [
            (0.0, 0.95),
            (1.0, 0.95),
            (f64::NAN, 0.95),
            (0.5, 1.0),
            (0.5, f64::NAN),
        ] {
            assert_eq!(quantile_ci(&ranks(100), q, c), None, "q={q} c={c}");
        }
        assert_eq!(quantile_ci(&[], 0.5, 0.95), None);
        assert_eq!(
            quantile_ci(&[1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0], 0.5, 0.95),
            None
        );
    }

    #[test]
    fn loadgen_minimum_samples() {
        // Smallest n with P(Binomial(n, 1 - q) <= 1) < 1 - c:
        // python -c "from scipy.stats import binom; \
        //   print([next(n for n in range(2, 10**6) if binom.cdf(1, n, 1 - q) < 1 - c) \
        //          for q, c in ((0.9, .99), (0.95, .99), (0.99, .99), (0.999, .99), (0.5, .99), (0.99, .95), (0.9999, .99))])"
        // -> [64, 130, 662, 6636, 11, 473, 66381]
        let cases = [
            (0.9, 0.99, 64),
            (0.95, 0.99, 130),
            (0.99, 0.99, 662),
            (0.999, 0.99, 6636),
            (0.5, 0.99, 11),
            (0.99, 0.95, 473),
            (0.9999, 0.99, 66381),
        ];
        for (q, c, expected) in cases {
            assert_eq!(
                min_samples_for_percentile(q, c),
                Some(expected),
                "q={q} c={c}"
            );
        }
        for (q, c) in [
            (0.0, 0.99),
            (1.0, 0.99),
            (f64::NAN, 0.99),
            (0.99, 0.0),
            (0.99, 1.0),
        ] {
            assert_eq!(min_samples_for_percentile(q, c), None, "q={q} c={c}");
        }
    }

    #[test]
    fn percentile_trusted_at_the_boundary() {
        let cases = [
            (63, 0.9, false),
            (64, 0.9, true),
            (129, 0.95, false),
            (130, 0.95, true),
            (661, 0.99, false),
            (662, 0.99, true),
            (0, 0.5, false),
            (1_000_000, f64::NAN, false),
        ];
        for (n, q, expected) in cases {
            assert_eq!(percentile_trusted(n, q), expected, "n={n} q={q}");
        }
    }
}
