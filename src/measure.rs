//! Timing models on this machine.

/// Base and candidate timed side by side, in session pairs.
pub mod ab;
/// One model timed alone: warmup, timed runs, percentiles.
pub mod bench;
/// Open-loop load test and capacity plan.
pub mod load;
/// Peak memory, measured in a child process.
pub mod memprobe;
/// What timed runs record besides the clock: GPU telemetry, CPU energy.
pub mod meter;
