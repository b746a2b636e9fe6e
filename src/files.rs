//! The files modelgate reads and writes: the config, the versioned results (and baselines), and
//! which model a file is.

/// Modelgate.toml: types, defaults, checks.
pub mod config;
/// The results file (and baselines): versioned, atomic writes.
pub mod results;
/// Which model a file is (digest, interface).
pub mod identity;
