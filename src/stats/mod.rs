//! Statistics for comparing a candidate model against a baseline.
//!
//! Everything here is a pure function over slices of plain numbers: latency
//! samples in milliseconds, or correctness flags from an accuracy run. Nothing
//! reads files, prints, or knows about ONNX; the compare stage calls these and
//! the report stage only displays what they return. Every function is total:
//! degenerate input (empty, constant, NaN, a single sample) gives `None`
//! rather than a panic or a silent NaN.

mod bootstrap;
mod describe;
mod dist;
mod order_stats;
mod paired;
mod shift;
mod two_sample;

pub use bootstrap::{bootstrap_ratio_ci, ratio_point, samples_for_ratio_half_width};
pub use describe::{percentile, summarize, Interval, Summary, TukeyOutliers};
pub use order_stats::{
    min_samples_for_percentile, percentile_trusted, quantile_ci, LOADGEN_CONFIDENCE,
};
pub use paired::{mcnemar_exact, paired_difference_ci, wilson_interval};
pub use shift::hodges_lehmann_shift;
pub use two_sample::{cohens_d, mann_whitney_u, welch_t_log, TestResult};
