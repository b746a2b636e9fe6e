//! Descriptive statistics of one latency sample.
//!
//! A benchmark run produces a few hundred to a few hundred thousand latencies;
//! the report needs their centre, spread, tail percentiles with honest
//! confidence intervals, and a count of outliers so a reader can tell a noisy
//! machine from a slow model. This file owns the single percentile definition
//! the whole crate uses, so every number in a report is computed the same way.

use serde::Serialize;

use super::dist::t_quantile;
use super::interval::{is_sorted_finite, Interval};
use super::order_stats::quantile_ci;

/// Counts of samples outside Tukey's fences (1.5 and 3 interquartile ranges
/// beyond the quartiles), as criterion.rs reports them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct TukeyOutliers {
    /// Samples below `p25 - 3 * IQR`.
    pub low_severe: usize,
    /// Samples in `[p25 - 3 * IQR, p25 - 1.5 * IQR)`.
    pub low_mild: usize,
    /// Samples in `(p75 + 1.5 * IQR, p75 + 3 * IQR]`.
    pub high_mild: usize,
    /// Samples above `p75 + 3 * IQR`.
    pub high_severe: usize,
}

/// Summary of one latency sample. Percentiles use [`percentile`].
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Arithmetic mean, ms.
    pub mean_ms: f64,
    /// Sample standard deviation (divisor n - 1), ms; `None` when n < 2.
    pub std_dev_ms: Option<f64>,
    /// Coefficient of variation, `std_dev / mean`; `None` when n < 2 or mean <= 0.
    pub cv: Option<f64>,
    /// Smallest sample, ms.
    pub min_ms: f64,
    /// Largest sample, ms.
    pub max_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// 95 % Student t interval for the mean, ms; `None` when n < 2.
    pub mean_ci_ms: Option<Interval>,
    /// 95 % distribution-free interval for the median ([`quantile_ci`]), ms;
    /// `None` when n is too small to give one.
    pub p50_ci_ms: Option<Interval>,
    /// 95 % distribution-free interval for the 95th percentile, ms.
    pub p95_ci_ms: Option<Interval>,
    /// 95 % distribution-free interval for the 99th percentile, ms.
    pub p99_ci_ms: Option<Interval>,
    /// Outlier counts by Tukey's fences.
    pub outliers: TukeyOutliers,
    /// Sequential throughput implied by the mean, `1000 / mean_ms`, inferences
    /// per second; `None` when the mean is not positive.
    pub throughput_per_s: Option<f64>,
}

/// Confidence used for every interval in [`Summary`].
const SUMMARY_CONFIDENCE: f64 = 0.95;

/// The `q`-quantile (`q` in [0, 1]) of an ascending slice, by linear
/// interpolation between order statistics: with `h = (n - 1) * q`, the result
/// is `x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])`
/// (0-based). This is Hyndman and Fan's type 7, numpy's default `'linear'`
/// method, and R's default.
///
/// Returns `None` when the slice is empty, not sorted ascending, holds a
/// non-finite value, or `q` is outside [0, 1] or NaN. The checks cost one
/// pass over the slice.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if !is_sorted_finite(sorted) || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = (h.floor() as usize).min(sorted.len() - 1);
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(lerp(sorted[lo], sorted[hi], h - lo as f64)).filter(|v| v.is_finite())
}

/// Linear interpolation from `a` (t = 0) to `b` (t = 1), written as numpy's
/// `_lerp` is so results agree to the last bit: exact at both ends.
pub(crate) fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

