//! Verdicts: a candidate's results judged against a baseline's, with real statistical tests.
//!
//! This is the one place a verdict is computed. Each model's comparison gathers every test (latency
//! and accuracy) with its raw p-value; [`finalize`] then applies Holm's correction across every test
//! of the gate run, decides each criterion from the adjusted p-values and confidence intervals, and
//! derives the model and overall verdicts. Reports only display what comes out of here.

mod accuracy;
/// What would make a model faster or a verdict settle.
pub mod advice;
mod floors;
mod latency;
pub mod operators;
mod quality;
mod reference;
pub mod sample_size;
mod verdict;

use serde::{Deserialize, Serialize};

pub use accuracy::{compare_accuracy, pair_by_id, recall_floor, Sides};
pub use floors::{candidate_criteria, own_criteria};
pub use latency::plan as session_plan;
pub use latency::{
    adaptive_looks, compare_latency, p50_criterion, LastLook, LatencyInput, MIN_TAIL_RUNS,
    PLANNED_LOOKS,
};
pub use quality::slice_label;
pub use reference::{LatencyReference, QualityReference, Reference, ReferenceInputs};
pub use verdict::{decide, finalize, MissingBaseline};

use crate::files::config::Criteria;
pub use crate::files::config::Inconclusive;
use crate::stats::{self, Interval};

/// Version of the comparison-file layout.
pub const COMPARISON_SCHEMA_VERSION: u32 = 1;

/// Outcome of a model or of the whole gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Something could not be measured or read; exit 2.
    Error,
    /// No baseline yet and `--allow-new` was given.
    New,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::New => "new",
        }
    }
}

/// Status of one criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The confidence interval straddles the limit: neither pass nor fail can be claimed.
    Inconclusive,
    /// Not judged, with the reason in `detail` (no baseline, different hardware, ...).
    Skipped,
    /// Measured, but this run cannot resolve it at its tolerance (too few runs beyond a tail
    /// quantile, or a smallest detectable change far above the tolerance): said once, with the
    /// reason and what the run could tell in `detail`, and not judged.
    Unresolved,
}

/// How a criterion is decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Rule {
    /// Candidate/baseline ratio of a latency: fail when the test is significant after correction
    /// and the whole CI lies above `1 + tolerance_pct/100`; pass when the whole CI lies at or below
    /// it; inconclusive otherwise.
    RatioAtMost { tolerance_pct: f64 },
    /// Fail when the observed drop (baseline - candidate, in points) exceeds the limit. The test
    /// set is the same for both, so the observed drop is exact for it; the test says whether it
    /// is likely to generalise.
    DropAtMost { limit_pts: f64 },
    /// Fail when the Wilson 95 % lower bound is below the floor.
    LowerBoundAtLeast { floor: f64 },
    /// Fail when the measured value exceeds the limit.
    AtMost { limit: f64 },
    /// Fail when the measured value is below the floor.
    AtLeast { floor: f64 },
    /// A recall floor judged on the value, where no Wilson bound applies (macro recall, which is
    /// no binomial proportion; a class without samples): fail when the recall is below it.
    RecallAtLeast { floor: f64 },
    /// Fail unless every prediction is unchanged.
    Identical,
    /// Fail unless something the verdict needs is there (an evaluation, a trustworthy reference).
    Required,
}

/// One line of the verdict table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Criterion {
    /// Short name, e.g. `p95 latency`.
    pub name: String,
    pub unit: String,
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    /// Relative change in percent, or the change in points for accuracy and recall.
    pub change: Option<f64>,
    /// The interval the decision used (latency ratio, or difference in points).
    pub ci: Option<Interval>,
    /// The test behind it, an index into the model's `tests`.
    pub test: Option<usize>,
    pub rule: Rule,
    pub status: Status,
    pub detail: String,
    /// For an inconclusive latency result: about how many runs per model would settle it.
    pub needed_runs: Option<u64>,
    /// For a latency criterion: how its interval was made, so anyone can recompute it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<LatencyMethod>,
    /// A subgroup too small to judge (`min_slice_size`): shown for information, it neither
    /// passes nor fails, and a release checklist leaves it out rather than count it skipped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reported_only: bool,
}

impl Criterion {
    /// Whether this is a floor on a recall (min_recall, min_class_recall, a subgroup's floor),
    /// judged on the candidate alone.
    pub fn is_recall_floor(&self) -> bool {
        matches!(
            self.rule,
            Rule::LowerBoundAtLeast { .. } | Rule::RecallAtLeast { .. }
        )
    }
}

