//! Data in and out of the model.

/// Labeled data: manifests, folders, tables.
pub mod dataset;
/// Images and tables to tensors, as torchvision and Pillow do.
pub mod preprocess;
/// Outputs to predictions.
pub mod postprocess;
/// Which samples a shard evaluates.
pub mod shard;