/// Summarise a latency sample. Returns `None` when it is empty or holds a
/// non-finite value; every other input, including n = 1 and constant
/// samples, gives a summary whose undefined parts are `None`.
pub fn summarize(samples_ms: &[f64]) -> Option<Summary> {
    if samples_ms.is_empty() || samples_ms.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut sorted = samples_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mean_ms = sorted.iter().sum::<f64>() / n as f64;
    let std_dev_ms = (n >= 2).then(|| {
        let ss: f64 = sorted.iter().map(|x| (x - mean_ms).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    let mean_ci_ms = std_dev_ms.and_then(|sd| {
        let t = t_quantile(1.0 - (1.0 - SUMMARY_CONFIDENCE) / 2.0, (n - 1) as f64)?;
        let half_width = t * sd / (n as f64).sqrt();
        Some(Interval {
            lower: mean_ms - half_width,
            upper: mean_ms + half_width,
            confidence: SUMMARY_CONFIDENCE,
        })
    });
    let pct = |q: f64| percentile(&sorted, q);
    Some(Summary {
        n,
        mean_ms,
        std_dev_ms,
        cv: std_dev_ms.filter(|_| mean_ms > 0.0).map(|sd| sd / mean_ms),
        min_ms: sorted[0],
        max_ms: sorted[n - 1],
        p50_ms: pct(0.5)?,
        p90_ms: pct(0.9)?,
        p95_ms: pct(0.95)?,
        p99_ms: pct(0.99)?,
        p999_ms: pct(0.999)?,
        mean_ci_ms,
        p50_ci_ms: quantile_ci(&sorted, 0.5, SUMMARY_CONFIDENCE),
        p95_ci_ms: quantile_ci(&sorted, 0.95, SUMMARY_CONFIDENCE),
        p99_ci_ms: quantile_ci(&sorted, 0.99, SUMMARY_CONFIDENCE),
        outliers: tukey_outliers(&sorted)?,
        throughput_per_s: (mean_ms > 0.0).then(|| 1000.0 / mean_ms),
    })
}

/// Count samples beyond Tukey's fences around the type-7 quartiles.
fn tukey_outliers(sorted: &[f64]) -> Option<TukeyOutliers> {
    let (q1, q3) = (percentile(sorted, 0.25)?, percentile(sorted, 0.75)?);
    let iqr = q3 - q1;
    let (low_severe, low_mild) = (q1 - 3.0 * iqr, q1 - 1.5 * iqr);
    let (high_mild, high_severe) = (q3 + 1.5 * iqr, q3 + 3.0 * iqr);
    let mut counts = TukeyOutliers::default();
    for &x in sorted {
        if x < low_severe {
            counts.low_severe += 1;
        } else if x < low_mild {
            counts.low_mild += 1;
        } else if x > high_severe {
            counts.high_severe += 1;
        } else if x > high_mild {
            counts.high_mild += 1;
        }
    }
    Some(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0)
    }

    /// Skewed sample with ties and a spike every 97th run; the same list
    /// comprehension is used in the Python commands below.
    fn sample(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let spike = if i % 97 == 0 { 25.0 } else { 0.0 };
                10.0 + ((i * 37) % 101) as f64 / 10.0 + spike
            })
            .collect()
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        // python -c "import numpy as np; print(float(np.quantile(np.array(X, float), Q)))"
        let cases: &[(&[f64], f64, f64)] = &[
            (&[1.0, 2.0, 3.0, 4.0], 0.25, 1.75),
            (&[1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
            (&[1.0, 2.0, 3.0, 4.0], 1.0 / 3.0, 2.0),
            (&[1.0, 2.0, 3.0, 4.0], 0.0, 1.0),
            (&[1.0, 2.0, 3.0, 4.0], 1.0, 4.0),
            (&[5.0], 0.99, 5.0),
            (&[1.0, 1.0, 1.0, 2.0], 0.9, 1.7000000000000002),
            (&[2.0, 4.0], 0.999, 3.998),
            (&[0.1, 0.2, 0.7], 0.95, 0.6499999999999999),
            (&[3.0, 3.0, 3.0], 0.37, 3.0),
        ];
        for &(sorted, q, expected) in cases {
            let got = percentile(sorted, q).unwrap();
            assert!(
                close(got, expected),
                "{sorted:?} q={q}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn percentile_rejects_degenerate_input() {
        let cases: &[(&[f64], f64)] = &[
            (&[], 0.5),
            (&[1.0, 2.0], -0.1),
            (&[1.0, 2.0], 1.5),
            (&[1.0, 2.0], f64::NAN),
            (&[1.0, f64::NAN], 0.75),
            (&[1.0, f64::INFINITY], 1.0),
            (&[f64::NAN, 1.0, 2.0], 1.0),
            (&[3.0, 1.0, 2.0], 0.5),
        ];
        for &(sorted, q) in cases {
            assert_eq!(percentile(sorted, q), None, "{sorted:?} q={q}");
        }
    }

    #[test]
    fn summarize_matches_numpy_and_scipy() {
        // python -c "import numpy as np; from scipy import stats; \
        //   x = np.array([10 + ((i*37) % 101)/10 + (25.0 if i % 97 == 0 else 0.0) for i in range(500)]); \
        //   print(x.mean(), x.std(ddof=1), x.min(), x.max(), np.percentile(x, [50, 90, 95, 99, 99.9]), \
        //         stats.t.interval(0.95, 499, loc=x.mean(), scale=stats.sem(x)), \
        //         [stats.quantile_test(x, p=q).confidence_interval(0.95) for q in (0.5, 0.95, 0.99)])"
        let s = summarize(&sample(500)).unwrap();
        let cases = [
            ("mean", s.mean_ms, 15.2994),
            ("sd", s.std_dev_ms.unwrap(), 3.8723545679340368),
            ("cv", s.cv.unwrap(), 3.8723545679340368 / 15.2994),
            ("min", s.min_ms, 10.0),
            ("max", s.max_ms, 41.8),
            ("p50", s.p50_ms, 15.05),
            ("p90", s.p90_ms, 19.2),
            ("p95", s.p95_ms, 19.7),
            ("p99", s.p99_ms, 35.00699999999999),
            ("p999", s.p999_ms, 41.450700000000026),
            (
                "mean_ci.lower",
                s.mean_ci_ms.unwrap().lower,
                14.959154135003878,
            ),
            (
                "mean_ci.upper",
                s.mean_ci_ms.unwrap().upper,
                15.639645864996123,
            ),
            ("p50_ci.lower", s.p50_ci_ms.unwrap().lower, 14.6),
            ("p50_ci.upper", s.p50_ci_ms.unwrap().upper, 15.5),
            ("p95_ci.lower", s.p95_ci_ms.unwrap().lower, 19.5),
            ("p95_ci.upper", s.p95_ci_ms.unwrap().upper, 19.9),
            ("p99_ci.lower", s.p99_ci_ms.unwrap().lower, 20.0),
            ("p99_ci.upper", s.p99_ci_ms.unwrap().upper, 41.8),
            ("throughput", s.throughput_per_s.unwrap(), 1000.0 / 15.2994),
        ];
        for (name, got, expected) in cases {
            assert!(close(got, expected), "{name}: {got} vs {expected}");
        }
        // The six spikes (i = 0, 97, ..., 485) lie beyond p75 + 3 IQR:
        // python: q1, q3 = np.percentile(x, [25, 75]); i = q3 - q1; (x > q3 + 3*i).sum() -> 6, others 0
        let expected = TukeyOutliers {
            high_severe: 6,
            ..TukeyOutliers::default()
        };
        assert_eq!(s.outliers, expected);
    }

    #[test]
    fn summarize_tiny_samples() {
        // python -c "import numpy as np; from scipy import stats; x = np.array([35.0, 13.7, 17.4][:N]); \
        //   print(x.mean(), x.std(ddof=1), x.min(), x.max(), np.percentile(x, 99), stats.t.interval(0.95, N-1, loc=x.mean(), scale=stats.sem(x)))"
        type Case = (usize, f64, Option<f64>, f64, Option<(f64, f64)>);
        // (n, mean, sd, p99, mean_ci)
        let cases: &[Case] = &[
            (1, 35.0, None, 35.0, None),
            (
                2,
                24.35,
                Some(15.061374439273463),
                34.787,
                Some((-110.9710804402605, 159.67108044026048)),
            ),
            (
                3,
                22.03333333333333,
                Some(11.380831838373386),
                34.647999999999996,
                Some((-6.238220227458832, 50.304886894125495)),
            ),
        ];
        for &(n, mean, sd, p99, mean_ci) in cases {
            let s = summarize(&sample(n)).unwrap();
            assert!(close(s.mean_ms, mean), "n={n} mean {}", s.mean_ms);
            assert!(close(s.p99_ms, p99), "n={n} p99 {}", s.p99_ms);
            assert_eq!(s.std_dev_ms.is_some(), sd.is_some(), "n={n}");
            if let (Some(got), Some(expected)) = (s.std_dev_ms, sd) {
                assert!(close(got, expected), "n={n} sd {got}");
            }
            let got_ci = s.mean_ci_ms.map(|i| (i.lower, i.upper));
            assert_eq!(got_ci.is_some(), mean_ci.is_some(), "n={n}");
            if let (Some(got), Some(expected)) = (got_ci, mean_ci) {
                // t quantiles for df = 1, 2 come from an iterative inverse.
                assert!((got.0 - expected.0).abs() < 1e-8, "n={n} {got:?}");
                assert!((got.1 - expected.1).abs() < 1e-8, "n={n} {got:?}");
            }
            // scipy's quantile_test gives only half-open intervals here.
            assert_eq!((s.p50_ci_ms, s.p95_ci_ms, s.p99_ci_ms), (None, None, None));
        }
    }

    #[test]
    fn summarize_constant_and_degenerate() {
        let s = summarize(&[4.0; 10]).unwrap();
        assert_eq!(s.std_dev_ms, Some(0.0));
        assert_eq!(s.cv, Some(0.0));
        let ci = s.mean_ci_ms.unwrap();
        assert_eq!((ci.lower, ci.upper), (4.0, 4.0));
        assert_eq!((s.p50_ms, s.p999_ms), (4.0, 4.0));
        assert_eq!(s.p50_ci_ms.map(|i| (i.lower, i.upper)), Some((4.0, 4.0)));
        assert_eq!(s.outliers, TukeyOutliers::default());
        assert_eq!(s.throughput_per_s, Some(250.0));

        let zeros = summarize(&[0.0, 0.0]).unwrap();
        assert_eq!((zeros.cv, zeros.throughput_per_s), (None, None));

        for bad in [
            &[][..],
            &[1.0, f64::NAN],
            &[f64::INFINITY],
            &[2.0, f64::NEG_INFINITY],
        ] {
            assert_eq!(summarize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn summary_serializes_with_units_in_field_names() {
        let json = serde_json::to_value(summarize(&[1.0, 2.0]).unwrap()).unwrap();
        assert_eq!(json["p50_ms"], 1.5);
        assert!(json["p99_ci_ms"].is_null());
        assert_eq!(json["outliers"]["high_severe"], 0);
    }
}