/// How a latency criterion's interval and test were computed, and what the run could tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LatencyMethod {
    /// `sessions`: Student's t across pairs of fresh sessions (the session a random effect);
    /// `block_bootstrap`: runs pooled and resampled in blocks (one stretch of timing, or a
    /// committed baseline).
    pub kind: MethodKind,
    /// Session pairs (one session of each model timed side by side) behind the interval.
    pub sessions: usize,
    /// Fewest runs of one model in one session.
    pub runs_per_session_min: usize,
    /// Runs per A/B block (alternating ABBA within a session).
    pub block_runs: usize,
    /// Whether base and candidate were timed side by side and paired.
    pub paired: bool,
    /// Bootstrap resamples and their seed (block bootstrap only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resamples: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Looks whose shares of the significance the interval's confidence answers for (each look
    /// before the last spends a fiftieth, the last what is left: `compare::latency::PLANNED_LOOKS`),
    /// and the look that decided; `look` equals `looks_planned` when it was the last, and is
    /// absent for a comparison made once.
    pub looks_planned: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<u32>,
    /// Standard deviation, in percent, of one session pair's log ratio that is noise within
    /// the sessions, and the part that is the sessions' own speed (sessions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_session_sd_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub between_session_sd_pct: Option<f64>,
    /// Standard deviation, in percent, of the log ratio between runs in new processes, added to
    /// the interval: the part of the noise no single run can estimate, calibrated by a study
    /// (sessions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_level_sd_pct: Option<f64>,
    /// The smallest change, in percent, this run tells from none four times in five at the
    /// interval's confidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mde_pct: Option<f64>,
    /// Runs beyond the quantile in the shortest session (tails; sessions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_beyond_quantile: Option<f64>,
    /// What would settle an inconclusive result: the lever that helps, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// See [`LatencyMethod::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    Sessions,
    BlockBootstrap,
}

/// One statistical test, as the comparison file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TestRecord {
    pub name: String,
    pub statistic: f64,
    pub p_value: f64,
    /// Holm-adjusted across every test of the gate run.
    pub adjusted_p: Option<f64>,
    pub ci: Option<Interval>,
    pub effect_size: Option<f64>,
    /// What `effect_size` measures, recorded by its name.
    #[serde(rename = "effect_name")]
    pub effect: Effect,
    pub decision: Decision,
}

/// What a test's effect size measures. The comparison file records it by name; a file naming
/// an effect modelgate does not write is refused when read.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum Effect {
    /// A test with no effect size.
    #[default]
    #[serde(rename = "")]
    None,
    #[serde(rename = "Cohen's d")]
    CohensD,
    /// Candidate minus baseline, in milliseconds.
    #[serde(rename = "Hodges-Lehmann shift, ms")]
    HodgesLehmannShift,
    #[serde(rename = "candidate/baseline ratio")]
    Ratio,
    #[serde(rename = "accuracy change, points")]
    AccuracyPoints,
    #[serde(rename = "recall change, points")]
    RecallPoints,
    #[serde(rename = "AUROC change, points")]
    AurocPoints,
    #[serde(rename = "precision change, points")]
    PrecisionPoints,
    #[serde(rename = "specificity change, points")]
    SpecificityPoints,
}

/// The unit an effect size is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectUnit {
    /// Percentage points of a rate.
    Points,
    /// Milliseconds of latency.
    Ms,
    /// Candidate over baseline.
    Ratio,
    /// No unit (a standardised effect, or none).
    Plain,
}

impl Effect {
    /// The effect's name as the reports print it, without its unit.
    pub fn name(self) -> &'static str {
        match self {
            Effect::None => "",
            Effect::CohensD => "Cohen's d",
            Effect::HodgesLehmannShift => "Hodges-Lehmann shift",
            Effect::Ratio => "candidate/baseline ratio",
            Effect::AccuracyPoints => "accuracy change, points",
            Effect::RecallPoints => "recall change, points",
            Effect::AurocPoints => "AUROC change, points",
            Effect::PrecisionPoints => "precision change, points",
            Effect::SpecificityPoints => "specificity change, points",
        }
    }

    pub fn unit(self) -> EffectUnit {
        match self {
            Effect::AccuracyPoints
            | Effect::RecallPoints
            | Effect::AurocPoints
            | Effect::PrecisionPoints
            | Effect::SpecificityPoints => EffectUnit::Points,
            Effect::HodgesLehmannShift => EffectUnit::Ms,
            Effect::Ratio => EffectUnit::Ratio,
            Effect::CohensD | Effect::None => EffectUnit::Plain,
        }
    }
}

/// What a test's Holm-adjusted p-value says at the gate's significance level; empty until
/// every p-value of the run has been corrected.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum Decision {
    #[default]
    #[serde(rename = "")]
    Pending,
    #[serde(rename = "significant")]
    Significant,
    #[serde(rename = "not significant")]
    NotSignificant,
    #[serde(rename = "not computed")]
    NotComputed,
}

