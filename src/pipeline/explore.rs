//! `modelgate explore`: every variant of one model measured the way the gate measures, and the
//! trade-offs between them.
//!
//! A team choosing between an fp32, an fp16 and an int8 file, optimisation levels, thread counts
//! or providers wants one table: latency, throughput, memory, energy and quality of each, the
//! change against a reference with the paired test behind it (Holm across the whole family, so
//! "not distinguishable" is an answer), which variants meet the hard constraints, the best one by
//! each dimension and by a documented composite score, and the latency-accuracy Pareto front.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::engine::runtime::Runtime;
use crate::files::config::{GateConfig, ModelConfig};
use crate::measure::bench::{self, BenchResult};
use crate::validate::eval::EvalResult;

mod measure;
mod output;
mod paired;
pub mod plot;
mod rank;

use measure::*;
pub use output::*;
use paired::*;
pub use rank::*;

/// Version of `summary.json`'s layout.
pub const SCHEMA_VERSION: u32 = 2;

pub use crate::files::config::explore::{Constraints, ExploreConfig, VariantConfig, Weights};

/// One measured variant: a dashboard row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VariantRow {
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub provider: String,
    pub opt_level: String,
    pub intra_threads: Option<usize>,
    pub batch: i64,
    pub latency_mean_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub sample_p50_ms: f64,
    pub sample_p95_ms: f64,
    pub sample_p99_ms: f64,
    pub throughput_samples_per_s: f64,
    pub model_size_mb: f64,
    /// Peak resident memory of a process holding only this variant.
    pub peak_memory_mb: f64,
    /// Resident memory the session added, per sample of a batch.
    pub memory_per_inference_mb: f64,
    /// Peak MiB per sample/s of throughput.
    pub memory_pressure_mb_per_sps: f64,
    /// From the GPU's energy counter, or the CPU packages' RAPL counters (whole packages);
    /// absent where not measured (never estimated).
    pub energy_mj_per_inference: Option<f64>,
    pub accuracy: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub auroc: Option<f64>,
    /// Against the reference, in points, with Newcombe's interval for a paired difference
    /// (at 1 - significance) and the Holm-adjusted p-value of McNemar's exact test.
    pub accuracy_change_pts: Option<f64>,
    pub accuracy_change_ci_low: Option<f64>,
    pub accuracy_change_ci_high: Option<f64>,
    pub accuracy_p_adj: Option<f64>,
    pub recall_change_pts: Option<f64>,
    pub recall_change_ci_low: Option<f64>,
    pub recall_change_ci_high: Option<f64>,
    pub recall_p_adj: Option<f64>,
    /// Macro F1's change in points, with the paired bootstrap's interval and p-value (2,000
    /// resamples of the samples, seeded).
    pub f1_change_pts: Option<f64>,
    pub f1_change_ci_low: Option<f64>,
    pub f1_change_ci_high: Option<f64>,
    pub f1_p_adj: Option<f64>,
    /// AUROC's change in points, with DeLong's paired test and its normal interval; binary
    /// models only.
    pub auroc_change_pts: Option<f64>,
    pub auroc_change_ci_low: Option<f64>,
    pub auroc_change_ci_high: Option<f64>,
    pub auroc_p_adj: Option<f64>,
    /// Per-sample p50 latency over the reference's, with the gate's interval (at 1 -
    /// significance) across the rounds of fresh sessions the variants were timed in (Student's
    /// t over the rounds' log ratios) and its Holm-adjusted p-value.
    pub latency_p50_ratio: Option<f64>,
    pub latency_p50_ci_low: Option<f64>,
    pub latency_p50_ci_high: Option<f64>,
    pub latency_p50_p_adj: Option<f64>,
    /// Per-sample p95 latency over the reference's, with its interval across the rounds and
    /// its Holm-adjusted p-value.
    pub latency_p95_ratio: Option<f64>,
    pub latency_p95_ci_low: Option<f64>,
    pub latency_p95_ci_high: Option<f64>,
    pub latency_p95_p_adj: Option<f64>,
    /// "reference", "distinguishable" (some difference whose adjusted p is under the
    /// significance level and whose interval leaves out no change: 0 points, or for latency
    /// every ratio within the model's tolerance) or "not distinguishable".
    pub versus_reference: String,
    pub composite_score: f64,
    pub meets_constraints: bool,
    /// The constraints it misses, as `latency_p95_ms 12.3 > 10`.
    pub missed: Vec<String>,
    /// With `--peak-qps`: instances of this variant (one session each) for the peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// A variant's capacity plan: one instance serves `throughput` samples/s (its measured service
