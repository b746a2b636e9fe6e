//! The pipelines the commands run, from a config to results and comparisons; they return what
//! they found and report progress through events, never print.

/// Every model of the config: measure, judge.
pub mod gate;
/// Variants side by side: measure, pair, rank.
pub mod explore;
/// Shards' results into one.
pub mod merge;
