//! Shared test support: an in-process fake of GitHub's REST API.

pub mod fake_github;
mod fake_routes;
