//! `[explore]` and `[[models.variants]]`: what `modelgate explore` reads from the config (the
//! variants of a model, the hard constraints a variant must meet, the composite score's
//! weights), with their checks.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::engine::runtime::{OptLevel, Provider};

/// `[[models.variants]]`: another form of the model for `modelgate explore`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantConfig {
    /// Short name in the dashboard.
    pub name: String,
    /// Model file, relative to the config's folder; default the model's `candidate`.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Execution provider; default the model's `[models.bench] ep`.
    #[serde(default)]
    pub ep: Option<Provider>,
    /// Graph optimisation level; default the model's.
    #[serde(default)]
    pub opt_level: Option<OptLevel>,
    /// Threads inside one operator; default the model's.
    #[serde(default)]
    pub intra_threads: Option<usize>,
    /// Batch size it is timed at (the model's first dim must be dynamic); default the model's.
    #[serde(default)]
    pub batch: Option<i64>,
}

/// `[explore]`: what a variant must meet and how variants are scored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ExploreConfig {
    /// Hard limits a variant must meet.
    pub constraints: Constraints,
    /// The composite score's weights.
    pub weights: Weights,
}

/// `[explore.constraints]`: hard limits; a variant that misses one is never "best".
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Constraints {
    /// Highest p95 latency per batch, in ms.
    pub latency_p95_ms: Option<f64>,
    /// Lowest accuracy, as a fraction (0.9 = 90 %).
    pub accuracy_min: Option<f64>,
    /// Lowest recall of the positive class (macro recall without one), as a fraction.
    pub recall_min: Option<f64>,
    /// Highest peak memory of the variant alone, in MiB.
    pub memory_max_mb: Option<f64>,
    /// Lowest throughput, in samples per second.
    pub throughput_min: Option<f64>,
    /// Highest energy per inference, in mJ (only where it is measured).
    pub energy_budget_mj: Option<f64>,
}

impl Constraints {
    /// Refuses a limit that is not a number, is negative, or (accuracy and recall) is over 1:
    /// NaN would turn a constraint off without a word.
    pub fn validate(&self) -> Result<()> {
        let fractions = [
            ("accuracy_min", self.accuracy_min),
            ("recall_min", self.recall_min),
        ];
        for (key, value) in fractions {
            if let Some(v) = value {
                if !(0.0..=1.0).contains(&v) {
                    bail!("[explore.constraints] {key} = {v}: give a fraction from 0 to 1, e.g. {key} = 0.9");
                }
            }
        }
        let amounts = [
            ("latency_p95_ms", self.latency_p95_ms),
            ("memory_max_mb", self.memory_max_mb),
            ("throughput_min", self.throughput_min),
            ("energy_budget_mj", self.energy_budget_mj),
        ];
        for (key, value) in amounts {
            if let Some(v) = value {
                if !(v.is_finite() && v >= 0.0) {
                    bail!("[explore.constraints] {key} = {v}: give a number 0 or more");
                }
            }
        }
        Ok(())
    }
}

/// `[explore.weights]`: the composite score `sum of weight x score`, where accuracy scores as
/// itself (0 to 1) and latency (p95 ms), memory (peak MiB) and energy (mJ per inference) as
/// `1 / (1 + x)`. Weights of dimensions not measured for every variant (energy on a CPU) are
/// dropped and the rest renormalised, which the summary says.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Weight of accuracy (scored as itself, 0 to 1); default 0.4.
    pub accuracy: f64,
    /// Weight of p95 latency (scored as 1 / (1 + ms)); default 0.2.
    pub latency: f64,
    /// Weight of peak memory (scored as 1 / (1 + MiB)); default 0.2.
    pub memory: f64,
    /// Weight of energy per inference (scored as 1 / (1 + mJ)); default 0.2.
    pub energy: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            accuracy: 0.4,
            latency: 0.2,
            memory: 0.2,
            energy: 0.2,
        }
    }
}

impl Weights {
    /// Refuses negative, non-finite or all-zero weights.
    pub fn validate(&self) -> Result<()> {
        let all = [self.accuracy, self.latency, self.memory, self.energy];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) || all.iter().sum::<f64>() <= 0.0 {
            bail!("[explore.weights]: every weight must be 0 or more and at least one above 0");
        }
        Ok(())
    }
}