/// rate, closed loop); run at 70 % utilization, `ceil(peak x safety / (rate x 0.7))` instances
/// carry the peak, and M/D/1 predicts the queueing delay each then adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Capacity {
    pub peak_qps: f64,
    pub safety: f64,
    pub target_utilization: f64,
    pub service_rate_qps: f64,
    pub instances: u64,
    /// M/D/1 mean queueing delay at the target utilization, in ms.
    pub queueing_ms_at_target: Option<f64>,
    /// Peak memory of every instance together, in MiB.
    pub memory_mb_total: f64,
    pub formula: String,
}

/// The capacity plan of a variant that serves `rate` samples/s (see [`Capacity`]).
pub fn capacity(rate: f64, peak_memory_mb: f64, peak_qps: f64, safety: f64) -> Option<Capacity> {
    use crate::measure::load::TARGET_UTILIZATION;
    if !(rate.is_finite() && rate > 0.0 && peak_qps > 0.0 && safety > 0.0) {
        return None;
    }
    let (instances, per_instance) = crate::measure::load::instances_needed(peak_qps, safety, rate);
    Some(Capacity {
        peak_qps,
        safety,
        target_utilization: TARGET_UTILIZATION,
        service_rate_qps: rate,
        instances,
        queueing_ms_at_target: crate::measure::load::md1_wait_s(per_instance, rate).map(|s| s * 1000.0),
        memory_mb_total: peak_memory_mb * instances as f64,
        formula: format!(
            "instances = ceil(peak {peak_qps} qps x safety {safety} / (service rate {rate:.1} samples/s x {:.0} % utilization)) = ceil({:.1} / {per_instance:.1}) = {instances}",
            TARGET_UTILIZATION * 100.0,
            peak_qps * safety
        ),
    })
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    pub schema_version: u32,
    pub model: String,
    pub reference: String,
    pub significance: f64,
    /// The model's p50 and p95 latency tolerances in percent (`[criteria]`
    /// max_p50_regression_pct and max_p95_regression_pct): a latency ratio is told apart from
    /// the reference only beyond them, as the gate judges latency.
    pub latency_tolerance_pct: [f64; 2],
    pub constraints: Constraints,
    pub weights: Weights,
    /// The weights the composite actually used (renormalised without unmeasured dimensions).
    pub weights_used: BTreeMap<Dimension, f64>,
    /// Best variant among those meeting the constraints, per dimension and by composite. A
    /// dimension whose best is not told apart from the reference (p95 latency, throughput by the
    /// p50 test, accuracy, recall; the rule of `versus_reference`) has no best: it is in `ties`.
    pub best: BTreeMap<String, String>,
    /// Dimensions without a best: the variants meeting the constraints that are not told apart
    /// from the reference there and are at least as good as it (the reference among them when
    /// it meets them), best value first.
    #[serde(default)]
    pub ties: BTreeMap<String, Vec<String>>,
    /// What the Pareto front and the plot weigh against p95 latency: `recall` when a
    /// `recall_min` constraint is set, else `accuracy`, or `throughput` without a dataset.
    #[serde(default)]
    pub tradeoff: Tradeoff,
    /// Variants meeting the constraints that no other such variant beats on both p95 latency and
    /// the `tradeoff` quality (latency alone without a dataset): the Pareto front.
    pub pareto_front: Vec<String>,
    pub variants: Vec<VariantRow>,
    pub notes: Vec<String>,
}

