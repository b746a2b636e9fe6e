//! What each criterion of a model is judged against: the one place that choice is made.
//!
//! Prediction quality does not depend on the machine, so accuracy and recall are always judged
//! against the approved baseline in `baselines/`, paired sample by sample; the base model's
//! numbers never stand in for it (five small drops in a row would each pass against the model
//! just before). Latency does depend on the machine, so it is judged against the base model timed
//! beside the candidate on this runner, and only when that base is provably the base: its SHA-256
//! must equal the one read from the trusted checkout. A committed baseline's latency counts only
//! when it was measured on matching hardware with the same bench settings; otherwise it is shown
//! as advisory. Anything in a results file is a claim, and none of it picks its own reference.

use crate::bench::BenchResult;
use crate::eval::EvalResult;
use crate::results::ResultsFile;

use super::LatencySource;

/// What prediction quality is judged against.
#[derive(Debug, Clone, PartialEq)]
pub enum QualityReference<'a> {
    /// The approved baseline's evaluation.
    Baseline(&'a EvalResult),
    /// The model has no dataset: nothing to judge.
    NotEvaluated,
    /// No approved baseline file: the model is new (with `--allow-new`) or fails.
    NoBaseline,
    /// The approved baseline has no evaluation although the config gives a dataset.
    BaselineWithoutEval,
}

/// What latency is judged against: where the numbers come from, and the numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyReference<'a> {
    pub source: LatencySource,
    pub samples_ms: &'a [f64],
}

/// Both references of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference<'a> {
    pub quality: QualityReference<'a>,
    pub latency: LatencyReference<'a>,
    /// What the reader should know about the choice.
    pub notes: Vec<String>,
}

/// What the choice is made from.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceInputs<'a> {
    /// The candidate's results (measured here, or read from a results directory).
    pub candidate: &'a ResultsFile,
    /// The base model's results from a same-runner A/B, if any were measured or given.
    pub base: Option<&'a ResultsFile>,
    /// SHA-256 of the base model as read from the trusted checkout (the config's base_model,
    /// or the file at the base commit); None when the config names no base.
    pub trusted_base_sha256: Option<&'a str>,
    /// The approved baseline, if committed.
    pub baseline: Option<&'a ResultsFile>,
    /// Whether the config gives the model a dataset.
    pub has_dataset: bool,
}

fn primary_samples(results: &ResultsFile) -> &[f64] {
    results
        .bench
        .as_ref()
        .and_then(BenchResult::primary)
        .map(|r| r.samples_ms.as_slice())
        .unwrap_or(&[])
}

impl<'a> Reference<'a> {
    /// Chooses the references by the rules in the module documentation.
    pub fn choose(inputs: &ReferenceInputs<'a>) -> Reference<'a> {
        let mut notes = Vec::new();
        let quality = match (inputs.has_dataset, inputs.baseline) {
            (false, _) => QualityReference::NotEvaluated,
            (true, None) => QualityReference::NoBaseline,
            (true, Some(baseline)) => match &baseline.eval {
                Some(eval) => QualityReference::Baseline(eval),
                None => QualityReference::BaselineWithoutEval,
            },
        };
        let latency = Self::latency(inputs, &mut notes);
        Reference {
            quality,
            latency,
            notes,
        }
    }

    fn latency(inputs: &ReferenceInputs<'a>, notes: &mut Vec<String>) -> LatencyReference<'a> {
        let none = |source| LatencyReference {
            source,
            samples_ms: &[],
        };
        match (inputs.trusted_base_sha256, inputs.base) {
            (Some(trusted), _) if trusted == inputs.candidate.model.sha256 && inputs.base.is_none() => {
                return none(LatencySource::ModelUnchanged);
            }
            (Some(trusted), Some(base)) if base.model.sha256 == trusted => {
                return LatencyReference {
                    source: LatencySource::SameRunnerAb,
                    samples_ms: primary_samples(base),
                };
            }
            (Some(trusted), Some(base)) => {
                return none(LatencySource::Rejected {
                    reason: format!(
                        "the base results are of a model with SHA-256 {}, but the base model is {}",
                        short(&base.model.sha256),
                        short(trusted)
                    ),
                });
            }
            (None, Some(_)) => notes.push(
                "base results were given, but the config names no base model (base_ref or base_model): they are not used".into(),
            ),
            (Some(_), None) | (None, None) => {}
        }
        let Some(baseline) = inputs.baseline else {
            return none(LatencySource::None);
        };
        let samples = primary_samples(baseline);
        let difference = baseline
            .environment
            .hardware_difference(&inputs.candidate.environment)
            .or_else(|| {
                let (a, b) = (baseline.bench.as_ref()?, inputs.candidate.bench.as_ref()?);
                a.settings_difference(b)
            });
        match difference {
            None => LatencyReference {
                source: LatencySource::CommittedBaseline,
                samples_ms: samples,
            },
            Some(reason) => LatencyReference {
                source: LatencySource::NotComparable { reason },
                samples_ms: samples,
            },
        }
    }
}

fn short(sha: &str) -> String {
    let printable: String = sha
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    if printable.is_empty() {
        "(none)".into()
    } else {
        printable
    }
}
