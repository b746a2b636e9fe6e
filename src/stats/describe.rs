//! Descriptive statistics of one latency sample.
//!
//! A benchmark run produces a few hundred to a few hundred thousand latencies;
//! the report needs their centre, spread, tail percentiles with honest
//! confidence intervals, and a count of outliers so a reader can tell a noisy
//! machine from a slow model. This file owns the single percentile definition
//! the whole crate uses, so every number in a report is computed the same way.

use serde::Serialize;

use super::dist::t_quantile;
use super::order_stats::quantile_ci;

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Interval {
    /// Lower bound, in the unit of the estimated quantity.
    pub lower: f64,
    /// Upper bound, in the unit of the estimated quantity.
    pub upper: f64,
    /// Nominal coverage, e.g. 0.95.
    pub confidence: f64,
}

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
/// The slice must be sorted ascending; an unsorted slice gives an
/// unspecified (but finite or `None`) value. Returns `None` when the slice is
/// empty, `q` is outside [0, 1] or NaN, or the result is not finite.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = (h.floor() as usize).min(sorted.len() - 1);
    let hi = (lo + 1).min(sorted.len() - 1);
    let (a, b, t) = (sorted[lo], sorted[hi], h - lo as f64);
    // numpy's two-sided lerp: exact at both ends and monotone in t.
    let value = if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    };
    Some(value).filter(|v| v.is_finite())
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