/// The quality weighed against p95 latency on the Pareto front and the plot.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tradeoff {
    /// Accuracy, when every variant has a dataset's numbers and no recall constraint is set.
    #[default]
    Accuracy,
    /// Recall of the positive class, when the constraints guard it (`recall_min`).
    Recall,
    /// Throughput on the plot, latency alone on the front: no dataset.
    Throughput,
}

impl Tradeoff {
    /// The quality the constraints guard, if every variant has it measured.
    fn of(constraints: &Constraints, rows: &[VariantRow]) -> Tradeoff {
        if constraints.recall_min.is_some() && rows.iter().all(|r| r.recall.is_some()) {
            Tradeoff::Recall
        } else if rows.iter().all(|r| r.accuracy.is_some()) {
            Tradeoff::Accuracy
        } else {
            Tradeoff::Throughput
        }
    }

    /// A variant's quality on this axis, as a fraction; None for throughput.
    pub fn quality(self, row: &VariantRow) -> Option<f64> {
        match self {
            Tradeoff::Accuracy => row.accuracy,
            Tradeoff::Recall => row.recall,
            Tradeoff::Throughput => None,
        }
    }

    /// Its name, as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Tradeoff::Accuracy => "accuracy",
            Tradeoff::Recall => "recall",
            Tradeoff::Throughput => "throughput",
        }
    }
}

/// What to explore: the model's config and the variants (the reference first).
pub struct Plan {
    pub model: ModelConfig,
    pub variants: Vec<VariantConfig>,
    pub explore: ExploreConfig,
    pub root: PathBuf,
    /// The model's significance level (its criteria's), for "distinguishable".
    pub significance: f64,
    /// The model's p50 and p95 latency tolerances in percent (its criteria's), for
    /// "distinguishable".
    pub latency_tolerance_pct: [f64; 2],
    /// The run-level spread its latency intervals carry (its criteria's `latency_run_sd_pct`).
    pub latency_run_sd_pct: f64,
    /// `--peak-qps` and `--safety`: plan each variant's capacity for that peak.
    pub peak: Option<(f64, f64)>,
}

