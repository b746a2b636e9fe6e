//! The criteria: each written once, below, with its doc, its type, its built-in default and the
//! check its value must pass; the macro makes of that list the criteria as written (every key
//! optional, so defaults and overrides can be layered), the criteria with defaults filled in,
//! the layering and the checks.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// The type of a key in [`CriteriaOverrides`]: optional whether or not it has a default.
macro_rules! written {
    ($ty:ty, $default:expr) => { Option<$ty> };
    ($ty:ty) => { $ty };
}

/// An override laid over a base value: kept when written, else the base's.
macro_rules! layered {
    ($over:expr, $base:expr, $default:expr) => {
        $over.unwrap_or($base)
    };
    ($over:expr, $base:expr) => {
        $over.or($base)
    };
}

/// The built-in value of a criterion: its default, or none.
macro_rules! builtin {
    ($default:expr) => {
        $default
    };
    () => {
        None
    };
}

macro_rules! criteria {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $ty:ty $(= $default:expr)? $(, check $check:ident $(($arg:literal))?)?;
    )*) => {
        /// Criteria as written: every key optional, so defaults and overrides can be layered.
        #[derive(Debug, Clone, Deserialize, Serialize, Default, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct CriteriaOverrides {
            $(
                $(#[doc = $doc])*
                pub $name: written!($ty $(, $default)?),
            )*
        }

        /// Criteria with defaults filled in.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
        pub struct Criteria {
            $(pub $name: $ty,)*
        }

        impl Criteria {
            pub(super) fn builtin() -> Criteria {
                Criteria {
                    $($name: builtin!($($default)?),)*
                }
            }
        }

        impl CriteriaOverrides {
            /// These overrides laid over `base`.
            pub fn over(&self, base: &Criteria) -> Criteria {
                Criteria {
                    $($name: layered!(self.$name, base.$name $(, $default)?),)*
                }
            }

            /// Every written value checked; the error names the key (after `prefix`, such as
            /// `models[0].`) and a value that would do.
            pub(super) fn validate(&self, prefix: &str) -> Result<()> {
                $($(
                    $check(prefix, stringify!($name), self.$name $(, $arg)?)?;
                )?)*
                Ok(())
            }
        }
    };
}

criteria! {
    /// Largest rise of the median latency over the baseline's, in percent, that passes.
    max_p50_regression_pct: f64 = 5.0, check non_negative;
    /// Largest rise of the 95th-percentile latency, in percent, that passes.
    max_p95_regression_pct: f64 = 5.0, check non_negative;
    /// Largest rise of the 99th-percentile latency, in percent, that passes.
    max_p99_regression_pct: f64 = 5.0, check non_negative;
    /// Largest drop of accuracy, in percentage points (0.5 = half a point), that passes.
    max_accuracy_drop_pts: f64 = 0.5, check non_negative;
    /// Largest drop of the positive class's recall, in percentage points, that passes.
    max_recall_drop_pts: f64 = 0.5, check non_negative;
    /// Floor on the positive class's recall, a fraction 0..1 (Wilson 95 % lower bound).
    min_recall: Option<f64>, check fraction("0.95");
    /// Ceiling on the candidate's 95th-percentile latency, in milliseconds.
    max_p95_ms: Option<f64>, check non_negative;
    /// Ceiling on the candidate's peak resident memory while running, in MiB.
    max_peak_memory_mb: Option<f64>, check non_negative;
    /// Floor on the candidate's throughput, in samples per second.
    min_throughput: Option<f64>, check non_negative;
    /// Significance level of the statistical tests: a regression fails only when it is
    /// significant at this level (0 to 0.5).
    significance: f64 = 0.05, check significance;
    /// How much the latency ratio moves between gate runs in new processes beyond what one
    /// run's session pairs show, as a standard deviation in percent, added to every latency
    /// interval so it covers the ratio many runs settle on. 0.18 was measured on a 2-core
    /// runner over five sittings; `scripts/study.py calibrate` measures a runner's own from A/A
    /// and A/B runs.
    latency_run_sd_pct: f64 = 0.18, check run_sd;
    /// Release check only: latency must improve by at least this much, in percent.
    min_latency_improvement_pct: Option<f64>, check non_negative;
    /// A change meant to be lossless: every prediction must stay the same as the baseline's.
    require_identical_predictions: bool = false;
    /// Slices with fewer samples than this (fewer positives, for recall) are reported but not
    /// judged.
    min_slice_size: usize = 30, check at_least_one;
    /// Floor on each judged slice's positive-class recall, a fraction 0..1 (Wilson 95 % lower
    /// bound).
    slice_min_recall: Option<f64>, check fraction("0.9");
    /// Largest drop, in points, of each judged slice's positive-class recall.
    slice_max_recall_drop_pts: Option<f64>, check non_negative;
    /// Largest drop, in points, of the positive class's AUROC (binary).
    max_auroc_drop_pts: Option<f64>, check non_negative;
    /// Largest drop, in points, of the positive class's precision (binary).
    max_precision_drop_pts: Option<f64>, check non_negative;
    /// Largest drop, in points, of the specificity (binary).
    max_specificity_drop_pts: Option<f64>, check non_negative;
    /// Floor on every class's recall, a fraction 0..1 (Wilson 95 % lower bound).
    min_class_recall: Option<f64>, check fraction("0.8");
    /// Ceiling on the candidate's expected calibration error, a fraction 0..1 (15
    /// equal-width bins).
    max_ece: Option<f64>, check fraction("0.05");
}

impl Default for Criteria {
    fn default() -> Self {
        CriteriaOverrides::default().over(&Criteria::builtin())
    }
}

fn non_negative(prefix: &str, key: &str, value: Option<f64>) -> Result<()> {
    match value {
        Some(v) if !v.is_finite() || v < 0.0 => {
            bail!("{prefix}criteria.{key} = {v}: must be a number of 0 or more")
        }
        _ => Ok(()),
    }
}

fn run_sd(prefix: &str, key: &str, value: Option<f64>) -> Result<()> {
    match value {
        Some(v) if !v.is_finite() || !(0.0..=10.0).contains(&v) => {
            bail!("{prefix}criteria.{key} = {v}: must be a percentage from 0 to 10, e.g. 0.18")
        }
        _ => Ok(()),
    }
}

fn fraction(prefix: &str, key: &str, value: Option<f64>, example: &str) -> Result<()> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) => {
            bail!(
                "{prefix}criteria.{key} = {v}: must be a fraction between 0 and 1, e.g. {example}"
            )
        }
        _ => Ok(()),
    }
}

fn at_least_one(prefix: &str, key: &str, value: Option<usize>) -> Result<()> {
    match value {
        Some(0) => bail!("{prefix}criteria.{key} = 0: must be 1 or more, e.g. 30"),
        _ => Ok(()),
    }
}

fn significance(prefix: &str, key: &str, value: Option<f64>) -> Result<()> {
    match value {
        Some(v) if !(v > 0.0 && v < 0.5) => {
            bail!("{prefix}criteria.{key} = {v}: must be between 0 and 0.5, e.g. 0.05")
        }
        _ => Ok(()),
    }
}