impl Decision {
    /// The words the reports show, as the comparison file spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pending => "",
            Decision::Significant => "significant",
            Decision::NotSignificant => "not significant",
            Decision::NotComputed => "not computed",
        }
    }
}

/// Where the latency comparison's baseline numbers came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LatencySource {
    /// Base and candidate timed in the same process in alternating blocks.
    SameRunnerAb,
    /// The committed baseline, measured on matching hardware.
    CommittedBaseline,
    /// The committed baseline came from other hardware or bench settings: its numbers are
    /// advisory only.
    NotComparable { reason: String },
    /// The candidate is the base model itself (same SHA-256): latency is not re-judged.
    ModelUnchanged,
    /// Base results were given that are not of the base model: the model fails.
    Rejected { reason: String },
    /// Nothing to compare against.
    None,
}

/// A sample whose prediction changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChangedSample {
    pub id: String,
    pub label: String,
    pub baseline: String,
    pub candidate: String,
    /// The probability the baseline gave the sample's label; absent in files that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_label_score: Option<f64>,
    /// The probability the candidate gave the sample's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_label_score: Option<f64>,
    /// Its subgroup values, slice column -> value; absent when no slices are configured.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub slices: std::collections::BTreeMap<String, String>,
    /// A small PNG of the sample's image as a `data:` URI, for the HTML report: image datasets
    /// only, the first changed samples only (see `gate::THUMBNAILS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
}

/// How a changed prediction changed, in the order the reports list them: what the candidate
/// broke first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flip {
    /// The baseline was right and the candidate is wrong.
    RightToWrong,
    /// Both are wrong, differently.
    WrongToWrong,
    /// The candidate fixed it.
    WrongToRight,
}

impl Flip {
    pub fn label(self) -> &'static str {
        match self {
            Flip::RightToWrong => "right → wrong",
            Flip::WrongToWrong => "wrong → wrong",
            Flip::WrongToRight => "wrong → right",
        }
    }
}

impl ChangedSample {
    /// How its prediction changed, from its label and the two predictions.
    pub fn flip(&self) -> Flip {
        if self.baseline == self.label {
            Flip::RightToWrong
        } else if self.candidate == self.label {
            Flip::WrongToRight
        } else {
            Flip::WrongToWrong
        }
    }
}

/// The paired accuracy comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccuracyComparison {
    pub n: usize,
    pub baseline_accuracy: f64,
    pub candidate_accuracy: f64,
    /// Name of the recall guarded: the positive class's, or macro recall.
    pub recall_name: String,
    pub baseline_recall: f64,
    pub candidate_recall: f64,
    pub candidate_recall_wilson: Option<Interval>,
    /// Samples only the baseline got right, and only the candidate.
    pub baseline_only_correct: u64,
    pub candidate_only_correct: u64,
    pub agreement_rate: f64,
    pub changed: Vec<ChangedSample>,
    /// Both models' metrics in every subgroup of the dataset's `slices`; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<SliceComparison>,
    /// Class names in output order, naming the confusion matrices' rows and columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// The baseline's `confusion[true][predicted]` counts on the samples both saw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_confusion: Vec<Vec<usize>>,
    /// The candidate's, as `baseline_confusion`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidate_confusion: Vec<Vec<usize>>,
    /// Decision thresholds of a two-class task, from each side's postprocess settings; absent
    /// with more classes (argmax decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_threshold: Option<f64>,
}

/// One subgroup under both models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SliceComparison {
    pub baseline: crate::validate::metrics::SliceMetrics,
    pub candidate: crate::validate::metrics::SliceMetrics,
    /// Whether it has at least `min_slice_size` samples (positives, when a positive class is
    /// guarded), so its criteria are judged; smaller ones are reported only.
    pub judged: bool,
}

/// Latency numbers side by side, for tables and the chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LatencyPair {
    pub baseline_ms: [f64; 3],
    pub candidate_ms: [f64; 3],
    pub baseline_runs: usize,
    pub candidate_runs: usize,
    /// The baseline's latency distribution: its quantiles at 0, 1, ..., 100 % (101 values, in
    /// ms), for the report's distribution chart; empty in files that predate it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_ecdf_ms: Vec<f64>,
    /// The candidate's, as `baseline_ecdf_ms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidate_ecdf_ms: Vec<f64>,
}