/// The variants of `model`: the reference (the model as configured) and its `[[models.variants]]`,
/// or the files given on the command line (the first the reference).
pub fn plan(config: &GateConfig, name: &str, files: &[PathBuf], root: &Path) -> Result<Plan> {
    let model =
        &crate::pipeline::gate::select_models(config.clone(), &[name.to_string()])?.models[0];
    let variants = if files.is_empty() {
        let mut v = vec![VariantConfig {
            name: "reference".into(),
            file: None,
            ep: None,
            opt_level: None,
            intra_threads: None,
            batch: None,
        }];
        v.extend(model.variants.iter().cloned());
        v
    } else {
        files
            .iter()
            .map(|f| VariantConfig {
                name: f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| f.display().to_string()),
                // Files from the command line are relative to where modelgate runs.
                file: Some(std::path::absolute(f).unwrap_or_else(|_| f.clone())),
                ep: None,
                opt_level: None,
                intra_threads: None,
                batch: None,
            })
            .collect()
    };
    if variants.len() < 2 {
        bail!(
            "model `{name}` has no variants to explore; add [[models.variants]] tables (name, file, ep, opt_level, intra_threads, batch) or give the files: modelgate explore A.onnx B.onnx --model {name}"
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for v in &variants {
        if !seen.insert(v.name.clone()) {
            bail!(
                "variant name `{}` appears twice; give each variant its own name",
                crate::base::text::clean(&v.name, 80)
            );
        }
    }
    config.explore.weights.validate()?;
    config.explore.constraints.validate()?;
    let criteria = config.criteria_for(model);
    Ok(Plan {
        model: model.clone(),
        variants,
        explore: config.explore.clone(),
        root: root.to_path_buf(),
        significance: criteria.significance,
        latency_tolerance_pct: [
            criteria.max_p50_regression_pct,
            criteria.max_p95_regression_pct,
        ],
        latency_run_sd_pct: criteria.latency_run_sd_pct,
        peak: None,
    })
}

/// One variant's measurements, before the comparisons.
struct Measured {
    config: VariantConfig,
    path: PathBuf,
    sha256: String,
    bench: BenchResult,
    peak_bytes: u64,
    eval: Option<EvalResult>,
}

/// Measures every variant and writes `dashboard.csv`, `summary.json`, `tradeoff.svg`,
/// `tradeoff.png` and `report.md` into `out`. Returns the summary.
///
/// The variants are timed together, interleaved in blocks (see [`crate::measure::ab::Interleaved`]), as
/// the gate times a base model and its candidate: timed one after another, a runner's drift
/// between them would read as a difference between the variants.
pub fn run(
    plan: &Plan,
    runtime: &Runtime,
    out: &Path,
    progress: bench::Progress,
) -> Result<Summary> {
    crate::files::results::check_output_folder("--out", out)?;
    let arms = plan
        .variants
        .iter()
        .map(|v| arm(plan, v).with_context(|| variant_context(v)))
        .collect::<Result<Vec<_>>>()?;
    let shapes = crate::pipeline::gate::shape_request(&plan.model, &plan.root);
    let benches = time_interleaved(runtime, &arms, &shapes, progress)?;
    // Every variant evaluated together: each sample decoded and preprocessed once.
    let evals = evaluate_variants(plan, runtime, &arms, progress)?;
    let mut measured = Vec::new();
    for (((variant, arm), mut bench), eval) in
        plan.variants.iter().zip(arms).zip(benches).zip(evals)
    {
        let with = || variant_context(variant);
        add_energy(runtime, &arm.0, &arm.1, &shapes, &mut bench, progress).with_context(with)?;
        measured.push(measure(variant, runtime, arm, &shapes, bench, eval).with_context(with)?);
    }
    let summary = summarize(plan, &measured, plan.significance)?;
    write(out, &summary)?;
    Ok(summary)
}

const MIB: f64 = 1024.0 * 1024.0;

/// The dashboard from the measurements: rows, paired tests against the reference with Holm
/// across the family, constraints, composite, bests and the Pareto front.
fn summarize(plan: &Plan, measured: &[Measured], significance: f64) -> Result<Summary> {
    let reference = &measured[0];
    let mut rows = Vec::new();
    // Raw p-values, in order: per non-reference variant, accuracy, recall, F1, AUROC, p50 and
    // p95 latency.
    let mut raw: Vec<f64> = Vec::new();
    let mut slots: Vec<[Option<usize>; 6]> = Vec::new();
    // What the latency comparisons against the reference are judged with.
    let judged = crate::files::config::Criteria {
        significance,
        latency_run_sd_pct: plan.latency_run_sd_pct,
        ..Default::default()
    };
    let per_sample = |m: &Measured| -> Result<Vec<f64>> {
        let run = m
            .bench
            .primary()
            .context("the bench timed no batch; this is a bug in modelgate")?;
        let batch = run.batch.max(1) as f64;
        Ok(run.samples_ms.iter().map(|x| x / batch).collect())
    };
    let reference_ms = per_sample(reference)?;
    for m in measured {
        let run = m
            .bench
            .primary()
            .context("the bench timed no batch; this is a bug in modelgate")?;
        let batch = run.batch.max(1) as f64;
        let s = &run.summary;
        let metrics = m.eval.as_ref().map(|e| &e.metrics);
        let recall = metrics.map(|x| x.positive.as_ref().map_or(x.macro_recall, |p| p.recall));
        let mut slot = [None; 6];
        let mut quality = None;
        let mut latency: [Option<Versus>; 2] = [None, None];
        if !std::ptr::eq(m, reference) {
            if let (Some(base), Some(cand)) = (&reference.eval, &m.eval) {
                let paired = paired_tests(base, cand, 1.0 - significance)?;
                let changes = [
                    Some(&paired.accuracy),
                    Some(&paired.recall),
                    paired.f1.as_ref(),
                    paired.auroc.as_ref(),
                ];
                for (k, change) in changes.into_iter().enumerate() {
                    if let Some(change) = change {
                        slot[k] = Some(raw.len());
                        raw.push(change.p);
                    }
                }
                quality = Some(paired);
            }
            let seed = crate::pipeline::gate::latency_seed(&m.sha256);
            let split = reference.bench.primary().map_or((&[][..], 0), |run| {
                (run.sessions.as_slice(), run.block_runs.unwrap_or(0))
            });
            latency = latency_versus(&reference_ms, &per_sample(m)?, split, &judged, seed);
            for (k, versus) in latency.iter().enumerate() {
                if let Some(p) = versus.as_ref().and_then(|v| v.p) {
                    slot[4 + k] = Some(raw.len());
                    raw.push(p);
                }
            }
        }
        slots.push(slot);
        let peak_mb = m.peak_bytes as f64 / MIB;
        let energy = run
            .gpu
            .as_ref()
            .and_then(|g| g.energy_per_run_mj)
            .or(run.cpu_energy_per_run_mj)
            .map(|mj| mj / batch);
        rows.push(VariantRow {
            name: m.config.name.clone(),
            file: m.path.display().to_string(),
            sha256: m.sha256.clone(),
            provider: m.bench.provider.clone(),
            opt_level: format!("{:?}", m.bench.settings.session.opt_level).to_lowercase(),
            intra_threads: m.bench.settings.session.intra_threads,
            batch: run.batch,
            latency_mean_ms: s.mean_ms,
            latency_p50_ms: s.p50_ms,
            latency_p95_ms: s.p95_ms,
            latency_p99_ms: s.p99_ms,
            sample_p50_ms: s.p50_ms / batch,
            sample_p95_ms: s.p95_ms / batch,
            sample_p99_ms: s.p99_ms / batch,
            throughput_samples_per_s: run.throughput_samples_per_s,
            model_size_mb: m.bench.memory.model_file_bytes as f64 / MIB,
            peak_memory_mb: peak_mb,
            memory_per_inference_mb: m.bench.memory.load_growth_bytes as f64 / MIB / batch,
            memory_pressure_mb_per_sps: peak_mb / run.throughput_samples_per_s.max(1e-12),
            energy_mj_per_inference: energy,
            accuracy: metrics.map(|x| x.accuracy),
            recall,
            f1: metrics.map(|x| x.macro_f1),
            auroc: metrics.and_then(|x| x.auroc),
            accuracy_change_pts: quality.as_ref().map(|q| q.accuracy.change_pts),
            accuracy_change_ci_low: quality.as_ref().and_then(|q| q.accuracy.ci_low),
            accuracy_change_ci_high: quality.as_ref().and_then(|q| q.accuracy.ci_high),
            accuracy_p_adj: None,
            recall_change_pts: quality.as_ref().map(|q| q.recall.change_pts),
            recall_change_ci_low: quality.as_ref().and_then(|q| q.recall.ci_low),
            recall_change_ci_high: quality.as_ref().and_then(|q| q.recall.ci_high),
            recall_p_adj: None,
            f1_change_pts: quality
                .as_ref()
                .and_then(|q| q.f1.as_ref())
                .map(|c| c.change_pts),
            f1_change_ci_low: quality.as_ref().and_then(|q| q.f1.as_ref()?.ci_low),
            f1_change_ci_high: quality.as_ref().and_then(|q| q.f1.as_ref()?.ci_high),
            f1_p_adj: None,
            auroc_change_pts: quality
                .as_ref()
                .and_then(|q| q.auroc.as_ref())
                .map(|c| c.change_pts),
            auroc_change_ci_low: quality.as_ref().and_then(|q| q.auroc.as_ref()?.ci_low),
            auroc_change_ci_high: quality.as_ref().and_then(|q| q.auroc.as_ref()?.ci_high),
            auroc_p_adj: None,
            latency_p50_ratio: latency[0].as_ref().map(|v| v.ratio),
            latency_p50_ci_low: latency[0].as_ref().and_then(|v| v.ci.map(|c| c.lower)),
            latency_p50_ci_high: latency[0].as_ref().and_then(|v| v.ci.map(|c| c.upper)),
            latency_p50_p_adj: None,
            latency_p95_ratio: latency[1].as_ref().map(|v| v.ratio),
            latency_p95_ci_low: latency[1].as_ref().and_then(|v| v.ci.map(|c| c.lower)),
            latency_p95_ci_high: latency[1].as_ref().and_then(|v| v.ci.map(|c| c.upper)),
            latency_p95_p_adj: None,
            versus_reference: String::new(),
            composite_score: 0.0,
            meets_constraints: true,
            missed: vec![],
            capacity: plan
                .peak
                .and_then(|(q, safety)| capacity(run.throughput_samples_per_s, peak_mb, q, safety)),
        });
    }
    let adjusted = crate::stats::holm(&raw).context("a p-value is not a probability")?;
    for (i, (row, slot)) in rows.iter_mut().zip(&slots).enumerate() {
        let at = |k: usize| slot[k].map(|j| adjusted[j]);
        row.accuracy_p_adj = at(0);
        row.recall_p_adj = at(1);
        row.f1_p_adj = at(2);
        row.auroc_p_adj = at(3);
        row.latency_p50_p_adj = at(4);
        row.latency_p95_p_adj = at(5);
        row.versus_reference = if i == 0 {
            "reference".into()
        } else {
            versus(row, significance, plan.latency_tolerance_pct).into()
        };
    }
    let constraints = &plan.explore.constraints;
    for row in &mut rows {
        row.missed = missed(row, constraints);
        row.meets_constraints = row.missed.is_empty();
    }
    let mut notes = Vec::new();
    let weights_used = weights_used(&plan.explore.weights, &rows, &mut notes);
    for row in &mut rows {
        row.composite_score = composite(row, &weights_used);
    }
    let (best, ties) = best(&rows, significance, plan.latency_tolerance_pct);
    if rows.iter().all(|r| !r.meets_constraints) {
        notes.push("no variant meets the constraints".into());
    }
    if rows.iter().any(|r| r.energy_mj_per_inference.is_none()) {
        notes.push(
            "energy per inference is measured from an NVIDIA GPU's energy counter or, on the CPU, RAPL's package counters where readable (often root only); it is left blank elsewhere, never estimated"
                .into(),
        );
    }
    // The front only among the variants that meet the constraints: one that misses a floor is
    // no trade-off to weigh.
    let tradeoff = Tradeoff::of(constraints, &rows);
    let eligible: Vec<&VariantRow> = rows.iter().filter(|r| r.meets_constraints).collect();
    let points: Vec<(f64, Option<f64>)> = eligible
        .iter()
        .map(|r| (r.latency_p95_ms, tradeoff.quality(r)))
        .collect();
    let pareto_front = pareto(&points)
        .into_iter()
        .map(|i| eligible[i].name.clone())
        .collect();
    Ok(Summary {
        schema_version: SCHEMA_VERSION,
        model: plan.model.name.clone(),
        reference: rows[0].name.clone(),
        significance,
        latency_tolerance_pct: plan.latency_tolerance_pct,
        constraints: constraints.clone(),
        weights: plan.explore.weights.clone(),
        weights_used,
        best,
        ties,
        tradeoff,
        pareto_front,
        variants: rows,
        notes,
    })
}

/// The JSON Schema of `summary.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Summary);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
