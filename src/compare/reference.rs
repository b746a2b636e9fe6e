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

use crate::files::results::ResultsFile;
use crate::measure::bench::BenchResult;
use crate::validate::eval::EvalResult;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's approved cancer baseline: a real results file with bench and eval.
    fn results() -> ResultsFile {
        crate::files::results::parse(include_str!("../../baselines/cancer.json")).unwrap()
    }

    fn with_sha(sha: &str) -> ResultsFile {
        let mut r = results();
        r.model.sha256 = sha.into();
        r
    }

    fn inputs<'a>(
        candidate: &'a ResultsFile,
        base: Option<&'a ResultsFile>,
        trusted: Option<&'a str>,
        baseline: Option<&'a ResultsFile>,
    ) -> ReferenceInputs<'a> {
        ReferenceInputs {
            candidate,
            base,
            trusted_base_sha256: trusted,
            baseline,
            has_dataset: true,
        }
    }

    #[test]
    fn quality_is_always_the_approved_baseline() {
        let (candidate, base, baseline) = (with_sha("cc"), with_sha("bb"), with_sha("aa"));
        let chosen = Reference::choose(&inputs(
            &candidate,
            Some(&base),
            Some("bb"),
            Some(&baseline),
        ));
        // The same numbers sit in both files here, so check which file's evaluation it is.
        let QualityReference::Baseline(eval) = chosen.quality else {
            panic!("{:?}", chosen.quality);
        };
        assert!(std::ptr::eq(eval, baseline.eval.as_ref().unwrap()));
        let none = Reference::choose(&inputs(&candidate, Some(&base), Some("bb"), None));
        assert_eq!(none.quality, QualityReference::NoBaseline);
        let mut no_eval = baseline.clone();
        no_eval.eval = None;
        let chosen = Reference::choose(&inputs(&candidate, None, None, Some(&no_eval)));
        assert_eq!(chosen.quality, QualityReference::BaselineWithoutEval);
        let mut no_dataset = inputs(&candidate, None, None, Some(&no_eval));
        no_dataset.has_dataset = false;
        assert_eq!(
            Reference::choose(&no_dataset).quality,
            QualityReference::NotEvaluated
        );
    }

    #[test]
    fn latency_uses_the_base_only_when_it_is_the_trusted_base() {
        let (candidate, base, baseline) = (with_sha("cc"), with_sha("bb"), with_sha("aa"));
        let ab = Reference::choose(&inputs(
            &candidate,
            Some(&base),
            Some("bb"),
            Some(&baseline),
        ));
        assert_eq!(ab.latency.source, LatencySource::SameRunnerAb);
        assert!(std::ptr::eq(ab.latency.samples_ms, primary_samples(&base)));

        // Base results of another model (here: the candidate passed off as the base).
        let forged = Reference::choose(&inputs(&candidate, Some(&candidate), Some("bb"), None));
        assert!(
            matches!(forged.latency.source, LatencySource::Rejected { .. }),
            "{:?}",
            forged.latency.source
        );
        assert!(forged.latency.samples_ms.is_empty());

        // Base results with no base configured are not used.
        let loose = Reference::choose(&inputs(&candidate, Some(&base), None, Some(&baseline)));
        assert_eq!(loose.latency.source, LatencySource::CommittedBaseline);
        assert_eq!(loose.notes.len(), 1);
    }

    #[test]
    fn an_unchanged_model_is_not_re_judged() {
        let candidate = with_sha("bb");
        let chosen = Reference::choose(&inputs(&candidate, None, Some("bb"), None));
        assert_eq!(chosen.latency.source, LatencySource::ModelUnchanged);
    }

    #[test]
    fn the_committed_baseline_counts_only_on_matching_hardware_and_settings() {
        let (candidate, baseline) = (with_sha("cc"), with_sha("aa"));
        let same = Reference::choose(&inputs(&candidate, None, None, Some(&baseline)));
        assert_eq!(same.latency.source, LatencySource::CommittedBaseline);

        let mut threads = candidate.clone();
        threads
            .bench
            .as_mut()
            .unwrap()
            .settings
            .session
            .intra_threads = Some(4);
        let chosen = Reference::choose(&inputs(&threads, None, None, Some(&baseline)));
        match chosen.latency.source {
            LatencySource::NotComparable { reason } => {
                assert!(reason.contains("intra-op threads 1 vs 4"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!chosen.latency.samples_ms.is_empty(), "shown as advisory");

        let mut cpu = candidate.clone();
        cpu.environment.cpu_model = "Other CPU".into();
        let chosen = Reference::choose(&inputs(&cpu, None, None, Some(&baseline)));
        assert!(matches!(
            chosen.latency.source,
            LatencySource::NotComparable { .. }
        ));
    }
}
