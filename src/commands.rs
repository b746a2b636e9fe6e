//! The commands: each wires the stages together, prints and writes files. The only layer that
//! prints, besides the argument errors in `lib.rs`.

/// The commands: bench, eval, gate, explore, report, comment and the rest.
pub mod app;
/// Baseline approve and history (its page too).
pub mod baseline;
/// A release's success criteria against an approved baseline.
pub mod check;
/// A first gate config from a model and its data.
pub mod init;
/// Docs/config.md and the config's JSON schema, from its types and the flags.
pub mod configdoc;
