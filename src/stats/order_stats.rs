//! How far a tail percentile can be trusted, from order statistics alone.
//!
//! Latency distributions are skewed and multi-modal, so intervals for p50 or
//! p99 must not assume a shape. Two distribution-free tools live here: the
//! binomial order-statistic confidence interval for a quantile, and the
//! minimum sample count MLPerf LoadGen's early-stopping rule demands before a
//! tail percentile is reported at all. Both rest on one fact: each sample
//! falls below the true q-quantile independently with probability q, so the
//! number below it is Binomial(n, q).

use super::describe::Interval;
use super::dist::binomial_pmf;

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
/// Returns `None` when the slice is empty, an argument is outside (0, 1), or
/// n is too small for the interval to exist (`k_lo = 0` or `k_hi = n`, e.g.
/// a 95 % interval for p99 needs n >= 368... at least several hundred).
pub fn quantile_ci(sorted: &[f64], q: f64, confidence: f64) -> Option<Interval> {
    let n = sorted.len();
    if n == 0 || !(q > 0.0 && q < 1.0) || !(confidence > 0.0 && confidence < 1.0) {
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
    if !(q > 0.0 && q < 1.0) || !(confidence > 0.0 && confidence < 1.0) {
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
