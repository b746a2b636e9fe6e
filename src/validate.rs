//! A model on its labeled data.

/// Predictions per sample, with the model's pre- and postprocessing.
pub mod eval;
/// Accuracy, recall, AUROC and the rest from the predictions.
pub mod metrics;
