//! From a model's raw output rows to per-class probabilities and a predicted
//! class, as the `[models.postprocess]` config says.
//!
//! This is where a gate most easily measures the wrong thing without noticing:
//! a softmax applied to probabilities, a sigmoid threshold on the wrong class,
//! an output with more columns than the dataset has classes. So the output
//! width is checked against the class count on every row, non-finite values
//! are errors naming the sample, and the positive class of a binary task is
//! resolved once, by name or index, in [`Postprocessor::new`].

use serde::{Deserialize, Serialize};

/// How raw outputs become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Softmax over the row (logits of mutually exclusive classes).
    Softmax,
    /// Logistic function per value; one output means P(positive class).
    Sigmoid,
    /// Outputs are already probabilities in 0..1 and used as they are.
    None,
}

/// A class named by its name or by its index in the class list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ClassRef {
    /// Index into the classes, 0-based.
    Index(usize),
    /// Class name.
    Name(String),
}

/// Default decision threshold for a binary task.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

fn default_threshold() -> f32 {
    DEFAULT_THRESHOLD
}

/// The `[models.postprocess]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Postprocess {
    /// How raw outputs become probabilities.
    pub activation: Activation,
    /// Binary tasks: predict the positive class when its probability is at
    /// least this; default 0.5. Ignored with more than two classes (argmax).
    #[serde(default = "default_threshold")]
    pub threshold: f32,
    /// Class names in model output order; also fixes the dataset's classes.
    #[serde(default)]
    pub class_names: Option<Vec<String>>,
    /// The class whose recall the gate guards (e.g. "malignant"); for two
    /// classes it defaults to the second (index 1).
    #[serde(default)]
    pub positive_class: Option<ClassRef>,
}

/// Scores and predicted class of one sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Index of the predicted class.
    pub pred: usize,
    /// Probability per class, in class order.
    pub scores: Vec<f32>,
}

/// Why postprocessing failed.
#[derive(Debug, thiserror::Error)]
pub enum PostprocessError {
    /// A config value is invalid.
    #[error("postprocess.{key}: {message}")]
    Config {
        /// The key under `[models.postprocess]`.
        key: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The output width does not fit the number of classes.
    #[error("model output has {width} value(s) per sample but the dataset has {classes} classes; {hint}")]
    Width {
        /// Values per sample.
        width: usize,
        /// Number of classes.
        classes: usize,
        /// How to fix it.
        hint: &'static str,
    },
    /// The batch output length is not a multiple of the sample count.
    #[error("model output holds {len} values, which does not split into {samples} equal rows; check the model's output shape")]
    BatchShape {
        /// Values in the output.
        len: usize,
        /// Samples in the batch.
        samples: usize,
    },
    /// The model produced NaN or infinity.
    #[error("model output for sample {sample} has {value} at index {index}; the model produced a non-finite value for this input")]
    NotFinite {
        /// Sample id.
        sample: String,
        /// The offending value.
        value: f32,
        /// Its index in the row.
        index: usize,
    },
    /// With `activation = "none"`, a value is not a probability.
    #[error("model output for sample {sample} has {value} at index {index}, outside 0..1; with activation = \"none\" outputs must be probabilities: set activation = \"softmax\" or \"sigmoid\" if the model gives logits")]
    NotProbability {
        /// Sample id.
        sample: String,
        /// The offending value.
        value: f32,
        /// Its index in the row.
        index: usize,
    },
}

/// Slack allowed around 0..1 for `activation = "none"`, for float rounding
/// in the model's own softmax.
const PROBABILITY_SLACK: f32 = 1e-4;

impl Postprocess {
    /// Check the config on its own, before the dataset is known.
    pub fn validate(&self) -> Result<(), PostprocessError> {
        let err = |key, message: String| Err(PostprocessError::Config { key, message });
        if !(0.0..=1.0).contains(&self.threshold) {
            return err(
                "threshold",
                format!("{} must be between 0 and 1", self.threshold),
            );
        }
        if let Some(names) = &self.class_names {
            if names.len() < 2 {
                return err(
                    "class_names",
                    format!(
                        "lists {} class(es); list every class the model outputs, in output order",
                        names.len()
                    ),
                );
            }
            if let Some(dup) = names
                .iter()
                .enumerate()
                .find(|(i, n)| names[..*i].contains(n))
            {
                return err(
                    "class_names",
                    format!("lists \"{}\" twice; class names must be unique", dup.1),
                );
            }
            self.positive_index(names)?;
        }
        Ok(())
    }

    /// Index of the positive class among `classes`: `positive_class` when
    /// set, else index 1 for two classes, else none.
    pub fn positive_index(&self, classes: &[String]) -> Result<Option<usize>, PostprocessError> {
        let known = || classes.join(", ");
        match &self.positive_class {
            Some(ClassRef::Name(name)) => match classes.iter().position(|c| c == name) {
                Some(i) => Ok(Some(i)),
                None => Err(PostprocessError::Config {
                    key: "positive_class",
                    message: format!(
                        "\"{name}\" is not one of the classes [{}]; use one of them",
                        known()
                    ),
                }),
            },
            Some(ClassRef::Index(i)) if *i < classes.len() => Ok(Some(*i)),
            Some(ClassRef::Index(i)) => Err(PostprocessError::Config {
                key: "positive_class",
                message: format!(
                    "index {i} is out of range for the {} classes [{}]; indices start at 0",
                    classes.len(),
                    known()
                ),
            }),
            None if classes.len() == 2 => Ok(Some(1)),
            None => Ok(None),
        }
    }
}

/// A validated postprocessing step for one dataset's classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Postprocessor {
    activation: Activation,
    threshold: f32,
    classes: usize,
    positive: Option<usize>,
}

