//! modelgate: gate pull requests that change ONNX models.

pub mod dataset;
pub mod metrics;
pub mod postprocess;
pub mod preprocess;
