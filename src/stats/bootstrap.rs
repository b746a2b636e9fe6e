//! Confidence intervals for "the candidate's p99 is x times the baseline's".
//!
//! Latency budgets are relative ("no more than 5 % slower at p95"), and no
//! closed form gives the sampling distribution of a ratio of two sample
//! quantiles. The percentile bootstrap does: resample each run independently,
//! recompute the ratio, and read the interval off the spread of the
//! replicates. Resampling is seeded so a report can be regenerated exactly.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::describe::{lerp, percentile};
use super::dist::{in_open_unit, positive_finite};
use super::interval::{is_sorted_finite, Interval};

pub(super) fn all_positive_finite(xs: &[f64]) -> bool {
    !xs.is_empty() && xs.iter().all(|&x| positive_finite(x))
}

fn sorted_copy(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// `percentile(b, q) / percentile(a, q)` (candidate over baseline, type-7
/// quantiles as in [`percentile`]); above 1 means the candidate is slower.
/// `None` when a sample is empty or holds a value that is not finite and
/// positive, or `q` is outside [0, 1].
pub fn ratio_point(a: &[f64], b: &[f64], q: f64) -> Option<f64> {
    if !all_positive_finite(a) || !all_positive_finite(b) {
        return None;
    }
    let ratio = percentile(&sorted_copy(b), q)? / percentile(&sorted_copy(a), q)?;
    Some(ratio).filter(|r| r.is_finite())
}

/// Type-7 quantile of an unsorted buffer, reordering it in place; O(n).
pub(super) fn quantile_in_place(buf: &mut [f64], q: f64) -> f64 {
    let h = (buf.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let (_, &mut x_lo, above) = buf.select_nth_unstable_by(lo, f64::total_cmp);
    let t = h - lo as f64;
    if t == 0.0 || above.is_empty() {
        return x_lo;
    }
    // After selection everything above index lo is >= x_lo; its minimum is
    // the next order statistic.
    let x_hi = above.iter().copied().fold(f64::INFINITY, f64::min);
    lerp(x_lo, x_hi, t)
}

fn resample_into(buf: &mut Vec<f64>, source: &[f64], rng: &mut StdRng) {
    buf.clear();
    buf.extend((0..source.len()).map(|_| source[rng.random_range(0..source.len())]));
}

/// Percentile-bootstrap confidence interval for
/// `quantile_q(b) / quantile_q(a)` (candidate over baseline).
///
/// Each of `resamples` replicates draws `a.len()` values from `a` and
/// `b.len()` values from `b` with replacement, independently, and takes the
/// ratio of their type-7 q-quantiles; the interval is the
/// `(1 - confidence) / 2` and `(1 + confidence) / 2` type-7 quantiles of the
/// replicates (scipy's `bootstrap(..., method='percentile')` for this
/// statistic). The same `seed` gives the same interval on the same build
/// (rand's `StdRng`, whose stream may change between rand versions).
///
/// Costs O(resamples * (n_a + n_b)) time; quantiles use selection, not
/// sorting, on two reused buffers. Use at least 1000 resamples; `None` when
/// `resamples < 2`, a sample is empty or holds a value that is not finite
/// and positive, `q` is outside [0, 1], or `confidence` outside (0, 1).
pub fn bootstrap_ratio_ci(
    a: &[f64],
    b: &[f64],
    q: f64,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<Interval> {
    let valid_args = (0.0..=1.0).contains(&q) && in_open_unit(confidence);
    if !valid_args || resamples < 2 || !all_positive_finite(a) || !all_positive_finite(b) {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut buf_a, mut buf_b) = (Vec::with_capacity(a.len()), Vec::with_capacity(b.len()));
    let mut ratios: Vec<f64> = (0..resamples)
        .map(|_| {
            resample_into(&mut buf_a, a, &mut rng);
            resample_into(&mut buf_b, b, &mut rng);
            quantile_in_place(&mut buf_b, q) / quantile_in_place(&mut buf_a, q)
        })
        .collect();
    ratios.sort_unstable_by(f64::total_cmp);
    if !is_sorted_finite(&ratios) {
        return None;
    }
    let alpha = (1.0 - confidence) / 2.0;
    Some(Interval {
        lower: percentile(&ratios, alpha)?,
        upper: percentile(&ratios, 1.0 - alpha)?,
        confidence,
    })
}

/// Rough number of samples per side for the bootstrap interval of the
/// p50 ratio to have half-width at most `target_half_width`.
///
/// An estimate, not a guarantee: it assumes the half-width shrinks as
/// `1 / sqrt(n)` and scales the current half-width (from
/// [`bootstrap_ratio_ci`] with the given `resamples`, `confidence`, `seed`)
/// by `sqrt(n / n_needed)`, so `n_needed = n * (half_width / target)^2` with
/// `n` the larger sample. Never less than the current `n`. `None` when the
/// bootstrap interval is `None` or `target_half_width` is not positive.
pub fn samples_for_ratio_half_width(
    a: &[f64],
    b: &[f64],
    target_half_width: f64,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Option<u64> {
    if !positive_finite(target_half_width) {
        return None;
    }
    let ci = bootstrap_ratio_ci(a, b, 0.5, resamples, confidence, seed)?;
    let half_width = (ci.upper - ci.lower) / 2.0;
    let n = a.len().max(b.len()) as f64;
    let needed = (n * (half_width / target_half_width).powi(2)).ceil().max(n);
    // Saturate rather than wrap: the estimate only needs to say "a lot".
    Some(if needed >= u64::MAX as f64 {
        u64::MAX
    } else {
        needed as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// a = [10 + ((i*37) % 101)/10 for i in range(300)],
    /// b = [10.5 + ((j*53) % 103)/9 for j in range(250)].
    fn runs() -> (Vec<f64>, Vec<f64>) {
        let a = (0..300).map(|i| 10.0 + ((i * 37) % 101) as f64 / 10.0);
        let b = (0..250).map(|j| 10.5 + ((j * 53) % 103) as f64 / 9.0);
        (a.collect(), b.collect())
    }

    #[test]
    fn ratio_point_matches_numpy() {
        // python -c "import numpy as np; print(np.percentile(B, Q*100) / np.percentile(A, Q*100))"
        let (a, b) = runs();
        let cases: &[(&[f64], &[f64], f64, f64)] = &[
            (&a, &b, 0.5, 1.077777777777778),
            (&a, &b, 0.95, 1.0908883761998347),
            (&[10.0], &[12.5], 0.99, 1.25),
            (&[2.0, 4.0], &[3.0, 3.0, 9.0], 0.5, 1.0),
        ];
        for &(a, b, q, expected) in cases {
            let got = ratio_point(a, b, q).unwrap();
            assert!((got - expected).abs() < 1e-12, "q={q}: {got} vs {expected}");
        }
    }

    #[test]
    fn bootstrap_agrees_with_scipy_within_monte_carlo_error() {
        // scipy's resampling stream differs, so endpoints agree only up to
        // Monte Carlo error (standard deviation about 0.0025 at 1000 resamples
        // across scipy seeds 0-39; the bound below is four of those):
        // python -c "import numpy as np; from scipy import stats; \
        //   r = stats.bootstrap((A, B), lambda x, y, axis: np.percentile(y, Q*100, axis=axis) \
        //     / np.percentile(x, Q*100, axis=axis), n_resamples=20000, method='percentile', rng=0); \
        //   print(r.confidence_interval)"
        let (a, b) = runs();
        let cases = [
            (0.5, 1.0160818713450293, 1.1383061383061384),
            (0.95, 1.066271855611957, 1.111111111111111),
        ];
        for (q, lower, upper) in cases {
            let ci = bootstrap_ratio_ci(&a, &b, q, 1000, 0.95, 42).unwrap();
            assert!(
                (ci.lower - lower).abs() < 0.005,
                "q={q}: lower {}",
                ci.lower
            );
            assert!(
                (ci.upper - upper).abs() < 0.005,
                "q={q}: upper {}",
                ci.upper
            );
            assert_eq!(ci.confidence, 0.95);
            let point = ratio_point(&a, &b, q).unwrap();
            assert!(ci.lower <= point && point <= ci.upper, "q={q}");
        }
    }

    #[test]
    fn bootstrap_is_deterministic_given_seed() {
        let (a, b) = runs();
        let first = bootstrap_ratio_ci(&a, &b, 0.9, 500, 0.9, 7).unwrap();
        assert_eq!(bootstrap_ratio_ci(&a, &b, 0.9, 500, 0.9, 7), Some(first));
        assert_ne!(bootstrap_ratio_ci(&a, &b, 0.9, 500, 0.9, 8), Some(first));
    }

    #[test]
    fn bootstrap_degenerate_samples() {
        // Every replicate is identical when each sample is constant or has one value.
        let cases: &[(&[f64], &[f64], f64)] = &[
            (&[10.0; 5], &[12.5; 7], 1.25),
            (&[4.0], &[5.0], 1.25),
            (&[3.0, 3.0], &[3.0, 3.0], 1.0),
        ];
        for &(a, b, ratio) in cases {
            let ci = bootstrap_ratio_ci(a, b, 0.5, 50, 0.95, 1).unwrap();
            assert_eq!((ci.lower, ci.upper), (ratio, ratio), "{a:?} {b:?}");
        }
        let ok = [1.0, 2.0];
        // (a, b, q, resamples, confidence)
        type Rejected<'a> = (&'a [f64], &'a [f64], f64, usize, f64);
        let rejected: &[Rejected] = &[
            (&[], &ok, 0.5, 100, 0.95),
            (&ok, &[0.0, 1.0], 0.5, 100, 0.95),
            (&ok, &[-1.0, 1.0], 0.5, 100, 0.95),
            (&ok, &[f64::NAN], 0.5, 100, 0.95),
            (&ok, &[f64::INFINITY], 0.5, 100, 0.95),
            (&ok, &ok, 1.5, 100, 0.95),
            (&ok, &ok, f64::NAN, 100, 0.95),
            (&ok, &ok, 0.5, 1, 0.95),
            (&ok, &ok, 0.5, 100, 1.0),
            (&ok, &ok, 0.5, 100, 0.0),
        ];
        for &(a, b, q, resamples, confidence) in rejected {
            let ci = bootstrap_ratio_ci(a, b, q, resamples, confidence, 1);
            assert_eq!(ci, None, "{a:?} {b:?} q={q} r={resamples} c={confidence}");
        }
        assert_eq!(ratio_point(&ok, &[0.0, 1.0], 0.5), None);
        assert_eq!(ratio_point(&ok, &ok, -0.5), None);
    }

    #[test]
    fn quantile_in_place_matches_sorted_percentile() {
        // Selection must give the same type-7 value as sorting first.
        let (a, _) = runs();
        for q in [0.0, 0.1, 0.5, 0.95, 0.99, 0.999, 1.0] {
            let mut buf = a.clone();
            let expected = percentile(&sorted_copy(&a), q).unwrap();
            assert_eq!(quantile_in_place(&mut buf, q), expected, "q={q}");
        }
    }

    #[test]
    fn sample_size_estimate_scales_with_inverse_square() {
        let (a, b) = runs();
        let ci = bootstrap_ratio_ci(&a, &b, 0.5, 300, 0.95, 3).unwrap();
        let half_width = (ci.upper - ci.lower) / 2.0;
        assert!(half_width > 0.0);
        // Halving the half-width needs about four times the samples.
        let needed = samples_for_ratio_half_width(&a, &b, half_width / 2.0, 300, 0.95, 3).unwrap();
        assert!((1199..=1201).contains(&needed), "{needed}");
        // A target already met keeps the current sample size.
        let met = samples_for_ratio_half_width(&a, &b, half_width * 2.0, 300, 0.95, 3);
        assert_eq!(met, Some(300));
        // Constant runs have a zero-width interval.
        let constant = samples_for_ratio_half_width(&[5.0; 20], &[6.0; 30], 0.01, 100, 0.95, 3);
        assert_eq!(constant, Some(30));
        assert_eq!(
            samples_for_ratio_half_width(&a, &b, 0.0, 300, 0.95, 3),
            None
        );
        assert_eq!(
            samples_for_ratio_half_width(&a, &b, f64::NAN, 300, 0.95, 3),
            None
        );
        assert_eq!(
            samples_for_ratio_half_width(&[], &b, 0.01, 300, 0.95, 3),
            None
        );
    }
}
