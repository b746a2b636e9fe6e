//! The ground floor: what every layer may use.

/// Cleaning untrusted text for terminals, logs and markdown.
pub mod text;
/// Every size and count limit on untrusted input.
pub mod limits;
/// What stages report while they work (progress, notes).
pub mod events;
/// Numbers, units and intervals as text.
pub mod format;
/// Every git call: base commits, files at a commit.
pub mod gitref;
/// The font the plots embed.
pub mod fonts;
/// The plots' shared drawing (plotters).
pub mod plot;
