//! Publishing a report where the PR's readers see it.

/// GitHub Actions: annotations, outputs.
pub mod actions;
/// The sticky PR comment (octocrab).
pub mod github;