/// Everything judged for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelComparison {
    pub name: String,
    pub verdict: Verdict,
    /// The model's own significance level, from its criteria.
    pub significance: f64,
    /// What an inconclusive latency criterion does to the verdict.
    #[serde(default)]
    pub inconclusive: Inconclusive,
    pub reasons: Vec<String>,
    pub candidate_path: String,
    pub candidate_sha256: String,
    pub baseline_path: Option<String>,
    pub baseline_sha256: Option<String>,
    pub latency_source: LatencySource,
    pub latency: Option<LatencyPair>,
    pub accuracy: Option<AccuracyComparison>,
    pub criteria: Vec<Criterion>,
    pub tests: Vec<TestRecord>,
    pub notes: Vec<String>,
    /// Set when the model could not be judged at all.
    pub error: Option<String>,
    /// The git commit the A/B base model was read from, when the gate resolved one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_commit: Option<String>,
    /// The git commit of the candidate model, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_commit: Option<String>,
    /// The machine the candidate was measured on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<Runner>,
    /// The candidate's operator profile (`bench --profile`), its slowest nodes only; shown, never
    /// judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::engine::runtime::profile::OpProfile>,
    /// The base model's operators against the candidate's, when an A/B profiled both (a latency
    /// criterion failed or was not settled, or `profile = true`); shown, never judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operators: Option<operators::OperatorDiff>,
}

/// The machine a model was measured on, from its results' fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Runner {
    pub cpu: String,
    pub cores: usize,
    pub os: String,
    pub arch: String,
    pub onnxruntime_version: String,
    pub execution_provider: String,
}

impl Runner {
    pub fn from_fingerprint(f: &crate::machine::system::Fingerprint) -> Runner {
        Runner {
            cpu: f.cpu_model.clone(),
            cores: f.cpu_cores,
            os: f.os.clone(),
            arch: f.arch.clone(),
            onnxruntime_version: f.onnxruntime_version.clone(),
            execution_provider: f.execution_provider.clone(),
        }
    }
}

impl ModelComparison {
    /// A model that could not be measured or read.
    pub fn failed(name: &str, candidate_path: &str, error: String) -> ModelComparison {
        ModelComparison {
            name: name.to_string(),
            verdict: Verdict::Error,
            significance: crate::files::config::Criteria::default().significance,
            inconclusive: Inconclusive::Pass,
            reasons: vec![error.clone()],
            candidate_path: candidate_path.to_string(),
            candidate_sha256: String::new(),
            baseline_path: None,
            baseline_sha256: None,
            latency_source: LatencySource::None,
            latency: None,
            accuracy: None,
            criteria: vec![],
            tests: vec![],
            notes: vec![],
            error: Some(error),
            base_commit: None,
            candidate_commit: None,
            runner: None,
            profile: None,
            operators: None,
        }
    }
}

/// The comparison file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    pub schema_version: u32,
    pub created_at: String,
    pub verdict: Verdict,
    pub significance: f64,
    pub models: Vec<ModelComparison>,
}

/// The JSON Schema of [`Comparison`], as committed in `schemas/comparison.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Comparison);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// A criterion that fails with `detail` when `present` is false: something the verdict needs.
pub fn required(name: &str, present: bool, detail: String) -> Criterion {
    Criterion {
        name: name.into(),
        unit: String::new(),
        baseline: None,
        candidate: Some(if present { 1.0 } else { 0.0 }),
        change: None,
        ci: None,
        test: None,
        rule: Rule::Required,
        status: if present { Status::Pass } else { Status::Fail },
        detail,
        needed_runs: None,
        method: None,
        reported_only: false,
    }
}

/// Absolute limits on the candidate's own numbers, judged whatever the baseline.
pub fn absolute_criteria(
    criteria: &Criteria,
    p95_ms: Option<f64>,
    peak_mb: Option<f64>,
    throughput: Option<f64>,
) -> Vec<Criterion> {
    let make = |name: &str, unit: &str, value: Option<f64>, rule: Rule, limit: f64| Criterion {
        name: name.into(),
        unit: unit.into(),
        baseline: None,
        candidate: value,
        change: None,
        ci: None,
        test: None,
        status: if value.is_some() {
            Status::Pass
        } else {
            Status::Skipped
        },
        detail: match value {
            Some(v) => format!("{v:.3} {unit} against a limit of {limit} {unit}"),
            None => "not measured".into(),
        },
        rule,
        needed_runs: None,
        method: None,
        reported_only: false,
    };
    let mut out = Vec::new();
    if let Some(limit) = criteria.max_p95_ms {
        out.push(make(
            "p95 latency limit",
            "ms",
            p95_ms,
            Rule::AtMost { limit },
            limit,
        ));
    }
    if let Some(limit) = criteria.max_peak_memory_mb {
        out.push(make(
            "peak memory limit",
            "MiB",
            peak_mb,
            Rule::AtMost { limit },
            limit,
        ));
    }
    if let Some(floor) = criteria.min_throughput {
        out.push(make(
            "throughput floor",
            "samples/s",
            throughput,
            Rule::AtLeast { floor },
            floor,
        ));
    }
    out
}

#[cfg(test)]
mod tests;