impl Postprocessor {
    /// Validate `config` against the dataset's `classes` (at least two).
    pub fn new(config: &Postprocess, classes: &[String]) -> Result<Self, PostprocessError> {
        config.validate()?;
        if classes.len() < 2 {
            return Err(PostprocessError::Config {
                key: "class_names",
                message: format!("the dataset has {} class(es) [{}]; list every class the model outputs in class_names", classes.len(), classes.join(", ")),
            });
        }
        Ok(Postprocessor {
            activation: config.activation,
            threshold: config.threshold,
            classes: classes.len(),
            positive: config.positive_index(classes)?,
        })
    }

    /// The resolved positive class, if any (always set for two classes).
    pub fn positive(&self) -> Option<usize> {
        self.positive
    }

    /// Postprocess a batch: `output` holds one row per id, back to back.
    pub fn apply_batch(
        &self,
        output: &[f32],
        sample_ids: &[&str],
    ) -> Result<Vec<Prediction>, PostprocessError> {
        if sample_ids.is_empty() {
            return Ok(Vec::new());
        }
        if output.is_empty() || !output.len().is_multiple_of(sample_ids.len()) {
            return Err(PostprocessError::BatchShape {
                len: output.len(),
                samples: sample_ids.len(),
            });
        }
        let width = output.len() / sample_ids.len();
        output
            .chunks_exact(width)
            .zip(sample_ids)
            .map(|(row, id)| self.apply(row, id))
            .collect()
    }

    /// Postprocess one output row of the sample `sample_id`.
    pub fn apply(&self, row: &[f32], sample_id: &str) -> Result<Prediction, PostprocessError> {
        check_values(row, sample_id, |v| v.is_finite(), false)?;
        let width = row.len();
        let single = width == 1 && self.classes == 2;
        if width != self.classes && !single {
            return Err(PostprocessError::Width {
                width,
                classes: self.classes,
                hint: width_hint(width, self.classes),
            });
        }
        if single && self.activation == Activation::Softmax {
            return Err(PostprocessError::Width { width, classes: self.classes, hint: "softmax over one value is always 1; set activation = \"sigmoid\" for a single-logit binary model" });
        }
        let mut scores = match self.activation {
            Activation::Softmax => softmax(row),
            Activation::Sigmoid => row.iter().map(|&x| sigmoid(x)).collect(),
            Activation::None => row.to_vec(),
        };
        let in_unit = |v: f32| (-PROBABILITY_SLACK..=1.0 + PROBABILITY_SLACK).contains(&v);
        if self.activation == Activation::None {
            check_values(&scores, sample_id, in_unit, true)?;
        }
        check_values(&scores, sample_id, |v| v.is_finite(), false)?;
        let pred = match self.positive.filter(|_| self.classes == 2) {
            Some(pos) => {
                if single {
                    // One value is P(positive); spread it over both classes.
                    let p = scores[0];
                    scores = vec![1.0 - p; 2];
                    scores[pos] = p;
                }
                if scores[pos] >= self.threshold {
                    pos
                } else {
                    1 - pos
                }
            }
            None => argmax(&scores),
        };
        Ok(Prediction { pred, scores })
    }
}

fn width_hint(width: usize, classes: usize) -> &'static str {
    if width == 1 {
        "a single output fits only a binary task; list the model's classes in class_names"
    } else if width > classes {
        "list all the model's classes in class_names, in output order, so the dataset has the same classes"
    } else {
        "the model has fewer outputs than the dataset has classes; check class_names and the model"
    }
}

/// Error on the first value of `row` failing `ok`.
fn check_values(
    row: &[f32],
    sample: &str,
    ok: impl Fn(f32) -> bool,
    probability: bool,
) -> Result<(), PostprocessError> {
    match row.iter().position(|&v| !ok(v)) {
        None => Ok(()),
        Some(index) => {
            let (sample, value) = (sample.to_string(), row[index]);
            Err(if probability && value.is_finite() {
                PostprocessError::NotProbability {
                    sample,
                    value,
                    index,
                }
            } else {
                PostprocessError::NotFinite {
                    sample,
                    value,
                    index,
                }
            })
        }
    }
}

/// Index of the largest value; the first on ties (as numpy's argmax).
fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Softmax, computed in f64 after subtracting the maximum so large logits
/// cannot overflow. Finite input gives finite output summing to 1.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x)));
    let exps: Vec<f64> = logits.iter().map(|&x| (f64::from(x) - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}

/// Logistic function, in the form that cannot overflow for either sign.
pub fn sigmoid(x: f32) -> f32 {
    let x = f64::from(x);
    let p = if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    };
    p as f32
}

#[cfg(test)]
mod tests;
