//! The machine the runs happen on.

/// NVML telemetry and GPU facts.
pub mod gpu;
/// CPU energy (RAPL).
pub mod rapl;
/// The machine's fingerprint, file digests.
pub mod system;
