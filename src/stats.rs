//! Statistics for comparing a candidate model against a baseline.
//!
//! Everything here is a pure function over slices of plain numbers: latency
//! samples in milliseconds, or correctness flags from an accuracy run. Nothing
//! reads files, prints, or knows about ONNX; the compare stage calls these and
//! the report stage only displays what they return. Every function is total:
//! degenerate input (empty, constant, NaN, a single sample) gives `None`
//! rather than a panic or a silent NaN.
//!
//! Conventions shared by every file:
//! - `a` is the baseline and `b` the candidate; differences and ratios are
//!   candidate relative to baseline, so a positive shift or a ratio above 1
//!   means the candidate is slower.
//! - Percentiles are fractions in [0, 1] (`0.99` for p99) and use one
//!   definition, [`percentile`]: linear interpolation between order
//!   statistics (numpy's default, Hyndman-Fan type 7).
//! - Tests report two-sided p-values in a [`TestResult`]; intervals are an
//!   [`Interval`] carrying their confidence level.
//! - Reference values in the tests come from scipy 1.17 and statsmodels 0.15,
//!   with the command that produced each written beside it.
//!
//! Where to look:
//! - one latency sample: [`summarize`], [`percentile`], [`quantile_ci`],
//!   and whether a tail percentile has enough runs behind it:
//!   [`min_samples_for_percentile`], [`percentile_trusted`];
//! - two latency samples: [`mann_whitney_u`], [`welch_t_log`],
//!   [`hodges_lehmann_shift`], [`cohens_d`], [`ratio_point`],
//!   [`bootstrap_ratio_ci`], [`samples_for_ratio_half_width`];
//! - paired accuracy: [`mcnemar_exact`], [`wilson_interval`],
//!   [`paired_difference_ci`]; paired ranking: [`delong_paired`]; a paired ratio whose
//!   denominator differs between the models (precision): [`paired_bootstrap_ratio_difference`];
//! - many tests at once: [`holm`].

mod block_bootstrap;
mod bootstrap;
mod delong;
mod describe;
mod dist;
mod exceedance;
mod interval;
mod multiple;
mod order_stats;
mod paired;
mod paired_bootstrap;
mod sessions;
mod shift;
mod two_sample;

pub use block_bootstrap::{block_bootstrap_ratio_ci, Blocks, MIN_BLOCKS};
pub use bootstrap::{bootstrap_ratio_ci, ratio_point, samples_for_ratio_half_width};
pub use delong::{delong_paired, DelongResult};
pub use describe::{percentile, summarize, Summary, TukeyOutliers};
pub use exceedance::exceedance_test;
pub use interval::Interval;
pub use multiple::holm;
pub use order_stats::{
    min_samples_for_percentile, percentile_trusted, quantile_ci, LOADGEN_CONFIDENCE,
};
pub use paired::{mcnemar_exact, paired_difference_ci, wilson_interval, wilson_min_trials};
pub use paired_bootstrap::{
    paired_bootstrap_difference, paired_bootstrap_ratio_difference, PairedDifference,
    RatioDifference, RatioPair,
};
pub use sessions::{session_ratio, SessionPair, SessionRatio, MDE_POWER, MIN_SESSIONS};
pub use shift::hodges_lehmann_shift;
pub use two_sample::{cohens_d, mann_whitney_u, welch_t_log, TestResult};
