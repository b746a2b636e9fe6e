//! The interval every estimate in `stats` reports, and the check its order statistics rely on.

use serde::Serialize;

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

/// True for a non-empty, ascending slice of finite values.
pub(crate) fn is_sorted_finite(sorted: &[f64]) -> bool {
    !sorted.is_empty() && sorted.iter().all(|x| x.is_finite()) && sorted.is_sorted()
}
