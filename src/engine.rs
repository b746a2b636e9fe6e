//! ONNX Runtime and the tensors it takes.

/// Finding or fetching the ONNX Runtime library.
pub mod ortlib;
/// A model's inputs and outputs, shapes.
pub mod model;
/// .npy and raw tensor files.
pub mod tensorfile;
/// Inputs given as files (bench --input).
pub mod inputs;
/// Sessions, runs, profiles (the only module that imports ort).
pub mod runtime;
