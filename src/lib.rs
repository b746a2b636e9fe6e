//! modelgate: gate pull requests that change ONNX models.

pub mod actions;
pub mod github;
